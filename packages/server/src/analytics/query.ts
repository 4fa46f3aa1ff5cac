import {
  RESOLUTION_MS,
  RESOLUTIONS,
  type Resolution,
  type RollupFamily,
  type RollupField,
} from '../model/rollup.js';
import type { RollupTile, Store } from '../store/index.js';
import { Cell, cellOf, type FieldStats, splitOutcomeDim } from './aggregate.js';
import type { RollupMaintainer } from './maintainer.js';

const MINUTE = 60_000;
const HOUR = 3_600_000;
/** byUser lists the users with the most tokens; the rest are summed in byUserOthers. */
export const TOP_USERS = 100;

/**
 * Covers [from, to) (minute-aligned) with the coarsest aligned buckets that fit, up to
 * `maxRes`: whole days from daily rollups, the hours around them from hourly ones, and so on.
 */
export function tile(from: number, to: number, maxRes: Resolution = '1d'): RollupTile[] {
  const usable = RESOLUTIONS.slice(0, RESOLUTIONS.indexOf(maxRes) + 1).reverse();
  const tiles: RollupTile[] = [];
  let t = from;
  while (t < to) {
    const res = usable.find((r) => t % RESOLUTION_MS[r] === 0 && t + RESOLUTION_MS[r] <= to) ?? '1m';
    const size = RESOLUTION_MS[res];
    const last = tiles.at(-1);
    if (last && last.res === res && last.to === t) last.to = t + size;
    else tiles.push({ res, from: t, to: t + size });
    t += size;
  }
  return tiles;
}

/** Aggregates of one group over [from, to), per dim value (stored rows plus pending deltas, from the maintainer). */
export async function aggregate(
  store: Store,
  maintainer: RollupMaintainer | null,
  q: {
    project: string;
    family: RollupFamily;
    grp: string;
    dims?: readonly string[];
    from: number;
    to: number;
    maxRes?: Resolution;
    /** No percentiles needed: let the store sum the rows. */
    scalarOnly?: boolean;
    top?: { fields: readonly RollupField[]; limit: number };
  },
): Promise<Map<string, Cell>> {
  const from = Math.floor(q.from / MINUTE) * MINUTE;
  const to = Math.ceil(q.to / MINUTE) * MINUTE;
  const query = {
    project: q.project,
    family: q.family,
    grp: q.grp,
    ...(q.dims ? { dims: q.dims } : {}),
    tiles: tile(from, to, q.maxRes),
    ...(q.scalarOnly ? { scalarOnly: 'by_dim' as const } : {}),
    ...(q.top ? { top: q.top } : {}),
  };
  const out = new Map<string, Cell>();
  const into = (dim: string) => cellOf(out, dim, !q.scalarOnly);
  if (!maintainer) {
    for (const r of await store.rollups.read(query)) into(r.dim).mergeRow(r);
    return out;
  }
  const perTile = await maintainer.tiles(query, !q.scalarOnly);
  let keep: Set<string> | null = null;
  if (q.top) {
    // Tiles the store cannot rank together: rank by the fields' sums first (cheap), then merge
    // only the dims kept, ordered as the store orders them.
    const fields = q.top.fields;
    const scores = new Map<string, number>();
    const score = (dim: string, sum: (f: RollupField) => number) =>
      scores.set(
        dim,
        fields.reduce((a, f) => a + sum(f), scores.get(dim) ?? 0),
      );
    for (const cells of perTile) {
      for (const [dim, cell] of cells) score(dim, (f) => cell.fields.get(f)?.sum ?? 0);
    }
    const ranked = [...scores].sort((x, y) => y[1] - x[1] || (x[0] < y[0] ? -1 : 1));
    keep = new Set(ranked.slice(0, Math.max(1, Math.floor(q.top.limit))).map(([dim]) => dim));
    for (const dim of keep) into(dim);
  }
  for (const cells of perTile) {
    for (const [dim, cell] of cells) if (!keep || keep.has(dim)) into(dim).merge(cell);
  }
  return out;
}

export interface LatencyStats {
  average: number | null;
  median: number | null;
  p95: number | null;
  p99: number | null;
  min: number | null;
  max: number | null;
  count: number;
}

export function latencyStats(stats: FieldStats | undefined): LatencyStats {
  if (!stats || stats.n === 0)
    return { average: null, median: null, p95: null, p99: null, min: null, max: null, count: 0 };
  return {
    average: stats.sum / stats.n,
    median: stats.quantile(0.5),
    p95: stats.quantile(0.95),
    p99: stats.quantile(0.99),
    min: stats.min,
    max: stats.max,
    count: stats.n,
  };
}

