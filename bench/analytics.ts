/**
 * Dashboard queries from rollups against the same questions on raw rows, in one run, on a
 * generated data set (cached in .vigil-bench/; BENCH_ANALYTICS_EVENTS, default 30 M over 30 days).
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { historical, llmSnapshot, RollupMaintainer } from '../packages/server/src/analytics/index.js';
import { DEFAULT_CHAIN } from '../packages/server/src/audit/index.js';
import { generateEvents } from '../packages/server/src/ops/index.js';
import { openStore, type Store } from '../packages/server/src/store/index.js';

const EVENTS = Number(process.env.BENCH_ANALYTICS_EVENTS ?? 30_000_000);
export const DAYS = 30;
const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dir = process.env.BENCH_ANALYTICS_DIR ?? join(root, '.vigil-bench', `analytics-${EVENTS}`);
const DAY = 86_400_000;
export const silent = {
  error: () => undefined,
  warn: () => undefined,
  info: () => undefined,
  debug: () => undefined,
} as never;

/** The generated set (`vigil generate`'s writes, progress on stderr), ending at `now`. */
export async function fill(
  store: Store,
  events: number,
  now = Date.now(),
  repeatedEvents: 'append' | 'skip' = 'append',
): Promise<void> {
  const started = Date.now();
  await generateEvents(store, {
    events,
    repeatedEvents,
    days: DAYS,
    now,
    log: silent,
    onProgress: (n, total) =>
      process.stderr.write(
        `\rgenerating ${n}/${total} (${Math.round(n / ((Date.now() - started) / 1000))}/s)`,
      ),
    onPhase: (what) => process.stderr.write(`\n${what}…`),
  });
  process.stderr.write('\n');
}

/** The first (cold) run's time and the p95 of the runs after it (warm). */
export async function p95(fn: () => Promise<unknown>, runs = 20): Promise<{ cold: number; warm: number }> {
  const start = performance.now();
  await fn();
  const cold = performance.now() - start;
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    await fn();
    times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  return { cold, warm: times[Math.ceil(0.95 * times.length) - 1] as number };
}

/**
 * The dashboard's questions (from rollups, through `maintainer` as the server reads them) and the
 * same questions on raw rows, over windows ending at `end`.
 */
export function dashboardCases(
  store: Store,
  maintainer: RollupMaintainer,
  end: number,
): [string, () => Promise<unknown>, () => Promise<unknown>][] {
  const project = 'default';
  const q = (days: number) => ({ from: end - days * DAY, to: end });
  const raw = (body: Partial<Parameters<Store['events']['aggregateRaw']>[0]> & { days: number }) =>
    store.events.aggregateRaw({
      project,
      type: 'llm.request',
      aggregate: 'count',
      groupBy: [],
      filters: [],
      ...q(body.days),
      ...body,
    });
  return [
    [
      'current_7d',
      () => llmSnapshot(store, maintainer, project, q(7).from, end),
      () =>
        Promise.all([
          raw({ days: 7, aggregate: 'p95', field: 'total_ms' }),
          raw({ days: 7, aggregate: 'sum', field: 'prompt_tokens' }),
          raw({ days: 7, aggregate: 'count', groupBy: ['user'] }),
        ]),
    ],
    [
      'current_30d',
      () => llmSnapshot(store, maintainer, project, q(30).from, end),
      () =>
        Promise.all([
          raw({ days: 30, aggregate: 'p95', field: 'total_ms' }),
          raw({ days: 30, aggregate: 'sum', field: 'prompt_tokens' }),
          raw({ days: 30, aggregate: 'count', groupBy: ['user'] }),
        ]),
    ],
    [
      'hourly_latency_p95_7d',
      () =>
        historical(store, maintainer, {
          project,
          metric: 'totalLatency',
          start: q(7).from,
          end,
          aggregation: 'hour',
          filter: {},
        }),
      () => raw({ days: 7, aggregate: 'p95', field: 'total_ms', bucket: 'hour' }),
    ],
    [
      'error_rate_by_type_30d',
      () => llmSnapshot(store, maintainer, project, q(30).from, end),
      () => raw({ days: 30, aggregate: 'count', groupBy: ['error_type'] }),
    ],
  ];
}

// Run as a suite, not when another suite imports the helpers above.
if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const fresh = !existsSync(join(dir, 'vigil.duckdb'));
  let store: Store = await openStore({ dataDir: dir });
  if (fresh) {
    await fill(store, EVENTS);
    await store.close();
    store = await openStore({ dataDir: dir });
  }
  // Rollup reads go through a maintainer, as in the server: it holds the cache of closed tiles.
  const maintainer = new RollupMaintainer(store, { log: silent });
  await maintainer.start((await store.events.chainHead(DEFAULT_CHAIN))?.seq ?? 0);
  const project = 'default';
  const end = Math.floor(Date.now() / 60_000) * 60_000;
  const cases = dashboardCases(store, maintainer, end);
  for (const [name, fromRollups, fromRaw] of cases) {
    const r = await p95(fromRollups);
    const w = (await p95(fromRaw, 5)).warm;
    console.log(
      `analytics.${name} rollups_p95_ms=${r.warm.toFixed(1)} rollups_cold_ms=${r.cold.toFixed(1)} raw_p95_ms=${w.toFixed(1)} speedup=${(w / r.warm).toFixed(1)} cold_speedup=${(w / r.cold).toFixed(1)} events=${EVENTS} target_p95<=50 met=${r.warm <= 50 ? 'yes' : 'no'} target_speedup>=10 met=${w / r.warm >= 10 ? 'yes' : 'no'}`,
    );
  }
  const snap = await llmSnapshot(store, null, project, end - 30 * DAY, end);
  const [exact] = await store.events.aggregateRaw({
    project,
    type: 'llm.request',
    aggregate: 'p95',
    field: 'total_ms',
    groupBy: [],
    filters: [],
    from: end - 30 * DAY,
    to: end,
  });
  const err = Math.abs((snap.totalLatency.p95 ?? 0) - (exact?.value ?? 0)) / (exact?.value ?? 1);
  console.log(
    `analytics.percentile_error p95_rollup=${snap.totalLatency.p95?.toFixed(2)} p95_exact=${exact?.value} relative_error=${(err * 100).toFixed(3)}% target<=1% met=${err <= 0.01 ? 'yes' : 'no'}`,
  );
  await maintainer.stop();
  await store.close();
}
