import type { DDSketch } from '@datadog/sketches-js';
import type { EventRow } from '../model/index.js';
import {
  bucketStart,
  FAMILY_FIELDS,
  type FieldSummary,
  RESOLUTIONS,
  type Resolution,
  ROLLUP_COUNTERS,
  type RollupCounter,
  type RollupFamily,
  type RollupField,
  type RollupKey,
  type RollupRow,
  rollupKeyOf,
  rollupKeyString,
  UNSKETCHED_FIELDS,
} from '../model/rollup.js';
import { decodeSketch, encodeSketch, newSketch } from '../model/sketch.js';

/** Field statistics while aggregating: a live sketch rather than its serialized form. */
export class FieldStats {
  n = 0;
  sum = 0;
  min = Number.POSITIVE_INFINITY;
  max = Number.NEGATIVE_INFINITY;
  sketch: DDSketch | null;

  constructor(withSketch: boolean) {
    this.sketch = withSketch ? newSketch() : null;
  }

  add(value: number): void {
    this.n += 1;
    this.sum += value;
    if (value < this.min) this.min = value;
    if (value > this.max) this.max = value;
    this.sketch?.accept(value);
  }

  mergeSummary(s: FieldSummary): void {
    if (s.n === 0) return;
    this.n += s.n;
    this.sum += s.sum;
    if (s.min < this.min) this.min = s.min;
    if (s.max > this.max) this.max = s.max;
    if (this.sketch && s.sketch) this.sketch.merge(decodeSketch(s.sketch));
  }

  merge(other: FieldStats): void {
    if (other.n === 0) return;
    this.n += other.n;
    this.sum += other.sum;
    if (other.min < this.min) this.min = other.min;
    if (other.max > this.max) this.max = other.max;
    if (this.sketch && other.sketch) this.sketch.merge(other.sketch);
  }

  quantile(q: number): number | null {
    if (this.n === 0 || !this.sketch) return null;
    // The sketch answers within 1% relative; clamp to the exact extremes it cannot know.
    return Math.min(this.max, Math.max(this.min, this.sketch.getValueAtQuantile(q)));
  }

  toSummary(): FieldSummary {
    return {
      n: this.n,
      sum: this.sum,
      min: this.min,
      max: this.max,
      sketch: this.sketch ? encodeSketch(this.sketch) : null,
    };
  }
}

const LLM_FIELDS = FAMILY_FIELDS.llm;

/** One key's aggregate while in memory. */
export class Cell {
  readonly counters: Record<RollupCounter, number> = Object.fromEntries(
    ROLLUP_COUNTERS.map((c) => [c, 0]),
  ) as Record<RollupCounter, number>;
  readonly fields = new Map<RollupField, FieldStats>();

  /** The llm fields' statistics by their place in the family's list (the fold's hot path). */
  private readonly llmSlots: (FieldStats | undefined)[] = [];

  constructor(readonly withSketches: boolean) {}

  /** `field(FAMILY_FIELDS.llm[slot])` without a lookup by name after the first. */
  llmField(slot: number): FieldStats {
    let stats = this.llmSlots[slot];
    if (!stats) {
      stats = this.field(LLM_FIELDS[slot] as RollupField);
      this.llmSlots[slot] = stats;
    }
    return stats;
  }

  field(name: RollupField): FieldStats {
    let stats = this.fields.get(name);
    if (!stats) {
      stats = new FieldStats(this.withSketches && !UNSKETCHED_FIELDS.has(name));
      this.fields.set(name, stats);
    }
    return stats;
  }

  mergeRow(row: RollupRow): void {
    for (const c of ROLLUP_COUNTERS) this.counters[c] += row.counters[c];
    for (const [name, summary] of Object.entries(row.fields) as [RollupField, FieldSummary][]) {
      this.field(name).mergeSummary(summary);
    }
  }

  merge(other: Cell): void {
    for (const c of ROLLUP_COUNTERS) this.counters[c] += other.counters[c];
    for (const [name, stats] of other.fields) this.field(name).merge(stats);
  }
}

/** The cell of `dim` in `cells`, created empty when missing. */
export function cellOf(cells: Map<string, Cell>, dim: string, withSketches: boolean): Cell {
  let cell = cells.get(dim);
  if (!cell) {
    cell = new Cell(withSketches);
    cells.set(dim, cell);
  }
  return cell;
}

