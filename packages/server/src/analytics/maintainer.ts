import type { FastifyBaseLogger } from 'fastify';
import { DEFAULT_CHAIN } from '../audit/checkpoint.js';
import type { SchedulerTurn } from '../cluster/lease.js';
import type { EventRow } from '../model/index.js';
import type { RollupFamily, RollupRow } from '../model/rollup.js';
import type {
  ChainLink,
  GroupsQuery,
  RollupGroup,
  RollupQuery,
  RollupTile,
  RollupWatermark,
  SignalDims,
  Store,
  WindowSumQuery,
} from '../store/index.js';
import { Cell, cellOf, DeltaSet, toRow } from './aggregate.js';
import { RollupCache } from './cache.js';

export interface MaintainerOptions {
  /** The audit chain this instance writes and folds (its instance id; default `DEFAULT_CHAIN`). */
  chain?: string;
  /**
   * How often folded deltas are written. Each flush writes every touched cell at each resolution
   * (with 1,000 active users about 2,100 rows of 65 columns, whatever the event rate), so the
   * store's work per event shrinks as the interval grows; reads see pending deltas either way, and
   * after a crash the events since the watermark are folded again from the store.
   */
  flushIntervalMs?: number;
  /** Committed rows waiting to be folded; beyond it, fold from the store instead (bounded memory). */
  maxQueuedRows?: number;
  /** Pending cells before an early flush. A cell with sketches holds up to ~6 KB, so the
   * default keeps live state near 30 MB whatever the cardinality. */
  maxPendingCells?: number;
  compactIntervalMs?: number;
  /** Memory for cached tiles of stored rollups (default 16 MB). */
  cacheBytes?: number;
  log: FastifyBaseLogger;
  /** Told of the rows of every write once it is stored (a backfill repeats them). */
  onWritten?: (rows: readonly RollupRow[]) => void;
  /** Compact on schedule only while this instance holds the scheduler lease (once per cluster). */
  turn?: SchedulerTurn;
}

/** Rows folded between checks of the pending size. */
const FOLD_CHUNK = 2_000;

const sigKey = (project: string, signal: string) => `${project}\u0000${signal}`;

/**
 * Keeps the rollups up to date: committed batches are folded into pending deltas as they
 * commit, flushed with their watermark (the last folded batch), and read back together with
 * what is still pending, so an acknowledged event is visible at once. After a restart, or when
 * folding falls behind, it catches up from the stored events after the watermark.
 */
export class RollupMaintainer {
  private pending = new DeltaSet();
  private flushing: DeltaSet | null = null;
  private pendingSignals = new Map<string, SignalDims>();
  private readonly signalCache = new Map<string, SignalDims | null>();
  private queue: { seq: number; rows: readonly EventRow[] }[] = [];
  private queuedRows = 0;
  private catchingUp = true;
  /** Batches up to foldedSeq are folded, and the first foldedRows rows of the next one. */
  private foldedSeq = 0;
  private foldedRows = 0;
  private stored: RollupWatermark;
  private knownHead = 0;
  private work: Promise<void> = Promise.resolve();
  private timers: NodeJS.Timeout[] = [];
  private stopped = false;
  private readonly options: Required<Omit<MaintainerOptions, 'onWritten' | 'turn'>> &
    Pick<MaintainerOptions, 'onWritten' | 'turn'>;
  /** Stored rows of recently read tiles; this maintainer's writes invalidate what they touch. */
  readonly cache: RollupCache;
  /** Counts flushes begun and ended: a read that saw none begin or end saw each delta once. */
  private flushes = 0;
  private flushEnded: Promise<void> = Promise.resolve();

  constructor(
    private readonly store: Store,
    {
      chain = DEFAULT_CHAIN,
      flushIntervalMs = 5000,
      maxQueuedRows = 100_000,
      maxPendingCells = 5_000,
      compactIntervalMs = 30_000,
      cacheBytes = 16 * 1024 * 1024,
      log,
      onWritten,
      turn,
    }: MaintainerOptions,
  ) {
    this.options = {
      chain,
      flushIntervalMs,
      maxQueuedRows,
      maxPendingCells,
      compactIntervalMs,
      cacheBytes,
      log,
      onWritten,
      turn,
    };
    this.cache = new RollupCache(cacheBytes);
    this.stored = { chain, seq: 0, rows: 0 };
  }

