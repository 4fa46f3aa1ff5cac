/**
 * What a tracked event costs in memory until it is encoded: `track()` keeps a one-level copy of the
 * props (and what they refer to), and charges this estimate against the queue cap at once, so the cap
 * holds even while the host never yields and nothing is encoded yet. Deliberately on the high side
 * (strings at two bytes a character, shared strings charged as if they were not, 64-bit pointers):
 * ~300 bytes charged for the bench's `llm.request` event, which holds ~200 (bench/sdk.ts,
 * `sdk.burst_memory` checks the cap against measured heap growth).
 */
import type { EventLimits } from './encode.js';

/** The staging slots (3 pointers, 2 doubles), the copy's object header, and a margin. */
export const STAGED_OVERHEAD_BYTES = 96;
const SLOT = 8;
const STRING_HEADER = 16;
/** A number that is not a small integer is a heap object of its own. */
const HEAP_NUMBER = 16;
const OBJECT_HEADER = 32;
/** A value that is neither walked nor measured (a Proxy that throws, a Map, a value past the limits). */
const OPAQUE = 64;

/**
 * The bytes a staged event holds: `copy` is the SDK's one-level copy of the props (or undefined).
 * -1 when that copy has more than `limits.maxProps` keys (to be cut first).
 */
export function retainedBytes(copy: unknown, limits: EventLimits): number {
  if (copy === undefined) return STAGED_OVERHEAD_BYTES;
  const walk: Walk = { budget: limits.maxProps, maxDepth: limits.maxDepth };
  let bytes = STAGED_OVERHEAD_BYTES;
  let plain: boolean;
  try {
    plain = Object.getPrototypeOf(copy) === Object.prototype;
  } catch {
    return bytes + OPAQUE;
  }
  if (!plain) return bytes + objectBytes(copy as object, 1, walk);
  // The common case: the SDK's own plain copy, read without getters or traps.
  const flat = copy as Record<string, unknown>;
  let keys = 0;
  for (const key in flat) {
    const value = flat[key];
    keys += 1;
    bytes += SLOT;
    switch (typeof value) {
      case 'string':
        bytes += STRING_HEADER + 2 * value.length;
        break;
      case 'number':
        if ((value | 0) !== value) bytes += HEAP_NUMBER;
        break;
      case 'object':
        if (value !== null) bytes += objectBytes(value, 2, walk);
        break;
      case 'boolean':
      case 'undefined':
        break;
      default:
        bytes += valueBytes(value, 2, walk);
    }
  }
  return keys > limits.maxProps ? -1 : bytes;
}

interface Walk {
  /** Keys and items still to look at, over all levels (the encoder's `maxProps`). */
  budget: number;
  maxDepth: number;
}

function valueBytes(value: unknown, depth: number, walk: Walk): number {
  switch (typeof value) {
    case 'string':
      return STRING_HEADER + 2 * value.length;
    case 'number':
      return (value | 0) === value ? 0 : HEAP_NUMBER;
    case 'bigint':
      return OBJECT_HEADER;
    case 'object':
      return value === null ? 0 : objectBytes(value, depth, walk);
    default:
      return 0; // booleans, undefined, and functions or symbols (the caller's own)
  }
}

/** A nested value, walked as far as the encoder would read it (limits bound the work). */
function objectBytes(value: object, depth: number, walk: Walk): number {
  try {
    if (ArrayBuffer.isView(value)) return OPAQUE + value.byteLength;
    if (value instanceof ArrayBuffer) return OPAQUE + value.byteLength;
    if (depth > walk.maxDepth || walk.budget <= 0) return OPAQUE;
    if (value instanceof Map || value instanceof Set) return OPAQUE + 3 * SLOT * value.size;
    let bytes = OBJECT_HEADER;
    if (Array.isArray(value)) {
      const n = Math.min(value.length, walk.budget);
      walk.budget -= n;
      for (let i = 0; i < n; i++) bytes += SLOT + valueBytes(value[i], depth + 1, walk);
      return bytes;
    }
    const keys = Object.keys(value);
    const n = Math.min(keys.length, walk.budget);
    walk.budget -= n;
    for (let i = 0; i < n; i++) {
      const key = keys[i]!;
      bytes += SLOT + STRING_HEADER + 2 * key.length;
      bytes += valueBytes((value as Record<string, unknown>)[key], depth + 1, walk);
    }
    return bytes;
  } catch {
    return OPAQUE; // a Proxy or getter that throws: the encoder will leave it out
  }
}
