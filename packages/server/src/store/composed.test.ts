import { afterEach, describe, expect, it } from 'vitest';
import { nextLink } from '../audit/index.js';
import { emptyRow } from '../model/index.js';
import { scratchDirs } from '../test/harness.js';
import { usePostgres } from '../test/postgres.js';
import { openStore, storeExists } from './index.js';
import type { Store } from './types.js';

const postgres = usePostgres();
const scratch = scratchDirs();
const opened: Store[] = [];
afterEach(async () => {
  for (const s of opened.splice(0)) await s.close();
  scratch.cleanup();
});

describe('a store of DuckDB (analytical) and PostgreSQL (metadata)', () => {
  it('keeps each half on its engine, counts rows honestly, and refuses a backup it cannot make whole', async () => {
    const url = await postgres.fresh();
    const dataDir = scratch.fresh();
    const store = await openStore({ dataDir, postgres: { url } });
    opened.push(store);
    expect(store.engine).toBe('duckdb+postgres');
    expect(store.schemas.map((s) => [s.engine, s.holds])).toEqual([
      ['duckdb', 'analytical half'],
      ['postgres', 'metadata half'],
    ]);
    await store.meta.ensureProject({ id: 'p', name: 'P', strictTypes: false, createdAt: 1 });
    const rows = [0, 1].map((i) => ({
      ...emptyRow(),
      id: `0190c6a2-0000-7000-8000-00000000000${i}`,
      project: 'p',
      type: 't',
      ts: 1e12 + i,
      received_at: 1e12,
    }));
    await store.events.appendBatch({
      rows,
      seal: () => ({ link: nextLink(null, rows, 1e12), scrubbed: [] }),
    });

    const counts = await store.ops.rowCounts();
    expect(counts).toMatchObject({ projects: 1, events: 2, schema_migrations: expect.any(Number) });
    expect(await store.sizeBytes()).toBeGreaterThan(0);
    await expect(store.ops.backup({ scratchDir: scratch.fresh() })).rejects.toMatchObject({
      code: 'unsupported',
      message: expect.stringContaining('pg_dump'),
    });
    await store.close();

    // The project went to PostgreSQL: the data directory alone does not know it, the events it has.
    const duckdbAlone = await openStore({ dataDir });
    opened.push(duckdbAlone);
    expect(await duckdbAlone.meta.getProject('p')).toBeNull();
    expect(await duckdbAlone.events.countEvents('p')).toBe(2);
    // And another data directory over the same PostgreSQL does.
    const elsewhere = await openStore({ dataDir: scratch.fresh(), postgres: { url } });
    opened.push(elsewhere);
    expect((await elsewhere.meta.getProject('p'))?.name).toBe('P');
    expect(await elsewhere.events.countEvents('p')).toBe(0);
  });

  it('a wrong URL fails before the data directory is touched, and closes what it opened', async () => {
    const dataDir = scratch.fresh();
    await expect(
      openStore({ dataDir, postgres: { url: 'postgres://vigil@127.0.0.1:1/vigil' } }),
    ).rejects.toMatchObject({ code: 'unreachable' });
    // The DuckDB file was never created (nor locked): a plain store opens there.
    expect(storeExists({ dataDir })).toBe(false);
    const plain = await openStore({ dataDir });
    opened.push(plain);
    expect(plain.engine).toBe('duckdb');
  });
});
