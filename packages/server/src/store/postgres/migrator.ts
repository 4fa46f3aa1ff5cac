import type pg from 'pg';
import { type MigrationStatus, type Migrator, StoreError } from '../types.js';
import { MIGRATIONS } from './migrations.js';
import { type Db, MS, num, storeErrorOf, TS } from './shared.js';

/**
 * The advisory lock every Vigil instance takes around migrating (one number for the whole
 * database): of several instances starting at once, one migrates, the others wait for it and then
 * find nothing to do.
 */
const MIGRATION_LOCK = '7431962215006001';

const CREATE_TABLE = `CREATE TABLE IF NOT EXISTS schema_migrations (
  version integer PRIMARY KEY,
  name text NOT NULL,
  applied_at timestamptz NOT NULL
)`;

type Query = Pick<pg.ClientBase, 'query'>;

async function appliedVersions(q: Query): Promise<Map<number, number>> {
  const exists = await q.query("SELECT to_regclass('schema_migrations') IS NOT NULL AS present");
  if (exists.rows[0]?.present !== true) return new Map();
  const found = await q.query(`SELECT version, ${MS('applied_at')} AS applied_at FROM schema_migrations`);
  return new Map(found.rows.map((r: Record<string, unknown>) => [num(r.version), num(r.applied_at)]));
}

function statusOf(applied: Map<number, number>): MigrationStatus {
  const latest = MIGRATIONS.at(-1)?.version ?? 0;
  const current = Math.max(0, ...applied.keys());
  if (current > latest) {
    throw new StoreError(
      'schema_mismatch',
      `the PostgreSQL schema is at version ${current} but this Vigil knows only up to ${latest}; run the newer Vigil or 'vigil migrate down --to ${latest}' with it`,
    );
  }
  return {
    current,
    latest,
    migrations: MIGRATIONS.map((m) => ({
      version: m.version,
      name: m.name,
      appliedAt: applied.get(m.version) ?? null,
    })),
  };
}

export class PostgresMigrator implements Migrator {
  constructor(private readonly db: Db) {}

  async status(): Promise<MigrationStatus> {
    try {
      return statusOf(await appliedVersions(this.db.pool));
    } catch (err) {
      throw storeErrorOf(err);
    }
  }

  async up(to?: number): Promise<number[]> {
    return this.locked(async (client) => {
      await client.query(CREATE_TABLE);
      const { current, latest } = statusOf(await appliedVersions(client));
      const target = to ?? latest;
      if (target < current || target > latest) {
        throw new StoreError(
          'invalid_migration_target',
          `cannot migrate up from ${current} to ${target} (latest is ${latest})`,
        );
      }
      const done: number[] = [];
      for (const m of MIGRATIONS.filter((m) => m.version > current && m.version <= target)) {
        await inTransaction(client, async () => {
          for (const sql of m.up) await client.query(sql);
          await client.query(`INSERT INTO schema_migrations VALUES ($1, $2, ${TS('$3')})`, [
            m.version,
            m.name,
            Date.now(),
          ]);
        });
        done.push(m.version);
      }
      return done;
    });
  }

  async down(to?: number): Promise<number[]> {
    return this.locked(async (client) => {
      const { current } = statusOf(await appliedVersions(client));
      const target = to ?? Math.max(0, current - 1);
      if (target > current || target < 0) {
        throw new StoreError('invalid_migration_target', `cannot migrate down from ${current} to ${target}`);
      }
      const done: number[] = [];
      for (const m of MIGRATIONS.filter((m) => m.version > target && m.version <= current).reverse()) {
        await inTransaction(client, async () => {
          for (const sql of m.down) await client.query(sql);
          await client.query('DELETE FROM schema_migrations WHERE version = $1', [m.version]);
        });
        done.push(m.version);
      }
      return done;
    });
  }

  /** Runs `task` on one connection holding the migration lock (waiting for another holder). */
  private async locked<T>(task: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    let client: pg.PoolClient;
    try {
      client = await this.db.pool.connect();
    } catch (err) {
      throw storeErrorOf(err);
    }
    let broken = false;
    try {
      await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
      try {
        return await task(client);
      } finally {
        await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]).catch(() => {
          broken = true;
        });
      }
    } catch (err) {
      throw storeErrorOf(err);
    } finally {
      client.release(broken);
    }
  }
}

async function inTransaction(client: pg.PoolClient, task: () => Promise<void>): Promise<void> {
  await client.query('BEGIN');
  try {
    await task();
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
}
