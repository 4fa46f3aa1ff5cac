/**
 * Events tracked but not yet encoded, oldest first: what `track()` leaves for the encoder, which runs
 * after the caller's task in bounded slices. Kept in fixed-size blocks of parallel arrays, so adding
 * or removing an event is constant work (no array ever grows by copying, nothing is compacted).
 * Each event carries the bytes it is charged against the queue cap until it is encoded or dropped.
 */
import type { TrackOptions } from '../builtin/types.js';

const BLOCK = 1024;

class Block {
  readonly types: unknown[] = new Array<unknown>(BLOCK).fill(undefined);
  readonly props: unknown[] = new Array<unknown>(BLOCK).fill(undefined);
  readonly options: (TrackOptions | undefined)[] = new Array<TrackOptions | undefined>(BLOCK).fill(undefined);
  readonly ts = new Float64Array(BLOCK);
  readonly sizes = new Float64Array(BLOCK);
  next: Block | null = null;
}

/** The oldest staged event, as {@link StagedEvents.shift} hands it over (one object, reused). */
export interface StagedEvent {
  type: unknown;
  props: unknown;
  ts: number;
  options: TrackOptions | undefined;
  size: number;
}

export class StagedEvents {
  private head = new Block();
  private tail = this.head;
  /** Next slot to read in `head`. */
  private headAt = 0;
  /** Next slot to write in `tail`. */
  private tailAt = 0;
  /** One emptied block kept for reuse, so a steady flow allocates none. */
  private spare: Block | null = null;
  private countTotal = 0;
  private bytesTotal = 0;

  get count(): number {
    return this.countTotal;
  }

  /** Bytes charged for the staged events. */
  get bytes(): number {
    return this.bytesTotal;
  }

  push(type: unknown, props: unknown, ts: number, options: TrackOptions | undefined, size: number): void {
    if (this.tailAt === BLOCK) {
      const block = this.spare ?? new Block();
      this.spare = null;
      this.tail.next = block;
      this.tail = block;
      this.tailAt = 0;
    }
    const block = this.tail;
    const i = this.tailAt;
    block.types[i] = type;
    block.props[i] = props;
    block.options[i] = options;
    block.ts[i] = ts;
    block.sizes[i] = size;
    this.tailAt = i + 1;
    this.countTotal += 1;
    this.bytesTotal += size;
  }

  /** Removes the oldest event into `into` (when given); false when there is none. */
  shift(into?: StagedEvent): boolean {
    if (this.countTotal === 0) return false;
    if (this.headAt === BLOCK) {
      const emptied = this.head;
      this.head = emptied.next!;
      emptied.next = null;
      this.spare = emptied;
      this.headAt = 0;
    }
    const block = this.head;
    const i = this.headAt;
    if (into) {
      into.type = block.types[i];
      into.props = block.props[i];
      into.options = block.options[i];
      into.ts = block.ts[i]!;
      into.size = block.sizes[i]!;
    }
    this.bytesTotal -= block.sizes[i]!;
    block.types[i] = undefined;
    block.props[i] = undefined;
    block.options[i] = undefined;
    this.headAt = i + 1;
    this.countTotal -= 1;
    if (this.countTotal === 0) {
      // Empty: start again at the front of the current block.
      this.tail = this.head;
      this.head.next = null;
      this.headAt = 0;
      this.tailAt = 0;
      this.bytesTotal = 0;
    }
    return true;
  }
}
