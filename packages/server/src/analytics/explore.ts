import { TYPED_FIELDS, type TypedField } from '../model/index.js';
import { FAMILY_FIELDS, type RollupFamily, UNSKETCHED_FIELDS } from '../model/rollup.js';
import type { FieldRef, PropEquals, RawAggregate, Store } from '../store/index.js';
import type { Cell } from './aggregate.js';
import { type Aggregation, MAX_RES, readSeries, seriesBuckets } from './historical.js';
import type { RollupMaintainer } from './maintainer.js';

export const AGGREGATES = ['count', 'sum', 'avg', 'min', 'max', 'p50', 'p90', 'p95', 'p99', 'rate'] as const;
export type Aggregate = RawAggregate;

export interface ExploreQuery {
  project: string;
  type: string;
  /** A typed field or a prop name; not needed for count and rate. */
  field?: string;
  aggregate: Aggregate;
  from: number;
  to: number;
  bucket?: Aggregation;
  /** Up to two fields to group by. */
  groupBy: string[];
  /** Field → value equality filters. */
  filters: Record<string, string>;
}

export interface ExploreResult {
  source: 'rollups' | 'raw';
  from: string;
  to: string;
  series: {
    group: Record<string, string | null>;
    points: { timestamp: string; value: number | null; count: number }[];
  }[];
}

const FAMILIES: Record<
  string,
  {
    family: RollupFamily;
    fields: readonly string[];
    groups: Record<string, { grp: string; sketches: boolean; hourly?: boolean }>;
  }
> = {
  'llm.request': {
    family: 'llm',
    fields: FAMILY_FIELDS.llm,
    groups: {
      '': { grp: 'all', sketches: true },
      space: { grp: 'space', sketches: true },
      model: { grp: 'model', sketches: true },
      error_type: { grp: 'error_type', sketches: false },
      user: { grp: 'user', sketches: false, hourly: true },
    },
  },
  'decision.recommendation': {
    family: 'decision',
    fields: FAMILY_FIELDS.decision,
    groups: {
      '': { grp: 'all', sketches: true },
      recommendation_type: { grp: 'recommendation_type', sketches: true },
      explanation_version: { grp: 'explanation_version', sketches: true },
    },
  },
  'decision.outcome': {
    family: 'outcome',
    fields: FAMILY_FIELDS.outcome,
    groups: { '': { grp: 'all', sketches: true }, outcome_status: { grp: 'status', sketches: false } },
  },
};

const QUANTILE: Partial<Record<Aggregate, number>> = { p50: 0.5, p90: 0.9, p95: 0.95, p99: 0.99 };
const fieldRef = (name: string): FieldRef =>
  Object.hasOwn(TYPED_FIELDS, name) ? (name as TypedField) : { prop: name };

/** The rollup group that answers the query exactly, or null when only raw events can. */
function rollupPlan(q: ExploreQuery) {
  // Own keys only: a type or dimension named like an Object.prototype member is no family.
  const spec = Object.hasOwn(FAMILIES, q.type) ? FAMILIES[q.type] : undefined;
  if (!spec) return null;
  if (q.field !== undefined && !spec.fields.includes(q.field)) return null;
  if (q.field === undefined && q.aggregate !== 'count' && q.aggregate !== 'rate') return null;
  const dims = new Set([...q.groupBy, ...Object.keys(q.filters)]);
  if (dims.size > 1) return null;
  const dim = [...dims][0] ?? '';
  const group = Object.hasOwn(spec.groups, dim) ? spec.groups[dim] : undefined;
  if (!group) return null;
  if (QUANTILE[q.aggregate] !== undefined && (!group.sketches || UNSKETCHED_FIELDS.has(q.field as never)))
    return null;
  if (
    q.field !== undefined &&
    !group.sketches &&
    q.aggregate !== 'count' &&
    q.aggregate !== 'rate' &&
    group.grp !== 'user'
  )
    return null;
  if (group.hourly && (q.bucket === 'minute' || q.from % 3_600_000 !== 0 || q.to % 3_600_000 !== 0))
    return null;
  const filterValue = q.filters[dim];
  return {
    family: spec.family,
    grp: group.grp,
    dim,
    ...(filterValue !== undefined ? { dims: [filterValue] } : {}),
  };
}

