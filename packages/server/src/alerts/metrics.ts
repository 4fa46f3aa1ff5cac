import {
  type Cell,
  cellOf,
  decisionSummary,
  explore,
  latencyStats,
  pct,
  type RollupMaintainer,
  tile,
} from '../analytics/index.js';
import type { HealthSummary } from '../health/index.js';
import type { RollupField, RollupRow } from '../model/rollup.js';
import type { RollupTile, Store } from '../store/index.js';

/**
 * What a rule can watch. Every value is computed the way the read API computes it (rates are
 * percentages 0–100, latencies in ms), through the analytics and health layers.
 */
const LATENCY_STATS = ['average', 'median', 'p95', 'p99', 'min', 'max'] as const;
type LatencyStat = (typeof LATENCY_STATS)[number];
const LATENCIES = { totalLatency: 'total_ms', contextLatency: 'context_ms', llmLatency: 'llm_ms' } as const;

const LLM_SCALARS = [
  'requestRate',
  'requestCount',
  'totalTokens',
  'promptTokens',
  'completionTokens',
  'tokensPerRequest',
  'errorRate',
  'errorCount',
  'cacheHitRate',
  'costUsd',
  'unpricedRequests',
] as const;
const DECISION = [
  'acceptanceRate',
  'overrideRate',
  'averageDecisionTimeMs',
  'falsePositiveRate',
  'decisionCount',
] as const;
const HEALTH = [
  'health.errorRatePercent',
  'health.samplingSuccessRate',
  'health.versionMissingPercent',
  'health.totalEvents',
  'health.openFlags',
  'health.zeroActivity',
  'health.healthyPercent7d',
] as const;

/** Every metric name a rule accepts. */
export const METRICS: readonly string[] = [
  ...LLM_SCALARS,
  ...Object.keys(LATENCIES).flatMap((l) => LATENCY_STATS.map((s) => `${l}.${s}`)),
  ...DECISION,
  ...HEALTH,
  'events.count',
];

type Source = 'llm' | 'decision' | 'health' | 'events';

function sourceOf(metric: string): Source | null {
  if ((LLM_SCALARS as readonly string[]).includes(metric)) return 'llm';
  const [head, stat] = metric.split('.');
  if (head && head in LATENCIES && (LATENCY_STATS as readonly string[]).includes(stat ?? '')) return 'llm';
  if ((DECISION as readonly string[]).includes(metric)) return 'decision';
  if ((HEALTH as readonly string[]).includes(metric)) return 'health';
  if (metric === 'events.count') return 'events';
  return null;
}

const LLM_FILTERS = ['space', 'model', 'user'];
const DECISION_FILTERS = ['recommendation_type', 'explanation_version'];

/** A metric as the rule editor offers it: its group and the filters it takes. */
export interface MetricInfo {
  name: string;
  group: 'llm' | 'decision' | 'health' | 'events';
  /** Filter names it takes (one at a time, except events.count: `type` and any field equalities). */
  filters: string[];
  /** Filters it cannot do without. */
  required: string[];
}

/** Every metric a rule accepts, with its filters (`GET /api/alerts/metrics`). */
export function metricCatalog(): MetricInfo[] {
  return METRICS.map((name) => {
    const group = sourceOf(name) as Source;
    const stat = name.split('.')[1];
    let filters: string[] = [];
    if (group === 'llm') {
      filters =
        name === 'errorRate' || name === 'errorCount'
          ? [...LLM_FILTERS, 'error_type']
          : stat === 'median' || stat === 'p95' || stat === 'p99'
            ? LLM_FILTERS.filter((f) => f !== 'user')
            : [...LLM_FILTERS];
    } else if (group === 'decision') filters = [...DECISION_FILTERS];
    else if (group === 'events') filters = ['type'];
    return { name, group, filters, required: group === 'events' ? ['type'] : [] };
  });
}

