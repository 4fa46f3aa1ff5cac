import type { Readable } from 'node:stream';
import { composeStore } from './composed.js';
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
  /** The metadata half on PostgreSQL (the analytical half stays on `engine`). */
  postgres?: { url?: string } | undefined;
  /** Apply pending migrations on open (the server does; `vigil migrate` does not). */
  migrate?: boolean;
}

/**
 * Opens the store the options name (creating it when there is none): DuckDB in the data
 * directory, with the metadata half on PostgreSQL when `postgres.url` is set.
 */
export async function openStore({ dataDir, duckdb, postgres, migrate }: StoreOptions): Promise<Store> {
  const open = () =>
    openDuckDBStore({
      dataDir,
      ...(duckdb?.memoryLimit ? { memoryLimit: duckdb.memoryLimit } : {}),
      ...(migrate !== undefined ? { migrate } : {}),
    });
  if (!postgres?.url) return open();
  // PostgreSQL first: a wrong URL is reported before the data directory is touched.
  const metadata = await openPostgresStore({
    url: postgres.url,
    ...(migrate !== undefined ? { migrate } : {}),
  });
  try {
    return composeStore(await open(), metadata);
  } catch (err) {
    await metadata.close().catch(() => undefined);
    throw err;
  }
}

/** Whether there is a store where the options point (commands that only read must not create one). */
export function storeExists({ dataDir }: StoreOptions): boolean {
  return duckdbStoreExists(dataDir);
}

/** Makes a backup image of the engine (`ops.backup`) the store where the options point. */
export async function restoreStore({ dataDir, postgres }: StoreOptions, image: Readable): Promise<void> {
  if (postgres?.url)
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
