import type { FastifyBaseLogger } from 'fastify';
import { DEFAULT_CHAIN, expiryRecorder, nextLink } from '../audit/index.js';
import { VigilError } from '../errors/index.js';
import type { EventRow } from '../model/index.js';
import {
  type Appended,
  type ChainLink,
  type EventStore,
  type RejectionCount,
  type ScrubCount,
  StoreError,
} from '../store/index.js';
import type { ValidEvent } from './validate.js';

/** What happened to one submitted event: stored now, already stored before, or refused at commit. */
export type CommitOutcome = 'stored' | 'duplicate' | 'duplicate_outcome';

/** Events of one request refused before the commit (counted for telemetry health). */
export interface RejectedTally {
  project: string;
  receivedAt: number;
  count: number;
}

interface Pending {
  events: readonly ValidEvent[];
  rejected: RejectedTally | undefined;
  resolve: (outcomes: CommitOutcome[]) => void;
  reject: (err: unknown) => void;
}

/** Requests committed together, with what is known of them before the store is asked. */
interface Group {
  requests: Pending[];
  size: number;
  outcomes: CommitOutcome[][];
  all: { event: ValidEvent; g: number; i: number }[];
  /** The events left after the group's own duplicates, in order. */
  candidates: { event: ValidEvent; g: number; i: number }[];
  rows: EventRow[];
  /** The link sealed ahead (while the commit before ran), if every candidate is kept after it. */
  ahead: ChainLink | null;
}

/** One commit as /metrics sees it; `ok` false when it failed (nothing of it acknowledged). */
export interface CommitObservation {
  seconds: number;
  ok: boolean;
  stored: number;
  duplicates: number;
  scrubbed: readonly ScrubCount[];
}

export interface CommitterStats {
  commits: number;
  committedEvents: number;
  lastCommitMs: number;
}

/**
 * Group commit: requests that arrive while a commit runs wait together and go into the next
 * one, as one append and one chain link. A submission resolves only after its batch is
 * committed (ack means durable). Work waiting is bounded: beyond it, `overloaded`.
 */
export class GroupCommitter {
  private queue: Pending[] = [];
  private queuedEvents = 0;
  private committingEvents = 0;
  /** The next group, taken from the queue and readied while the commit before it runs. */
  private next: Group | null = null;
  private running: Promise<void> | null = null;
  private head: ChainLink | null = null;
  private closing = false;
  /** Set when a commit failed and the store could not be asked what it holds since. */
  private unsure = false;
  /** Chain writes in turn: group commits and expiries each take the next sequence number. */
  private chainLock: Promise<unknown> = Promise.resolve();
  /** The checkpointed head the chain continues from when the store had lost batches behind it. */
  private floor: ChainLink | null = null;
  readonly stats: CommitterStats = { commits: 0, committedEvents: 0, lastCommitMs: 0 };
  /** The audit chain this writer appends to. */
  readonly chain: string;

  constructor(
    private readonly store: EventStore,
    private readonly options: {
      /** The audit chain this writer appends to (its instance id; `DEFAULT_CHAIN` when not given). */
      chain?: string;
      maxInFlightEvents: number;
      maxCommitEvents: number;
      log: FastifyBaseLogger;
      /** Told of every committed batch, in chain order (rollups fold them from here). */
      onCommitted?: (link: ChainLink, rows: readonly EventRow[]) => void;
      /** Persists the rejections of a group before it is acknowledged (health counters). */
      recordRejections?: (counts: readonly RejectionCount[]) => Promise<void>;
      /** Told of every commit (for /metrics): its duration, what it stored, what it skipped. */
      observeCommit?: (commit: CommitObservation) => void;
    },
  ) {
    this.chain = options.chain ?? DEFAULT_CHAIN;
  }

  /**
   * Loads the chain head. When the last checkpoint kept outside the store (`checkpointed`) is
   * ahead of it, batches were deleted from the store: the chain goes on after the checkpoint, so
   * no sequence number is used twice and `vigil verify` keeps reporting the gap. Returns whether
   * the store was behind, and the newest batch the store holds.
   */
  async start(
    checkpointed?: { seq: number; hash: string; committedAt: number } | null,
  ): Promise<{ behindCheckpoint: boolean; storeHeadSeq: number }> {
    await this.reconcile({ initial: true });
    const storeHeadSeq = this.head?.seq ?? 0;
    if (checkpointed && checkpointed.seq > storeHeadSeq) {
      this.options.log.error(
        { storeHead: storeHeadSeq, checkpoint: checkpointed.seq },
        "the store's audit chain ends before its last checkpoint: batches were deleted; new batches continue after the checkpoint",
      );
      this.floor = { ...checkpointed, chain: this.chain, prevHash: '', rowCount: 0 };
      this.head = this.floor;
      return { behindCheckpoint: true, storeHeadSeq };
    }
    return { behindCheckpoint: false, storeHeadSeq };
  }