const SEP = '\u001f';

/** A group events feed: its family, group, whether it keeps sketches, its finest resolution. */
interface TargetKind {
  readonly family: RollupFamily;
  readonly grp: string;
  readonly sketches: boolean;
  readonly res: Resolution;
}
const kind = (family: RollupFamily, grp: string, sketches: boolean, res: Resolution): TargetKind => ({
  family,
  grp,
  sketches,
  res,
});
const LLM_ALL = kind('llm', 'all', true, '1m');
const LLM_SPACE = kind('llm', 'space', true, '1m');
const LLM_MODEL = kind('llm', 'model', true, '1m');
const LLM_ERROR = kind('llm', 'error_type', false, '1m');
const LLM_USER = kind('llm', 'user', false, '1h');
const DECISION_ALL = kind('decision', 'all', true, '1m');
const DECISION_TYPE = kind('decision', 'recommendation_type', true, '1m');
const DECISION_VERSION = kind('decision', 'explanation_version', true, '1m');
const OUTCOME_ALL = kind('outcome', 'all', true, '1m');
const OUTCOME_STATUS = kind('outcome', 'status', false, '1m');
const OUTCOME_TYPE = kind('outcome', 'recommendation_type', false, '1m');
const OUTCOME_VERSION = kind('outcome', 'explanation_version', false, '1m');

/** The groups an event feeds, each with the event's dim value in it. */
type Target = [TargetKind, string];

/** Groups an event contributes to. Per-user totals are kept hourly and daily only (bounded rows). */
export function targetsOf(
  row: EventRow,
  signal?: { recommendation_type: string; explanation_version: string },
): Target[] {
  switch (row.type) {
    case 'llm.request': {
      const t: Target[] = [[LLM_ALL, '']];
      if (row.space !== null) t.push([LLM_SPACE, row.space]);
      if (row.model !== null) t.push([LLM_MODEL, row.model]);
      if (row.error_type !== null) t.push([LLM_ERROR, row.error_type]);
      if (row.user !== null) t.push([LLM_USER, row.user]);
      return t;
    }
    case 'decision.recommendation': {
      const t: Target[] = [[DECISION_ALL, '']];
      if (row.recommendation_type !== null) t.push([DECISION_TYPE, row.recommendation_type]);
      if (row.explanation_version !== null) t.push([DECISION_VERSION, row.explanation_version]);
      return t;
    }
    case 'decision.outcome': {
      const status = row.outcome_status ?? '';
      return [
        [OUTCOME_ALL, ''],
        [OUTCOME_STATUS, status],
        [OUTCOME_TYPE, `${signal?.recommendation_type ?? 'unknown'}${SEP}${status}`],
        [OUTCOME_VERSION, `${signal?.explanation_version ?? 'unknown'}${SEP}${status}`],
      ];
    }
    default:
      return [];
  }
}

/** Splits an outcome group's dim into the grouping value and the outcome status. */
export function splitOutcomeDim(dim: string): [string, string] {
  const i = dim.indexOf(SEP);
  return i < 0 ? [dim, ''] : [dim.slice(0, i), dim.slice(i + 1)];
}

/** An llm.request's values of the family's fields, in its order (null where absent). */
function llmValues(row: EventRow, out: (number | null)[] = []): (number | null)[] {
  for (let i = 0; i < LLM_FIELDS.length; i++) out[i] = row[LLM_FIELDS[i] as RollupField & keyof EventRow];
  return out;
}

/**
 * Adds one event to a cell of its family; `llm` holds an llm.request's field values (`llmValues`),
 * read once for all the cells the event feeds.
 */
