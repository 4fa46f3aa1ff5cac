/**
 * The canonical row encoding (`canonicalRow`) written straight from columns into one reused
 * buffer and hashed from there: no string, array or object per row. It gives the same bytes as
 * `canonicalRow` of the row each column index stands for (`columns.test.ts` proves it over arbitrary
 * rows), with one difference that only makes it stricter: a string is hashed as the bytes the store
 * holds, where the row path decodes them first (an invalid UTF-8 sequence, which no write stores,
 * would decode to U+FFFD and hash as the text it replaced).
 */
import { createHash, type Hash } from 'node:crypto';
import { CHAINED_FIELDS, type EventColumns, type NumberColumn } from '../model/index.js';

const CAP = 1 << 16;
/** Bytes of a string escaped per pass: each may take 6 (`\u001f`). */
const SEGMENT = 4096;

/** How a byte is written inside a JSON string: 0 as is, 1 as `\` and the letter, 2 as `\u00XX`. */
const ESCAPE = new Uint8Array(256);
const LETTER = new Uint8Array(256);
for (let b = 0; b < 0x20; b++) ESCAPE[b] = 2;
for (const [b, letter] of [
  [0x22, '"'],
  [0x5c, '\\'],
  [0x08, 'b'],
  [0x09, 't'],
  [0x0a, 'n'],
  [0x0c, 'f'],
  [0x0d, 'r'],
] as const) {
  ESCAPE[b] = 1;
  LETTER[b] = letter.charCodeAt(0);
}
const HEX = new TextEncoder().encode('0123456789abcdef');
const ascii = (s: string) => new TextEncoder().encode(s);
const NULL = ascii('null');
const TRUE = ascii('true');
const FALSE = ascii('false');
const CACHE_READ = ascii(',"cache_read_tokens",');
const COST = ascii(',"cost_usd",');

/** The page's chained columns split by kind, so that each array read in the row loop has one type. */
interface Chained {
  kind: Uint8Array;
  at: Int32Array[];
  len: Int32Array[];
  value: Float64Array[];
  set: Uint8Array[];
  flag: Uint8Array[];
}

const KIND_STRING = 0;
const KIND_NUMBER = 1;
const KIND_BOOLEAN = 2;
const none32 = new Int32Array(0);
const none64 = new Float64Array(0);
const none8 = new Uint8Array(0);

const chainedOf = new WeakMap<EventColumns, Chained>();
function chainedColumns(columns: EventColumns): Chained {
  let found = chainedOf.get(columns);
  if (found) return found;
  const list = CHAINED_FIELDS.map((f) => columns.columns[f]);
  found = {
    kind: Uint8Array.from(list, (c) =>
      c.kind === 'string' ? KIND_STRING : c.kind === 'number' ? KIND_NUMBER : KIND_BOOLEAN,
    ),
    at: list.map((c) => (c.kind === 'string' ? c.at : none32)),
    len: list.map((c) => (c.kind === 'string' ? c.len : none32)),
    value: list.map((c) => (c.kind === 'number' ? c.value : none64)),
    set: list.map((c) => (c.kind === 'number' ? c.set : none8)),
    flag: list.map((c) => (c.kind === 'boolean' ? c.value : none8)),
  };
  chainedOf.set(columns, found);
  return found;
}

/** Room kept free at the end of the buffer for anything but a string (a number is at most 25 bytes). */
const MARGIN = 64;
const buf = new Uint8Array(CAP + MARGIN);
const digits = new Uint8Array(24);
let hash: Hash | null = null;

/** Hashes `buf[0, end)`; returns the new write position (0). */
function flush(end: number): number {
  if (end > 0) (hash as Hash).update(buf.subarray(0, end));
  return 0;
}

function literal(pos: number, bytes: Uint8Array): number {
  for (let i = 0; i < bytes.length; i++) buf[pos + i] = bytes[i] as number;
  return pos + bytes.length;
}

const POWERS = [1, 10, 100, 1e3, 1e4, 1e5, 1e6];
/** Below these, a double's spacing is under half of 10^-k (see `decimal`). */
const DECIMAL_LIMIT = POWERS.map((p) => 2 ** 51 / p);

/**
 * `String(v)` at `pos`, without a string for a safe integer or a decimal of up to 6 places;
 * returns the position after it.
 */
function number(pos: number, v: number): number {
  if (!Number.isSafeInteger(v)) {
    const end = decimal(pos, v);
    if (end >= 0) return end;
    const s = String(v);
    for (let i = 0; i < s.length; i++) buf[pos++] = s.charCodeAt(i);
    return pos;
  }
  // -0 is written as 0, as String(-0) does.
  if (v < 0) {
    buf[pos++] = 0x2d;
    v = -v;
  }
  if (v < 2_147_483_648) return int32(pos, v | 0, 0);
  // Two halves that fit 32-bit arithmetic (a double's % is a slow call): v < 2^53 < 1e8 · 2^31.
  let hi = Math.floor(v / 1e8);
  let lo = v - hi * 1e8;
  if (lo < 0) {
    hi -= 1;
    lo += 1e8;
  } else if (lo >= 1e8) {
    hi += 1;
    lo -= 1e8;
  }
  return int32(int32(pos, hi | 0, 0), lo | 0, 8);
}

/**
 * `String(v)` of a non-integer `v` that is a decimal with k ≤ 6 places (`m / 10^k === v`), or -1.
 * It is what String gives: String writes the decimal of fewest significant digits whose Number is
 * `v` (the one closest to `v` among those). Any other decimal whose Number is `v` lies within one
 * spacing of doubles of it, and differs from it by at least 10^-j, j ≤ k its last place; below
 * DECIMAL_LIMIT[k] the spacing is under half of 10^-k, so there is none: the first k that works
 * gives String's digits (m ends in 0 only if a smaller k worked), in fixed notation since
 * 10^-6 ≤ |v| < 10^21. The tests compare it with String over arbitrary doubles.
 */