  /** The last committed batch's seq (0 when none). */
  get headSeq(): number {
    return this.head?.seq ?? 0;
  }

  /** The last committed batch (null before the first). */
  get chainHead(): ChainLink | null {
    return this.head;
  }

  /** Events waiting for the next commit (not yet in one). */
  get queued(): number {
    return this.queuedEvents;
  }

  /** Events accepted into memory and not yet committed. */
  get inFlight(): number {
    return this.queuedEvents + (this.next?.size ?? 0) + this.committingEvents;
  }

  get saturated(): boolean {
    return this.inFlight >= this.options.maxInFlightEvents;
  }

  submit(events: readonly ValidEvent[], rejected?: RejectedTally): Promise<CommitOutcome[]> {
    if (events.length === 0 && (!rejected || rejected.count === 0 || this.closing))
      return Promise.resolve([]);
    if (this.closing) return Promise.reject(new VigilError('shutting_down', { retryAfter: 5 }));
    if (this.inFlight + events.length > this.options.maxInFlightEvents && this.inFlight > 0) {
      return Promise.reject(new VigilError('overloaded', { retryAfter: 1 }));
    }
    return new Promise((resolve, reject) => {
      this.queue.push({ events, rejected, resolve, reject });
      this.queuedEvents += events.length;
      this.running ??= this.drainQueue();
    });
  }

  /** Deletes a project's events older than `before`, recorded as the chain's next link. */
  expire(project: string, before: number): Promise<{ deleted: number; batches: number }> {
    return this.exclusive(() =>
      this.recordExpiry((recorder) => this.store.expire(project, before, recorder)),
    );
  }

  /**
   * Records as one link the batches an older release marked expired outside the chain (once, when
   * the server first starts on such a store); returns how many batches it covers.
   */
  adoptExpiredMarks(): Promise<{ batches: number }> {
    return this.exclusive(async () => {
      const { link } = await this.recordExpiry(async (recorder) => ({
        link: await this.store.adoptExpiredMarks(recorder),
      }));
      return { batches: link?.expiry ? link.expiry.kept.length + rangeSize(link.expiry.emptied) : 0 };
    });
  }

  private async recordExpiry<T extends { link: ChainLink | null }>(
    write: (recorder: ReturnType<typeof expiryRecorder>) => Promise<T>,
  ): Promise<T> {
    if (this.unsure) await this.reconcile();
    try {
      const result = await write(expiryRecorder(this.chain, () => this.head));
      if (result.link) this.head = result.link;
      return result;
    } catch (err) {
      this.unsure = true; // the engine may have committed before failing: read the head again
      throw err;
    }
  }

  private exclusive<T>(write: () => Promise<T>): Promise<T> {
    const next = this.chainLock.then(write);
    this.chainLock = next.catch(() => undefined);
    return next;
  }

  /** Stops taking submissions and waits until everything already taken is committed. */
  async close(): Promise<void> {
    this.closing = true;
    while (this.running) await this.running;
  }

  private async drainQueue(): Promise<void> {
    try {
      while (this.next || this.queue.length > 0) {
        const group = this.next ?? this.takeGroup(null);
        this.next = null;
        const { requests, size } = group;
        this.committingEvents = size;
        try {
          const outcomes = await this.exclusive(() => this.commit(group));
          requests.forEach((p, i) => {
            p.resolve(outcomes[i] as CommitOutcome[]);
          });
        } catch (err) {
          this.options.log.error(
            { err, events: size },
            'commit failed; nothing of this batch was acknowledged',
          );
          // The store's own error when it has one (e.g. unavailable, mapped to 503 by the API).
          const refusal =
            err instanceof VigilError || err instanceof StoreError
              ? err
              : new VigilError('commit_failed', { retryAfter: 2, cause: err });
          for (const p of requests) p.reject(refusal);
        } finally {
          this.committingEvents = 0;
        }
      }
    } finally {
      // Cleared in the same tick the queue is seen empty: a submit made by a caller resumed by the
      // last resolve (before a `.finally` callback would run) must start a new drain, not strand.
      this.running = null;
    }
  }

