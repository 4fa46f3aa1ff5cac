import type { Readable } from 'node:stream';
import { copyClickHouseEventDays } from './clickhouse/daycopy.js';
import { openClickHouseAnalytical } from './clickhouse/index.js';
import { composeStore, type SeparateAnalytical } from './composed.js';
import { copyDuckDBEventDays } from './duckdb/daycopy.js';
import {
  DUCKDB_LATEST_SCHEMA,
  duckdbStoreExists,
  openDuckDBStore,
  restoreDuckDBImage,
} from './duckdb/index.js';
import { openPostgresStore } from './postgres/index.js';
import { type Store, StoreError } from './types.js';

/**
 * Where the store lives and which engine keeps it: the `store` section of the configuration
 * (`store.engine`, and that engine's own options) plus the data directory.
 */
export interface StoreOptions {
  dataDir: string;
  /** Default `duckdb`, the embedded engine (one file in the data directory). */
  engine?: 'duckdb';
  duckdb?: { memoryLimit?: string };
  /** The metadata half on PostgreSQL (the analytical half stays on `engine` unless `clickhouse`). */
  postgres?: { url?: string } | undefined;
  /**
   * The analytical half on ClickHouse (needs `postgres` for the metadata half): with both, the
   * store keeps nothing in the data directory and any number of instances may share it.
   */
  clickhouse?: ClickHouseStoreOptions | undefined;
  /** Apply pending migrations on open (the server does; `vigil migrate` does not). */
  migrate?: boolean;
}

/** Where the analytical half lives on ClickHouse (`store.clickhouse` in the configuration). */
export interface ClickHouseStoreOptions {
  /** `http://user:password@host:8123`: one server, or a load balancer in front of the cluster. */
  url?: string;
  /** Default `vigil`. */
  database?: string;
  /** Tables spread over the shards of this `remote_servers` cluster (`shards`: each one's HTTP URL). */
  cluster?: { name: string; shards: string[] };
}

/**
 * Opens the store the options name (creating it when there is none): DuckDB in the data
 * directory, with the metadata half on PostgreSQL when `postgres.url` is set, and the analytical
 * half on ClickHouse too when `clickhouse.url` is.
 */
export async function openStore({
  dataDir,
  duckdb,
  postgres,
  clickhouse,
  migrate,
}: StoreOptions): Promise<Store> {
  const migrating = migrate !== undefined ? { migrate } : {};
  const open = () =>
    openDuckDBStore({
      dataDir,
      ...(duckdb?.memoryLimit ? { memoryLimit: duckdb.memoryLimit } : {}),
      ...migrating,
    });
  if (!postgres?.url) {
    if (clickhouse?.url)
      throw new StoreError(
        'unsupported',
        'the analytical half on ClickHouse needs the metadata half on PostgreSQL (--postgres URL, VIGIL_POSTGRES_URL): instances sharing ClickHouse must share projects, keys and rules too',
      );
    return open();
  }
  // PostgreSQL first: a wrong URL is reported before the data directory is touched.
  const metadata = await openPostgresStore({ url: postgres.url, ...migrating });
  try {
    const analytical: SeparateAnalytical = clickhouse?.url
      ? await openClickHouseAnalytical({
          url: clickhouse.url,
          ...(clickhouse.database ? { database: clickhouse.database } : {}),
          ...(clickhouse.cluster ? { cluster: clickhouse.cluster } : {}),
          ...migrating,
        })
      : await open();
    return composeStore(analytical, metadata);
  } catch (err) {
    await metadata.close().catch(() => undefined);
    throw err;
  }
}

/** Whether the store keeps its data in the data directory (false: all of it on database servers). */
export function storeIsLocal({ clickhouse }: Pick<StoreOptions, 'clickhouse'>): boolean {
  return !clickhouse?.url;
}

/** Whether there is a store where the options point (commands that only read must not create one). */
export function storeExists(options: StoreOptions): boolean {
  // A store on servers is looked for by opening it (which reports one that cannot be reached).
  return !storeIsLocal(options) || duckdbStoreExists(options.dataDir);
}