  /**
   * Loads the watermark of this instance's chain and catches up to `committedHead` before
   * returning. Only this chain is folded here: another writer folds its own.
   */
  async start(committedHead: number): Promise<void> {
    this.stopped = false;
    const mark = await this.store.rollups.watermark(this.options.chain);
    this.foldedSeq = mark.seq;
    this.foldedRows = mark.rows;
    this.stored = mark;
    this.knownHead = Math.max(committedHead, this.foldedSeq);
    await this.run(() => this.catchUp());
    this.timers.push(
      setInterval(() => void this.run(() => this.flush()), this.options.flushIntervalMs).unref(),
      setInterval(() => {
        if (this.options.turn && !this.options.turn.held) return;
        void this.run(async () => void (await this.compact()));
      }, this.options.compactIntervalMs).unref(),
    );
  }

  /** Called by the committer, in chain order, right after each commit. */
  onCommitted = (link: ChainLink, rows: readonly EventRow[]): void => {
    this.knownHead = link.seq;
    if (this.catchingUp || this.queuedRows + rows.length > this.options.maxQueuedRows) {
      // Too much waiting (or already behind): drop the copies and read them back from the store.
      this.catchingUp = true;
      this.queue = [];
      this.queuedRows = 0;
    } else {
      this.queue.push({ seq: link.seq, rows });
      this.queuedRows += rows.length;
    }
    void this.run(() => (this.catchingUp ? this.catchUp() : this.foldQueue()));
  };

  /**
   * Reads of the rollups as they are now: what is stored and what is folded but not yet written.
   * Analytics and alerts read only through these. Each tile of the query merged per dim, the
   * stored rows through the cache (a closed tile is read and decoded once), the pending deltas
   * of the tile merged in (cached cells stay as stored).
   */
  tiles(query: RollupQuery, sketches: boolean): Promise<ReadonlyMap<string, Cell>[]> {
    return this.steady(async () =>
      this.withPending(query, sketches, await readTiles(this.store, this.cache, query, sketches)),
    );
  }

  private withPending(
    query: RollupQuery,
    sketches: boolean,
    out: ReadonlyMap<string, Cell>[],
  ): ReadonlyMap<string, Cell>[] {
    const copies = new Map<number, Map<string, Cell>>();
    const own = new Set<Cell>();
    for (const r of this.pendingRows(query)) {
      const i = query.tiles.findIndex((t) => r.bucket >= t.from && r.bucket < t.to);
      if (i < 0) continue;
      let cells = copies.get(i);
      if (!cells) {
        cells = new Map(out[i]);
        copies.set(i, cells);
        out[i] = cells;
      }
      let cell = cells.get(r.dim);
      if (!cell || !own.has(cell)) {
        const copy = new Cell(sketches);
        if (cell) copy.merge(cell);
        cells.set(r.dim, copy);
        own.add(copy);
        cell = copy;
      }
      cell.mergeRow(r);
    }
    return out;
  }

  /** The store's sums of each window, and the pending deltas within each window as rows of it. */
  sumWindows(query: WindowSumQuery): Promise<{ window: number; row: RollupRow }[]> {
    return this.steady(() => this.sumWindowsOnce(query));
  }

  private async sumWindowsOnce(query: WindowSumQuery): Promise<{ window: number; row: RollupRow }[]> {
    const out = await this.store.rollups.sumWindows(query);
    for (const row of this.pendingOfGroups(query.project, query.family, query.groups, query.windows.flat()))
      query.windows.forEach((tiles, window) => {
        if (tiles.some((t) => row.bucket >= t.from && row.bucket < t.to)) out.push({ window, row });
      });
    return out;
  }

