import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GroupCommitter } from '../ingest/index.js';
import { openStore, type Store } from '../store/index.js';
import { validEvents } from '../test/events.js';
import { scratchDirs } from '../test/harness.js';
import { historical } from './historical.js';
import { RollupMaintainer } from './maintainer.js';
import { llmSnapshot } from './query.js';

const silent = { error: () => undefined, debug: () => undefined } as never;
const HOUR = 3_600_000;
const base = Math.floor(Date.now() / HOUR) * HOUR - 6 * HOUR;

const scratch = scratchDirs();
let store: Store;
let committer: GroupCommitter;
let maintainer: RollupMaintainer;
let run = 0;

beforeAll(async () => {
  store = await openStore({ dataDir: scratch.fresh() });
  maintainer = new RollupMaintainer(store, { log: silent, flushIntervalMs: 200 });
  committer = new GroupCommitter(store.events, {
    maxInFlightEvents: 100_000,
    maxCommitEvents: 5_000,
    log: silent,
    onCommitted: (link, rows) => maintainer.onCommitted(link, rows),
  });
  await committer.start();
  await maintainer.start(committer.headSeq);
});
afterAll(async () => {
  await maintainer.stop();
  await store.close();
  scratch.cleanup();
});

interface Gen {
  offset: number;
  total_ms: number;
  context_ms: number;
  llm_ms: number;
  prompt_tokens: number;
  completion_tokens: number;
  cache_hit: boolean;
  error_type: string | null;
  user: string;
  space: string;
  model: string;
}

const event = fc.record<Gen>({
  offset: fc.integer({ min: 0, max: 3 * HOUR - 1 }),
  total_ms: fc.integer({ min: 1, max: 60_000 }),
  context_ms: fc.integer({ min: 0, max: 5_000 }),
  llm_ms: fc.integer({ min: 0, max: 60_000 }),
  prompt_tokens: fc.integer({ min: 0, max: 8_000 }),
  completion_tokens: fc.integer({ min: 0, max: 4_000 }),
  cache_hit: fc.boolean(),
  error_type: fc.constantFrom(null, null, null, 'timeout', 'rate_limit', 'server_error'),
  user: fc.constantFrom('u0', 'u1', 'u2', 'u3', 'u4', 'u5'),
  space: fc.constantFrom('s0', 's1', 's2'),
  model: fc.constantFrom('m0', 'm1'),
});

/** Ingests through the real validation and group commit, and waits until it is folded. */
async function ingest(project: string, events: Gen[]): Promise<void> {
  await store.meta.ensureProject({ id: project, name: project, strictTypes: false, createdAt: Date.now() });
  const valid = validEvents(
    events.map(({ offset, ...props }) => ({ type: 'llm.request', ts: base + offset, props })),
    { project },
  );
  await committer.submit(valid);
  await maintainer.settled();
}

const exactQuantile = (sorted: number[], q: number) => sorted[Math.floor(q * (sorted.length - 1))] as number;
const within1pct = (approx: number | null, exact: number) =>
  approx !== null && Math.abs(approx - exact) <= 0.01 * Math.abs(exact) + 1e-9;

