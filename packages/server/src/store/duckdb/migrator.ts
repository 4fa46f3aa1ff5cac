import { type MigrationStatus, type Migrator, StoreError } from '../types.js';
import { MIGRATIONS } from './migrations.js';
import { num, rows, type Serial, TS } from './shared.js';

export class DuckDBMigrator implements Migrator {
  constructor(private readonly conn: Serial) {}

  async status(): Promise<MigrationStatus> {
    const applied = new Map(
      (
        await this.conn.run((c) =>
          rows(c, 'SELECT version, epoch_ms(applied_at) AS applied_at FROM vigil_migrations'),
        )
      ).map((r) => [num(r.version), num(r.applied_at)]),
    );
    const latest = MIGRATIONS.at(-1)?.version ?? 0;
    const current = Math.max(0, ...applied.keys());
    if (current > latest) {
      throw new StoreError(
        'schema_mismatch',
        `the store is at schema version ${current} but this Vigil knows only up to ${latest}; run the newer Vigil or 'vigil migrate down --to ${latest}' with it`,
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
      await this.conn.transaction(async (c) => {
        for (const sql of m.up) await c.run(sql);
        await c.run(`INSERT INTO vigil_migrations VALUES ($1, $2, ${TS('$3')})`, [
          m.version,
          m.name,
          Date.now(),
        ]);
      });
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
      await this.conn.transaction(async (c) => {
        for (const sql of m.down) await c.run(sql);
        await c.run('DELETE FROM vigil_migrations WHERE version = $1', [m.version]);
      });
      done.push(m.version);
    }
    return done;
  }
}
