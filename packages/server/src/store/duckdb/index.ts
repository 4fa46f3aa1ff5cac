import { createWriteStream, existsSync, mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { DuckDBInstance } from '@duckdb/node-api';
import { LocalNotices } from '../notices.js';
import {
  type AccountStore,
  type AlertStore,
  type CollectorStore,
  type HealthStore,
  type LeaseStore,
  type Migrator,
  type NoticeStore,
  type RollupStore,
  type SampleStore,
  type SnapshotStore,
  type Store,
  StoreError,
  type StoreSchema,
} from '../types.js';
import { DuckDBAccountStore } from './accounts.js';
import { DuckDBAlertStore } from './alerts.js';
import { DuckDBCollectorStore } from './collectors.js';
import { DuckDBEventStore } from './events.js';
import { DuckDBHealthStore, DuckDBSnapshotStore } from './health.js';
import { DuckDBLeaseStore } from './leases.js';
import { MIGRATIONS } from './migrations.js';
import { DuckDBMigrator } from './migrator.js';
import { DuckDBOpsStore } from './ops.js';
import { DuckDBRollupStore } from './rollups.js';
import { DuckDBSampleStore } from './samples.js';
import { Serial } from './shared.js';

export { idRanges } from './events.js';

export const DUCKDB_FILE = 'vigil.duckdb';

export interface DuckDBStoreOptions {
  dataDir: string;
  /** DuckDB's buffer pool limit, e.g. '256MB'. */
  memoryLimit?: string;
  /** Apply pending migrations on open (the server does; `vigil migrate` does not). */
  migrate?: boolean;
}

class DuckDBStore implements Store {
  readonly engine = 'duckdb';
  /** One process opens the file at a time. */
  readonly shared = { analytical: false, metadata: false };
  readonly events: DuckDBEventStore;
  readonly meta: AccountStore;
  readonly snapshots: SnapshotStore;
  readonly migrations: Migrator;
  readonly ops: DuckDBOpsStore;
  readonly rollups: RollupStore;
  readonly health: HealthStore;
  readonly samples: SampleStore;
  readonly alerts: AlertStore;
  readonly collectors: CollectorStore;
  readonly leases: LeaseStore;
  readonly notices: NoticeStore = new LocalNotices();
  readonly schemas: readonly StoreSchema[];
  private closed = false;
  private readonly quietCheckpoints: NodeJS.Timeout;

  constructor(
    private readonly instance: DuckDBInstance,
    private readonly connections: Serial[],
    private readonly file: string,
  ) {
    this.quietCheckpoints = checkpointWhenQuiet(connections[0] as Serial, `${file}.wal`);
    const [writer, meta, reader, rollups] = connections as [Serial, Serial, Serial, Serial];
    this.events = new DuckDBEventStore(writer, reader, () => instance.connect());
    this.rollups = new DuckDBRollupStore(rollups);
    this.health = new DuckDBHealthStore(writer, reader);
    this.samples = new DuckDBSampleStore(writer, reader);
    this.alerts = new DuckDBAlertStore(meta);
    this.collectors = new DuckDBCollectorStore(meta, reader);
    this.meta = new DuckDBAccountStore(meta);
    this.leases = new DuckDBLeaseStore(meta);
    this.snapshots = new DuckDBSnapshotStore(meta);
    this.migrations = new DuckDBMigrator(meta);
    this.schemas = [{ engine: 'duckdb', holds: 'both halves', migrations: this.migrations }];
    this.ops = new DuckDBOpsStore(instance, { file: DUCKDB_FILE });
  }

  async sizeBytes(): Promise<number> {
    let total = 0;
    for (const f of [this.file, `${this.file}.wal`]) {
      try {
        total += statSync(f).size;
      } catch {
        // no WAL right after a checkpoint
      }
    }
    return total;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.quietCheckpoints);
    await this.ops.drain();
    await this.events.stop();
    // Wait for queued work on every connection, then checkpoint so the file stands alone.
    await Promise.all(this.connections.map((s) => s.run(async () => undefined)));
    await this.connections[0]?.run((c) => c.run('CHECKPOINT')).catch(() => undefined);
    for (const s of this.connections) s.conn.closeSync();
    this.instance.closeSync();
  }
}

/** A write-ahead log this small is left for DuckDB's own checkpoint (an idle server's few writes). */
const QUIET_CHECKPOINT_MIN_BYTES = 64 * 1024;

/**
 * Checkpoints the file once its write-ahead log has not grown for a second: DuckDB checkpoints by
 * itself only inside the commit that takes the log past 16 MB, so a server idle after a load kept
 * up to that much log to replay and the blocks it holds in memory.
 */
function checkpointWhenQuiet(writer: Serial, wal: string): NodeJS.Timeout {
  let last = -1;
  return setInterval(() => {
    let size = 0;
    try {
      size = statSync(wal).size;
    } catch {
      // No log: nothing to checkpoint.
    }
    if (size >= QUIET_CHECKPOINT_MIN_BYTES && size === last)
      void writer.run((c) => c.run('CHECKPOINT')).catch(() => undefined);
    last = size;
  }, 1_000).unref();
}

export async function openDuckDBStore({
  dataDir,
  memoryLimit = '128MB',
  migrate = true,
}: DuckDBStoreOptions): Promise<Store> {
  mkdirSync(dataDir, { recursive: true });
  const file = join(dataDir, DUCKDB_FILE);
  let instance: DuckDBInstance;
  try {
    instance = await DuckDBInstance.create(file, {
      memory_limit: memoryLimit,
      // DuckDB's allocator gives memory it freed back to the system from a thread of its own; without
      // it only later allocations do, and a server idle after a load kept what it no longer used.
      allocator_background_threads: 'true',
    });
  } catch (err) {
    const message = (err as Error).message;
    if (/lock/i.test(message)) {
      throw new StoreError(
        'locked',
        `the data directory ${dataDir} is in use by another process (is a Vigil server running on it?): ${message}`,
        { cause: err },
      );
    }
    throw new StoreError('corrupt', `cannot open ${file}: ${message}`, { cause: err });
  }
  // Event writes, metadata, reads and rollup writes each on a connection of their own.
  const connections = await Promise.all(Array.from({ length: 4 }, () => instance.connect()));
  const serials = connections.map((c) => new Serial(c));
  await serials[1]?.run((c) =>
    c.run(
      'CREATE TABLE IF NOT EXISTS vigil_migrations (version INTEGER PRIMARY KEY, name VARCHAR NOT NULL, applied_at TIMESTAMP NOT NULL)',
    ),
  );
  const store = new DuckDBStore(instance, serials, file);
  try {
    if (migrate) await store.migrations.up();
    else await store.migrations.status();
  } catch (err) {
    await store.close();
    throw err;
  }
  return store;
}

/** Whether the data directory holds a DuckDB store. */
export function duckdbStoreExists(dataDir: string): boolean {
  return existsSync(join(dataDir, DUCKDB_FILE));
}

/** Writes a backup image (as `ops.backup` made it) into `dataDir` as its store. */
export async function restoreDuckDBImage(dataDir: string, image: Readable): Promise<void> {
  mkdirSync(dataDir, { recursive: true });
  await pipeline(image, createWriteStream(join(dataDir, DUCKDB_FILE)));
}

/** The newest schema version this build's DuckDB migrations reach. */
export const DUCKDB_LATEST_SCHEMA = MIGRATIONS.at(-1)?.version ?? 0;
