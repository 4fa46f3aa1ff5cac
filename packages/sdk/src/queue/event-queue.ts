/**
 * The events waiting to be sent, bounded in bytes. Each event is kept as its JSON text with a
 * sequence number (for `flush()`), in arrival order. When a new event does not fit, the oldest
 * queued events are dropped to make room, and counted. Events handed out for sending stay charged
 * against the cap until they are settled, and go back to the front if their request must be retried.
 */

/** Events taken from the queue for one request. */
export interface Batch {
  readonly events: string[];
  readonly seqs: number[];
  readonly sizes: number[];
  readonly bytes: number;
}

export class EventQueue {
  private events: (string | undefined)[] = [];
  private seqs: number[] = [];
  private sizes: number[] = [];
  private head = 0;
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
    return this.events.length - this.head;
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
    return this.count > 0 ? this.seqs[this.head]! : Number.POSITIVE_INFINITY;
  }

  /**
   * Adds an event of `size` bytes. Returns how many events were dropped for it: the oldest queued
   * ones, plus the new one itself when even an empty queue cannot hold it next to the in-flight batch.
   */
  push(json: string, size: number): number {
    let dropped = 0;
    const held = this.reserved.bytes;
    while (this.queuedBytesTotal + this.inFlightBytesTotal + held + size > this.maxBytes && this.count > 0) {
      this.dropHead();
      dropped += 1;
    }
    if (this.queuedBytesTotal + this.inFlightBytesTotal + held + size > this.maxBytes) return dropped + 1;
    this.events.push(json);
    this.seqs.push(++this.lastSeqIssued);
    this.sizes.push(size);
    this.queuedBytesTotal += size;
    return dropped;
  }

  /** Drops the oldest queued event (to make room); false when none is queued. */
  dropOldest(): boolean {
    if (this.count === 0) return false;
    this.dropHead();
    return true;
  }

  /** Takes up to `maxEvents` from the front, stopping before `maxBytes` (at least one event). */
  take(maxEvents: number, maxBytes: number): Batch | null {
    if (this.count === 0) return null;
    let end = this.head;
    let bytes = 0;
    const limit = Math.min(this.events.length, this.head + Math.max(1, maxEvents));
    while (end < limit) {
      const size = this.sizes[end]!;
      if (end > this.head && bytes + size > maxBytes) break;
      bytes += size;
      end += 1;
    }
    const batch: Batch = {
      events: this.events.slice(this.head, end) as string[],
      seqs: this.seqs.slice(this.head, end),
      sizes: this.sizes.slice(this.head, end),
      bytes,
    };
    for (let i = this.head; i < end; i++) this.events[i] = undefined;
    this.head = end;
    this.queuedBytesTotal -= bytes;
    this.inFlightBytesTotal += bytes;
    this.compact();
    return batch;
  }

  /** The batch is done with (sent, refused or given up): its bytes are released. */
  settle(batch: Batch): void {
    this.inFlightBytesTotal -= batch.bytes;
  }

  /** The batch must be sent again: it goes back to the front, ahead of newer events. */
  putBack(batch: Batch): void {
    const n = batch.events.length;
    if (this.head >= n) {
      this.head -= n;
      for (let i = 0; i < n; i++) {
        this.events[this.head + i] = batch.events[i];
        this.seqs[this.head + i] = batch.seqs[i]!;
        this.sizes[this.head + i] = batch.sizes[i]!;
      }
    } else {
      this.events = [...batch.events, ...this.events.slice(this.head)];
      this.seqs = [...batch.seqs, ...this.seqs.slice(this.head)];
      this.sizes = [...batch.sizes, ...this.sizes.slice(this.head)];
      this.head = 0;
    }
    this.inFlightBytesTotal -= batch.bytes;
    this.queuedBytesTotal += batch.bytes;
  }

  private dropHead(): void {
    this.queuedBytesTotal -= this.sizes[this.head]!;
    this.events[this.head] = undefined;
    this.head += 1;
    this.compact();
  }

  // Dropped and taken slots are cleared at once; the arrays are cut down once the dead prefix dominates.
  private compact(): void {
    if (this.head === this.events.length) {
      this.events = [];
      this.seqs = [];
      this.sizes = [];
      this.head = 0;
    } else if (this.head >= 1024 && this.head * 4 >= this.events.length) {
      this.events = this.events.slice(this.head);
      this.seqs = this.seqs.slice(this.head);
      this.sizes = this.sizes.slice(this.head);
      this.head = 0;
    }
  }
}
