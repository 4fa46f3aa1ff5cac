import type { Lease, LeaseStore } from '../types.js';
import { num, rows, type Serial, TS } from './shared.js';

const SELECT = 'SELECT name, holder, epoch_ms(expires_at) AS expires_at, term FROM leases WHERE name = $1';

const toLease = (r: Record<string, unknown>): Lease => ({
  name: r.name as string,
  holder: r.holder as string,
  expiresAt: num(r.expires_at),
  term: num(r.term),
});

/**
 * Leases on DuckDB: one process holds the file, and each call is one transaction on the metadata
 * connection (which runs one task at a time), so a read and the write it decides are never split.
 */
export class DuckDBLeaseStore implements LeaseStore {
  constructor(private readonly conn: Serial) {}

  async take({
    name,
    holder,
    now,
    ttlMs,
  }: {
    name: string;
    holder: string;
    now: number;
    ttlMs: number;
  }): Promise<Lease | null> {
    return this.conn.transaction(async (c) => {
      const [r] = await rows(c, SELECT, [name]);
      const current = r ? toLease(r) : null;
      const held = current !== null && current.expiresAt > now;
      if (held && current.holder !== holder) return null;
      const term = current === null ? 1 : held ? current.term : current.term + 1;
      await c.run(
        `INSERT INTO leases VALUES ($1, $2, ${TS('$3')}, $4)
         ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at,
           term = excluded.term`,
        [name, holder, now + ttlMs, term],
      );
      return { name, holder, expiresAt: now + ttlMs, term };
    });
  }

  async renew({
    name,
    holder,
    now,
    ttlMs,
  }: {
    name: string;
    holder: string;
    now: number;
    ttlMs: number;
  }): Promise<Lease | null> {
    const [r] = await this.conn.run((c) =>
      rows(
        c,
        `UPDATE leases SET expires_at = ${TS('$4')}
         WHERE name = $1 AND holder = $2 AND expires_at > ${TS('$3')}
         RETURNING name, holder, epoch_ms(expires_at) AS expires_at, term`,
        [name, holder, now, now + ttlMs],
      ),
    );
    return r ? toLease(r) : null;
  }

  async release({ name, holder }: { name: string; holder: string }): Promise<boolean> {
    const found = await this.conn.run((c) =>
      rows(
        c,
        `UPDATE leases SET expires_at = ${TS('0')}
         WHERE name = $1 AND holder = $2 AND expires_at > ${TS('0')} RETURNING name`,
        [name, holder],
      ),
    );
    return found.length > 0;
  }

  async get(name: string): Promise<Lease | null> {
    const [r] = await this.conn.run((c) => rows(c, SELECT, [name]));
    return r ? toLease(r) : null;
  }
}
