import { randomUUID } from 'node:crypto';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { afterEach, describe, expect, it } from 'vitest';
import { nextLink, verifyChain } from '../../audit/index.js';
import { type EventRow, emptyRow, sampleRank } from '../../model/index.js';
import { call, readEvents, scratchDirs, startVigil, type Vigil } from '../../test/harness.js';
import { DUCKDB_FILE, idRanges, openDuckDBStore } from './index.js';
import { MIGRATIONS } from './migrations.js';

const scratch = scratchDirs();
const fresh = scratch.fresh;
afterEach(scratch.cleanup);

/** Three batches of 100 events; `checkpoints: false` for a store whose head no checkpoint pins. */
async function populated({ checkpoints = true } = {}): Promise<Vigil> {
  const vigil = await startVigil({ dataDir: fresh(), config: { checkpoints: { enabled: checkpoints } } });
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
    // Down to 0 drops the chain; a checkpoint of it would (rightly) make the new chain continue after it.
    const vigil = await populated({ checkpoints: false });
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

  it('each migration goes down and up alone over a richly populated store, losing only what its down step drops', async () => {
    const vigil = await populated();
    const day = new Date(Date.now() - 86_400_000).toISOString().slice(0, 10);
    const decisions = Array.from({ length: 20 }, (_, i) => ({
      type: i % 2 ? 'decision.recommendation' : 'decision.outcome',
      props:
        i % 2
          ? { action: 'accept', signal_id: `s${i}`, recommendation_type: 'risk', explanation_version: 'v1' }
          : { signal_id: `s${i + 1}`, outcome_status: 'resolved' },
    }));
    await call(vigil, 'POST', '/v1/events', { token: vigil.ingestKey, json: { events: decisions } });
    await call(vigil, 'POST', '/api/keys', { token: vigil.adminToken, json: { role: 'viewer', name: 'v' } });
    const snap = await call(vigil, 'POST', '/api/health/snapshots', {
      token: vigil.adminToken,
      json: { date: day },
    });
    expect(snap.status).toBe(201);
    await vigil.stop();

    const store = await openDuckDBStore({ dataDir: vigil.dataDir, migrate: false });
    try {
      const start = await store.ops.rowCounts();
      expect(start.events).toBe(320);
      expect(start.health_snapshots).toBe(1);
      expect(Object.values(start).filter((n) => n > 0).length).toBeGreaterThanOrEqual(8);
      for (const m of [...MIGRATIONS].reverse()) {
        const before = await store.ops.rowCounts();
        expect(await store.migrations.down(), `down ${m.version}`).toEqual([m.version]);
        const down = await store.ops.rowCounts();
        expect(await store.migrations.up(m.version), `up ${m.version}`).toEqual([m.version]);
        const after = await store.ops.rowCounts();
        expect(Object.keys(after).sort(), `tables after ${m.version}`).toEqual(Object.keys(before).sort());
        for (const [table, n] of Object.entries(before)) {
          // A table the down step kept keeps its rows; one it dropped comes back either empty or, when
          // the down step carried its rows elsewhere (6 merges the rollup tables), with all of them.
          if (table in down) expect(after[table], `${table} through migration ${m.version}`).toBe(n);
          else expect([0, n], `${table} re-created by migration ${m.version}`).toContain(after[table]);
        }
        // Step down to the next one for the next round (the store now sits one below this migration).
        expect(await store.migrations.down()).toEqual([m.version]);
      }
      expect((await store.migrations.status()).current).toBe(0);
      expect(await store.migrations.up()).toEqual(MIGRATIONS.map((m) => m.version));
    } finally {
      await store.close();
    }
  });

  it('migration 14 gives stored events the sample keys appends give (the SQL and TypeScript keys agree)', async () => {
    const vigil = await populated();
    const dataDir = vigil.dataDir;
    await vigil.stop();
    const store = await openDuckDBStore({ dataDir, migrate: false });
    try {
      const window = { project: 'default', from: 0, to: Date.now() + 60_000 };
      const appended = await store.health.sample(window, 'seed', 20);
      expect(await store.migrations.down(13)).toEqual([16, 15, 14]);
      expect(await store.migrations.up()).toEqual([14, 15, 16]);
      const migrated = await store.health.sample(window, 'seed', 20);
      expect(migrated.map((r) => r.id)).toEqual(appended.map((r) => r.id));
      const all = await store.events.listEvents({ project: 'default', limit: 1_000 });
      const ranked = all
        .map((r) => r.id)
        .sort((a, b) => (sampleRank(a, 'seed') < sampleRank(b, 'seed') ? -1 : 1));
      expect(migrated.map((r) => r.id)).toEqual(ranked.slice(0, 20));
    } finally {
      await store.close();
    }
  });

  it('migration 15 moves a store to one chain per writer and back, unless another writer has a chain', async () => {
    const vigil = await populated({ checkpoints: false });
    const dataDir = vigil.dataDir;
    await vigil.stop();
    const store = await openDuckDBStore({ dataDir, migrate: false });
    try {
      const before = await verifyChain(store.events);
      expect(before).toEqual({ ok: true, batches: 3, events: 300 });
      expect(await store.migrations.down(14)).toEqual([16, 15]);
      expect(await store.migrations.up()).toEqual([15, 16]);
      expect(await verifyChain(store.events)).toEqual(before);
      // A second writer's chain: the schema of one chain cannot keep it, and says so.
      const [row] = await store.events.listEvents({ project: 'default', limit: 1 });
      const rows = [{ ...(row as EventRow), id: '01890000-0000-7000-8000-000000000001' }];
      const link = nextLink(null, rows, Date.now(), 'instance-b');
      await store.events.appendBatch({ rows, seal: () => ({ link, scrubbed: [] }) });
      await expect(store.migrations.down(14)).rejects.toThrow(/chains other than 'default'/);
      expect((await store.migrations.status()).current).toBe(15);
      expect(await verifyChain(store.events)).toEqual({ ok: true, batches: 4, events: 301, chains: 2 });
    } finally {
      await store.close();
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

  it('removes the debris of a failed append (rows whose chain link was never written) before the next commit', async () => {
    // A failed append is never checkpointed (only committed heads are): no checkpoint pins batch 3.
    const vigil = await populated({ checkpoints: false });
    await vigil.stop();
    // What a disk filling during a checkpoint can leave: batch 3's rows without its link.
    const db = await DuckDBInstance.create(join(vigil.dataDir, DUCKDB_FILE));
    const conn = await db.connect();
    await conn.run('DELETE FROM batches WHERE seq = 3');
    conn.closeSync();
    db.closeSync();

    const again = await startVigil({ dataDir: vigil.dataDir });
    try {
      const res = await call(again, 'POST', '/v1/events', {
        token: vigil.ingestKey,
        json: { events: Array.from({ length: 50 }, () => ({ type: 'after.debris' })) },
      });
      expect(res.body).toEqual({ accepted: 50, rejected: [] });
      // The new batch 3 holds its 50 rows only, not the 100 left over from the failed one.
      const report = await verifyChain(again.server.context.store.events);
      expect(report).toEqual({ ok: true, batches: 3, events: 250 });
    } finally {
      await again.stop();
    }
  }, 120_000);

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

  it('checkpoints the file once its write-ahead log has stopped growing for a second', async () => {
    const dataDir = fresh();
    const store = await openDuckDBStore({ dataDir });
    const wal = join(dataDir, `${DUCKDB_FILE}.wal`);
    const walBytes = () => (existsSync(wal) ? statSync(wal).size : 0);
    try {
      const rows = Array.from({ length: 5_000 }, (_, i) => {
        const r = emptyRow();
        r.id = randomUUID();
        r.project = 'p';
        r.type = 'quiet.test';
        r.ts = Date.UTC(2026, 10, 1) + i;
        r.received_at = r.ts;
        r.props = JSON.stringify({ note: `event ${i} `.repeat(8) });
        return r;
      });
      const link = nextLink(null, rows, Date.now(), 'default');
      await store.events.appendBatch({ rows, seal: () => ({ link, scrubbed: [] }) });
      // Far below DuckDB's own threshold (16 MB): only the quiet checkpoint empties it.
      expect(walBytes()).toBeGreaterThanOrEqual(64 * 1024);
      const deadline = Date.now() + 30_000;
      while (walBytes() >= 64 * 1024 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      expect(walBytes()).toBeLessThan(64 * 1024);
      expect(await store.events.countEvents('p')).toBe(5_000);
    } finally {
      await store.close();
    }
  }, 60_000);

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
