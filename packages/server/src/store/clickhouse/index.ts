import type {
  AnalyticalStore,
  EventStore,
  HealthStore,
  Migrator,
  OpsStore,
  RollupStore,
  SampleStore,
} from '../types.js';
import { ClickHouseConnection, type ClickHouseOptions } from './connection.js';
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

/**
 * Opens the analytical half on ClickHouse: creates the database when missing and, unless `migrate`
 * is false, applies pending migrations.
 */
export async function openClickHouseAnalytical(
  options: ClickHouseOptions & { migrate?: boolean },
): Promise<ClickHouseAnalyticalStore> {
  const conn = new ClickHouseConnection(options);
  try {
    await conn.createDatabase();
    const store = new ClickHouseAnalyticalStore(conn);
    if (options.migrate !== false) await store.migrations.up();
    return store;
  } catch (err) {
    await conn.close();
    throw err;
  }
}
