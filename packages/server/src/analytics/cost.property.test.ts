import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyChain } from '../audit/index.js';
import { defaultConfig } from '../config/index.js';
import { GroupCommitter, isRejection, scrubPolicy, validateEvent } from '../ingest/index.js';
import { PriceBook, parsePriceList } from '../pricing/index.js';
import { openStore, type Store } from '../store/index.js';
import { scratchDirs } from '../test/harness.js';
import { historical } from './historical.js';
import { RollupMaintainer } from './maintainer.js';
import { llmSnapshot } from './query.js';

const silent = { error: () => undefined, debug: () => undefined, warn: () => undefined } as never;
const config = defaultConfig();
const HOUR = 3_600_000;
const base = Math.floor(Date.now() / HOUR) * HOUR - 6 * HOUR;
/** The price of m0 changes in the middle of the stream's three hours. */
const change = base + 90 * 60_000;
const book = new PriceBook([
  parsePriceList(
    [
      { model: 'm0', inputPerMillion: 3, outputPerMillion: 15, cacheReadPerMillion: 0.3 },
      {
        model: 'm0',
        inputPerMillion: 1,
        outputPerMillion: 5,
        cacheReadPerMillion: 0.1,
        effectiveFrom: new Date(change).toISOString(),
      },
      { model: 'm1-*', inputPerMillion: 0.5, outputPerMillion: 2 },
    ],
    'project',
  ),
]);

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
  prompt_tokens: number;
  completion_tokens: number;
  cache_read_tokens: number | null;
  cost_usd: number | null;
  user: string;
  space: string;
  model: string | null;
}

const event = fc
  .record<Gen>({
    offset: fc.integer({ min: 0, max: 3 * HOUR - 1 }),
    prompt_tokens: fc.integer({ min: 0, max: 200_000 }),
    completion_tokens: fc.integer({ min: 0, max: 50_000 }),
    cache_read_tokens: fc.option(fc.integer({ min: 0, max: 200_000 }), { nil: null }),
    cost_usd: fc.option(fc.double({ min: 0, max: 50, noNaN: true }), { nil: null, freq: 3 }),
    user: fc.constantFrom('u0', 'u1', 'u2', 'u3', 'u4', 'u5'),
    space: fc.constantFrom('s0', 's1', 's2'),
    model: fc.constantFrom('m0', 'm1-large', 'm1-small', 'self-hosted', null),
  })
  .map((g) => ({
    ...g,
    cache_read_tokens: g.cache_read_tokens === null ? null : Math.min(g.cache_read_tokens, g.prompt_tokens),
  }));

/** What the request should cost, from the test's own reading of the price table (null: unpriced). */
function expectedCost(e: Gen): number | null {
  if (e.cost_usd !== null) return e.cost_usd;
  const ts = base + e.offset;
  const cached = e.cache_read_tokens ?? 0;
  const price =
    e.model === 'm0'
      ? ts < change
        ? [3, 15, 0.3]
        : [1, 5, 0.1]
      : e.model === 'm1-large' || e.model === 'm1-small'
        ? [0.5, 2, 0.5]
        : null;
  if (!price) return null;
  const [input, output, cacheRead] = price as [number, number, number];
  return ((e.prompt_tokens - cached) * input + cached * cacheRead + e.completion_tokens * output) / 1e6;
}

async function ingest(project: string, events: Gen[]): Promise<void> {
  await store.meta.ensureProject({ id: project, name: project, strictTypes: false, createdAt: Date.now() });
  const ctx = {
    project,
    strictTypes: false,
    receivedAt: Date.now(),
    limits: config.ingest,
    privacy: scrubPolicy(config.privacy),
    prices: book,
  };
  const valid = events.map(({ offset, ...props }) => {
    const v = validateEvent({ type: 'llm.request', ts: base + offset, total_ms: 10, props }, ctx);
    if (isRejection(v)) throw new Error(v.message);
    return v;
  });
  await committer.submit(valid);
  await maintainer.settled();
}

const close = (a: number, b: number) => Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(a), Math.abs(b));
const sum = (o: Record<string, number>) => Object.values(o).reduce((a, b) => a + b, 0);

describe('LLM cost invariants (random event streams)', () => {
  it('hold for totals, groups, unpriced requests, reported costs, price changes and buckets', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(event, { minLength: 1, maxLength: 200 }), async (events) => {
        const project = `cost${run++}`;
        await ingest(project, events);
        const s = await llmSnapshot(store, maintainer, project, base, base + 3 * HOUR);
        const costs = events.map(expectedCost);
        const total = costs.reduce<number>((a, c) => a + (c ?? 0), 0);
        const unpriced = costs.filter((c) => c === null).length;

        // Reported costs win, the price in effect at ts prices the rest (old price before the change).
        expect(close(s.cost.totalUsd, total), `${s.cost.totalUsd} vs ${total}`).toBe(true);
        // Unpriced requests are counted and named by model, never priced at 0.
        expect(s.cost.unpricedRequests).toBe(unpriced);
        expect(s.cost.pricedRequests).toBe(events.length - unpriced);
        expect(s.cost.unpricedModels['self-hosted'] ?? 0).toBe(
          events.filter((e) => e.model === 'self-hosted' && e.cost_usd === null).length,
        );
        expect(s.cost.unpricedWithoutModel).toBe(
          events.filter((e) => e.model === null && e.cost_usd === null).length,
        );
        // Prompt + completion + reported = total.
        const reported = events.reduce((a, e) => a + (e.cost_usd ?? 0), 0);
        expect(close(s.cost.promptUsd + s.cost.completionUsd + reported, total)).toBe(true);

        // By user, by space and by model each sum to the total.
        expect(close(sum(s.cost.byUser) + s.cost.byUserOthers, total)).toBe(true);
        expect(close(sum(s.cost.bySpace), total)).toBe(true);
        const modelless = costs.reduce<number>(
          (a, c, i) => a + (events[i]?.model === null ? (c ?? 0) : 0),
          0,
        );
        expect(close(sum(s.cost.byModel) + modelless, total)).toBe(true);
        for (const u of new Set(events.map((e) => e.user))) {
          const exact = costs.reduce<number>((a, c, i) => a + (events[i]?.user === u ? (c ?? 0) : 0), 0);
          expect(close(s.cost.byUser[u] ?? 0, exact)).toBe(true);
        }

        // A window's cost equals the sum of its buckets (minutes and hours).
        const q = { project, metric: 'costUsd' as const, start: base, end: base + 3 * HOUR, filter: {} };
        const minutes = await historical(store, maintainer, { ...q, aggregation: 'minute' });
        const hours = await historical(store, maintainer, { ...q, aggregation: 'hour' });
        expect(
          close(
            minutes.reduce((a, p) => a + (p.value ?? 0), 0),
            total,
          ),
        ).toBe(true);
        expect(
          close(
            hours.reduce((a, p) => a + (p.value ?? 0), 0),
            total,
          ),
        ).toBe(true);
        expect(hours.reduce((a, p) => a + (p.metadata.unpricedRequests as number), 0)).toBe(unpriced);
      }),
      { numRuns: 15 },
    );
    // Priced costs are derived (outside the hash), reported ones are hashed: the chain still verifies.
    expect((await verifyChain(store.events)).ok).toBe(true);
  }, 300_000);
});
