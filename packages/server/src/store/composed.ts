import {
  type AnalyticalStore,
  type MetadataStore,
  type OpsStore,
  type Store,
  StoreError,
  type StoreSchema,
} from './types.js';

/** A metadata half on an engine of its own, with what the whole store's operations need of it. */
export interface SeparateMetadata extends MetadataStore {
  readonly engine: string;
  rowCounts(): Promise<Record<string, number>>;
}

/**
 * One store of two halves on different engines: events, rollups, samples and health from
 * `analytical` (a whole store whose own metadata tables go unused), everything else from
 * `metadata`. Whole-store operations stay honest about the split: row counts are the analytical
 * engine's with the metadata engine's tables in place of its own, and a backup is refused (the
 * message says to use the metadata engine's own tool), since one image cannot hold both.
 */
export function composeStore(analytical: Store, metadata: SeparateMetadata): Store {
  const a: AnalyticalStore = analytical;
  const ops: OpsStore = {
    backup: async () => {
      throw new StoreError(
        'unsupported',
        `this store keeps its metadata (projects, keys, people, rules, alert state, collectors, snapshots) in ${metadata.engine} and its events in ${analytical.engine}; one backup file cannot hold both. Back up ${metadata.engine} with its own tool (${metadata.engine === 'postgres' ? 'pg_dump' : 'the engine’s dump tool'}) and the events with the analytical engine's (see docs/scale-out.md)`,
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
    schemas,
    events: a.events,
    rollups: a.rollups,
    samples: a.samples,
    health: a.health,
    migrations: a.migrations,
    meta: metadata.meta,
    snapshots: metadata.snapshots,
    alerts: metadata.alerts,
    collectors: metadata.collectors,
    leases: metadata.leases,
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