  /**
   * Takes the next group from the queue (up to `maxCommitEvents`) and settles what needs no store:
   * within it, the first of an id and the first outcome of a signal win. `after`: the link the
   * commit running now seals; the group's own is sealed ahead on it (for when nothing is left out).
   */
  private takeGroup(after: ChainLink | null): Group {
    const requests: Pending[] = [];
    let size = 0;
    while (this.queue.length > 0) {
      const next = this.queue[0] as Pending;
      if (requests.length > 0 && size + next.events.length > this.options.maxCommitEvents) break;
      requests.push(next);
      size += next.events.length;
      this.queue.shift();
    }
    this.queuedEvents -= size;
    const outcomes = requests.map((p) => new Array<CommitOutcome>(p.events.length).fill('stored'));
    const all: Group['all'] = [];
    requests.forEach((p, g) => {
      p.events.forEach((event, i) => {
        all.push({ event, g, i });
      });
    });
    // Against what is stored, the append itself leaves out what it already holds (idempotency is part of it).
    const seenIds = new Set<string>();
    const seenOutcomes = new Set<string>();
    const candidates = all.filter(({ event, g, i }) => {
      const { id, type, project, signal_id } = event.row;
      if (seenIds.has(id)) {
        (outcomes[g] as CommitOutcome[])[i] = 'duplicate';
        return false;
      }
      seenIds.add(id);
      if (type === 'decision.outcome') {
        const key = `${project}\u0000${signal_id}`;
        if (seenOutcomes.has(key)) {
          (outcomes[g] as CommitOutcome[])[i] = 'duplicate_outcome';
          return false;
        }
        seenOutcomes.add(key);
      }
      return true;
    });
    const rows = candidates.map((c) => c.event.row);
    const ahead = after && rows.length > 0 ? nextLink(after, rows, Date.now(), this.chain) : null;
    return { requests, size, outcomes, all, candidates, rows, ahead };
  }

  /**
   * Readies the next group while the commit sealed as `sealed` waits for the engine (its rows are
   * written, its commit is running): the next group's link is hashed then, and the store may ready
   * its rows, not in its own commit.
   */
  private readyNext(sealed: ChainLink): void {
    setImmediate(() => {
      if (this.next || this.queue.length === 0 || this.closing) return;
      this.next = this.takeGroup(sealed);
      this.store.prepareAppend(this.next.rows);
    });
  }

  private async commit(group: Group): Promise<CommitOutcome[][]> {
    const started = performance.now();
    try {
      return await this.commitGroup(group, started);
    } catch (err) {
      this.options.observeCommit?.({
        seconds: (performance.now() - started) / 1000,
        ok: false,
        stored: 0,
        duplicates: 0,
        scrubbed: [],
      });
      throw err;
    }
  }

  /**
   * Makes the committer's head the store's: after a failed append the engine may hold all of the
   * batch (it failed after committing) or debris of it (rows without their chain link). A batch
   * found committed is passed on as committed; debris is removed, so an append is all or nothing.
   */
  private async reconcile({ initial = false } = {}): Promise<void> {
    const known = this.head?.seq ?? 0;
    const { chain } = this;
    const head = await this.store.chainHead(chain);
    const seq = head?.seq ?? 0;
    // On start the rollups catch up from the store themselves.
    if (!initial && seq > known && this.options.onCommitted) {
      // Committed after all: rollups must fold it like any other batch.
      for (let after = known; after < seq; ) {
        const { batches, throughSeq } = await this.store.readCommitted(chain, after, 100_000);
        if (throughSeq <= after) break;
        // One writer: the only batch that can land unseen is the failed append, the head itself.
        for (const b of batches)
          this.options.onCommitted(
            b.seq === seq && head ? head : { ...(head as ChainLink), seq: b.seq, rowCount: b.rows.length },
            b.rows,
          );
        after = throughSeq;
      }
    }
    const removed = await this.store.discardUnchained(chain, seq);
    if (removed > 0)
      this.options.log.warn(
        { removed, headSeq: seq },
        'removed rows of a failed append that never joined the audit chain',
      );
    // Never behind the checkpoint the chain continues from (a reused number would hide the gap).
    this.head = this.floor && seq < this.floor.seq ? this.floor : head;
    this.unsure = false;
  }

