import type { Resolution, RollupFamily } from '../model/rollup.js';
import type { Store } from '../store/index.js';
import { Cell } from './aggregate.js';
import type { RollupMaintainer } from './maintainer.js';
import { type LlmFilter, latencyStats, pct, tile } from './query.js';

export const METRIC_TYPES = [
  'requestRate',
  'totalLatency',
  'contextLatency',
  'llmLatency',
  'promptTokens',
  'completionTokens',
  'totalTokens',
  'errorRate',
  'cacheHitRate',
  'costUsd',
] as const;
export type MetricType = (typeof METRIC_TYPES)[number];

export const AGGREGATIONS = ['minute', 'hour', 'day', 'week', 'month'] as const;
export type Aggregation = (typeof AGGREGATIONS)[number];

export interface MetricDataPoint {
  timestamp: string;
  value: number | null;
  metadata: Record<string, unknown>;
}

export const MAX_RES: Record<Aggregation, Resolution> = {
  minute: '1m',
  hour: '1h',
  day: '1d',
  week: '1d',
  month: '1d',
};
export const MAX_POINTS = 5000;

/** Series buckets [from, to) covering [start, end): fixed sizes, ISO weeks (Monday), calendar months (UTC). */
export function seriesBuckets(start: number, end: number, aggregation: Aggregation): [number, number][] {
  const floor = (t: number): number => {
    const d = new Date(t);
    switch (aggregation) {
      case 'minute':
        return Math.floor(t / 60_000) * 60_000;
      case 'hour':
        return Math.floor(t / 3_600_000) * 3_600_000;
      case 'day':
        return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate());
      case 'week':
        return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate() - ((d.getUTCDay() + 6) % 7));
      case 'month':
        return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1);
    }
  };
  const next = (t: number): number => {
    const d = new Date(t);
    switch (aggregation) {
      case 'minute':
        return t + 60_000;
      case 'hour':
        return t + 3_600_000;
      case 'day':
        return t + 86_400_000;
      case 'week':
        return t + 7 * 86_400_000;
      case 'month':
        return Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1);
    }
  };
  const out: [number, number][] = [];
  for (let t = floor(start); t < end && out.length <= MAX_POINTS; t = next(t)) out.push([t, next(t)]);
  return out;
}

function pointValue(
  metric: MetricType,
  cell: Cell,
  minutes: number,
): Pick<MetricDataPoint, 'value' | 'metadata'> {
  const c = cell.counters;
  const tokens = (f: 'prompt_tokens' | 'completion_tokens') => cell.fields.get(f)?.sum ?? 0;
  switch (metric) {
    case 'requestRate':
      return { value: c.n / minutes, metadata: { requests: c.n, minutes } };
    case 'totalLatency':
    case 'contextLatency':
    case 'llmLatency': {
      const field =
        metric === 'totalLatency' ? 'total_ms' : metric === 'contextLatency' ? 'context_ms' : 'llm_ms';
      const stats = latencyStats(cell.fields.get(field));
      return { value: stats.average, metadata: { ...stats } };
    }
    case 'promptTokens':
    case 'completionTokens':
    case 'totalTokens': {
      const sum =
        metric === 'promptTokens'
          ? tokens('prompt_tokens')
          : metric === 'completionTokens'
            ? tokens('completion_tokens')
            : tokens('prompt_tokens') + tokens('completion_tokens');
      return { value: sum, metadata: { requests: c.n, averagePerRequest: c.n > 0 ? sum / c.n : null } };
    }
    case 'errorRate':
      return { value: pct(c.errors, c.n), metadata: { errors: c.errors, requests: c.n } };
    case 'cacheHitRate':
      return {
        value: pct(c.cache_hits, c.cache_known),
        metadata: { hits: c.cache_hits, misses: c.cache_known - c.cache_hits },
      };
    case 'costUsd': {
      // Unpriced requests are counted beside the sum, not priced at 0.
      const cost = cell.fields.get('cost_usd');
      const priced = cost?.n ?? 0;
      return {
        value: cost?.sum ?? 0,
        metadata: {
          requests: c.n,
          pricedRequests: priced,
          unpricedRequests: c.n - priced,
          promptUsd: cell.fields.get('prompt_cost_usd')?.sum ?? 0,
          completionUsd: cell.fields.get('completion_cost_usd')?.sum ?? 0,
          averagePerRequest: priced > 0 ? (cost?.sum ?? 0) / priced : null,
        },
      };
    }
  }
}

