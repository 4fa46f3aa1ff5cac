import type { Readable } from 'node:stream';
import {
  DUCKDB_LATEST_SCHEMA,
  duckdbStoreExists,
  openDuckDBStore,
  restoreDuckDBImage,
} from './duckdb/index.js';
import type { Store } from './types.js';

/**
 * Where the store lives and which engine keeps it: the `store` section of the configuration
 * (`store.engine`, and that engine's own options) plus the data directory.
 */
export interface StoreOptions {
  dataDir: string;
  /** Default `duckdb`, the embedded engine (one file in the data directory). */
  engine?: 'duckdb';
  duckdb?: { memoryLimit?: string };
  /** Apply pending migrations on open (the server does; `vigil migrate` does not). */
  migrate?: boolean;
}

/** Opens the store the options name (creating it when there is none). */
export function openStore({ dataDir, duckdb, migrate }: StoreOptions): Promise<Store> {
  return openDuckDBStore({
    dataDir,
    ...(duckdb?.memoryLimit ? { memoryLimit: duckdb.memoryLimit } : {}),
    ...(migrate !== undefined ? { migrate } : {}),
  });
}

/** Whether there is a store where the options point (commands that only read must not create one). */
export function storeExists({ dataDir }: StoreOptions): boolean {
  return duckdbStoreExists(dataDir);
}

/** Makes a backup image of the engine (`ops.backup`) the store where the options point. */
export function restoreStore({ dataDir }: StoreOptions, image: Readable): Promise<void> {
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
  MetadataStore,
  MigrationInfo,
  MigrationStatus,
  Migrator,
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
  TypeStats,
  UserRecord,
  WindowSumQuery,
} from './types.js';
export { StoreError } from './types.js';