  /**
   * The stored rows of the groups over the tiles, and each pending delta once per resolution of
   * the tiles covering it, as a row of that resolution: a reader taking the rows of one
   * resolution per span of time counts it once.
   */
  readGroups(query: GroupsQuery): Promise<RollupRow[]> {
    return this.steady(() => this.readGroupsOnce(query));
  }

  private async readGroupsOnce(query: GroupsQuery): Promise<RollupRow[]> {
    const out = await this.store.rollups.readGroups(query);
    for (const row of this.pendingOfGroups(query.project, query.family, query.groups, query.tiles)) {
      const seen = new Set<string>();
      for (const t of query.tiles)
        if (row.bucket >= t.from && row.bucket < t.to && !seen.has(t.res)) {
          seen.add(t.res);
          out.push({ ...row, res: t.res });
        }
    }
    return out;
  }

  /**
   * Runs a read of stored rows followed by pending ones with no flush beginning or ending in
   * between: a flush moves deltas from pending into the store, so a read across it would miss
   * them (read stored before, pending after) or count them twice (the write committed while the
   * deltas were still pending). Flushes are brief and a second apart: a retry is rare.
   */
  private async steady<T>(read: () => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      if (this.flushing) await this.flushEnded;
      const before = this.flushes;
      const out = await read();
      if ((this.flushes === before && !this.flushing) || attempt >= 10) return out;
    }
  }

  private pendingOfGroups(
    project: string,
    family: RollupFamily,
    groups: readonly RollupGroup[],
    tiles: readonly RollupTile[],
  ): RollupRow[] {
    return groups.flatMap((g) =>
      this.pendingRows({ project, family, grp: g.grp, ...(g.dims ? { dims: g.dims } : {}), tiles }),
    );
  }

  /** Folded but not yet stored cells matching a query (at their finest resolution). */
  private pendingRows(query: RollupQuery): RollupRow[] {
    const out: RollupRow[] = [];
    const dims = query.dims ? new Set(query.dims) : null;
    for (const set of [this.pending, this.flushing]) {
      if (!set) continue;
      for (const { key, cell } of set.cells.values()) {
        if (key.project !== query.project || key.family !== query.family || key.grp !== query.grp) continue;
        if (dims && !dims.has(key.dim)) continue;
        // Pending cells sit at their finest resolution: they count for any tile covering their time.
        if (!query.tiles.some((t) => key.bucket >= t.from && key.bucket < t.to)) continue;
        out.push(toRow(key, cell));
      }
    }
    return out;
  }

  /** Resolves once everything committed so far is folded (for tests and the bench). */
  async settled(): Promise<void> {
    // Drives the work itself: after a failure only a catch-up from the store makes progress.
    while (!this.stopped && (this.foldedSeq < this.knownHead || this.queue.length > 0)) {
      await this.run(() => (this.catchingUp ? this.catchUp() : this.foldQueue()));
    }
  }

  /** Folds and stores everything committed so far, moving the watermark. */
  async flushNow(): Promise<void> {
    await this.settled();
    await this.run(() => this.flush());
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    await this.run(async () => {
      if (this.catchingUp) await this.catchUp();
      else await this.foldQueue();
      await this.flush();
    });
  }

  private run(task: () => Promise<void>): Promise<void> {
    const next = this.work.then(task).catch((err: unknown) => {
      this.options.log.error({ err }, 'rollup maintenance failed; will retry from the watermark');
      this.catchingUp = true;
    });
    this.work = next;
    return next;
  }

  private async foldQueue(): Promise<void> {
    while (this.queue.length > 0 && !this.catchingUp) {
      const entry = this.queue.shift() as { seq: number; rows: readonly EventRow[] };
      this.queuedRows -= entry.rows.length;
      await this.foldBatch(entry.seq, entry.rows);
    }
  }

  private async catchUp(): Promise<void> {
    while (this.foldedSeq < this.knownHead) {
      const { batches, throughSeq } = await this.store.events.readCommitted(
        this.options.chain,
        this.foldedSeq,
        20_000,
      );
      if (throughSeq <= this.foldedSeq) break;
      for (const b of batches) await this.foldBatch(b.seq, b.rows);
      // Batches whose events all expired hold no rows but still count as folded.
      if (throughSeq > this.foldedSeq) {
        this.foldedSeq = throughSeq;
        this.foldedRows = 0;
      }
    }
    // No await between this check and the switch: later commits are folded live.
    if (this.foldedSeq >= this.knownHead) {
      this.catchingUp = false;
      this.queue = [];
      this.queuedRows = 0;
    }
  }

  /**
   * Folds one committed batch in chunks, flushing between chunks when too much is pending: the
   * watermark then records how many rows of this batch are in, so none is folded twice.
   */
  private async foldBatch(seq: number, rows: readonly EventRow[]): Promise<void> {
    let start = seq === this.foldedSeq + 1 ? this.foldedRows : 0;
    while (start < rows.length) {
      const end = Math.min(rows.length, start + FOLD_CHUNK);
      await this.fold(rows.slice(start, end));
      this.foldedRows = end;
      start = end;
      if (this.pending.size > this.options.maxPendingCells) await this.flush();
    }
    this.foldedSeq = seq;
    this.foldedRows = 0;
  }

  private async fold(rows: readonly EventRow[]): Promise<void> {
    for (const r of rows) {
      if (r.type === 'decision.recommendation' && r.signal_id !== null) {
        const k = sigKey(r.project, r.signal_id);
        if (!this.signalCache.get(k)) {
          const dims = {
            project: r.project,
            signal_id: r.signal_id,
            recommendation_type: r.recommendation_type ?? 'unknown',
            explanation_version: r.explanation_version ?? 'unknown',
          };
          this.remember(k, dims);
          this.pendingSignals.set(k, dims);
        }
      }
    }
    const missing = new Map<string, Set<string>>();
    for (const r of rows) {
      if (
        r.type === 'decision.outcome' &&
        r.signal_id !== null &&
        !this.signalCache.has(sigKey(r.project, r.signal_id))
      ) {
        const set = missing.get(r.project) ?? new Set<string>();
        set.add(r.signal_id);
        missing.set(r.project, set);
      }
    }
    for (const [project, ids] of missing) {
      const found = new Map(
        (await this.store.rollups.signals(project, [...ids])).map((s) => [s.signal_id, s]),
      );
      if (this.store.shared.analytical) await this.findRecommendations(project, ids, found);
      for (const id of ids) this.remember(sigKey(project, id), found.get(id) ?? null);
    }
    for (const r of rows) {
      const signal =
        r.type === 'decision.outcome' && r.signal_id !== null
          ? this.signalCache.get(sigKey(r.project, r.signal_id))
          : undefined;
      this.pending.add(r, signal ?? undefined);
    }
  }

  /**
   * Another instance may have stored a signal's recommendation without having written its
   * dimensions yet (it does at its next flush): its event is stored once acknowledged, so an outcome
   * sent after that ack is grouped as on one instance. One lookup per signal not found (then
   * remembered), so only outcomes without any recommendation cost a search each.
   */
  private async findRecommendations(
    project: string,
    ids: ReadonlySet<string>,
    found: Map<string, SignalDims>,
  ): Promise<void> {
    for (const id of ids) {
      if (found.has(id)) continue;
      const [r] = await this.store.events.listEvents({
        project,
        types: ['decision.recommendation'],
        where: [{ field: 'signal_id', value: id }],
        limit: 1,
      });
      if (r)
        found.set(id, {
          project,
          signal_id: id,
          recommendation_type: r.recommendation_type ?? 'unknown',
          explanation_version: r.explanation_version ?? 'unknown',
        });
    }
  }

  private remember(key: string, dims: SignalDims | null): void {
    if (this.signalCache.size >= 100_000) this.signalCache.clear();
    this.signalCache.set(key, dims);
  }

  private async flush(): Promise<void> {
    const through = { chain: this.options.chain, seq: this.foldedSeq, rows: this.foldedRows };
    if (this.pending.size === 0 && this.pendingSignals.size === 0) {
      if (through.seq !== this.stored.seq || through.rows !== this.stored.rows) {
        await this.store.rollups.write([], [], through);
      }
      this.stored = through;
      return;
    }
    const batch = this.pending;
    const signals = [...this.pendingSignals.values()];
    this.flushing = batch;
    this.pending = new DeltaSet();
    this.pendingSignals = new Map();
    this.flushes += 1;
    let done: () => void = () => undefined;
    this.flushEnded = new Promise<void>((resolve) => {
      done = resolve;
    });
    try {
      const rows = batch.toRows();
      await this.store.rollups.write(rows, signals, through);
      this.options.onWritten?.(rows);
      this.cache.invalidate(rows);
      this.stored = through;
    } catch (err) {
      // Nothing is lost: the deltas go back to pending and the next flush tries again.
      for (const { key, cell } of batch.cells.values()) this.pending.cell(key, cell.withSketches).merge(cell);
      for (const s of signals) this.pendingSignals.set(sigKey(s.project, s.signal_id), s);
      throw err;
    } finally {
      this.flushing = null;
      this.flushes += 1;
      done();
    }
  }

  private async compact(): Promise<number> {
    const merged = await this.store.rollups.compact();
    if (merged > 0) this.options.log.debug({ merged }, 'rollup rows compacted');
    return merged;
  }

  /** Compacts until no key has more than one row (after a backfill; the timer does it in steps). */
  async compactAll(): Promise<void> {
    let merged = 1;
    while (merged > 0) {
      merged = 0; // stays 0 if a pass fails (run logs it): no endless retry
      await this.run(async () => {
        merged = await this.compact();
      });
    }
  }
}

