import { afterEach, describe, expect, it } from 'vitest';
import { applyRetention } from '../analytics/index.js';
import type { MetricSample } from '../model/index.js';
import { openStore } from '../store/index.js';
import { scratchDirs } from '../test/harness.js';
import { CollectorOrchestrator } from './orchestrator.js';

const scratch = scratchDirs();
afterEach(scratch.cleanup);

const DAY = 86_400_000;
const silent = { info: () => undefined, warn: () => undefined, error: () => undefined };

describe('telemetry maintenance', () => {
  it('compacts rollup deltas; the retention job expires raw samples and rollups by each project retention', async () => {
    const store = await openStore({ dataDir: scratch.fresh() });
    try {
      const now = Date.UTC(2026, 10, 20, 12);
      await store.meta.ensureProject({ id: 'p', name: 'p', strictTypes: false, createdAt: now });
      await store.meta.ensureProject({ id: 'q', name: 'q', strictTypes: false, createdAt: now });
      await store.meta.updateProject('q', {
        retention: { rawDays: 10, rollupDays: null, dailyRollupDays: null },
      });
      const sample = (project: string, ageDays: number, value: number): MetricSample => ({
        project,
        name: 'm',
        labels: {},
        value,
        ts: now - ageDays * DAY,
        kind: 'gauge',
        source: 'collector:x',
        snapshotId: null,
      });
      for (const project of ['p', 'q']) {
        // Two appends into the same recent minute: two delta rows there until compaction.
        await store.samples.append([sample(project, 0.5, 1), sample(project, 3, 2), sample(project, 40, 3)]);
        await store.samples.append([sample(project, 0.5, 5), sample(project, 500, 4)]);
      }
      const history = (project: string, bucket: 'minute' | 'day') =>
        store.samples.history({ project, name: 'm', from: now - 600 * DAY, to: now, bucket, maxSeries: 10 });
      const before = await history('p', 'minute');
      const orchestrator = new CollectorOrchestrator({
        store,
        log: silent,
        configured: [],
        schedule: false,
      });
      await orchestrator.maintain(now);
      const results = await applyRetention(
        store,
        { rawDays: 2, rollupDays: 30, dailyRollupDays: 400, intervalMs: 3_600_000 },
        { now },
      );
      expect(results.map((r) => [r.project, r.samplesDeleted, r.sampleRollupsDeleted])).toEqual([
        ['p', 3, expect.any(Number)],
        ['q', 2, expect.any(Number)],
      ]);

      const raw = async (project: string) =>
        (await store.samples.list({ project, from: 0, to: now, limit: 100 })).map((s) => s.value).sort();
      expect(await raw('p')).toEqual([1, 5]);
      expect(await raw('q')).toEqual([1, 2, 5]); // its own rawDays: 10
      // Minute and hour rollups live 30 days, daily ones 400.
      expect(
        (await history('p', 'minute')).map((r) => [Math.round((now - r.bucket) / DAY), r.count, r.sum]),
      ).toEqual([
        [3, 1, 2],
        [1, 2, 6],
      ]);
      expect(before.filter((r) => now - r.bucket < 30 * DAY)).toEqual(await history('p', 'minute'));
      // Day buckets start at midnight, half a day before these noon samples; the 500-day one is gone.
      expect((await history('p', 'day')).map((r) => (now - r.bucket) / DAY)).toEqual([40.5, 3.5, 0.5]);
      await orchestrator.stop();
    } finally {
      await store.close();
    }
  });
});
