import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decisionSummary, llmSnapshot } from '../analytics/index.js';
import { generateEvents } from '../ops/index.js';
import { openStore, type Store } from '../store/index.js';
import { scratchDirs } from '../test/harness.js';
import { type MetricAsk, readMetrics } from './metrics.js';

const dirs = scratchDirs();
let store: Store;
const NOW = Date.UTC(2026, 10, 20, 12, 0, 0);
const silent = {
  error: () => undefined,
  warn: () => undefined,
  info: () => undefined,
  debug: () => undefined,
} as never;

beforeAll(async () => {
  store = await openStore({ dataDir: dirs.fresh() });
  await generateEvents(store, { events: 8_000, days: 2, now: NOW, log: silent, seed: 7 });
}, 120_000);
afterAll(async () => {
  await store.close();
  dirs.cleanup();
});

describe('rule metrics are the read API figures', () => {
  it('match llmSnapshot for every window and filter, read together in one batch', async () => {
    const windows = [60_000, 5 * 60_000, 17 * 60_000, 3_600_000, 6 * 3_600_000, 86_400_000];
    const ends = [NOW, NOW - 37_000, NOW - 3 * 3_600_000 - 12_345];
    const filters: Record<string, string>[] = [
      {},
      { model: 'gpt-4o' },
      { space: 'space-3' },
      { user: 'user-1' },
    ];
    const asks: MetricAsk[] = [];
    const expected: (number | null)[] = [];
    for (const to of ends) {
      for (const w of windows) {
        for (const f of filters) {
          const snap = await llmSnapshot(store, null, 'default', to - w, to, f);
          const add = (metric: string, value: number | null) => {
            asks.push({ project: 'default', metric, filters: f, from: to - w, to });
            expected.push(value);
          };
          add('requestRate', snap.requestRate.perMinute);
          add('requestCount', snap.requestRate.total);
          if (Object.keys(f).length === 0) {
            asks.push({
              project: 'default',
              metric: 'events.count',
              filters: { type: 'llm.request' },
              from: to - w,
              to,
            });
            expected.push(snap.requestRate.total);
          }
          add('errorRate', snap.errors.totalErrorRate);
          add('errorCount', snap.errors.totalErrors);
          add('cacheHitRate', snap.cacheHitRate.overall);
          add('totalTokens', snap.tokens.totalTokens);
          add('tokensPerRequest', snap.tokens.averagePerRequest);
          add('llmLatency.average', snap.llmLatency.average);
          add('totalLatency.max', snap.totalLatency.max);
          if (f.user === undefined) {
            add('totalLatency.p95', snap.totalLatency.p95);
            add('contextLatency.median', snap.contextLatency.median);
          }
          if (Object.keys(f).length === 0) {
            for (const [type, rate] of Object.entries(snap.errors.errorRateByType)) {
              asks.push({
                project: 'default',
                metric: 'errorRate',
                filters: { error_type: type },
                from: to - w,
                to,
              });
              expected.push(rate);
            }
          }
        }
      }
    }
    const got = await readMetrics({ store, rollups: null, health: null }, asks);
    expect(got).toHaveLength(asks.length);
    let nonNull = 0;
    got.forEach((g, i) => {
      const want = expected[i] ?? null;
      const label = JSON.stringify(asks[i]);
      if (want === null) expect(g.value, label).toBeNull();
      else {
        nonNull += 1;
        expect(g.value, label).not.toBeNull();
        expect(g.value as number, label).toBeCloseTo(want, 6);
      }
    });
    // The comparison is not vacuous: most asks have data.
    expect(nonNull).toBeGreaterThan(asks.length * 0.8);
  });

  it('decision metrics match decisionSummary; unknown data is null, counts are 0', async () => {
    const [v] = await readMetrics({ store, rollups: null, health: null }, [
      { project: 'default', metric: 'acceptanceRate', filters: {}, from: NOW - 86_400_000, to: NOW },
    ]);
    const s = await decisionSummary(store, null, 'default', NOW - 86_400_000, NOW);
    expect(v?.value ?? null).toBe(s.acceptanceRate);
    const [none] = await readMetrics({ store, rollups: null, health: null }, [
      { project: 'nobody', metric: 'requestCount', filters: {}, from: NOW - 60_000, to: NOW },
    ]);
    expect(none).toEqual({ value: 0, samples: 0 });
  });
});
