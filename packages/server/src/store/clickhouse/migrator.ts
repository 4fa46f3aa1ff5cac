import { type MigrationStatus, type Migrator, StoreError } from '../types.js';
import type { ClickHouseConnection } from './connection.js';
import { createTable, dropTable, ensureMigrationsTable, MIGRATIONS } from './migrations.js';
import { sql } from './sql.js';

/**
 * Migrations of the analytical half on ClickHouse. There are no transactions: each step's DDL is
 * idempotent (`IF NOT EXISTS` / `IF EXISTS`), so a step interrupted half-way, or taken by two
 * instances starting at once, ends in the same schema; the step is recorded after its DDL.
 */
export class ClickHouseMigrator implements Migrator {
  constructor(private readonly conn: ClickHouseConnection) {}

  private async applied(): Promise<{ versions: Map<number, number>; step: number }> {
    await ensureMigrationsTable(this.conn);
    // The table is small: every step is read, and the newest step of each version decides (two
    // instances migrating at once may record one step number twice; the later time then wins).
    const found = await this.conn.rows<{ version: number; applied: number; at: string; step: string }>(
      sql`SELECT version, applied, at, step FROM ${this.conn.table('vigil_migrations')}`,
    );
    const newest = new Map<number, { applied: number; at: number; step: number }>();
    let step = 0;
    for (const r of found) {
      const row = { applied: Number(r.applied), at: Number(r.at), step: Number(r.step) };
      step = Math.max(step, row.step);
      const cur = newest.get(Number(r.version));
      if (!cur || row.step > cur.step || (row.step === cur.step && row.at > cur.at)) {
        newest.set(Number(r.version), row);
      }
    }
    const versions = new Map<number, number>();
    for (const [version, r] of newest) if (r.applied === 1) versions.set(version, r.at);
    return { versions, step };
  }

  async status(): Promise<MigrationStatus> {
    const { versions } = await this.applied();
    const latest = MIGRATIONS.at(-1)?.version ?? 0;
    const current = Math.max(0, ...versions.keys());
    if (current > latest) {
      throw new StoreError(
        'schema_mismatch',
        `the ClickHouse database is at schema version ${current} but this Vigil knows only up to ${latest}; run the newer Vigil or 'vigil migrate down --to ${latest}' with it`,
      );
    }
    return {
      current,
      latest,
      migrations: MIGRATIONS.map((m) => ({
        version: m.version,
        name: m.name,
        appliedAt: versions.get(m.version) ?? null,
      })),
    };
  }

  private async record(version: number, name: string, applied: boolean): Promise<void> {
    const { step } = await this.applied();
    await this.conn.insert('vigil_migrations', [
      { version, name, applied: applied ? 1 : 0, at: Date.now(), step: step + 1 },
    ]);
  }

  async up(to?: number): Promise<number[]> {
    const { current, latest } = await this.status();
    const target = to ?? latest;
    if (target < current || target > latest) {
      throw new StoreError(
        'invalid_migration_target',
        `cannot migrate up from ${current} to ${target} (latest is ${latest})`,
      );
    }
    const done: number[] = [];
    for (const m of MIGRATIONS.filter((m) => m.version > current && m.version <= target)) {
      for (const t of m.tables) await createTable(this.conn, t);
      await this.record(m.version, m.name, true);
      done.push(m.version);
    }
    return done;
  }

  async down(to?: number): Promise<number[]> {
    const { current } = await this.status();
    const target = to ?? Math.max(0, current - 1);
    if (target > current || target < 0) {
      throw new StoreError('invalid_migration_target', `cannot migrate down from ${current} to ${target}`);
    }
    const done: number[] = [];
    for (const m of MIGRATIONS.filter((m) => m.version > target && m.version <= current).reverse()) {
      for (const t of [...m.tables].reverse()) await dropTable(this.conn, t.name);
      await this.record(m.version, m.name, false);
      done.push(m.version);
    }
    return done;
  }
}