function cellValue(cell: Cell, q: ExploreQuery, minutes: number): number | null {
  const n = cell.counters.n;
  if (q.aggregate === 'count') return n;
  if (q.aggregate === 'rate') return n / minutes;
  const stats = cell.fields.get(q.field as never);
  // A group whose requests were all unpriced has an unknown cost, not a cost of 0.
  if (!stats || stats.n === 0) return q.aggregate === 'sum' && !q.field?.endsWith('cost_usd') ? 0 : null;
  switch (q.aggregate) {
    case 'sum':
      return stats.sum;
    case 'avg':
      return stats.sum / stats.n;
    case 'min':
      return stats.min;
    case 'max':
      return stats.max;
    default:
      return stats.quantile(QUANTILE[q.aggregate] as number);
  }
}

/** The dashboard's general query: from the coarsest rollups that answer it, from raw events only when it must. */
export async function explore(
  store: Store,
  maintainer: RollupMaintainer | null,
  q: ExploreQuery,
): Promise<ExploreResult> {
  const from = Math.floor(q.from / 60_000) * 60_000;
  const to = Math.ceil(q.to / 60_000) * 60_000;
  const buckets: [number, number][] = q.bucket ? seriesBuckets(from, to, q.bucket) : [[from, to]];
  const plan = rollupPlan({ ...q, from, to });
  const range = { from: new Date(from).toISOString(), to: new Date(to).toISOString() };
  if (plan) {
    const series = await readSeries(store, maintainer, {
      project: q.project,
      family: plan.family,
      grp: plan.grp,
      ...(plan.dims ? { dims: plan.dims } : {}),
      buckets,
      maxRes: q.bucket ? MAX_RES[q.bucket] : '1d',
      scalarOnly: QUANTILE[q.aggregate] === undefined,
    });
    return {
      source: 'rollups',
      ...range,
      series: [...series]
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([dim, cells]) => ({
          group: plan.dim === '' || !q.groupBy.includes(plan.dim) ? {} : { [plan.dim]: dim },
          points: buckets.map(([bFrom, bTo], i) => {
            const cell = cells[i] as Cell;
            return {
              timestamp: new Date(bFrom).toISOString(),
              value: cellValue(cell, q, (bTo - bFrom) / 60_000),
              count: cell.counters.n,
            };
          }),
        })),
    };
  }
  const filters: PropEquals[] = Object.entries(q.filters).map(([field, value]) => ({
    field: fieldRef(field),
    value,
  }));
  const raw = await store.events.aggregateRaw({
    project: q.project,
    type: q.type,
    ...(q.field !== undefined ? { field: fieldRef(q.field) } : {}),
    aggregate: q.aggregate,
    from,
    to,
    ...(q.bucket ? { bucket: q.bucket } : {}),
    groupBy: q.groupBy.map(fieldRef),
    filters,
  });
  const bySeries = new Map<
    string,
    { group: Record<string, string | null>; points: Map<number, { value: number | null; count: number }> }
  >();
  for (const r of raw) {
    const key = JSON.stringify(r.groups);
    let s = bySeries.get(key);
    if (!s) {
      s = { group: Object.fromEntries(q.groupBy.map((g, i) => [g, r.groups[i] ?? null])), points: new Map() };
      bySeries.set(key, s);
    }
    s.points.set(r.bucket, { value: r.value, count: r.count });
  }
  return {
    source: 'raw',
    ...range,
    series: [...bySeries.values()].map((s) => ({
      group: s.group,
      points: buckets.map(([bFrom, bTo]) => {
        const p = s.points.get(bFrom);
        const count = p?.count ?? 0;
        const value =
          q.aggregate === 'rate'
            ? count / ((bTo - bFrom) / 60_000)
            : q.aggregate === 'count'
              ? count
              : (p?.value ?? null);
        return { timestamp: new Date(bFrom).toISOString(), value, count };
      }),
    })),
  };
}
