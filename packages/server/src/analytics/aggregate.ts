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

/** The groups each event feeds: [family, group, dim value, keeps sketches, finest resolution]. */
type Target = [RollupFamily, string, string, boolean, Resolution];

/** Groups an event contributes to. Per-user totals are kept hourly and daily only (bounded rows). */
export function targetsOf(
  row: EventRow,
  signal?: { recommendation_type: string; explanation_version: string },
): Target[] {
  switch (row.type) {
    case 'llm.request': {
      const t: Target[] = [['llm', 'all', '', true, '1m']];
      if (row.space !== null) t.push(['llm', 'space', row.space, true, '1m']);
      if (row.model !== null) t.push(['llm', 'model', row.model, true, '1m']);
      if (row.error_type !== null) t.push(['llm', 'error_type', row.error_type, false, '1m']);
      if (row.user !== null) t.push(['llm', 'user', row.user, false, '1h']);
      return t;
    }
    case 'decision.recommendation': {
      const t: Target[] = [['decision', 'all', '', true, '1m']];
      if (row.recommendation_type !== null)
        t.push(['decision', 'recommendation_type', row.recommendation_type, true, '1m']);
      if (row.explanation_version !== null)
        t.push(['decision', 'explanation_version', row.explanation_version, true, '1m']);
      return t;
    }
    case 'decision.outcome': {
      const status = row.outcome_status ?? '';
      return [
        ['outcome', 'all', '', true, '1m'],
        ['outcome', 'status', status, false, '1m'],
        [
          'outcome',
          'recommendation_type',
          `${signal?.recommendation_type ?? 'unknown'}${SEP}${status}`,
          false,
          '1m',
        ],
        [
          'outcome',
          'explanation_version',
          `${signal?.explanation_version ?? 'unknown'}${SEP}${status}`,
          false,
          '1m',
        ],
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

/** Pending deltas keyed by rollup key, for every resolution at once. */
export class DeltaSet {
  readonly cells = new Map<string, { key: RollupKey; cell: Cell }>();
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
    for (const [family, grp, dim, sketches, res] of targetsOf(row, signal)) {
      const bucket = bucketStart(row.ts, res);
      // The key object is built only for a new cell: most events land in an existing one.
      const ks = rollupKeyOf(row.project, family, res, bucket, grp, dim);
      let entry = this.cells.get(ks);
      if (!entry) {
        entry = { key: { project: row.project, family, res, bucket, grp, dim }, cell: new Cell(sketches) };
        this.cells.set(ks, entry);
      }
      addEvent(entry.cell, row, llm);
    }
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