function decimal(pos: number, v: number): number {
  if (!Number.isFinite(v)) return -1;
  const negative = v < 0;
  const a = negative ? -v : v;
  for (let k = 1; k <= 6; k++) {
    if (a >= (DECIMAL_LIMIT[k] as number)) return -1;
    const p = POWERS[k] as number;
    const m = Math.round(a * p);
    if (m / p !== a) continue;
    if (negative) buf[pos++] = 0x2d;
    let whole = Math.floor(m / p);
    let fraction = m - whole * p;
    if (fraction < 0) {
      whole -= 1;
      fraction += p;
    } else if (fraction >= p) {
      whole += 1;
      fraction -= p;
    }
    pos = whole < 2_147_483_648 ? int32(pos, whole | 0, 0) : number(pos, whole);
    buf[pos++] = 0x2e; // .
    return int32(pos, fraction, k);
  }
  return -1;
}

/** The digits of `v` (0 ≤ v < 2^31) at `pos`, left-padded with zeros to `width`. */
function int32(pos: number, v: number, width: number): number {
  let n = 0;
  do {
    const next = (v / 10) | 0;
    digits[n++] = 0x30 + v - next * 10;
    v = next;
  } while (v > 0);
  while (n < width) digits[n++] = 0x30;
  while (n > 0) buf[pos++] = digits[--n] as number;
  return pos;
}

/** The JSON string of `text[from, to)` at `pos` (room for 6 bytes each is there); returns the position after it. */
function escaped(pos: number, text: Uint8Array, from: number, to: number): number {
  for (let i = from; i < to; i++) {
    const b = text[i] as number;
    const e = ESCAPE[b];
    if (e === 0) buf[pos++] = b;
    else if (e === 1) {
      buf[pos++] = 0x5c;
      buf[pos++] = LETTER[b] as number;
    } else {
      buf[pos++] = 0x5c;
      buf[pos++] = 0x75; // u
      buf[pos++] = 0x30;
      buf[pos++] = 0x30;
      buf[pos++] = HEX[b >> 4] as number;
      buf[pos++] = HEX[b & 15] as number;
    }
  }
  return pos;
}

/** A string too long for the room left, escaped a segment at a time. */
function longString(pos: number, text: Uint8Array, at: number, len: number): number {
  buf[pos++] = 0x22;
  for (let seg = at, end = at + len; seg < end; seg += SEGMENT) {
    const stop = Math.min(end, seg + SEGMENT);
    if (pos + (stop - seg) * 6 > CAP) pos = flush(pos);
    pos = escaped(pos, text, seg, stop);
  }
  if (pos > CAP) pos = flush(pos);
  buf[pos++] = 0x22;
  return pos;
}

/** The canonical lines of rows `from`..`to` (exclusive), each followed by a newline. */
function rows(columns: EventColumns, from: number, to: number): void {
  const c = chainedColumns(columns);
  const { kind } = c;
  const fields = kind.length;
  const { text } = columns;
  const cacheRead = columns.columns.cache_read_tokens as NumberColumn;
  const cost = columns.columns.cost_usd as NumberColumn;
  const promptCost = columns.columns.prompt_cost_usd as NumberColumn;
  let pos = 0;
  for (let r = from; r < to; r++) {
    if (pos > CAP) pos = flush(pos);
    buf[pos++] = 0x5b; // [
    for (let k = 0; k < fields; k++) {
      if (pos > CAP) pos = flush(pos);
      if (k > 0) buf[pos++] = 0x2c; // ,
      const type = kind[k];
      if (type === KIND_STRING) {
        const len = (c.len[k] as Int32Array)[r] as number;
        if (len < 0) pos = literal(pos, NULL);
        else {
          const at = (c.at[k] as Int32Array)[r] as number;
          if (pos + 2 + len * 6 > CAP + MARGIN) {
            pos = longString(pos, text, at, len);
          } else {
            buf[pos++] = 0x22;
            pos = escaped(pos, text, at, at + len);
            buf[pos++] = 0x22;
          }
        }
      } else if (type === KIND_NUMBER) {
        if ((c.set[k] as Uint8Array)[r] === 1) pos = number(pos, (c.value[k] as Float64Array)[r] as number);
        else pos = literal(pos, NULL);
      } else {
        const v = (c.flag[k] as Uint8Array)[r];
        pos = literal(pos, v === 1 ? TRUE : v === 0 ? FALSE : NULL);
      }
    }
    if (pos > CAP) pos = flush(pos);
    if (cacheRead.set[r] === 1) {
      pos = literal(pos, CACHE_READ);
      pos = number(pos, cacheRead.value[r] as number);
    }
    if (pos > CAP) pos = flush(pos);
    if (cost.set[r] === 1 && promptCost.set[r] === 0) {
      pos = literal(pos, COST);
      pos = number(pos, cost.value[r] as number);
    }
    buf[pos++] = 0x5d; // ]
    buf[pos++] = 0x0a; // \n
  }
  flush(pos);
}

/**
 * SHA-256 over `header` and the canonical lines of rows `from`..`to` (exclusive) of the columns:
 * what `hashBatch` and `remainingHash` hash after their header, for rows read as columns.
 */
export function hashColumnRows(header: string, columns: EventColumns, from: number, to: number): string {
  hash = createHash('sha256').update(header);
  rows(columns, from, to);
  const hex = hash.digest('hex');
  hash = null;
  return hex;
}