/** A percentage 0–100, or null when the denominator is zero. */
export const pct = (part: number, whole: number): number | null => (whole > 0 ? (part / whole) * 100 : null);

const fieldSum = (cell: Cell | undefined, f: 'prompt_tokens' | 'completion_tokens') =>
  cell?.fields.get(f)?.sum ?? 0;

export const WINDOWS = {
  minute: MINUTE,
  hour: 60 * MINUTE,
  day: 1440 * MINUTE,
  week: 7 * 1440 * MINUTE,
  month: 30 * 1440 * MINUTE,
} as const;
export type WindowName = keyof typeof WINDOWS;

export interface LlmFilter {
  space?: string;
  model?: string;
  user?: string;
}

/** The group and dim that answer a filter from rollups (one filter at a time). */
function groupFor(filter: LlmFilter): { grp: string; dims?: string[] } {
  if (filter.space !== undefined) return { grp: 'space', dims: [filter.space] };
  if (filter.model !== undefined) return { grp: 'model', dims: [filter.model] };
  if (filter.user !== undefined) return { grp: 'user', dims: [filter.user] };
  return { grp: 'all' };
}

/** The LLM snapshot of DESIGN.md for [from, to). */
export async function llmSnapshot(
  store: Store,
  maintainer: RollupMaintainer | null,
  project: string,
  from: number,
  to: number,
  filter: LlmFilter = {},
) {
  const base = { project, family: 'llm' as const, from, to };
  const { grp, dims } = groupFor(filter);
  const hours = { from: Math.floor(from / HOUR) * HOUR, to: Math.ceil(to / HOUR) * HOUR };
  // The window as actually covered: whole minutes, or whole hours where per-user rows are read
  // (they exist hourly and daily only).
  const range =
    grp === 'user'
      ? hours
      : { from: Math.floor(from / MINUTE) * MINUTE, to: Math.ceil(to / MINUTE) * MINUTE };
  const total =
    (await aggregate(store, maintainer, { ...base, ...range, grp, ...(dims ? { dims } : {}) })).get(
      dims?.[0] ?? '',
    ) ?? new Cell(true);
  const none = Promise.resolve(new Map<string, Cell>());
  const filtered = grp !== 'all';
  const topUsersBy = (fields: readonly RollupField[]) =>
    filtered
      ? none
      : aggregate(store, maintainer, {
          ...base,
          ...hours,
          grp: 'user',
          scalarOnly: true,
          top: { fields, limit: TOP_USERS },
        });
  const [bySpace, byUser, byError, byModel, byUserCost] = await Promise.all([
    filtered ? none : aggregate(store, maintainer, { ...base, grp: 'space', scalarOnly: true }),
    topUsersBy(['prompt_tokens', 'completion_tokens']),
    filtered ? none : aggregate(store, maintainer, { ...base, grp: 'error_type', scalarOnly: true }),
    filtered ? none : aggregate(store, maintainer, { ...base, grp: 'model', scalarOnly: true }),
    topUsersBy(['cost_usd']),
  ]);
  const requests = total.counters.n;
  const minutes = Math.max(1, (range.to - range.from) / MINUTE);
  const prompt = fieldSum(total, 'prompt_tokens');
  const completion = fieldSum(total, 'completion_tokens');
  const tokensOf = (c: Cell) => fieldSum(c, 'prompt_tokens') + fieldSum(c, 'completion_tokens');
  const topUsers = [...byUser]
    .map(([u, c]) => [u, tokensOf(c)] as const)
    .sort((a, b) => b[1] - a[1])
    .slice(0, TOP_USERS);
  const errorCountByType = Object.fromEntries([...byError].map(([t, c]) => [t, c.counters.n]));
  return {
    start: new Date(range.from).toISOString(),
    end: new Date(range.to).toISOString(),
    requestRate: {
      total: requests,
      perMinute: requests / minutes,
      perHour: (requests / minutes) * 60,
      perDay: (requests / minutes) * 1440,
    },
    totalLatency: latencyStats(total.fields.get('total_ms')),
    contextLatency: latencyStats(total.fields.get('context_ms')),
    llmLatency: latencyStats(total.fields.get('llm_ms')),
    tokens: {
      totalTokens: prompt + completion,
      promptTokens: prompt,
      completionTokens: completion,
      byUser: Object.fromEntries(topUsers),
      /** Tokens of the users not listed in byUser (it holds the top ones). */
      byUserOthers: Math.max(0, prompt + completion - topUsers.reduce((a, [, t]) => a + t, 0)),
      bySpace: Object.fromEntries([...bySpace].map(([s, c]) => [s, tokensOf(c)])),
      averagePerRequest: requests > 0 ? (prompt + completion) / requests : null,
    },
    errors: {
      totalErrorRate: pct(total.counters.errors, requests),
      errorRateByType: Object.fromEntries(
        Object.entries(errorCountByType).map(([t, n]) => [t, pct(n, requests)]),
      ),
      errorCountByType,
      totalErrors: total.counters.errors,
      totalRequests: requests,
    },
    cacheHitRate: {
      overall: pct(total.counters.cache_hits, total.counters.cache_known),
      hits: total.counters.cache_hits,
      misses: total.counters.cache_known - total.counters.cache_hits,
      bySpace: Object.fromEntries(
        [...bySpace].map(([s, c]) => [s, pct(c.counters.cache_hits, c.counters.cache_known)]),
      ),
    },
    latencyViolations: total.counters.violations,
    cost: costSummary({ total, bySpace, byModel, byUser: byUserCost, filter }),
  };
}

