/**
 * The events waiting to be sent, bounded in bytes. Each event is kept as its JSON text with a
 * sequence number (for `flush()`), in arrival order. When a new event does not fit, the oldest
 * queued events are dropped to make room, and counted. Events handed out for sending stay charged
 * against the cap until they are settled, and go back to the front if their request must be retried.
 * Stored in fixed-size blocks, so adding or dropping an event is constant work (`track()` may drop
 * the oldest to make room): no array grows by copying, nothing is compacted.
 */

/** Events taken from the queue for one request. */
export interface Batch {
  readonly events: string[];
  readonly seqs: number[];
  readonly sizes: number[];
  readonly bytes: number;
}

const BLOCK = 1024;

class Block {
  readonly events: (string | undefined)[] = new Array<string | undefined>(BLOCK).fill(undefined);
  readonly seqs = new Float64Array(BLOCK);
  readonly sizes = new Float64Array(BLOCK);
  prev: Block | null = null;
  next: Block | null = null;
}

export class EventQueue {
  private head = new Block();
  private tail = this.head;
  /** First occupied slot of `head`. */
  private headAt = 0;
  /** First free slot of `tail`. */
  private tailAt = 0;
  private spare: Block | null = null;
  private countTotal = 0;
  private queuedBytesTotal = 0;
  private inFlightBytesTotal = 0;
  private lastSeqIssued = 0;

  /**
   * @param reserved bytes held against the same cap by events not yet encoded (the staging area);
   *   they are newer than every queued event.
   */
  constructor(
    private readonly maxBytes: number,
    private readonly reserved: { readonly bytes: number } = { bytes: 0 },
  ) {}

  get count(): number {
    return this.countTotal;
  }

  get queuedBytes(): number {
    return this.queuedBytesTotal;
  }

  get inFlightBytes(): number {
    return this.inFlightBytesTotal;
  }

  /** The sequence number of the newest event ever queued (0 before the first). */
  get lastSeq(): number {
    return this.lastSeqIssued;
  }

  /** Sequence number of the oldest queued event, or Infinity when empty. */
  get headSeq(): number {
    return this.countTotal > 0 ? this.head.seqs[this.headAt]! : Number.POSITIVE_INFINITY;
  }

  /**
   * Adds an event of `size` bytes. Returns how many events were dropped for it: the oldest queued
   * ones, plus the new one itself when even an empty queue cannot hold it next to the in-flight batch.
   */
  push(json: string, size: number): number {
    let dropped = 0;
    const held = this.reserved.bytes;
    while (
      this.queuedBytesTotal + this.inFlightBytesTotal + held + size > this.maxBytes &&
      this.countTotal > 0
    ) {
      this.shiftHead();
      dropped += 1;
    }
    if (this.queuedBytesTotal + this.inFlightBytesTotal + held + size > this.maxBytes) return dropped + 1;
    this.pushBack(json, ++this.lastSeqIssued, size);
    return dropped;
  }

  /** Drops the oldest queued event (to make room); false when none is queued. */
  dropOldest(): boolean {
    if (this.countTotal === 0) return false;
    this.shiftHead();
    return true;
  }

  /** Takes up to `maxEvents` from the front, stopping before `maxBytes` (at least one event). */
  take(maxEvents: number, maxBytes: number): Batch | null {
    if (this.countTotal === 0) return null;
    const events: string[] = [];
    const seqs: number[] = [];
    const sizes: number[] = [];
    let bytes = 0;
    const limit = Math.max(1, maxEvents);
    while (this.countTotal > 0 && events.length < limit) {
      const size = this.head.sizes[this.headAt]!;
      if (events.length > 0 && bytes + size > maxBytes) break;
      seqs.push(this.head.seqs[this.headAt]!);
      sizes.push(size);
      events.push(this.shiftHead());
      bytes += size;
    }
    this.inFlightBytesTotal += bytes;
    return { events, seqs, sizes, bytes };
  }

  /** The batch is done with (sent, refused or given up): its bytes are released. */
  settle(batch: Batch): void {
    this.inFlightBytesTotal -= batch.bytes;
  }

  /** The batch must be sent again: it goes back to the front, ahead of newer events. */
  putBack(batch: Batch): void {
    for (let i = batch.events.length - 1; i >= 0; i--) {
      this.pushFront(batch.events[i]!, batch.seqs[i]!, batch.sizes[i]!);
    }
    this.inFlightBytesTotal -= batch.bytes;
  }

  private pushBack(json: string, seq: number, size: number): void {
    if (this.tailAt === BLOCK) {
      const block = this.newBlock();
      block.prev = this.tail;
      this.tail.next = block;
      this.tail = block;
      this.tailAt = 0;
    }
    const block = this.tail;
    block.events[this.tailAt] = json;
    block.seqs[this.tailAt] = seq;
    block.sizes[this.tailAt] = size;
    this.tailAt += 1;
    this.countTotal += 1;
    this.queuedBytesTotal += size;
  }

  private pushFront(json: string, seq: number, size: number): void {
    if (this.countTotal === 0) {
      this.pushBack(json, seq, size);
      return;
    }
    if (this.headAt === 0) {
      const block = this.newBlock();
      block.next = this.head;
      this.head.prev = block;
      this.head = block;
      this.headAt = BLOCK;
    }
    this.headAt -= 1;
    const block = this.head;
    block.events[this.headAt] = json;
    block.seqs[this.headAt] = seq;
    block.sizes[this.headAt] = size;
    this.countTotal += 1;
    this.queuedBytesTotal += size;
  }

  /** Removes the oldest queued event and returns it (its bytes leave `queuedBytes`). */
  private shiftHead(): string {
    const block = this.head;
    const i = this.headAt;
    const json = block.events[i]!;
    block.events[i] = undefined;
    this.queuedBytesTotal -= block.sizes[i]!;
    this.countTotal -= 1;
    this.headAt = i + 1;
    if (this.countTotal === 0) {
      // Empty: start again at the front of this block.
      this.head = block;
      this.tail = block;
      block.prev = null;
      block.next = null;
      this.headAt = 0;
      this.tailAt = 0;
    } else if (this.headAt === BLOCK) {
      const next = block.next!;
      next.prev = null;
      block.next = null;
      this.spare = block;
      this.head = next;
      this.headAt = 0;
    }
    return json;
  }

  private newBlock(): Block {
    const block = this.spare ?? new Block();
    this.spare = null;
    block.prev = null;
    block.next = null;
    return block;
  }
}