/** Why a metric and its filters cannot be evaluated, or null when they can. */
export function metricProblem(
  metric: string,
  filters: Record<string, string>,
): { field: string; why: string } | null {
  const source = sourceOf(metric);
  if (!source) {
    return {
      field: 'metric',
      why: `'${metric}' is not a metric; use one of ${METRICS.slice(0, 12).join(', ')}, … (see the README)`,
    };
  }
  const keys = Object.keys(filters);
  if (source === 'llm') {
    const allowed =
      metric === 'errorRate' || metric === 'errorCount' ? [...LLM_FILTERS, 'error_type'] : LLM_FILTERS;
    const bad = keys.find((k) => !allowed.includes(k));
    if (bad)
      return { field: `filters.${bad}`, why: `${metric} can be filtered by ${allowed.join(', ')} only` };
    if (keys.length > 1)
      return { field: 'filters', why: `filter ${metric} by one of ${allowed.join(', ')} at a time` };
    const stat = metric.split('.')[1];
    if (keys[0] === 'user' && (stat === 'median' || stat === 'p95' || stat === 'p99'))
      return { field: 'filters.user', why: 'percentiles are not kept per user; filter by space or model' };
  } else if (source === 'decision') {
    const bad = keys.find((k) => !DECISION_FILTERS.includes(k));
    if (bad)
      return {
        field: `filters.${bad}`,
        why: `${metric} can be filtered by ${DECISION_FILTERS.join(', ')} only`,
      };
    if (keys.length > 1)
      return { field: 'filters', why: `filter ${metric} by one of ${DECISION_FILTERS.join(', ')} at a time` };
  } else if (source === 'health') {
    if (keys.length > 0)
      return { field: `filters.${keys[0]}`, why: 'health metrics are per project and take no filters' };
  } else if (filters.type === undefined) {
    return { field: 'filters.type', why: 'events.count needs filters.type (the event type to count)' };
  }
  return null;
}

/** One value to compute: a rule's metric over [from, to). */
export interface MetricAsk {
  project: string;
  metric: string;
  filters: Record<string, string>;
  from: number;
  to: number;
}

/** A metric's value (null: no data) and how many events it rests on (for minSamples). */
export interface MetricValue {
  value: number | null;
  samples: number;
}

export interface MetricSources {
  store: Store;
  rollups: RollupMaintainer | null;
  health: { summary(project: string): Promise<HealthSummary> } | null;
}

const MINUTE = 60_000;
const HOUR = 3_600_000;

/** One window of one rollup group: the tiles that cover it and, once read, its cells per dim. */
interface LlmWindow {
  grp: string;
  /** The dims asked of this window (rows of other dims read alongside are skipped). */
  dims: Set<string>;
  from: number;
  to: number;
  sketches: boolean;
  tiles: RollupTile[];
  cells: Map<string, Cell>;
}

/** Every window of every group asked of one project's LLM rollups: read together. */
interface LlmReads {
  project: string;
  /** Latency fields whose sketches some window needs. */
  sketchFields: Set<RollupField>;
  windows: Map<string, LlmWindow>;
}

const within = (tiles: readonly RollupTile[], r: RollupRow, anyRes: boolean) =>
  tiles.some((t) => (anyRes || t.res === r.res) && r.bucket >= t.from && r.bucket < t.to);

const add = (w: LlmWindow, r: RollupRow) => {
  if (w.dims.has(r.dim)) cellOf(w.cells, r.dim, w.sketches).mergeRow(r);
};

/**
 * Reads all windows of all groups of a project with two queries: scalar windows summed per
 * window, group and dim by the store; percentile windows as rows over the union of their tiles
 * (sketches are merged here), each window taking the rows of its own group and tiles — the rows
 * `aggregate` reads window by window. The maintainer adds the pending deltas to both reads.
 */
