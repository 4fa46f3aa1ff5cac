import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { generateEvents } from '../ops/generate.js';
import { type ClickHouseServer, startClickHouse } from '../test/clickhouse.js';
import { scratchDirs } from '../test/harness.js';
import { startPostgres, type TestPostgres } from '../test/postgres.js';
import { copyEventDays, openStore, type Store, type StoreOptions } from './index.js';

/**
 * The benches' bulk load (`copyEventDays`): a day generated through Vigil's writes and copied
 * inside the engine holds the same events, ids apart, as the generator's own repeated days.
 */
const scratch = scratchDirs();
afterEach(scratch.cleanup);
let clickhouse: ClickHouseServer | undefined;
let postgres: TestPostgres | undefined;
afterAll(async () => {
  await postgres?.stop();
  await clickhouse?.stop();
});

const DAY = 86_400_000;
const silentLog = {
  error: () => undefined,
  warn: () => undefined,
  info: () => undefined,
  debug: () => undefined,
} as never;
const NOW = Date.UTC(2026, 10, 20, 15, 37, 12);
const DAYS = 3;
const PER_DAY = 1_200;

/** What the dashboard's raw questions answer over a window, per model. */
async function answers(store: Store, from: number, to: number) {
  const q = { project: 'default', type: 'llm.request', from, to, groupBy: ['model'], filters: [] } as const;
  return {
    count: await store.events.aggregateRaw({ ...q, aggregate: 'count' }),
    tokens: await store.events.aggregateRaw({ ...q, aggregate: 'sum', field: 'prompt_tokens' }),
    p95: await store.events.aggregateRaw({ ...q, aggregate: 'p95', field: 'total_ms' }),
  };
}

async function allIds(store: Store): Promise<string[]> {
  const ids: string[] = [];
  let before: { ts: number; id: string } | undefined;
  for (;;) {
    const page = await store.events.listEvents({
      project: 'default',
      limit: 1_000,
      ...(before ? { before } : {}),
    });
    if (page.length === 0) return ids;
    ids.push(...page.map((r) => r.id));
    const last = page[page.length - 1] as (typeof page)[number];
    before = { ts: last.ts, id: last.id };
  }
}

async function generated(options: StoreOptions, repeatedEvents: 'append' | 'skip'): Promise<Store> {
  const store = await openStore(options);
  try {
    const written = await generateEvents(store, {
      events: DAYS * PER_DAY,
      days: DAYS,
      now: NOW,
      log: silentLog,
      repeatedEvents,
    });
    expect(written.events).toBe(repeatedEvents === 'skip' ? PER_DAY : DAYS * PER_DAY);
  } finally {
    await store.close();
  }
  if (repeatedEvents === 'skip')
    expect(await copyEventDays(options, { project: 'default', from: NOW - DAYS * DAY, days: DAYS })).toBe(
      (DAYS - 1) * PER_DAY,
    );
  return openStore(options);
}

describe.each(['duckdb', 'clickhouse'] as const)('copyEventDays on %s', (engine) => {
  beforeAll(async () => {
    if (engine !== 'clickhouse') return;
    clickhouse = await startClickHouse();
    postgres = await startPostgres();
  }, 900_000);

  const options = async (): Promise<StoreOptions> => {
    const dataDir = scratch.fresh();
    if (engine === 'duckdb') return { dataDir };
    const server = clickhouse as ClickHouseServer;
    const database = `daycopy_${Math.random().toString(36).slice(2, 10)}`;
    return {
      dataDir,
      postgres: { url: await (postgres as TestPostgres).fresh() },
      clickhouse: { url: server.url, database },
    };
  };

  it('copies the first day to the days after it: the same answers as appending them, ids of their own, all of them known as stored', async () => {
    const appended = await generated(await options(), 'append');
    const copied = await generated(await options(), 'skip');
    try {
      expect(await copied.events.countEvents('default')).toBe(DAYS * PER_DAY);
      for (const [from, to] of [
        [NOW - DAYS * DAY, NOW],
        [NOW - 2 * DAY - 3_600_000, NOW - 7_200_000],
        [NOW - DAY, NOW],
      ] as const)
        expect(await answers(copied, from, to)).toEqual(await answers(appended, from, to));

      const ids = await allIds(copied);
      expect(ids).toHaveLength(DAYS * PER_DAY);
      expect(new Set(ids).size).toBe(DAYS * PER_DAY);
      // The newest events are copies: idempotency finds them as it finds appended ones.
      const newest = ids.slice(0, 50);
      expect((await copied.events.findExistingIds(newest)).size).toBe(50);
    } finally {
      await appended.close();
      await copied.close();
    }
  }, 300_000);
});
