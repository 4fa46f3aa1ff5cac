/**
 * 1,000 alert rules evaluated in one cycle over the analytics bench set (shared with
 * `bench/analytics.ts`: .vigil-bench/analytics-N, BENCH_ALERTS_EVENTS, default 1 M over 30 days),
 * against the same rules evaluated one by one without shared reads (the baseline).
 */
import { existsSync } from 'node:fs';
import { loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { RuleInput } from '../packages/server/src/alerts/index.js';
import { AlertEngine, parseDuration, readMetrics } from '../packages/server/src/alerts/index.js';
import { defaultConfig } from '../packages/server/src/config/index.js';
import { HealthMonitor } from '../packages/server/src/health/index.js';
import { generateEvents } from '../packages/server/src/ops/index.js';
import { openStore, type Store } from '../packages/server/src/store/index.js';

const EVENTS = Number(process.env.BENCH_ALERTS_EVENTS ?? 1_000_000);
const RULES = Number(process.env.BENCH_ALERTS_RULES ?? 1_000);
const CYCLES = 15;
const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dir = process.env.BENCH_ALERTS_DIR ?? join(root, '.vigil-bench', `analytics-${EVENTS}`);
const silent = {
  error: () => undefined,
  warn: () => undefined,
  info: () => undefined,
  debug: () => undefined,
  trace: () => undefined,
  fatal: () => undefined,
  child: () => silent,
  level: 'silent',
} as never;

const fresh = !existsSync(join(dir, 'vigil.duckdb'));
let store: Store = await openStore({ dataDir: dir });
if (fresh) {
  const started = Date.now();
  await generateEvents(store, {
    events: EVENTS,
    days: 30,
    log: silent,
    onProgress: (n, total) =>
      process.stderr.write(
        `\rgenerating ${n}/${total} (${Math.round(n / ((Date.now() - started) / 1000))}/s)`,
      ),
  });
  process.stderr.write('\n');
  await store.close();
  store = await openStore({ dataDir: dir });
}
const project = 'default';
const [newest] = await store.events.listEvents({ project, limit: 1 });
// Evaluate as of the end of the set, so trailing windows hold data however old the cached set is.
const now = (newest?.ts ?? Date.now()) + 30_000;

/** A deterministic mix over every kind of metric, filter and window a rule may use. */
function ruleMix(n: number): RuleInput[] {
  const llm = [
    'requestRate',
    'errorRate',
    'cacheHitRate',
    'totalLatency.p95',
    'llmLatency.p99',
    'contextLatency.average',
    'totalTokens',
    'tokensPerRequest',
    'errorCount',
  ];
  const windows = ['1m', '5m', '15m', '1h', '1d'];
  const models = ['gpt-4o', 'gpt-4o-mini', 'claude-sonnet', 'claude-haiku', 'llama-3-70b', 'mistral-large'];
  const out: RuleInput[] = [];
  for (let i = 0; i < n; i++) {
    const window = windows[i % windows.length] as string;
    let metric = llm[i % llm.length] as string;
    let filters: Record<string, string> = {};
    const f = Math.floor(i / llm.length) % 5;
    if (f === 1) filters = { space: `space-${i % 50}` };
    else if (f === 2) filters = { model: models[i % models.length] as string };
    else if (f === 3 && !/\.(p95|p99|median)$/.test(metric)) filters = { user: `user-${i % 40}` };
    else if (f === 4 && metric === 'errorCount') filters = { error_type: 'timeout' };
    if (i % 50 === 7) metric = 'acceptanceRate';
    if (i % 50 === 17) metric = 'health.errorRatePercent';
    if (i % 50 === 27) {
      metric = 'events.count';
      filters = { type: 'llm.request' };
    }
    if (metric.startsWith('health.') || metric === 'acceptanceRate') filters = {};
    out.push({
      name: `bench rule ${i}`,
      metric,
      filters,
      operator: i % 2 === 0 ? '>' : '<',
      threshold: (i * 37) % 100,
      window,
      consecutive: 1 + (i % 3),
      evaluationDelay: '0s',
      minSamples: i % 4 === 0 ? 20 : 0,
    });
  }
  return out;
}

const config = defaultConfig();
const health = new HealthMonitor({ store, config: config.health, ingest: config.ingest, log: silent });
const engine = new AlertEngine({
  store,
  rollups: null,
  health,
  config: { ...config.alerts, enabled: false },
  log: silent,
  now: () => now,
});
await engine.load();
// A clean slate on a reused set: only the bench's rules.
for (const r of engine.rules(project)) await engine.deleteRule(r.id);
for (const input of ruleMix(RULES)) await engine.createRule(project, input);
const rules = engine.rules(project);

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
const p95 = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.ceil(0.95 * xs.length) - 1] as number;

await engine.evaluateOnce(now); // warm
const cycles: number[] = [];
// CPU time of the process (JS and DuckDB's threads) per cycle: what a cycle costs on an idle machine
// whatever else the machine is running while the bench runs.
const cpu: number[] = [];
let transitions = 0;
for (let i = 0; i < CYCLES; i++) {
  const t = performance.now();
  const c = process.cpuUsage();
  const r = await engine.evaluateOnce(now + (i + 1) * 1000);
  const used = process.cpuUsage(c);
  cycles.push(performance.now() - t);
  cpu.push((used.user + used.system) / 1000);
  transitions += r.transitions.length;
}

// Baseline: the same rules, each read on its own (no shared reads), no state or persistence.
const sources = { store, rollups: null, health };
const naive: number[] = [];
for (let i = 0; i < 3; i++) {
  const t = performance.now();
  for (const r of rules) {
    await readMetrics(sources, [
      {
        project,
        metric: r.metric,
        filters: r.filters,
        from: now - (parseDuration(r.window) as number),
        to: now,
      },
    ]).catch(() => undefined);
  }
  naive.push(performance.now() - t);
}
const m = median(cycles);
console.log(
  `alerts.cycle rules=${rules.length} median_ms=${m.toFixed(1)} p95_ms=${p95(cycles).toFixed(1)} cpu_median_ms=${median(cpu).toFixed(1)} load1=${loadavg()[0]?.toFixed(1)} baseline_one_by_one_median_ms=${median(naive).toFixed(1)} speedup=${(median(naive) / m).toFixed(1)} transitions=${transitions} events=${EVENTS} target<=200 met=${p95(cycles) <= 200 ? 'yes' : 'no'}`,
);
for (const r of engine.rules(project)) await engine.deleteRule(r.id);
await engine.stop();
await store.close();
