import type { Lease, LeaseStore } from '../types.js';
import { type Db, MS, num, type Row, TS } from './shared.js';

const RETURNING = `RETURNING name, holder, ${MS('expires_at')} AS expires_at, term`;

const toLease = (r: Row): Lease => ({
  name: r.name as string,
  holder: r.holder as string,
  expiresAt: num(r.expires_at),
  term: num(r.term),
});

/**
 * Leases on PostgreSQL: a row per lease, changed only by one conditional statement (an upsert or
 * an UPDATE … WHERE it is free or mine), so instances racing for it never both win.
 */
export class PostgresLeaseStore implements LeaseStore {
  constructor(private readonly db: Db) {}

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
    const [r] = await this.db.all(
      `INSERT INTO leases AS l (name, holder, expires_at, term) VALUES ($1, $2, ${TS('$4')}, 1)
       ON CONFLICT (name) DO UPDATE SET
         holder = excluded.holder,
         expires_at = excluded.expires_at,
         term = CASE WHEN l.holder = excluded.holder AND l.expires_at > ${TS('$3')} THEN l.term ELSE l.term + 1 END
       WHERE l.expires_at <= ${TS('$3')} OR l.holder = excluded.holder
       ${RETURNING}`,
      [name, holder, now, now + ttlMs],
    );
    return r ? toLease(r) : null;
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
    const [r] = await this.db.all(
      `UPDATE leases SET expires_at = ${TS('$4')}
       WHERE name = $1 AND holder = $2 AND expires_at > ${TS('$3')} ${RETURNING}`,
      [name, holder, now, now + ttlMs],
    );
    return r ? toLease(r) : null;
  }

  async release({ name, holder }: { name: string; holder: string }): Promise<boolean> {
    const changed = await this.db.run(
      `UPDATE leases SET expires_at = timestamptz 'epoch'
       WHERE name = $1 AND holder = $2 AND expires_at > timestamptz 'epoch'`,
      [name, holder],
    );
    return changed > 0;
  }

  async get(name: string): Promise<Lease | null> {
    const [r] = await this.db.all(
      `SELECT name, holder, ${MS('expires_at')} AS expires_at, term FROM leases WHERE name = $1`,
      [name],
    );
    return r ? toLease(r) : null;
  }
}
