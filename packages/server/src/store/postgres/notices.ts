import pg from 'pg';
import type { CommitNotice, NoticeStore } from '../types.js';
import { type Db, storeErrorOf } from './shared.js';

const CHANNEL = 'vigil_commits';
/** PostgreSQL refuses a notify payload of 8000 bytes or more. */
const MAX_PAYLOAD = 7_000;

/**
 * Notices through PostgreSQL's NOTIFY/LISTEN: published on the pool, received on one connection of
 * their own that listens while anyone subscribes (a lost connection listens again a second later;
 * notices sent meanwhile are not replayed).
 */
export class PostgresNotices implements NoticeStore {
  private readonly listeners = new Set<(notice: CommitNotice) => void>();
  private client: pg.Client | null = null;
  private listening: Promise<void> | null = null;
  private closed = false;

  constructor(
    private readonly db: Db,
    private readonly url: string,
  ) {}

  async publish(notice: CommitNotice): Promise<void> {
    let payload = JSON.stringify(notice);
    // Too much to name: "any", and every listener looks again.
    if (payload.length > MAX_PAYLOAD && notice.rollups)
      payload = JSON.stringify({ ...notice, rollups: null });
    if (payload.length > MAX_PAYLOAD)
      payload = JSON.stringify({
        from: notice.from,
        projects: null,
        ...(notice.rollups !== undefined ? { rollups: null } : {}),
      });
    await this.db.run('SELECT pg_notify($1, $2)', [CHANNEL, payload]);
  }

  async subscribe(listener: (notice: CommitNotice) => void): Promise<() => Promise<void>> {
    this.listeners.add(listener);
    try {
      await this.listen();
    } catch (err) {
      this.listeners.delete(listener);
      throw err;
    }
    return async () => {
      this.listeners.delete(listener);
      if (this.listeners.size === 0) await this.stop();
    };
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.stop();
  }

  private listen(): Promise<void> {
    this.listening ??= (async () => {
      const client = new pg.Client({ connectionString: this.url, application_name: 'vigil-notices' });
      client.on('notification', (message) => {
        if (message.channel !== CHANNEL || !message.payload) return;
        let notice: CommitNotice;
        try {
          notice = JSON.parse(message.payload) as CommitNotice;
        } catch {
          return;
        }
        for (const listener of this.listeners) listener(notice);
      });
      client.on('error', () => {
        if (this.client !== client) return;
        this.client = null;
        this.listening = null;
        void client.end().catch(() => undefined);
        if (!this.closed && this.listeners.size > 0)
          setTimeout(() => void this.listen().catch(() => undefined), 1_000).unref();
      });
      await client.connect();
      await client.query(`LISTEN ${CHANNEL}`);
      this.client = client;
    })().catch((err: unknown) => {
      this.listening = null;
      throw storeErrorOf(err);
    });
    return this.listening;
  }

  private async stop(): Promise<void> {
    const client = this.client;
    this.client = null;
    this.listening = null;
    await client?.end().catch(() => undefined);
  }
}