describe('analytics invariants (random event streams)', () => {
  it('hold for counts, sums, rates, dimensions and percentiles', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(event, { minLength: 1, maxLength: 300 }), async (events) => {
        const project = `prop${run++}`;
        await ingest(project, events);
        const s = await llmSnapshot(store, maintainer, project, base, base + 3 * HOUR);
        const n = events.length;

        // Request counts exact.
        expect(s.requestRate.total).toBe(n);
        expect(s.errors.totalRequests).toBe(n);

        // Tokens: total = prompt + completion; sums over users = sums over spaces = total.
        const prompt = events.reduce((a, e) => a + e.prompt_tokens, 0);
        const completion = events.reduce((a, e) => a + e.completion_tokens, 0);
        expect(s.tokens.promptTokens).toBe(prompt);
        expect(s.tokens.completionTokens).toBe(completion);
        expect(s.tokens.totalTokens).toBe(prompt + completion);
        const sum = (o: Record<string, number>) => Object.values(o).reduce((a, b) => a + b, 0);
        expect(sum(s.tokens.byUser)).toBe(prompt + completion);
        expect(sum(s.tokens.bySpace)).toBe(prompt + completion);
        for (const u of new Set(events.map((e) => e.user))) {
          const exact = events
            .filter((e) => e.user === u)
            .reduce((a, e) => a + e.prompt_tokens + e.completion_tokens, 0);
          expect(s.tokens.byUser[u]).toBe(exact);
        }

        // Errors: rate = errors / total × 100; by type sums to the total.
        const errors = events.filter((e) => e.error_type !== null).length;
        expect(s.errors.totalErrors).toBe(errors);
        expect(s.errors.totalErrorRate).toBeCloseTo((errors / n) * 100, 9);
        expect(sum(s.errors.errorCountByType)).toBe(errors);

        // Cache: hits + misses = total; rate = hits / (hits + misses) × 100.
        const hits = events.filter((e) => e.cache_hit).length;
        expect(s.cacheHitRate.hits + s.cacheHitRate.misses).toBe(n);
        expect(s.cacheHitRate.overall).toBeCloseTo((hits / n) * 100, 9);

        // context + llm ≤ total: violations are counted, not hidden.
        expect(s.latencyViolations).toBe(events.filter((e) => e.context_ms + e.llm_ms > e.total_ms).length);

        // Average exact; percentiles from sketches within 1% of the exact value.
        const totals = events.map((e) => e.total_ms).sort((a, b) => a - b);
        expect(s.totalLatency.average).toBeCloseTo(totals.reduce((a, b) => a + b, 0) / n, 6);
        expect(s.totalLatency.min).toBe(totals[0]);
        expect(s.totalLatency.max).toBe(totals.at(-1));
        for (const [q, got] of [
          [0.5, s.totalLatency.median],
          [0.95, s.totalLatency.p95],
          [0.99, s.totalLatency.p99],
        ] as const) {
          expect(
            within1pct(got, exactQuantile(totals, q)),
            `q=${q}: ${got} vs ${exactQuantile(totals, q)}`,
          ).toBe(true);
        }

        // Window aggregation: minute buckets sum to their hour bucket.
        const q = { project, metric: 'requestRate' as const, start: base, end: base + 3 * HOUR, filter: {} };
        const minutes = await historical(store, maintainer, { ...q, aggregation: 'minute' });
        const hours = await historical(store, maintainer, { ...q, aggregation: 'hour' });
        expect(hours).toHaveLength(3);
        hours.forEach((h, i) => {
          const inHour = minutes
            .slice(i * 60, i * 60 + 60)
            .reduce((a, m) => a + (m.metadata.requests as number), 0);
          expect(h.metadata.requests).toBe(inHour);
          expect(inHour).toBe(events.filter((e) => Math.floor(e.offset / HOUR) === i).length);
        });
      }),
      { numRuns: 25 },
    );
  }, 120_000);

  it('coarser rollups equal merges of finer ones, also after compaction', async () => {
    const project = `merge${run++}`;
    const events = fc.sample(event, 400);
    // Two flushes: every bucket gets two delta rows for compaction to merge.
    for (const half of [events.slice(0, 200), events.slice(200)]) {
      await ingest(project, half);
      await maintainer.stop();
      await maintainer.start(committer.headSeq);
    }
    const dayLevel = await llmSnapshot(store, null, project, base, base + 3 * HOUR);
    const minuteTiles = await historical(store, null, {
      project,
      metric: 'totalTokens',
      start: base,
      end: base + 3 * HOUR,
      aggregation: 'minute',
      filter: {},
    });
    expect(minuteTiles.reduce((a, p) => a + (p.value ?? 0), 0)).toBe(dayLevel.tokens.totalTokens);
    const merged = await store.rollups.compact();
    expect(merged).toBeGreaterThan(0);
    expect(await llmSnapshot(store, null, project, base, base + 3 * HOUR)).toEqual(dayLevel);
  });
});