const usd = (cell: Cell | undefined, f: 'cost_usd' | 'prompt_cost_usd' | 'completion_cost_usd') =>
  cell?.fields.get(f)?.sum ?? 0;
const priced = (cell: Cell | undefined) => cell?.fields.get('cost_usd')?.n ?? 0;

/**
 * Cost in US dollars of a window: reported costs and costs priced at ingestion. Requests without
 * either are unpriced: counted (and named by model), never summed as 0. promptUsd and
 * completionUsd split the priced costs only (a reported cost comes whole: `reportedUsd`).
 */
function costSummary(parts: {
  total: Cell;
  bySpace: Map<string, Cell>;
  byModel: Map<string, Cell>;
  byUser: Map<string, Cell>;
  filter: LlmFilter;
}) {
  const { total, filter } = parts;
  // Under a model filter the total is that model's row; under a space or user filter the split by
  // model is not kept (rollups group by one dimension at a time).
  const modelsKnown = filter.space === undefined && filter.user === undefined;
  const byModel = filter.model !== undefined ? new Map([[filter.model, total]]) : parts.byModel;
  const totalUsd = usd(total, 'cost_usd');
  const promptUsd = usd(total, 'prompt_cost_usd');
  const completionUsd = usd(total, 'completion_cost_usd');
  const pricedRequests = priced(total);
  const topUsers = [...parts.byUser]
    .map(([u, c]) => [u, usd(c, 'cost_usd')] as const)
    .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
    .slice(0, TOP_USERS);
  const unpricedModels = Object.fromEntries(
    [...byModel]
      .map(([m, c]) => [m, c.counters.n - priced(c)] as const)
      .filter(([, n]) => n > 0)
      .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)),
  );
  const unpricedRequests = total.counters.n - pricedRequests;
  return {
    totalUsd,
    promptUsd,
    completionUsd,
    /** Costs reported whole by the caller (no prompt/completion split). */
    reportedUsd: Math.max(0, totalUsd - promptUsd - completionUsd),
    /** Over priced requests only. */
    averagePerRequest: pricedRequests > 0 ? totalUsd / pricedRequests : null,
    pricedRequests,
    byUser: Object.fromEntries(topUsers),
    /** Cost of the users not listed in byUser (it holds the top ones). */
    byUserOthers: Math.max(0, totalUsd - topUsers.reduce((a, [, t]) => a + t, 0)),
    bySpace: Object.fromEntries([...parts.bySpace].map(([s, c]) => [s, usd(c, 'cost_usd')])),
    byModel: Object.fromEntries(
      [...byModel].filter(([, c]) => priced(c) > 0).map(([m, c]) => [m, usd(c, 'cost_usd')]),
    ),
    unpricedRequests,
    unpricedModels,
    /** Unpriced requests that name no model (null under a space or user filter). */
    unpricedWithoutModel: modelsKnown
      ? Math.max(0, unpricedRequests - Object.values(unpricedModels).reduce((a, n) => a + n, 0))
      : null,
  };
}

/** Fewest requests in the latest 5 minutes, and before them, for a spike to be judged at all. */
const SPIKE_MIN_REQUESTS = 20;

/**
 * Error-rate spike: the latest 5 minutes against the rest of the window, for the same filter as
 * the snapshot. No baseline (a new install, or too few requests before) means no spike: a steady
 * error rate is not a spike. Per-user rows are hourly, so there is no 5-minute view per user.
 */