/** Cells per dim value and series bucket, from one read of the rollups (plus pending deltas). */
export async function readSeries(
  store: Store,
  maintainer: RollupMaintainer | null,
  q: {
    project: string;
    family: RollupFamily;
    grp: string;
    dims?: readonly string[];
    buckets: [number, number][];
    maxRes: Resolution;
    /** No percentiles needed: let the store sum the rows per dim and bucket. */
    scalarOnly?: boolean;
  },
): Promise<Map<string, Cell[]>> {
  const tiles = q.buckets.flatMap(([from, to]) => tile(from, to, q.maxRes));
  const query = {
    project: q.project,
    family: q.family,
    grp: q.grp,
    ...(q.dims ? { dims: q.dims } : {}),
    tiles,
    ...(q.scalarOnly ? { scalarOnly: 'by_bucket' as const } : {}),
  };
  const out = new Map<string, Cell[]>();
  const cellsOf = (dim: string) => {
    let cells = out.get(dim);
    if (!cells) {
      cells = q.buckets.map(() => new Cell(!q.scalarOnly));
      out.set(dim, cells);
    }
    return cells;
  };
  // Buckets are sorted: the one holding a time.
  const bucketOf = (t: number) => {
    let lo = 0;
    let hi = q.buckets.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if ((q.buckets[mid] as [number, number])[0] <= t) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  };
  if (maintainer) {
    // Tile by tile (stored through the cache, pending deltas merged in): past buckets are decoded once.
    const perTile = await maintainer.tiles(query, !q.scalarOnly);
    tiles.forEach((t, i) => {
      for (const [dim, cell] of perTile[i] ?? []) cellsOf(dim)[bucketOf(t.from)]?.merge(cell);
    });
  } else {
    for (const r of await store.rollups.read(query)) cellsOf(r.dim)[bucketOf(r.bucket)]?.mergeRow(r);
  }
  return out;
}

/** One data point per aggregation bucket of [start, end), read from rollups in one query. */
export async function historical(
  store: Store,
  maintainer: RollupMaintainer | null,
  q: {
    project: string;
    metric: MetricType;
    start: number;
    end: number;
    aggregation: Aggregation;
    filter: LlmFilter;
  },
): Promise<MetricDataPoint[]> {
  const { filter } = q;
  const grp =
    filter.space !== undefined
      ? 'space'
      : filter.model !== undefined
        ? 'model'
        : filter.user !== undefined
          ? 'user'
          : 'all';
  const dim = filter.space ?? filter.model ?? filter.user ?? '';
  const aggregation = grp === 'user' && q.aggregation === 'minute' ? 'hour' : q.aggregation;
  const buckets = seriesBuckets(q.start, q.end, aggregation);
  const series = await readSeries(store, maintainer, {
    project: q.project,
    family: 'llm',
    grp,
    ...(grp !== 'all' ? { dims: [dim] } : {}),
    buckets,
    maxRes: MAX_RES[aggregation],
    scalarOnly: !q.metric.endsWith('Latency'),
  });
  const cells = series.get(dim) ?? buckets.map(() => new Cell(true));
  return buckets.map(([from, to], i) => ({
    timestamp: new Date(from).toISOString(),
    ...pointValue(q.metric, cells[i] as Cell, (to - from) / 60_000),
  }));
}
