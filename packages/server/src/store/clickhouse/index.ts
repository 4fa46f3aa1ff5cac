import type {
  AnalyticalStore,
  EventStore,
  HealthStore,
  Migrator,
  OpsStore,
  RollupStore,
  SampleStore,
} from '../types.js';
import { StoreError } from '../types.js';
import { ClickHouseConnection, type ClickHouseOptions, isConnectionError, redact } from './connection.js';
import { ClickHouseEventStore } from './events.js';
import { ClickHouseHealthStore } from './health.js';
import { ClickHouseMigrator } from './migrator.js';
import { ClickHouseOps } from './ops.js';
import { ClickHouseRollupStore } from './rollups.js';
import { ClickHouseSampleStore } from './samples.js';

export type { ClickHouseOptions } from './connection.js';
export { CLICKHOUSE_LATEST_SCHEMA } from './migrations.js';

/** The analytical half (events, rollups, samples, health) on ClickHouse. */
export class ClickHouseAnalyticalStore implements AnalyticalStore {
  readonly engine = 'clickhouse';
  /** Any number of instances write the same database (each its own audit chain). */
  readonly shared = { analytical: true };
  readonly events: EventStore;
  readonly rollups: RollupStore;
  readonly samples: SampleStore;
  readonly health: HealthStore;
  readonly migrations: Migrator;
  /** Row counts and CSV exports (a backup is refused: ClickHouse has its own tools). */
  readonly ops: OpsStore;

  constructor(private readonly conn: ClickHouseConnection) {
    this.events = new ClickHouseEventStore(conn);
    this.health = new ClickHouseHealthStore(conn);
    this.samples = new ClickHouseSampleStore(conn);
    this.rollups = new ClickHouseRollupStore(conn);
    this.migrations = new ClickHouseMigrator(conn);
    this.ops = new ClickHouseOps(conn);
  }

  /** Nothing is kept on this machine's disk. */
  async sizeBytes(): Promise<number> {
    return 0;
  }

  async close(): Promise<void> {
    await this.conn.close();
  }
}

/** What is wrong with a ClickHouse URL before anything is tried, or null. */
function urlProblem(url: string): string | null {
  try {
    const u = new URL(url);
    if (u.protocol !== 'http:' && u.protocol !== 'https:')
      return 'is not an http:// or https:// URL (ClickHouse is reached over HTTP)';
    return null;
  } catch {
    return 'is not a URL (http://user:password@host:8123)';
  }
}

/** What ClickHouse's refusal means for the person starting Vigil. */
function openFailure(url: string, err: unknown): StoreError {
  if (err instanceof StoreError && err.code !== 'unavailable') return err;
  const cause = err instanceof StoreError ? err.cause : err;
  const said = cause instanceof Error ? cause.message : String(cause);
  const code = (cause as { code?: unknown }).code;
  const hint = /Code: (192|193|516)\b/.test(said)
    ? 'the user name or password is not accepted; check the URL'
    : code === 'ENOTFOUND' || code === 'EAI_AGAIN'
      ? 'the host name does not resolve; check the URL'
      : isConnectionError(cause)
        ? 'is ClickHouse running there, and reachable from this machine?'
        : 'check the URL and the server';
  return new StoreError('unreachable', `cannot use ClickHouse at ${redact(url)}: ${said.trim()} (${hint})`, {
    cause,
  });
}

/**
 * Opens the analytical half on ClickHouse: creates the database when missing and, unless `migrate`
 * is false, applies pending migrations (idempotent DDL: instances starting at once end alike). A
 * bad URL or a server that cannot be used is `StoreError('unreachable')`, the password hidden.
 */
export async function openClickHouseAnalytical(
  options: ClickHouseOptions & { migrate?: boolean },
): Promise<ClickHouseAnalyticalStore> {
  const problem = urlProblem(options.url);
  if (problem) throw new StoreError('unreachable', `the ClickHouse URL ${redact(options.url)} ${problem}`);
  const conn = new ClickHouseConnection(options);
  try {
    await conn.createDatabase();
  } catch (err) {
    await conn.close();
    throw openFailure(options.url, err);
  }
  try {
    const store = new ClickHouseAnalyticalStore(conn);
    if (options.migrate !== false) await store.migrations.up();
    return store;
  } catch (err) {
    await conn.close();
    throw err;
  }
}
