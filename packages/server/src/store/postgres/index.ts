import pg from 'pg';
import {
  type AccountStore,
  type AlertStore,
  type CollectorStore,
  type LeaseStore,
  type MetadataStore,
  type Migrator,
  type SnapshotStore,
  StoreError,
} from '../types.js';
import { PostgresAccountStore } from './accounts.js';
import { PostgresAlertStore } from './alerts.js';
import { PostgresCollectorStore } from './collectors.js';
import { PostgresLeaseStore } from './leases.js';
import { POSTGRES_LATEST_SCHEMA } from './migrations.js';
import { PostgresMigrator } from './migrator.js';
import { PostgresNotices } from './notices.js';
import { Db, isConnectionError, num, redact } from './shared.js';
import { PostgresSnapshotStore } from './snapshots.js';

export { POSTGRES_LATEST_SCHEMA };

export interface PostgresStoreOptions {
  /** `postgres://user:pass@host:port/db`. */
  url: string;
  /** Apply pending migrations on open (the server does; `vigil migrate` does not). */
  migrate?: boolean;
  /** Connections kept open at most (metadata is small and mostly read). */
  poolSize?: number;
}

/** The metadata half on PostgreSQL, with its row counts for the whole store's `ops`. */
export interface PostgresMetadataStore extends MetadataStore {
  readonly engine: 'postgres';
  /** Rows in each of the engine's tables. */
  rowCounts(): Promise<Record<string, number>>;
}

class PostgresStore implements PostgresMetadataStore {
  readonly engine = 'postgres';
  readonly meta: AccountStore;
  readonly snapshots: SnapshotStore;
  readonly alerts: AlertStore;
  readonly collectors: CollectorStore;
  readonly leases: LeaseStore;
  readonly notices: PostgresNotices;
  readonly migrations: Migrator;
  private closed = false;

  constructor(
    private readonly db: Db,
    url: string,
  ) {
    this.notices = new PostgresNotices(db, url);
    this.meta = new PostgresAccountStore(db);
    this.snapshots = new PostgresSnapshotStore(db);
    this.alerts = new PostgresAlertStore(db);
    this.collectors = new PostgresCollectorStore(db);
    this.leases = new PostgresLeaseStore(db);
    this.migrations = new PostgresMigrator(db);
  }

  async rowCounts(): Promise<Record<string, number>> {
    const tables = await this.db.all(
      `SELECT tablename FROM pg_tables WHERE schemaname = current_schema() ORDER BY tablename`,
    );
    const counts: Record<string, number> = {};
    for (const t of tables) {
      const name = String(t.tablename);
      // The name comes from the catalog, quoted as an identifier (no value reaches the SQL).
      const [r] = await this.db.all(`SELECT count(*) AS n FROM "${name.replaceAll('"', '""')}"`);
      counts[name] = num(r?.n);
    }
    return counts;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.notices.close();
    await this.db.pool.end();
  }
}

/** A URL this engine can use: `postgres://` or `postgresql://` with a host; null when fine. */
export function postgresUrlProblem(url: string): string | null {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return 'is not a URL; give postgres://user:password@host:port/database';
  }
  if (parsed.protocol !== 'postgres:' && parsed.protocol !== 'postgresql:')
    return 'does not start with postgres:// or postgresql://; give postgres://user:password@host:port/database';
  if (!parsed.hostname) return 'names no host; give postgres://user:password@host:port/database';
  return null;
}

/** What PostgreSQL's refusal means for the person starting Vigil. */
function openFailure(url: string, err: unknown): StoreError {
  const code = (err as { code?: string }).code;
  const said = (err as Error).message || code || String(err);
  const where = redact(url);
  const hint =
    code === '28P01' || code === '28000'
      ? 'the user name or password is not accepted; check the URL'
      : code === '3D000'
        ? 'the database does not exist; create it (createdb) or fix the URL'
        : code === 'ENOTFOUND' || code === 'EAI_AGAIN'
          ? 'the host name does not resolve; check the URL'
          : isConnectionError(err)
            ? 'is PostgreSQL running there, and reachable from this machine?'
            : 'check the URL and the server';
  return new StoreError('unreachable', `cannot use PostgreSQL at ${where}: ${said} (${hint})`, {
    cause: err,
  });
}

/**
 * Opens the metadata half on the PostgreSQL database `url` points at. With `migrate`, pending
 * migrations are applied under an advisory lock: instances starting at once migrate once.
 */
export async function openPostgresStore({
  url,
  migrate = true,
  poolSize = 4,
}: PostgresStoreOptions): Promise<PostgresMetadataStore> {
  const problem = postgresUrlProblem(url);
  if (problem) throw new StoreError('unreachable', `the PostgreSQL URL ${redact(url)} ${problem}`);
  const pool = new pg.Pool({
    connectionString: url,
    max: poolSize,
    connectionTimeoutMillis: 10_000,
    idleTimeoutMillis: 30_000,
    application_name: 'vigil',
  });
  // An idle connection the server drops is replaced on next use; nothing to crash for.
  pool.on('error', () => undefined);
  const store = new PostgresStore(new Db(pool), url);
  try {
    const client = await pool.connect().catch((err: unknown) => {
      throw openFailure(url, err);
    });
    client.release();
    if (migrate) await store.migrations.up();
    else await store.migrations.status();
  } catch (err) {
    await store.close().catch(() => undefined);
    throw err;
  }
  return store;
}

/** Whether a PostgreSQL server accepts a connection at `url` now (setups wait on it). */
export async function postgresAccepts(url: string, timeoutMs = 2_000): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: timeoutMs });
  try {
    await client.connect();
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/**
 * Creates the database `name` on the server `url` reaches (a user that may create databases).
 * CREATE DATABASE takes no parameters: the name must be a plain lowercase identifier.
 */
export async function createPostgresDatabase(url: string, name: string): Promise<void> {
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(name)) throw new Error(`not a plain database name: '${name}'`);
  const admin = new pg.Client({ connectionString: url, connectionTimeoutMillis: 10_000 });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
}