/**
 * Stored rows tile by tile, merged per dim, each tile from the cache when no write touched it
 * since it was read: a window's closed tiles are read and decoded once, only the tiles still
 * receiving events again. Missing tiles are read in one query: rows told apart by bucket, or sums
 * per dim with each tile as a window.
 */
async function readTiles(
  store: Store,
  cache: RollupCache,
  query: RollupQuery,
  sketches: boolean,
): Promise<ReadonlyMap<string, Cell>[]> {
  const { tiles, top: _top, ...rest } = query;
  const keys = tiles.map((t) => RollupCache.key(rest, t));
  const out = keys.map((k) => cache.get(k));
  const missing = keys.flatMap((_, i) => (out[i] ? [] : [i]));
  if (missing.length === 0) return out as ReadonlyMap<string, Cell>[];
  const epoch = cache.epoch;
  const fresh = new Map<number, Map<string, Cell>>(missing.map((i) => [i, new Map()]));
  const add = (i: number, r: RollupRow) =>
    cellOf(fresh.get(i) as Map<string, Cell>, r.dim, sketches).mergeRow(r);
  if (query.scalarOnly === 'by_dim') {
    // Every missing tile in one query, each tile a window of its own (a query per tile paid
    // ClickHouse's fixed cost per query once per tile: most of a cold dashboard read there).
    const sums = await store.rollups.sumWindows({
      project: rest.project,
      family: rest.family,
      groups: [{ grp: rest.grp, ...(rest.dims ? { dims: rest.dims } : {}) }],
      windows: missing.map((i) => [tiles[i] as RollupTile]),
    });
    for (const { window, row } of sums) add(missing[window] as number, row);
  } else {
    const rows = await store.rollups.read({ ...rest, tiles: missing.map((i) => tiles[i] as RollupTile) });
    for (const r of rows) {
      const i = missing.find((j) => {
        const t = tiles[j] as RollupTile;
        return t.res === r.res && r.bucket >= t.from && r.bucket < t.to;
      });
      if (i !== undefined) add(i, r);
    }
  }
  for (const [i, cells] of fresh) {
    cache.set(keys[i] as string, epoch, query.project, query.family, tiles[i] as RollupTile, cells);
    out[i] = cells;
  }
  return out as ReadonlyMap<string, Cell>[];
}
