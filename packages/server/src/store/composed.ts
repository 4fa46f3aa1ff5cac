import {
  type AnalyticalStore,
  type MetadataStore,
  type OpsStore,
  type Store,
  StoreError,
  type StoreSchema,
} from './types.js';

/** An analytical half with the whole-store operations of its engine (a whole store qualifies). */
export interface SeparateAnalytical extends AnalyticalStore {
  readonly engine: string;
  readonly shared: { readonly analytical: boolean };
  readonly ops: OpsStore;
  sizeBytes(): Promise<number>;
}

/** A metadata half on an engine of its own, with what the whole store's operations need of it. */
export interface SeparateMetadata extends MetadataStore {
  readonly engine: string;
  rowCounts(): Promise<Record<string, number>>;
}

/**
 * One store of two halves on different engines: events, rollups, samples and health from
 * `analytical` (DuckDB: a whole store whose own metadata tables go unused), everything else from
 * `metadata`. Whole-store operations stay honest about the split: row counts are the analytical
 * engine's with the metadata engine's tables in place of its own, and a backup is refused (the
 * message says to use the metadata engine's own tool), since one image cannot hold both.
 */
export function composeStore(analytical: SeparateAnalytical, metadata: SeparateMetadata): Store {
  const ops: OpsStore = {
    backup: async () => {
      throw new StoreError(
        'unsupported',
        `this store keeps its metadata (projects, keys, people, rules, alert state, collectors, snapshots) in ${metadata.engine} and its events in ${analytical.engine}; one backup file cannot hold both. Back up ${metadata.engine} with its own tools (${metadata.engine === 'postgres' ? 'pg_dump' : 'its dump tool'}); docs/scale-out.md#backup says how to back up the events`,
      );
    },
    rowCounts: async () => ({ ...(await analytical.ops.rowCounts()), ...(await metadata.rowCounts()) }),
    exportEvents: (query, onProgress) => analytical.ops.exportEvents(query, onProgress),
  };
  const schemas: StoreSchema[] = [
    { engine: analytical.engine, holds: 'analytical half', migrations: analytical.migrations },
    { engine: metadata.engine, holds: 'metadata half', migrations: metadata.migrations },
  ];
  let closing: Promise<void> | null = null;
  return {
    engine: `${analytical.engine}+${metadata.engine}`,
    // The metadata engine (PostgreSQL) serves any number of instances.
    shared: { analytical: analytical.shared.analytical, metadata: true },
    schemas,
    events: analytical.events,
    rollups: analytical.rollups,
    samples: analytical.samples,
    health: analytical.health,
    migrations: analytical.migrations,
    meta: metadata.meta,
    snapshots: metadata.snapshots,
    alerts: metadata.alerts,
    collectors: metadata.collectors,
    leases: metadata.leases,
    notices: metadata.notices,
    ops,
    // The metadata engine keeps nothing on this machine's disk.
    sizeBytes: () => analytical.sizeBytes(),
    close: () => {
      closing ??= Promise.allSettled([analytical.close(), metadata.close()]).then((results) => {
        const failed = results.find((r) => r.status === 'rejected');
        if (failed) throw failed.reason;
      });
      return closing;
    },
  };
}
