export type { DuckDBStoreOptions } from './duckdb/index.js';
export { DUCKDB_FILE, openDuckDBStore as openStore } from './duckdb/index.js';
export type {
  AppendBatch,
  ChainLink,
  EventQuery,
  EventStore,
  KeyRecord,
  MetadataStore,
  MigrationInfo,
  MigrationStatus,
  Migrator,
  ProjectRecord,
  PropEquals,
  ScrubCount,
  SessionRecord,
  Store,
  UserRecord,
} from './types.js';
export { StoreError } from './types.js';