export function addEvent(cell: Cell, row: EventRow, llm: readonly (number | null)[] = llmValues(row)): void {
  const c = cell.counters;
  c.n += 1;
  if (row.type === 'llm.request') {
    if (row.error_type !== null) c.errors += 1;
    if (row.cache_hit !== null) {
      c.cache_known += 1;
      if (row.cache_hit) c.cache_hits += 1;
    }
    if (row.total_ms !== null && (row.context_ms ?? 0) + (row.llm_ms ?? 0) > row.total_ms + 1e-9)
      c.violations += 1;
    for (let i = 0; i < llm.length; i++) {
      const v = llm[i] as number | null;
      if (v !== null) cell.llmField(i).add(v);
    }
  } else if (row.type === 'decision.recommendation') {
    if (row.action === 'accept') c.accepts += 1;
    else if (row.action === 'override') c.overrides += 1;
    else if (row.action === 'ignore') c.ignores += 1;
    else if (row.action === 'view') c.views += 1;
    if (row.decision_time_ms !== null) cell.field('decision_time_ms').add(row.decision_time_ms);
  } else if (row.type === 'decision.outcome') {
    if (row.resolution_time_hours !== null)
      cell.field('resolution_time_hours').add(row.resolution_time_hours);
  }
}

const NO_VALUES: readonly (number | null)[] = [];

type Entry = { key: RollupKey; cell: Cell };

/** Pending deltas keyed by rollup key, for every resolution at once. */
export class DeltaSet {
  /** Every cell by its key string; cells are only ever added (a set is replaced, never emptied). */
  readonly cells = new Map<string, Entry>();
  /**
   * The same entries by group, project, dim and bucket, for the fold: lookups by the event's own
   * strings and numbers instead of building and hashing a key string per group per event.
   */
  private readonly index = new Map<TargetKind, Map<string, Map<string, Map<number, Entry>>>>();
  /** Reused for each event's llm field values. */
  private readonly llm: (number | null)[] = [];

  get size(): number {
    return this.cells.size;
  }

  cell(key: RollupKey, withSketches: boolean): Cell {
    const ks = rollupKeyString(key);
    let entry = this.cells.get(ks);
    if (!entry) {
      entry = { key, cell: new Cell(withSketches) };
      this.cells.set(ks, entry);
    }
    return entry.cell;
  }

  /** Folds one event into its finest resolution only; coarser ones are derived when written. */
  add(row: EventRow, signal?: { recommendation_type: string; explanation_version: string }): void {
    const llm = row.type === 'llm.request' ? llmValues(row, this.llm) : NO_VALUES;
    for (const [target, dim] of targetsOf(row, signal)) {
      const bucket = bucketStart(row.ts, target.res);
      const byBucket = this.byBucket(target, row.project, dim);
      let entry = byBucket.get(bucket);
      if (!entry) {
        // The key is built only for a new cell: most events land in an existing one.
        const { family, grp, res, sketches } = target;
        const ks = rollupKeyOf(row.project, family, res, bucket, grp, dim);
        entry = this.cells.get(ks);
        if (!entry) {
          entry = { key: { project: row.project, family, res, bucket, grp, dim }, cell: new Cell(sketches) };
          this.cells.set(ks, entry);
        }
        byBucket.set(bucket, entry);
      }
      addEvent(entry.cell, row, llm);
    }
  }

  private byBucket(target: TargetKind, project: string, dim: string): Map<number, Entry> {
    let byProject = this.index.get(target);
    if (!byProject) {
      byProject = new Map();
      this.index.set(target, byProject);
    }
    let byDim = byProject.get(project);
    if (!byDim) {
      byDim = new Map();
      byProject.set(project, byDim);
    }
    let byBucket = byDim.get(dim);
    if (!byBucket) {
      byBucket = new Map();
      byDim.set(dim, byBucket);
    }
    return byBucket;
  }

  /** Every cell at its own resolution and merged into each coarser bucket: coarse = merge of fine. */
  toRows(): RollupRow[] {
    const all = new DeltaSet();
    for (const { key, cell } of this.cells.values()) {
      for (const res of RESOLUTIONS.slice(RESOLUTIONS.indexOf(key.res))) {
        all.cell({ ...key, res, bucket: bucketStart(key.bucket, res) }, cell.withSketches).merge(cell);
      }
    }
    return [...all.cells.values()].map(({ key, cell }) => toRow(key, cell));
  }
}

export function toRow(key: RollupKey, cell: Cell): RollupRow {
  const fields: RollupRow['fields'] = {};
  for (const [name, stats] of cell.fields) fields[name] = stats.toSummary();
  return { ...key, counters: { ...cell.counters }, fields };
}
