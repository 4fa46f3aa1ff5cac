import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { call, startVigil, TEST_ADMIN_TOKEN } from '../../test/harness.js';
import { startPostgres, usePostgres } from '../../test/postgres.js';
import { StoreError } from '../types.js';
import { openPostgresStore, type PostgresMetadataStore } from './index.js';
import { MIGRATIONS } from './migrations.js';

const postgres = usePostgres();
const opened: PostgresMetadataStore[] = [];
afterEach(async () => {
  for (const s of opened.splice(0)) await s.close();
});

async function rowsOf(url: string, sql: string): Promise<Record<string, unknown>[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(sql)).rows;
  } finally {
    await client.end();
  }
}

describe('PostgreSQL metadata engine', () => {
  it('two instances starting at once on one database migrate once', async () => {
    const url = await postgres.fresh();
    const results = await Promise.allSettled(
      Array.from({ length: 4 }, () => openPostgresStore({ url, migrate: true, poolSize: 2 })),
    );
    const stores = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
    opened.push(...stores);
    expect(results.filter((r) => r.status === 'rejected')).toEqual([]);
    // Every migration recorded exactly once (a second run would have failed on CREATE TABLE, or
    // recorded its version twice).
    const applied = await rowsOf(url, 'SELECT version FROM schema_migrations ORDER BY version');
    expect(applied.map((r) => r.version)).toEqual(MIGRATIONS.map((m) => m.version));
    for (const s of stores) {
      const status = await s.migrations.status();
      expect(status.current).toBe(status.latest);
    }
    // Each sees what another wrote: one database.
    await stores[0]?.meta.ensureProject({ id: 'p', name: 'P', strictTypes: false, createdAt: 1 });
    expect((await stores[3]?.meta.getProject('p'))?.name).toBe('P');
  });

  it('a lease has one holder across instances, and moves to another once its holder stops renewing', async () => {
    const url = await postgres.fresh();
    const instances = await Promise.all(
      ['i1', 'i2', 'i3'].map(() => openPostgresStore({ url, migrate: true, poolSize: 2 })),
    );
    opened.push(...instances);
    const now = Date.UTC(2026, 11, 1);
    const ttlMs = 30_000;
    const tries = await Promise.all(
      instances.map((s, i) => s.leases.take({ name: 'alerts', holder: `i${i + 1}`, now, ttlMs })),
    );
    const winner = tries.find((l) => l !== null);
    expect(tries.filter((l) => l !== null)).toHaveLength(1);
    const others = instances.filter((_, i) => tries[i] === null);
    // The holder goes silent: at expiry exactly one of the others takes over, with the next term.
    const takeover = await Promise.all(
      others.map((s, i) => s.leases.take({ name: 'alerts', holder: `other${i}`, now: now + ttlMs, ttlMs })),
    );
    expect(takeover.filter((l) => l !== null)).toHaveLength(1);
    expect(takeover.find((l) => l !== null)).toMatchObject({ term: (winner?.term ?? 0) + 1 });
  });

  it('opens without migrating when asked, and then reports the versions pending', async () => {
    const url = await postgres.fresh();
    const store = await openPostgresStore({ url, migrate: false });
    opened.push(store);
    const status = await store.migrations.status();
    expect(status.current).toBe(0);
    expect(status.migrations.every((m) => m.appliedAt === null)).toBe(true);
    expect(await store.migrations.up()).toEqual(MIGRATIONS.map((m) => m.version));
    expect(await store.migrations.down(0)).toEqual(MIGRATIONS.map((m) => m.version).reverse());
    expect(await rowsOf(url, "SELECT to_regclass('projects') IS NULL AS gone")).toEqual([{ gone: true }]);
  });

  it('counts the rows of every table', async () => {
    const store = await openPostgresStore({ url: await postgres.fresh() });
    opened.push(store);
    await store.meta.ensureProject({ id: 'p', name: 'P', strictTypes: false, createdAt: 1 });
    const counts = await store.rowCounts();
    expect(counts.projects).toBe(1);
    expect(counts.schema_migrations).toBe(MIGRATIONS.length);
    expect(counts.api_keys).toBe(0);
  });

  it('keeps values as data: quotes and SQL in values are stored as given', async () => {
    const store = await openPostgresStore({ url: await postgres.fresh() });
    opened.push(store);
    const name = "x'); DROP TABLE projects; --";
    await store.meta.ensureProject({ id: name, name, strictTypes: false, createdAt: 1 });
    expect((await store.meta.getProject(name))?.name).toBe(name);
    expect((await store.meta.listProjects()).map((p) => p.id)).toEqual([name]);
  });

  it('a PostgreSQL gone while serving: the store says unavailable, the API answers 503 store_unavailable', async () => {
    const own = await startPostgres();
    let vigil: Awaited<ReturnType<typeof startVigil>> | undefined;
    try {
      const url = await own.fresh();
      const store = await openPostgresStore({ url });
      opened.push(store);
      vigil = await startVigil({ config: { store: { postgres: { url } } } });
      const keys = await call(vigil, 'GET', '/api/keys', { token: TEST_ADMIN_TOKEN });
      expect(keys.status).toBe(200);
      await own.stop();
      const err = await store.meta.getProject('p').catch((e: unknown) => e);
      expect(err).toBeInstanceOf(StoreError);
      expect(err).toMatchObject({
        code: 'unavailable',
        message: expect.stringMatching(/PostgreSQL cannot be reached/),
      });
      const refused = await call(vigil, 'GET', '/api/keys', { token: TEST_ADMIN_TOKEN });
      expect(refused.status).toBe(503);
      expect(refused.body).toMatchObject({ error: { code: 'store_unavailable' } });
    } finally {
      await vigil?.cleanup();
      await own.stop();
    }
  });

  it('refuses a URL that is not one, and names the problem', async () => {
    for (const url of ['not a url', 'http://127.0.0.1:5432/db', 'postgres://']) {
      const err = await openPostgresStore({ url }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(StoreError);
      expect(err).toMatchObject({ code: 'unreachable', message: expect.stringMatching(/postgres:\/\//) });
    }
  });

  it('says clearly when nothing listens, when the database is missing, and hides the password', async () => {
    const closed = await openPostgresStore({ url: 'postgres://vigil:s3cret@127.0.0.1:1/vigil' }).catch(
      (e: unknown) => e,
    );
    expect(closed).toMatchObject({
      code: 'unreachable',
      message: expect.stringMatching(/is PostgreSQL running/),
    });
    expect((closed as Error).message).not.toContain('s3cret');
    expect((closed as Error).message).toContain('vigil:***@127.0.0.1:1');
    const missing = await openPostgresStore({ url: postgres.url('no_such_database') }).catch(
      (e: unknown) => e,
    );
    expect(missing).toMatchObject({ code: 'unreachable', message: expect.stringMatching(/does not exist/) });
  });
});
