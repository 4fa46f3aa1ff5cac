import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { afterEach, describe, expect, it } from 'vitest';
import { verifyChain } from '../../audit/index.js';
import { call, readEvents, scratchDirs, startVigil, type Vigil } from '../../test/harness.js';
import { DUCKDB_FILE, idRanges, openDuckDBStore } from './index.js';
import { MIGRATIONS } from './migrations.js';

const scratch = scratchDirs();
const fresh = scratch.fresh;
afterEach(scratch.cleanup);

async function populated(): Promise<Vigil> {
  const vigil = await startVigil({ dataDir: fresh() });
  const events = Array.from({ length: 300 }, (_, i) => ({
    type: i % 3 === 0 ? 'llm.request' : 'custom.event',
    props: i % 3 === 0 ? { total_ms: i, model: 'm' } : { i },
  }));
  for (let b = 0; b < 3; b++) {
    const res = await call(vigil, 'POST', '/v1/events', {
      token: vigil.ingestKey,
      json: { events: events.slice(b * 100, b * 100 + 100) },
    });
    expect(res.body).toEqual({ accepted: 100, rejected: [] });
  }
  return vigil;
}

describe('DuckDB store', () => {
  it('every migration goes down and up again over a populated store, leaving it working', async () => {
    const vigil = await populated();
    const dataDir = vigil.dataDir;
    await vigil.stop();

    const store = await openDuckDBStore({ dataDir, migrate: false });
    const latest = MIGRATIONS.at(-1)?.version ?? 0;
    expect((await store.migrations.status()).current).toBe(latest);
    for (let v = latest - 1; v >= 0; v--) {
      expect(await store.migrations.down()).toEqual([v + 1]);
      expect((await store.migrations.status()).current).toBe(v);
    }
    await expect(store.migrations.down()).resolves.toEqual([]);
    expect(await store.migrations.up(1)).toEqual([1]);
    expect(await store.migrations.up()).toEqual(MIGRATIONS.slice(1).map((m) => m.version));
    await expect(store.migrations.up(latest + 1)).rejects.toThrow(/cannot migrate up/);
    await store.close();

    // A server on the re-created schema starts, bootstraps and takes events again.
    const again = await startVigil({ dataDir });
    try {
      expect(again.ingestKey).toMatch(/^vgl_/);
      const res = await call(again, 'POST', '/v1/events', {
        token: again.ingestKey,
        json: { events: [{ type: 'after.migration' }] },
      });
      expect(res.body).toEqual({ accepted: 1, rejected: [] });
      expect(await readEvents(again)).toHaveLength(1);
      expect((await verifyChain(again.server.context.store.events)).ok).toBe(true);
    } finally {
      await again.stop();
    }
  });

  it('keeps data across a restart and continues the audit chain', async () => {
    const vigil = await populated();
    const before = await readEvents(vigil);
    await vigil.stop();
    const again = await startVigil({ dataDir: vigil.dataDir });
    try {
      expect(await readEvents(again)).toEqual(before);
      await call(again, 'POST', '/v1/events', {
        token: vigil.ingestKey,
        json: { events: [{ type: 'after.restart' }] },
      });
      const report = await verifyChain(again.server.context.store.events);
      expect(report).toEqual({ ok: true, batches: 4, events: 301 });
    } finally {
      await again.stop();
    }
  });

  it('verify passes on a clean store and names the first batch whose rows were altered', async () => {
    const vigil = await populated();
    await vigil.stop();
    const clean = await openDuckDBStore({ dataDir: vigil.dataDir, migrate: false });
    expect(await verifyChain(clean.events)).toEqual({ ok: true, batches: 3, events: 300 });
    await clean.close();

    // Tamper the way an attacker with file access would: edit one stored value in batch 2.
    const db = await DuckDBInstance.create(join(vigil.dataDir, DUCKDB_FILE));
    const conn = await db.connect();
    await conn.run('UPDATE events SET props = \'{"i":999}\' WHERE batch_seq = 2 AND batch_row = 5');
    conn.closeSync();
    db.closeSync();

    const tampered = await openDuckDBStore({ dataDir: vigil.dataDir, migrate: false });
    const report = await verifyChain(tampered.events);
    await tampered.close();
    expect(report.ok).toBe(false);
    expect(report.firstBad?.seq).toBe(2);
    expect(report.firstBad?.reason).toMatch(/altered/);
  });

  it('detects deleted rows and rows inserted outside the chain', async () => {
    const vigil = await populated();
    await vigil.stop();
    const db = await DuckDBInstance.create(join(vigil.dataDir, DUCKDB_FILE));
    const conn = await db.connect();
    await conn.run('DELETE FROM events WHERE batch_seq = 3 AND batch_row = 0');
    conn.closeSync();
    db.closeSync();
    const store = await openDuckDBStore({ dataDir: vigil.dataDir, migrate: false });
    const report = await verifyChain(store.events);
    await store.close();
    expect(report.firstBad).toMatchObject({ seq: 3 });
  });

  it('refuses a second process on the same data directory with a clear message', async () => {
    const dataDir = fresh();
    const store = await openDuckDBStore({ dataDir });
    try {
      // DuckDB locks per process; a child process is the honest second opener.
      const { execFileSync } = await import('node:child_process');
      const script = `import('@duckdb/node-api').then(async ({ DuckDBInstance }) => {
        try { await DuckDBInstance.create(${JSON.stringify(join(dataDir, DUCKDB_FILE))}); console.log('opened'); }
        catch (e) { console.log('refused: ' + e.message); }
      })`;
      const out = execFileSync(process.execPath, ['-e', script], { cwd: process.cwd(), encoding: 'utf8' });
      expect(out).toMatch(/refused: .*lock/i);
    } finally {
      await store.close();
    }
  });
});

describe('idRanges', () => {
  it('groups time-ordered ids into narrow ranges and falls back to one range for scattered ids', () => {
    const at = (ms: number, tail: string) => {
      const hex = ms.toString(16).padStart(12, '0');
      return `${hex.slice(0, 8)}-${hex.slice(8)}-7000-8000-${tail.padStart(12, '0')}`;
    };
    const t = Date.parse('2026-11-23T00:00:00Z');
    const ids = [at(t, '1'), at(t + 1000, '2'), at(t + 7_200_000, '3'), at(t + 7_200_500, '4')];
    const ranges = idRanges(ids);
    expect(ranges.map((r) => r.ids.length)).toEqual([2, 2]);
    expect(ranges.flatMap((r) => r.ids).sort()).toEqual([...ids].sort());
    const scattered = Array.from({ length: 40 }, (_, i) => at(t + i * 7_200_000, String(i)));
    expect(idRanges(scattered)).toHaveLength(1);
    expect(idRanges(scattered)[0]?.ids).toHaveLength(40);
  });
});