async function readProject(sources: MetricSources, p: LlmReads): Promise<void> {
  // Each read asks only for the dims its own windows need.
  const groupsOf = (windows: LlmWindow[]) =>
    [...new Set(windows.map((w) => w.grp))].map((grp) =>
      grp === 'all'
        ? { grp }
        : { grp, dims: [...new Set(windows.filter((w) => w.grp === grp).flatMap((w) => [...w.dims]))] },
    );
  // Stored rows and the pending deltas, through the maintainer when one runs.
  const rollups = sources.rollups ?? sources.store.rollups;
  const all = [...p.windows.values()];
  const scalar = all.filter((w) => !w.sketches);
  if (scalar.length > 0) {
    const ranges = new Map<string, { index: number; tiles: RollupTile[] }>();
    for (const w of scalar) {
      const key = `${w.from}-${w.to}`;
      if (!ranges.has(key)) ranges.set(key, { index: ranges.size, tiles: w.tiles });
    }
    const byKey = new Map(scalar.map((w) => [`${w.grp}\u001f${ranges.get(`${w.from}-${w.to}`)?.index}`, w]));
    const sums = await rollups.sumWindows({
      project: p.project,
      family: 'llm',
      groups: groupsOf(scalar),
      windows: [...ranges.values()].map((r) => r.tiles),
    });
    for (const { window, row } of sums) {
      const w = byKey.get(`${row.grp}\u001f${window}`);
      if (w) add(w, row);
    }
  }
  const sketched = all.filter((w) => w.sketches);
  if (sketched.length > 0) {
    const stored = await rollups.readGroups({
      project: p.project,
      family: 'llm',
      groups: groupsOf(sketched),
      tiles: sketched.flatMap((w) => w.tiles),
      fields: [...p.sketchFields],
    });
    for (const w of sketched)
      for (const r of stored) if (r.grp === w.grp && within(w.tiles, r, false)) add(w, r);
  }
}

function llmGroup(filters: Record<string, string>): { grp: string; dim: string } {
  for (const grp of ['space', 'model', 'user', 'error_type']) {
    const v = filters[grp];
    if (v !== undefined) return { grp, dim: v };
  }
  return { grp: 'all', dim: '' };
}

/** The range a read covers: whole minutes, or whole hours for per-user rows (kept hourly). */
function cover(grp: string, from: number, to: number): { from: number; to: number } {
  const unit = grp === 'user' ? HOUR : MINUTE;
  return { from: Math.floor(from / unit) * unit, to: Math.ceil(to / unit) * unit };
}

const needsSketch = (metric: string) => /\.(median|p95|p99)$/.test(metric);

/**
 * Computes many metric values at once: asks that share a rollup read (same project, group and
 * covered range) are answered by one read, so a cycle of many rules costs a few queries.
 */
