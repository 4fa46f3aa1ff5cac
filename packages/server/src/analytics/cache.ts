import { RESOLUTION_MS, type RollupRow } from '../model/rollup.js';
import type { RollupSpan, RollupTile } from '../store/index.js';
import type { Cell } from './aggregate.js';

interface Entry {
  /** `project␟family␟res`: what a write must match to touch this entry. */
  scope: string;
  from: number;
  to: number;
  cells: ReadonlyMap<string, Cell>;
  bytes: number;
}

const SEP = '\u001f';

/** The span of buckets the rows touch, per project, family and resolution. */
export function spansOf(rows: readonly RollupRow[]): RollupSpan[] {
  const spans = new Map<string, RollupSpan>();
  for (const r of rows) {
    const scope = `${r.project}${SEP}${r.family}${SEP}${r.res}`;
    const end = r.bucket + RESOLUTION_MS[r.res];
    const s = spans.get(scope);
    if (!s) spans.set(scope, { project: r.project, family: r.family, res: r.res, from: r.bucket, to: end });
    else {
      s.from = Math.min(s.from, r.bucket);
      s.to = Math.max(s.to, end);
    }
  }
  return [...spans.values()];
}

/** Rough memory of cells held: their sketches' bins plus a fixed cost per cell and field. */
function sizeOf(cells: ReadonlyMap<string, Cell>): number {
  let bytes = 0;
  for (const [dim, cell] of cells) {
    bytes += 300 + 2 * dim.length;
    for (const f of cell.fields.values()) {
      bytes += 100;
      if (f.sketch) bytes += 8 * (f.sketch.store.bins.length + f.sketch.negativeStore.bins.length) + 600;
    }
  }
  return bytes;
}

/**
 * The stored rollup rows of one tile, merged per dim (sketches decoded), kept until a write
 * touches the tile.
 * Rollup rows change only when the maintainer writes new deltas (live or late events), when
 * compaction merges rows (same sums) or when retention deletes old buckets: the maintainer
 * invalidates the tiles its writes touch, retention clears everything. Most of a dashboard's
 * window lies in closed buckets, so only its newest tile is read again while events arrive.
 * Bounded by bytes; the least recently used tiles go first.
 */
export class RollupCache {
  private readonly entries = new Map<string, Entry>();
  private bytes = 0;
  /** Moves on every invalidation: rows read before a write must not be kept after it. */
  epoch = 0;
  hits = 0;
  misses = 0;

  constructor(private readonly maxBytes = 16 * 1024 * 1024) {}

  static key(query: object, tile: RollupTile): string {
    return `${JSON.stringify(query)}${SEP}${tile.res}${SEP}${tile.from}${SEP}${tile.to}`;
  }

  /** Cells to read, never to change: merge them into cells of your own. */
  get(key: string): ReadonlyMap<string, Cell> | undefined {
    const entry = this.entries.get(key);
    if (!entry) {
      this.misses += 1;
      return undefined;
    }
    // Most recently used last.
    this.entries.delete(key);
    this.entries.set(key, entry);
    this.hits += 1;
    return entry.cells;
  }

  /** Keeps cells read when the cache was at `epoch` (unless a write came in between). */
  set(
    key: string,
    epoch: number,
    project: string,
    family: string,
    tile: RollupTile,
    cells: ReadonlyMap<string, Cell>,
  ): void {
    if (epoch !== this.epoch) return;
    const bytes = sizeOf(cells);
    if (bytes > this.maxBytes / 4) return;
    this.drop(key);
    this.entries.set(key, {
      scope: `${project}${SEP}${family}${SEP}${tile.res}`,
      from: tile.from,
      to: tile.to,
      cells,
      bytes,
    });
    this.bytes += bytes;
    for (const [k] of this.entries) {
      if (this.bytes <= this.maxBytes) break;
      this.drop(k);
    }
  }

  /** Forgets every tile that holds a bucket of these rows (written, so changed). */
  invalidate(written: readonly RollupRow[]): void {
    this.forget(spansOf(written));
  }

  /** Forgets every tile that overlaps one of these spans (written elsewhere, so changed). */
  forget(spans: readonly RollupSpan[]): void {
    if (spans.length === 0) return;
    this.epoch += 1;
    const byScope = new Map<string, RollupSpan[]>();
    for (const s of spans) {
      const scope = `${s.project}${SEP}${s.family}${SEP}${s.res}`;
      byScope.set(scope, [...(byScope.get(scope) ?? []), s]);
    }
    for (const [k, e] of this.entries) {
      if (byScope.get(e.scope)?.some((s) => s.from < e.to && e.from < s.to)) this.drop(k);
    }
  }

  clear(): void {
    this.epoch += 1;
    this.entries.clear();
    this.bytes = 0;
  }

  get size(): number {
    return this.entries.size;
  }

  private drop(key: string): void {
    const e = this.entries.get(key);
    if (!e) return;
    this.entries.delete(key);
    this.bytes -= e.bytes;
  }
}
