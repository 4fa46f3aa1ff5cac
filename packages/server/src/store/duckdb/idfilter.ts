/**
 * An in-memory filter of the event ids a DuckDB store holds: "certainly not stored" or "maybe
 * stored". A batch's idempotency check asks the table only about the ids the filter says may be
 * stored, so an id that cannot be pruned by time (a random UUIDv4: every row group of the id
 * column spans the whole id range) no longer turns each batch into a scan of the id column.
 *
 * A blocked Bloom filter: each id sets and tests BITS_SET bits of one 512-bit block (one cache
 * line), about BITS_PER_ID bits an id, which answers "maybe" for about 2 in a million ids it never
 * saw (5 in a million when a slice is full). It never forgets an id it was told of (deleted events leave their bits: a "maybe" costs a
 * lookup, never a wrong answer). When the ids outgrow a slice's capacity a slice twice as large
 * is added; a lookup asks every slice. Ids are parsed from their canonical text (lowercase
 * 8-4-4-4-12) or read as DuckDB keeps them (16 bytes, little-endian, top bit flipped); both give
 * the same hash. An id in another spelling is always "maybe".
 */

const BLOCK_WORDS = 16;
const BITS_SET = 16;
export const BITS_PER_ID = 32;
const MIN_CAPACITY = 1 << 20;

const DASH = 0x2d;

/** `acc` followed by the lowercase hex digits of `s` from `from` to `to` (at most 8 in all), or -1. */
function hex(s: string, from: number, to: number, acc: number): number {
  if (acc < 0) return -1;
  let v = acc;
  for (let i = from; i < to; i++) {
    const c = s.charCodeAt(i);
    const d = c >= 0x30 && c <= 0x39 ? c - 0x30 : c >= 0x61 && c <= 0x66 ? c - 0x57 : -1;
    if (d < 0) return -1;
    v = v * 16 + d;
  }
  return v;
}

/** murmur3's 32-bit finalizer. */
function mix(h: number): number {
  let x = h ^ (h >>> 16);
  x = Math.imul(x, 0x85ebca6b);
  x ^= x >>> 13;
  x = Math.imul(x, 0xc2b2ae35);
  return x ^ (x >>> 16);
}

/** Two 32-bit hashes of an id's four big-endian 32-bit words. */
function hashWords(w0: number, w1: number, w2: number, w3: number, out: Int32Array): void {
  const a = mix(w0 ^ mix(w1 ^ mix(w2 ^ mix(w3 ^ 0x2545f491))));
  const b = mix(a ^ w3 ^ Math.imul(w1, 0x9e3779b9) ^ Math.imul(w2 ^ w0, 0x27d4eb2f));
  out[0] = a;
  out[1] = b;
}

class Slice {
  readonly words: Int32Array;
  readonly blocks: number;
  count = 0;
  constructor(readonly capacity: number) {
    this.blocks = Math.max(1, Math.ceil((capacity * BITS_PER_ID) / (BLOCK_WORDS * 32)));
    this.words = new Int32Array(this.blocks * BLOCK_WORDS);
  }

  private base(a: number): number {
    // The block: the hash scaled to the number of blocks (no modulo bias worth a thought).
    return Math.floor(((a >>> 0) / 4294967296) * this.blocks) * BLOCK_WORDS;
  }

  add(a: number, b: number): void {
    this.probe(a, b, true);
    this.count++;
  }

  has(a: number, b: number): boolean {
    return this.probe(a, b, false);
  }

  /** Sets (`set`) or tests the id's bits of its block; false as soon as a tested bit is clear. */
  private probe(a: number, b: number, set: boolean): boolean {
    const base = this.base(a);
    // Each bit of the block from 9 bits of its own (three from each mix of `b`).
    let x = b;
    for (let i = 0; i < BITS_SET; i++) {
      const k = i % 3;
      if (k === 0) x = mix((x + 0x9e3779b9) | 0);
      const bit = (x >>> (9 * k)) & 511;
      const w = base + (bit >>> 5);
      const mask = 1 << (bit & 31);
      if (set) this.words[w] = (this.words[w] as number) | mask;
      else if (((this.words[w] as number) & mask) === 0) return false;
    }
    return true;
  }
}

export class IdFilter {
  private readonly slices: Slice[];
  private readonly h = new Int32Array(2);

  /** A filter sized for `expected` ids (it grows past them), for no fewer than `minCapacity`. */
  constructor(expected = 0, minCapacity = MIN_CAPACITY) {
    this.slices = [new Slice(Math.max(minCapacity, Math.ceil(expected * 1.25)))];
  }

  /** Its slices' capacities (a slice twice as large is added when the last is full). */
  get capacities(): number[] {
    return this.slices.map((s) => s.capacity);
  }

  /** Ids it was told of (with repeats). */
  get count(): number {
    return this.slices.reduce((n, s) => n + s.count, 0);
  }

  /** Bytes of its bit arrays. */
  get bytes(): number {
    return this.slices.reduce((n, s) => n + s.words.byteLength, 0);
  }

  /** Hashes a canonical id's 32 hex digits; false for any other spelling. */
  private hashText(id: string): boolean {
    if (
      id.length !== 36 ||
      id.charCodeAt(8) !== DASH ||
      id.charCodeAt(13) !== DASH ||
      id.charCodeAt(18) !== DASH ||
      id.charCodeAt(23) !== DASH
    )
      return false;
    const w0 = hex(id, 0, 8, 0);
    const w1 = hex(id, 14, 18, hex(id, 9, 13, 0));
    const w2 = hex(id, 24, 28, hex(id, 19, 23, 0));
    const w3 = hex(id, 28, 36, 0);
    if (w0 < 0 || w1 < 0 || w2 < 0 || w3 < 0) return false;
    hashWords(w0, w1, w2, w3, this.h);
    return true;
  }

  private addHash(): void {
    let last = this.slices.at(-1) as Slice;
    if (last.count >= last.capacity) {
      last = new Slice(last.capacity * 2);
      this.slices.push(last);
    }
    last.add(this.h[0] as number, this.h[1] as number);
  }

  /** Records a stored id (canonical text; another spelling is always "maybe" anyway). */
  add(id: string): void {
    if (this.hashText(id)) this.addHash();
  }

  /** Records `n` stored ids as DuckDB keeps UUIDs: 16 bytes each, little-endian, top bit flipped. */
  addStored(data: Uint8Array, n: number): void {
    const view = new DataView(data.buffer, data.byteOffset, n * 16);
    for (let r = 0; r < n; r++) {
      const o = 16 * r;
      // Little-endian 128-bit: the id's last word is at the start, its first (top bit flipped) at the end.
      hashWords(
        (view.getUint32(o + 12, true) ^ 0x80000000) | 0,
        view.getUint32(o + 8, true) | 0,
        view.getUint32(o + 4, true) | 0,
        view.getUint32(o, true) | 0,
        this.h,
      );
      this.addHash();
    }
  }

  /** False when the id is certainly not one it was told of. */
  mayHave(id: string): boolean {
    if (!this.hashText(id)) return true;
    const a = this.h[0] as number;
    const b = this.h[1] as number;
    for (const s of this.slices) if (s.has(a, b)) return true;
    return false;
  }
}