export async function readMetrics(
  sources: MetricSources,
  asks: readonly MetricAsk[],
): Promise<MetricValue[]> {
  const llm = new Map<string, LlmReads>();
  const plan = (project: string, grp: string, dim: string, from: number, to: number, metric: string) => {
    const sketches = needsSketch(metric);
    let p = llm.get(project);
    if (!p) {
      p = { project, sketchFields: new Set(), windows: new Map() };
      llm.set(project, p);
    }
    const range = cover(grp, from, to);
    // Per-user and per-error-type rows keep no sketches.
    const withSketch = sketches && grp !== 'error_type' && grp !== 'user';
    if (withSketch) p.sketchFields.add(LATENCIES[metric.split('.')[0] as keyof typeof LATENCIES]);
    const key = `${grp}\u001f${range.from}\u001f${range.to}\u001f${withSketch}`;
    let w = p.windows.get(key);
    if (!w) {
      w = {
        grp,
        dims: new Set(),
        ...range,
        sketches: withSketch,
        tiles: tile(range.from, range.to),
        cells: new Map(),
      };
      p.windows.set(key, w);
    }
    w.dims.add(dim);
    return w;
  };
  const decisions = new Map<string, Promise<Awaited<ReturnType<typeof decisionSummary>>>>();
  const health = new Map<string, Promise<HealthSummary | null>>();
  const events = new Map<string, Promise<MetricValue>>();

  // First pass: plan the reads each ask needs.
  const planned = asks.map((asked) => {
    // Counting llm.request events is the request count of the LLM rollups: read it with them.
    const a =
      asked.metric === 'events.count' &&
      asked.filters.type === 'llm.request' &&
      Object.keys(asked.filters).length === 1
        ? { ...asked, metric: 'requestCount', filters: {} }
        : asked;
    const source = sourceOf(a.metric);
    if (source === 'llm') {
      const { grp, dim } = llmGroup(a.filters);
      const main = plan(a.project, grp, dim, a.from, a.to, a.metric);
      // Error counts per type need the request total as denominator.
      const total = grp === 'error_type' ? plan(a.project, 'all', '', a.from, a.to, 'requestCount') : null;
      return { source, main, total, dim, metric: a.metric } as const;
    }
    if (source === 'decision') {
      const groupBy =
        a.filters.recommendation_type !== undefined
          ? 'recommendation_type'
          : a.filters.explanation_version !== undefined
            ? 'explanation_version'
            : undefined;
      const range = cover('all', a.from, a.to);
      const key = `${a.project}\u001f${groupBy ?? ''}\u001f${range.from}\u001f${range.to}`;
      let p = decisions.get(key);
      if (!p) {
        p = decisionSummary(sources.store, sources.rollups, a.project, range.from, range.to, groupBy);
        decisions.set(key, p);
      }
      return { source, summary: p, dim: groupBy ? (a.filters[groupBy] as string) : null } as const;
    }
    if (source === 'health') {
      let p = health.get(a.project);
      if (!p) {
        p = sources.health ? sources.health.summary(a.project) : Promise.resolve(null);
        health.set(a.project, p);
      }
      return { source, summary: p } as const;
    }
    const { type, ...rest } = a.filters;
    const range = cover('all', a.from, a.to);
    const key = JSON.stringify([a.project, type, rest, range.from, range.to]);
    let p = events.get(key);
    if (!p) {
      p = explore(sources.store, sources.rollups, {
        project: a.project,
        type: type as string,
        aggregate: 'count',
        ...range,
        groupBy: [],
        filters: rest,
      }).then((r) => {
        const n = r.series.reduce((s, x) => s + x.points.reduce((t, pt) => t + (pt.value ?? 0), 0), 0);
        return { value: n, samples: n };
      });
      events.set(key, p);
    }
    return { source: 'events', value: p } as const;
  });

  await Promise.all([...llm.values()].map((p) => readProject(sources, p)));

  const out: MetricValue[] = [];
  for (let i = 0; i < asks.length; i++) {
    const a = asks[i] as MetricAsk;
    const p = planned[i] as (typeof planned)[number];
    if (p.source === 'llm') {
      const cell = p.main.cells.get(p.dim);
      const minutes = Math.max(1, (p.main.to - p.main.from) / MINUTE);
      if (p.total) {
        const requests = p.total.cells.get('')?.counters.n ?? 0;
        const errors = cell?.counters.n ?? 0;
        out.push(
          p.metric === 'errorRate'
            ? { value: pct(errors, requests), samples: requests }
            : { value: errors, samples: requests },
        );
      } else {
        out.push(llmValue(p.metric, cell, minutes));
      }
    } else if (p.source === 'decision') {
      const s = await p.summary;
      const part = p.dim === null ? s : s.groups?.[p.dim];
      out.push(decisionValue(a.metric, part));
    } else if (p.source === 'health') {
      out.push(healthValue(a.metric, await p.summary));
    } else {
      out.push(await p.value);
    }
  }
  return out;
}