export async function errorSpike(
  store: Store,
  maintainer: RollupMaintainer | null,
  project: string,
  from: number,
  to: number,
  filter: LlmFilter = {},
) {
  const { grp, dims } = groupFor(filter);
  if (grp === 'user') {
    return { detected: false, latestRate: null, baselineRate: null, latestRequests: 0, baselineRequests: 0 };
  }
  // On a minute boundary: reads cover whole minutes, so the two ranges must not share one.
  const latestFrom = Math.max(
    Math.floor(from / MINUTE) * MINUTE,
    Math.floor((to - 5 * MINUTE) / MINUTE) * MINUTE,
  );
  const range = { project, family: 'llm' as const, grp, ...(dims ? { dims } : {}), scalarOnly: true };
  const [latest, before] = await Promise.all([
    aggregate(store, maintainer, { ...range, from: latestFrom, to }),
    aggregate(store, maintainer, { ...range, from, to: latestFrom }),
  ]);
  const dim = dims?.[0] ?? '';
  const l = latest.get(dim) ?? new Cell(false);
  const b = before.get(dim) ?? new Cell(false);
  const latestRate = pct(l.counters.errors, l.counters.n);
  const baselineRate = pct(b.counters.errors, b.counters.n);
  const detected =
    latestRate !== null &&
    baselineRate !== null &&
    l.counters.n >= SPIKE_MIN_REQUESTS &&
    b.counters.n >= SPIKE_MIN_REQUESTS &&
    latestRate >= 5 &&
    latestRate >= Math.max(2 * baselineRate, baselineRate + 5);
  return { detected, latestRate, baselineRate, latestRequests: l.counters.n, baselineRequests: b.counters.n };
}

/** Decision analytics over [from, to), overall and optionally per recommendation type or explanation version. */
export async function decisionSummary(
  store: Store,
  maintainer: RollupMaintainer | null,
  project: string,
  from: number,
  to: number,
  groupBy?: 'recommendation_type' | 'explanation_version',
) {
  const base = { project, from, to };
  const [recs, outcomes, recGroups, outcomeGroups] = await Promise.all([
    aggregate(store, maintainer, { ...base, family: 'decision', grp: 'all', scalarOnly: true }),
    aggregate(store, maintainer, { ...base, family: 'outcome', grp: 'status', scalarOnly: true }),
    groupBy
      ? aggregate(store, maintainer, { ...base, family: 'decision', grp: groupBy, scalarOnly: true })
      : Promise.resolve(null),
    groupBy
      ? aggregate(store, maintainer, { ...base, family: 'outcome', grp: groupBy, scalarOnly: true })
      : Promise.resolve(null),
  ]);
  const summarize = (rec: Cell | undefined, statuses: Map<string, number>) => {
    const c = rec?.counters;
    const acted = (c?.accepts ?? 0) + (c?.overrides ?? 0) + (c?.ignores ?? 0);
    const time = rec?.fields.get('decision_time_ms');
    const outcomeTotal = [...statuses.values()].reduce((a, b) => a + b, 0);
    return {
      acceptanceRate: pct(c?.accepts ?? 0, acted),
      overrideRate: pct(c?.overrides ?? 0, acted),
      averageDecisionTimeMs: time && time.n > 0 ? time.sum / time.n : null,
      falsePositiveRate: pct(statuses.get('false_positive') ?? 0, outcomeTotal),
      outcomeDistribution: Object.fromEntries(statuses),
      counts: {
        accepted: c?.accepts ?? 0,
        overridden: c?.overrides ?? 0,
        ignored: c?.ignores ?? 0,
        viewed: c?.views ?? 0,
        outcomes: outcomeTotal,
      },
    };
  };
  const overall = summarize(recs.get(''), new Map([...outcomes].map(([s, cell]) => [s, cell.counters.n])));
  let groups: Record<string, ReturnType<typeof summarize>> | undefined;
  if (recGroups && outcomeGroups) {
    const statusesBy = new Map<string, Map<string, number>>();
    for (const [dim, cell] of outcomeGroups) {
      const [value, status] = splitOutcomeDim(dim);
      const m = statusesBy.get(value) ?? new Map<string, number>();
      m.set(status, (m.get(status) ?? 0) + cell.counters.n);
      statusesBy.set(value, m);
    }
    const values = new Set([...recGroups.keys(), ...statusesBy.keys()]);
    groups = Object.fromEntries(
      [...values].sort().map((v) => [v, summarize(recGroups.get(v), statusesBy.get(v) ?? new Map())]),
    );
  }
  return {
    start: new Date(from).toISOString(),
    end: new Date(to).toISOString(),
    ...overall,
    ...(groups ? { groupBy, groups } : {}),
  };
}
