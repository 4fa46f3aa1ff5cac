import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { nextLink } from '../audit/index.js';
import { type EventRow, emptyRow } from '../model/index.js';
import type { ChainLink, Store } from '../store/index.js';
import { openStore } from '../store/index.js';
import { scratchDirs } from '../test/harness.js';
import { RollupMaintainer } from './maintainer.js';
import { aggregate, llmSnapshot } from './query.js';

const silent = { error: () => undefined, debug: () => undefined } as never;
const scratch = scratchDirs();
let store: Store | null = null;
afterEach(async () => {
  await store?.close();
  store = null;
  scratch.cleanup();
});

const HOUR = 3_600_000;
const NOW = Math.floor(Date.now() / HOUR) * HOUR;
let n = 0;

function llm(ts: number, over: Partial<EventRow> = {}): EventRow {
  const r = emptyRow();
  n += 1;
  r.id = `00000000-0000-7000-8000-${n.toString(16).padStart(12, '0')}`;
  r.project = 'default';
  r.type = 'llm.request';
  r.ts = ts;
  r.received_at = Date.now();
  r.total_ms = 100;
  r.prompt_tokens = 10;
  r.completion_tokens = 5;
  r.user = 'u1';
  Object.assign(r, over);
  return r;
}

/** Commits rows as one batch and has the maintainer fold and store them. */
async function commit(s: Store, m: RollupMaintainer, rows: EventRow[], head: { link: ChainLink | null }) {
  const link = nextLink(head.link, rows, Date.now());
  await s.events.appendBatch({ rows, seal: () => ({ link, scrubbed: [] }) });
  head.link = link;
  m.onCommitted(link, rows);
  await m.flushNow();
}

describe('rollup read cache', () => {
  it('serves closed tiles from memory and still shows a late event written into one of them', async () => {
    store = await openStore({ dataDir: scratch.fresh() });
    const s = store;
    const m = new RollupMaintainer(s, { log: silent });
    const head = { link: null as ChainLink | null };
    await m.start(0);
    try {
      await commit(s, m, [llm(NOW - 30 * HOUR), llm(NOW - 29 * HOUR - 60_000), llm(NOW - HOUR)], head);
      const window = { from: NOW - 48 * HOUR, to: NOW };
      expect((await llmSnapshot(s, m, 'default', window.from, window.to)).requestRate.total).toBe(3);
      const misses = m.cache.misses;
      expect((await llmSnapshot(s, m, 'default', window.from, window.to)).requestRate.total).toBe(3);
      expect(m.cache.misses).toBe(misses); // all from memory the second time

      // Late: deep inside the daily and hourly tiles already cached.
      await commit(s, m, [llm(NOW - 30 * HOUR + 5 * 60_000, { prompt_tokens: 1000 })], head);
      const after = await llmSnapshot(s, m, 'default', window.from, window.to);
      expect(after.requestRate.total).toBe(4);
      expect(after.tokens.promptTokens).toBe(1030);
      // The same answer as without the cache.
      expect(after).toEqual(await llmSnapshot(s, null, 'default', window.from, window.to));
    } finally {
      await m.stop();
    }
  });

  it('ranks the top users from cached tiles as the store ranks them', async () => {
    store = await openStore({ dataDir: scratch.fresh() });
    const s = store;
    const m = new RollupMaintainer(s, { log: silent });
    const head = { link: null as ChainLink | null };
    await m.start(0);
    try {
      await fc.assert(
        fc.asyncProperty(
          fc.array(fc.tuple(fc.integer({ min: 0, max: 7 }), fc.integer({ min: 1, max: 70 }), fc.nat(100)), {
            minLength: 1,
            maxLength: 40,
          }),
          fc.integer({ min: 1, max: 5 }),
          async (events, limit) => {
            await commit(
              s,
              m,
              events.map(([u, hoursAgo, tokens]) =>
                llm(NOW - hoursAgo * HOUR, { user: `u${u}`, prompt_tokens: tokens, completion_tokens: 0 }),
              ),
              head,
            );
            const q = {
              project: 'default',
              family: 'llm' as const,
              grp: 'user',
              from: NOW - 72 * HOUR,
              to: NOW,
              scalarOnly: true,
              top: { fields: ['prompt_tokens', 'completion_tokens'] as const, limit },
            };
            const sums = (cells: Map<string, { fields: Map<string, { sum: number }> }>) =>
              [...cells].map(([u, c]) => [u, c.fields.get('prompt_tokens')?.sum ?? 0]);
            expect(sums(await aggregate(s, m, q))).toEqual(sums(await aggregate(s, null, q)));
          },
        ),
        { numRuns: 25 },
      );
    } finally {
      await m.stop();
    }
  }, 60_000);
});
