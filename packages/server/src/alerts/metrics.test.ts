import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decisionSummary, llmSnapshot, RollupMaintainer } from '../analytics/index.js';
import { GroupCommitter } from '../ingest/index.js';
import { generateEvents } from '../ops/index.js';
import { openStore, type Store } from '../store/index.js';
import { validEvents } from '../test/events.js';
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

  it('read the same while the deltas are pending in the maintainer as once they are stored', async () => {
    const own = await openStore({ dataDir: dirs.fresh() });
    // Nothing is flushed until asked: every read below sees pending deltas only.
    const maintainer = new RollupMaintainer(own, {
      log: silent,
      flushIntervalMs: 3_600_000,
      maxPendingCells: 1e6,
    });
    const committer = new GroupCommitter(own.events, {
      maxInFlightEvents: 10_000,
      maxCommitEvents: 1_000,
      log: silent,
      onCommitted: (link, rows) => maintainer.onCommitted(link, rows),
    });
    try {
      await committer.start();
      await maintainer.start(committer.headSeq);
      const now = Date.now();
      const valid = validEvents(
        Array.from({ length: 400 }, (_, i) => ({
          type: 'llm.request',
          ts: now - ((i * 7_919) % (3 * 3_600_000)),
          props: {
            model: `m${i % 2}`,
            user: `u${i % 5}`,
            total_ms: 10 + ((i * 31) % 900),
            llm_ms: 5 + ((i * 17) % 400),
            prompt_tokens: i % 50,
            completion_tokens: i % 20,
          },
        })),
      );
      await committer.submit(valid);
      await maintainer.settled();
      const asks: MetricAsk[] = [];
      for (const w of [5 * 60_000, 3_600_000, 4 * 3_600_000])
        for (const filters of [{}, { model: 'm1' }, { user: 'u2' }] as Record<string, string>[])
          for (const metric of ['requestCount', 'totalTokens', 'llmLatency.average', 'totalLatency.max'])
            asks.push({ project: 'default', metric, filters, from: now + 1 - w, to: now + 1 });
      for (const metric of ['totalLatency.p95', 'llmLatency.median'])
        asks.push({
          project: 'default',
          metric,
          filters: { model: 'm0' },
          from: now + 1 - 3_600_000,
          to: now + 1,
        });
      const read = (rollups: RollupMaintainer | null) =>
        readMetrics({ store: own, rollups, health: null }, asks);
      const pending = await read(maintainer);
      // Nothing stored yet: the figures came from the pending deltas.
      expect((await read(null)).every((v) => !v.value)).toBe(true);
      expect(pending.filter((v) => v.value).length).toBeGreaterThan(asks.length * 0.8);
      const snapshot = await llmSnapshot(own, maintainer, 'default', now + 1 - 4 * 3_600_000, now + 1);
      expect(snapshot.requestRate.total).toBe(400);

      await maintainer.flushNow();
      const stored = await read(null);
      pending.forEach((v, i) => {
        const label = JSON.stringify(asks[i]);
        expect(v.value, label).toBeCloseTo(stored[i]?.value as number, 6);
      });
      // Once written, the maintainer does not count them twice.
      expect((await read(maintainer)).map((v) => v.value)).toEqual(stored.map((v) => v.value));
    } finally {
      await maintainer.stop();
      await own.close();
    }
  }, 60_000);
});
