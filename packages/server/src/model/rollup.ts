import type { DDSketch } from '@datadog/sketches-js';
import { decodeSketch, encodeSketch } from './sketch.js';

/**
 * What a rollup is. A rollup row is a mergeable partial aggregate of the events of one
 * bucket: rows with the same key (from late events, several writers, or flushes) are summed
 * at read time, so any number of them may exist until compaction merges them.
 */

export const RESOLUTIONS = ['1m', '5m', '1h', '1d'] as const;
export type Resolution = (typeof RESOLUTIONS)[number];
export const RESOLUTION_MS: Record<Resolution, number> = {
  '1m': 60_000,
  '5m': 300_000,
  '1h': 3_600_000,
  '1d': 86_400_000,
};

/** Counters every row carries (zero when they do not apply to its family). */
export const ROLLUP_COUNTERS = [
  'n',
  'errors',
  'cache_hits',
  'cache_known',
  'violations',
  'accepts',
  'overrides',
  'ignores',
  'views',
] as const;
export type RollupCounter = (typeof ROLLUP_COUNTERS)[number];

/** Numeric event fields summarised per row: count, sum, min, max and a DDSketch. */
export const ROLLUP_FIELDS = [
  'total_ms',
  'context_ms',
  'llm_ms',
  'prompt_tokens',
  'completion_tokens',
  'decision_time_ms',
  'resolution_time_hours',
  'cost_usd',
  'prompt_cost_usd',
  'completion_cost_usd',
] as const;
export type RollupField = (typeof ROLLUP_FIELDS)[number];

/** Fields that only ever need sums (the parts of a cost): no sketch is kept for them. */
export const UNSKETCHED_FIELDS: ReadonlySet<RollupField> = new Set([
  'prompt_cost_usd',
  'completion_cost_usd',
]);

export type RollupFamily = 'llm' | 'decision' | 'outcome';

/** The fields each family summarises (the other field columns of its rows stay empty). */
export const FAMILY_FIELDS: Record<RollupFamily, readonly RollupField[]> = {
  llm: [
    'total_ms',
    'context_ms',
    'llm_ms',
    'prompt_tokens',
    'completion_tokens',
    'cost_usd',
    'prompt_cost_usd',
    'completion_cost_usd',
  ],
  decision: ['decision_time_ms'],
  outcome: ['resolution_time_hours'],
};

export interface RollupKey {
  project: string;
  family: RollupFamily;
  res: Resolution;
  /** Bucket start, epoch ms. */
  bucket: number;
  /** The dimension this row is grouped by ('all' for the total), and its value. */
  grp: string;
  dim: string;
}

export interface FieldSummary {
  n: number;
  sum: number;
  min: number;
  max: number;
  /** Serialized DDSketch (protobuf), or null when this group keeps no distribution. */
  sketch: Uint8Array | null;
}

export interface RollupRow extends RollupKey {
  counters: Record<RollupCounter, number>;
  fields: Partial<Record<RollupField, FieldSummary>>;
}

/** One string per rollup key: rows with equal keys are merged. */
export const rollupKeyString = (k: RollupKey): string =>
  rollupKeyOf(k.project, k.family, k.res, k.bucket, k.grp, k.dim);

/** The same string from the parts, without building a key object (the fold's hot path). */
export const rollupKeyOf = (
  project: string,
  family: RollupFamily,
  res: Resolution,
  bucket: number,
  grp: string,
  dim: string,
): string => `${project}\u001f${family}\u001f${res}\u001f${bucket}\u001f${grp}\u001f${dim}`;

export function bucketStart(ts: number, res: Resolution): number {
  const size = RESOLUTION_MS[res];
  return Math.floor(ts / size) * size;
}

/**
 * Rows of one key merged into one: counters and sums add up, minimum and maximum of each field,
 * sketches merged. A pure function of the rows, so every engine (and the maintainer) merges alike.
 */
export function mergeRollupRows(rows: readonly RollupRow[]): RollupRow {
  const [first] = rows;
  if (!first) throw new Error('mergeRollupRows: no rows');
  if (rows.length === 1) return first;
  const counters = { ...first.counters };
  const fields: RollupRow['fields'] = {};
  const sketches = new Map<RollupField, DDSketch>();
  for (const [i, row] of rows.entries()) {
    if (i > 0) for (const c of ROLLUP_COUNTERS) counters[c] += row.counters[c];
    for (const [name, s] of Object.entries(row.fields) as [RollupField, FieldSummary][]) {
      const cur = fields[name];
      if (!cur || cur.n === 0) fields[name] = { ...s, sketch: null };
      else if (s.n > 0)
        fields[name] = {
          n: cur.n + s.n,
          sum: cur.sum + s.sum,
          min: Math.min(cur.min, s.min),
          max: Math.max(cur.max, s.max),
          sketch: null,
        };
      if (s.sketch && s.n > 0) {
        const sketch = sketches.get(name);
        if (sketch) sketch.merge(decodeSketch(s.sketch));
        else sketches.set(name, decodeSketch(s.sketch));
      }
    }
  }
  for (const [name, sketch] of sketches) {
    const f = fields[name];
    if (f) f.sketch = encodeSketch(sketch);
  }
  return { ...first, counters, fields };
}