/** Writes a backup image (as `ops.backup` made it) as the store where the options point. */
export async function restoreStore({ dataDir, postgres }: StoreOptions, image: Readable): Promise<void> {
  if (postgres?.url)
    // With ClickHouse too, nothing of the store is in the backup file either.
    throw new StoreError(
      'unsupported',
      'this configuration keeps the metadata half in PostgreSQL, which a Vigil backup file does not hold; restore PostgreSQL with its own tools (pg_restore or psql from a pg_dump) and see docs/scale-out.md',
    );
  return restoreDuckDBImage(dataDir, image);
}

/** The newest schema version this build knows for the engine. */
export function latestSchemaVersion(_options: Pick<StoreOptions, 'engine'> = {}): number {
  return DUCKDB_LATEST_SCHEMA;
}
/** The ingest bench's peer: ClickHouse's own insert of the same events (not used by the server). */
export {
  type BaselineEvent,
  baselineRow,
  type InsertBaseline,
  openInsertBaseline,
} from './clickhouse/baseline.js';
export { type Fault, type FaultTiming, FaultyStore } from './faults.js';
export { interceptStore, STORE_PARTS, type StoreCall, type StorePart } from './intercept.js';
export { RecoveringStore, type RecoveringStoreOptions } from './recovery.js';
export type {
  AccountEventKind,
  AccountEventRecord,
  AccountStore,
  AlertCycleWrite,
  AlertProjectRecord,
  AlertRecord,
  AlertRuleRecord,
  AlertSilenceRecord,
  AlertStateRecord,
  AlertStore,
  AlertTransitionRecord,
  AnalyticalStore,
  AppendBatch,
  Appended,
  ChainExpiry,
  ChainLink,
  ChainPage,
  CollectorLatest,
  CollectorRecord,
  CollectorRunRecord,
  CollectorStore,
  CommitNotice,
  CostRewrite,
  CostUpdate,
  DeploymentRecord,
  EventExport,
  EventQuery,
  EventStore,
  EventWindow,
  ExpiredBatch,
  ExpiryRecorder,
  FieldRef,
  GroupsQuery,
  HealthStore,
  IdentityRecord,
  KeyRecord,
  Lease,
  LeaseStore,
  MetadataStore,
  MigrationInfo,
  MigrationStatus,
  Migrator,
  NoticeStore,
  OpsStore,
  ProjectRecord,
  ProjectRoleRecord,
  PropEquals,
  RawAggregate,
  RawAggregateQuery,
  RawAggregateRow,
  RejectionCount,
  RetentionOverrides,
  RollupGroup,
  RollupQuery,
  RollupSpan,
  RollupStore,
  RollupTile,
  RollupWatermark,
  SampleHistoryQuery,
  SampleHistoryRow,
  SampleResolution,
  ScrubCount,
  SessionRecord,
  SignalDims,
  SnapshotRecord,
  SnapshotStore,
  Store,
  StoreImage,
  StoreSchema,
  TypeStats,
  UserRecord,
  WindowSumQuery,
} from './types.js';
export { StoreError } from './types.js';

/**
 * Bench support: the project's events of the day starting at `from` copied inside the engine to
 * each of the `days - 1` days after it (shifted by whole days, ids of their own), with the store
 * where the options point closed; returns the rows added. Much faster than appending, but outside
 * the audit chain: for benches that need many events (`vigil verify` fails on such a store). Not
 * on a ClickHouse cluster.
 */
export async function copyEventDays(
  { dataDir, clickhouse }: StoreOptions,
  copy: { project: string; from: number; days: number },
): Promise<number> {
  if (clickhouse?.cluster)
    throw new StoreError('unsupported', 'copyEventDays is not for ClickHouse clusters');
  if (clickhouse?.url)
    return copyClickHouseEventDays(
      { url: clickhouse.url, ...(clickhouse.database ? { database: clickhouse.database } : {}) },
      copy,
    );
  return copyDuckDBEventDays(dataDir, copy);
}
