export type { DuckDBStoreOptions } from './duckdb/index.js';
export { DUCKDB_FILE, openDuckDBStore as openStore } from './duckdb/index.js';
export type {
  AppendBatch,
  ChainLink,
  EventQuery,
  EventStore,
  EventWindow,
  HealthStore,
  KeyRecord,
  MetadataStore,
  MigrationInfo,
  MigrationStatus,
  Migrator,
  ProjectRecord,
  PropEquals,
  RejectionCount,
  RollupQuery,
  RollupStore,
  RollupTile,
  ScrubCount,
  SessionRecord,
  SignalDims,
  SnapshotRecord,
  Store,
  TypeStats,
  UserRecord,
} from './types.js';
export { StoreError } from './types.js';
