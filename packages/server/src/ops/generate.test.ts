import { afterEach, describe, expect, it } from 'vitest';
import { llmSnapshot, RollupMaintainer } from '../analytics/index.js';
import { verifyChain } from '../audit/index.js';
import type { Store } from '../store/index.js';
import { openStore } from '../store/index.js';
import { scratchDirs } from '../test/harness.js';
import { generateEvents } from './generate.js';

const scratch = scratchDirs();
afterEach(scratch.cleanup);

const silent = {
  error: () => undefined,
  warn: () => undefined,
  info: () => undefined,
  debug: () => undefined,
};
const log = silent as never;
const DAY = 86_400_000;
// Not on a day boundary: the repeated day straddles two UTC days, as it does for real.
const NOW = Date.UTC(2026, 10, 20, 15, 37, 12);

/** Exact figures from raw events, to hold the rollups against. */
async function exact(store: Store, from: number, to: number) {
  const q = { project: 'default', type: 'llm.request', from, to, groupBy: [], filters: [] } as const;
  const [count] = await store.events.aggregateRaw({ ...q, aggregate: 'count' });
  const [prompt] = await store.events.aggregateRaw({ ...q, aggregate: 'sum', field: 'prompt_tokens' });
  const [max] = await store.events.aggregateRaw({ ...q, aggregate: 'max', field: 'total_ms' });
  const errors = await store.events.aggregateRaw({ ...q, aggregate: 'count', groupBy: ['error_type'] });
  return {
    count: count?.count ?? 0,
    prompt: prompt?.value ?? 0,
    max: max?.value ?? null,
    errors: errors.filter((r) => r.groups[0] !== null).reduce((a, r) => a + r.count, 0),
  };
}

describe('vigil generate', () => {
  it('repeats the first day through ordinary appends and rollup writes: the chain verifies, rollups equal the raw events', async () => {
    const dataDir = scratch.fresh();
    const store = await openStore({ dataDir });
    const phases: string[] = [];
    let progress = 0;
    try {
      const result = await generateEvents(store, {
        events: 3 * 1_500,
        days: 3,
        now: NOW,
        log,
        onProgress: (done, total) => {
          expect(done).toBeGreaterThan(progress);
          expect(total).toBe(4_500);
          progress = done;
        },
        onPhase: (what) => phases.push(what),
      });
      expect(result.events).toBe(4_500);
      expect(progress).toBe(4_500);
      expect(phases).toEqual(['compacting rollups']);
      expect(await store.events.countEvents('default')).toBe(4_500);

      const chain = await verifyChain(store.events);
      expect(chain).toMatchObject({ ok: true, events: 4_500 });

      // Every window, whether it cuts copies or not, answers from rollups what raw rows say.
      for (const [from, to] of [
        [NOW - 3 * DAY, NOW],
        [NOW - 2 * DAY - 3_600_000, NOW - 7_200_000],
        [Date.UTC(2026, 10, 18), Date.UTC(2026, 10, 20)],
      ] as const) {
        const snap = await llmSnapshot(store, null, 'default', from, to);
        const raw = await exact(store, Math.floor(from / 60_000) * 60_000, Math.ceil(to / 60_000) * 60_000);
        expect(snap.requestRate.total).toBe(raw.count);
        expect(snap.tokens.promptTokens).toBe(raw.prompt);
        expect(snap.totalLatency.max).toBe(raw.max);
        expect(snap.errors.totalErrors).toBe(raw.errors);
      }

      // The copies are already folded: a maintainer starting over the store adds nothing.
      const before = await llmSnapshot(store, null, 'default', NOW - 3 * DAY, NOW);
      const head = await store.events.chainHead('default');
      const maintainer = new RollupMaintainer(store, { log });
      await maintainer.start(head?.seq ?? 0);
      await maintainer.stop();
      expect(await llmSnapshot(store, null, 'default', NOW - 3 * DAY, NOW)).toEqual(before);
    } finally {
      await store.close();
    }
  }, 120_000);

  it('stopped part way, it leaves whole days folded and the rest for a maintainer to fold', async () => {
    const store = await openStore({ dataDir: scratch.fresh() });
    try {
      // One batch a day: the third day's batch is appended, its rollup rows never written.
      const stop = new Error('interrupted');
      await expect(
        generateEvents(store, {
          events: 3 * 1_500,
          days: 3,
          now: NOW,
          log,
          onProgress: (done) => {
            if (done === 4_500) throw stop;
          },
        }),
      ).rejects.toBe(stop);
      const head = await store.events.chainHead('default');
      expect(head?.seq).toBe(3);
      expect(await store.rollups.watermark('default')).toMatchObject({ seq: 2, rows: 0 });
      const maintainer = new RollupMaintainer(store, { log });
      await maintainer.start(head?.seq ?? 0);
      await maintainer.stop();
      const snap = await llmSnapshot(store, null, 'default', NOW - 3 * DAY, NOW + 60_000);
      const raw = await exact(store, NOW - 3 * DAY, NOW + 60_000);
      expect(snap.requestRate.total).toBe(4_500);
      expect(snap.tokens.promptTokens).toBe(raw.prompt);
      expect(snap.totalLatency.max).toBe(raw.max);
    } finally {
      await store.close();
    }
  }, 120_000);

  it('folds every event when asked not to repeat, with the same totals over the run', async () => {
    const store = await openStore({ dataDir: scratch.fresh() });
    try {
      await generateEvents(store, { events: 2_000, days: 2, now: NOW, log, noRepeat: true });
      expect(await store.events.countEvents('default')).toBe(2_000);
      const snap = await llmSnapshot(store, null, 'default', NOW - 2 * DAY, NOW + 60_000);
      const raw = await exact(store, NOW - 2 * DAY, NOW + 60_000);
      expect(snap.requestRate.total).toBe(2_000);
      expect(snap.tokens.promptTokens).toBe(raw.prompt);
      expect((await verifyChain(store.events)).ok).toBe(true);
    } finally {
      await store.close();
    }
  }, 120_000);
});