function llmValue(metric: string, cell: Cell | undefined, minutes: number): MetricValue {
  const n = cell?.counters.n ?? 0;
  const sum = (f: 'prompt_tokens' | 'completion_tokens') => cell?.fields.get(f)?.sum ?? 0;
  switch (metric) {
    case 'requestRate':
      return { value: n / minutes, samples: n };
    case 'requestCount':
      return { value: n, samples: n };
    case 'totalTokens':
      return { value: sum('prompt_tokens') + sum('completion_tokens'), samples: n };
    case 'promptTokens':
      return { value: sum('prompt_tokens'), samples: n };
    case 'completionTokens':
      return { value: sum('completion_tokens'), samples: n };
    case 'tokensPerRequest':
      return { value: n > 0 ? (sum('prompt_tokens') + sum('completion_tokens')) / n : null, samples: n };
    case 'errorRate':
      return { value: pct(cell?.counters.errors ?? 0, n), samples: n };
    case 'errorCount':
      return { value: cell?.counters.errors ?? 0, samples: n };
    case 'cacheHitRate':
      return {
        value: pct(cell?.counters.cache_hits ?? 0, cell?.counters.cache_known ?? 0),
        samples: cell?.counters.cache_known ?? 0,
      };
    case 'costUsd': {
      // US dollars of the priced requests; unpriced ones are their own metric, not a 0 here.
      const cost = cell?.fields.get('cost_usd');
      return { value: cost?.sum ?? 0, samples: cost?.n ?? 0 };
    }
    case 'unpricedRequests':
      return { value: n - (cell?.fields.get('cost_usd')?.n ?? 0), samples: n };
  }
  const [head, stat] = metric.split('.') as [keyof typeof LATENCIES, LatencyStat];
  const stats = latencyStats(cell?.fields.get(LATENCIES[head]));
  return { value: stats[stat], samples: stats.count };
}

type DecisionPart = {
  acceptanceRate: number | null;
  overrideRate: number | null;
  averageDecisionTimeMs: number | null;
  falsePositiveRate: number | null;
  counts: { accepted: number; overridden: number; ignored: number; outcomes: number };
};

function decisionValue(metric: string, part: DecisionPart | undefined): MetricValue {
  if (!part) return { value: metric === 'decisionCount' ? 0 : null, samples: 0 };
  const acted = part.counts.accepted + part.counts.overridden + part.counts.ignored;
  switch (metric) {
    case 'acceptanceRate':
      return { value: part.acceptanceRate, samples: acted };
    case 'overrideRate':
      return { value: part.overrideRate, samples: acted };
    case 'averageDecisionTimeMs':
      return { value: part.averageDecisionTimeMs, samples: acted };
    case 'falsePositiveRate':
      return { value: part.falsePositiveRate, samples: part.counts.outcomes };
    default:
      return { value: acted, samples: acted };
  }
}

function healthValue(metric: string, s: HealthSummary | null): MetricValue {
  if (!s) return { value: null, samples: 0 };
  const latest = s.latest;
  const one = (v: number | null | undefined): MetricValue =>
    v === null || v === undefined
      ? { value: null, samples: 0 }
      : { value: v, samples: latest?.totalEvents ?? 1 };
  switch (metric) {
    case 'health.errorRatePercent':
      return one(latest?.errorRatePercent);
    case 'health.samplingSuccessRate':
      return one(latest?.samplingSuccessRate);
    case 'health.versionMissingPercent':
      return one(latest?.versionMissingPercent);
    case 'health.totalEvents':
      return one(latest?.totalEvents);
    case 'health.openFlags':
      return { value: s.openFlags.length, samples: 1 };
    case 'health.zeroActivity':
      return s.live ? { value: s.live.zeroActivity ? 1 : 0, samples: 1 } : { value: null, samples: 0 };
    default:
      return s.last7Days.healthyPercent === null
        ? { value: null, samples: 0 }
        : { value: s.last7Days.healthyPercent, samples: s.last7Days.days };
  }
}