  private async commitGroup(group: Group, started: number): Promise<CommitOutcome[][]> {
    if (this.unsure) await this.reconcile();
    const { outcomes, all, candidates, ahead } = group;

    let scrubbed: readonly ScrubCount[] = [];
    let stored = 0;
    if (candidates.length > 0) {
      const byId = new Map(candidates.map((c) => [c.event.row.id, c.event]));
      let sealed: ChainLink | null = null;
      let keptIds = new Set<string>();
      const seal = (kept: readonly EventRow[]) => {
        keptIds = new Set(kept.map((r) => r.id));
        // Sealed ahead on the head this commit continues, over the same rows: that link is this one.
        const aheadHolds =
          ahead !== null &&
          kept.length === group.rows.length &&
          ahead.seq === (this.head?.seq ?? 0) + 1 &&
          ahead.prevHash === this.head?.hash;
        sealed = aheadHolds ? ahead : nextLink(this.head, kept, Date.now(), this.chain);
        this.readyNext(sealed);
        scrubbed = countScrubs(kept.map((r) => byId.get(r.id) as ValidEvent));
        return { link: sealed, scrubbed };
      };
      let appended: Appended;
      try {
        appended = await this.store.appendBatch({ rows: group.rows, seal });
      } catch (err) {
        this.unsure = true;
        // An engine may report a failure after the batch is committed (a checkpoint failing
        // after the commit): then the batch is durable and is acknowledged like any other.
        const link = sealed as ChainLink | null;
        const head = await this.store.chainHead(this.chain).catch(() => null);
        if (!link || head?.seq !== link.seq || head.hash !== link.hash) {
          await this.reconcile().catch(() => undefined);
          throw err;
        }
        this.unsure = false;
        this.options.log.warn(
          { err, seq: link.seq },
          'the append reported a failure but its batch is committed',
        );
        // Committed as sealed: what the append left out is what it did not seal (a left-out outcome
        // is taken for a second outcome of its signal).
        const left = group.rows.filter((r) => !keptIds.has(r.id));
        const isOutcome = (r: EventRow) => r.type === 'decision.outcome';
        appended = {
          link,
          duplicates: new Set(left.filter((r) => !isOutcome(r)).map((r) => r.id)),
          duplicateOutcomes: new Set(left.filter(isOutcome).map((r) => r.id)),
        };
      }
      for (const { event, g, i } of candidates) {
        const id = event.row.id;
        if (appended.duplicates.has(id)) (outcomes[g] as CommitOutcome[])[i] = 'duplicate';
        else if (appended.duplicateOutcomes.has(id))
          (outcomes[g] as CommitOutcome[])[i] = 'duplicate_outcome';
      }
      const link = appended.link;
      if (link) {
        const rows = group.rows.filter(
          (r) => !appended.duplicates.has(r.id) && !appended.duplicateOutcomes.has(r.id),
        );
        stored = rows.length;
        this.head = link;
        this.options.onCommitted?.(link, rows);
        this.stats.commits += 1;
        this.stats.committedEvents += rows.length;
      } else scrubbed = [];
    }
    const idDuplicates = outcomes.flat().filter((o) => o === 'duplicate').length;
    await this.recordRejections(group.requests, all, outcomes);
    this.stats.lastCommitMs = performance.now() - started;
    this.options.observeCommit?.({
      seconds: this.stats.lastCommitMs / 1000,
      ok: true,
      stored,
      duplicates: idDuplicates,
      scrubbed: [...scrubbed],
    });
    return outcomes;
  }

  /** Rejections of this group by project and receive day; a failure here is logged, never thrown. */
  private async recordRejections(
    group: readonly Pending[],
    all: readonly { event: ValidEvent; g: number; i: number }[],
    outcomes: readonly CommitOutcome[][],
  ): Promise<void> {
    const record = this.options.recordRejections;
    if (!record) return;
    const counts = new Map<string, RejectionCount>();
    const add = (project: string, receivedAt: number, n: number) => {
      const day = new Date(receivedAt).toISOString().slice(0, 10);
      const key = `${project}\u0000${day}`;
      const c = counts.get(key) ?? { project, day, count: 0 };
      c.count += n;
      counts.set(key, c);
    };
    for (const p of group)
      if (p.rejected && p.rejected.count > 0)
        add(p.rejected.project, p.rejected.receivedAt, p.rejected.count);
    for (const { event, g, i } of all) {
      if (outcomes[g]?.[i] === 'duplicate_outcome') add(event.row.project, event.row.received_at, 1);
    }
    if (counts.size === 0) return;
    try {
      await record([...counts.values()]);
    } catch (err) {
      this.options.log.warn({ err }, 'could not record rejected-event counts; ingestion is unaffected');
    }
  }
}

function countScrubs(events: readonly ValidEvent[]): ScrubCount[] {
  const counts = new Map<string, ScrubCount>();
  for (const { row, scrubbed } of events) {
    if (!scrubbed) continue;
    for (const reason of scrubbed) {
      const key = `${row.project}\u0000${reason}`;
      const c = counts.get(key) ?? { project: row.project, reason, count: 0 };
      c.count += 1;
      counts.set(key, c);
    }
  }
  return [...counts.values()];
}

const rangeSize = (ranges: readonly { from: number; to: number }[]) =>
  ranges.reduce((n, r) => n + r.to - r.from + 1, 0);
