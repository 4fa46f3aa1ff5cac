/**
 * Turns one tracked event into the JSON line that goes on the wire, whatever the caller handed to
 * `track()`: cycles, BigInt, symbols, functions, huge strings, throwing getters. Limits match the
 * server's defaults so that an event the SDK sends is not rejected for its shape.
 */
import type { PropDenyList } from './privacy.js';

export interface EventLimits {
  /** Longer strings are cut to this many UTF-16 units (the server rejects longer ones). */
  maxStringLength: number;
  /** Nesting levels of props, `props` itself being level 1; deeper values are left out. */
  maxDepth: number;
  /** Keys and array items counted over all levels; the rest is left out. */
  maxProps: number;
  /** An encoded event longer than this is dropped and counted. */
  maxEventBytes: number;
}

export const DEFAULT_LIMITS: EventLimits = {
  maxStringLength: 8 * 1024,
  maxDepth: 5,
  maxProps: 200,
  maxEventBytes: 64 * 1024,
};

/**
 * Bytes charged per queued event on top of its characters: V8's string headers (the flattened rope
 * keeps a 20-byte wrapper), the queue's three array slots and their spare capacity. Measured at ~75
 * bytes on Node 20 (bench/sdk.ts, burst with the server down); charged with a margin.
 */
export const EVENT_OVERHEAD_BYTES = 96;
const NON_LATIN1 = /[\u0100-\uffff]/;

/**
 * What an encoded event costs in memory while queued: V8 keeps a string of Latin-1 characters at one
 * byte per character and any other string at two.
 */
export function queuedSize(json: string): number {
  return (NON_LATIN1.test(json) ? 2 * json.length : json.length) + EVENT_OVERHEAD_BYTES;
}

const SKIP: unique symbol = Symbol('skip');
type Clean = string | number | boolean | null | Clean[] | { [key: string]: Clean };

// V8 builds JSON.stringify results as a rope of parts; reading the string as a number flattens it in
// place, which makes a queued event cost about its length instead of ~1.5x. Stored so it is not elided.
let flattenSink = 0;

/** The envelope of one event, as sent (`ts` in epoch milliseconds). */
export interface WireEnvelope {
  id: string;
  type: string;
  ts: number;
  version: string;
}

export class EventEncoder {
  private budget = 0;
  /** Characters of keys and strings copied so far; the walk stops once past `maxEventBytes`. */
  private chars = 0;
  /** Keys enumerated by the last `encode()`, a measure of the work it did besides writing JSON. */
  keysRead = 0;
  private readonly ancestors: object[] = [];

  constructor(
    private readonly limits: EventLimits,
    private readonly deny: PropDenyList,
  ) {}

  /**
   * The JSON text of an event, or null when its props hold more than `maxEventBytes` characters of
   * strings (found before serializing them). Throws only for hostile input (a Proxy whose traps throw).
   * `props` must be the SDK's own copy: when it is flat and clean it is serialized as it is.
   */
  encode(envelope: WireEnvelope, props: unknown): string | null {
    let clean: Record<string, Clean>;
    this.keysRead = 0;
    if (this.isClean(props)) clean = props;
    else {
      clean = this.props(props);
      if (this.chars > this.limits.maxEventBytes) return null;
    }
    const json = JSON.stringify({
      id: envelope.id,
      type: envelope.type,
      ts: envelope.ts,
      version: envelope.version,
      props: clean,
    });
    flattenSink = Number(json) | 0;
    return json;
  }

  /**
   * True when `props` is a plain object whose own values are all strings within the length limit,
   * finite numbers, booleans or null, with no denied name: the common case, which JSON.stringify
   * can take directly, without a cleaned copy.
   */
  private isClean(props: unknown): props is Record<string, Clean> {
    if (typeof props !== 'object' || props === null || Object.getPrototypeOf(props) !== Object.prototype) {
      return false;
    }
    const keys = Object.keys(props);
    this.keysRead += keys.length;
    if (keys.length > this.limits.maxProps) return false;
    const maxLength = this.limits.maxStringLength;
    let chars = 0;
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i]!;
      if (key.length > maxLength || this.deny.denies(key)) return false;
      const value = (props as Record<string, unknown>)[key];
      switch (typeof value) {
        case 'string':
          if (value.length > maxLength) return false;
          chars += value.length;
          break;
        case 'number':
          if (!Number.isFinite(value)) return false;
          break;
        case 'boolean':
          break;
        default:
          if (value !== null) return false;
      }
    }
    return chars <= this.limits.maxEventBytes;
  }

  /** A JSON-safe copy of `props` with denied names, over-deep values and overflow left out. */
  props(value: unknown): Record<string, Clean> {
    this.budget = this.limits.maxProps;
    this.chars = 0;
    this.ancestors.length = 0;
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return {};
    let out: Clean | typeof SKIP;
    try {
      out = this.nested(value, 0); // Maps, toJSON objects and the like become props too
    } catch {
      return {};
    }
    return typeof out === 'object' && out !== null && !Array.isArray(out) ? out : {};
  }

  private object(obj: object, depth: number): Record<string, Clean> | typeof SKIP {
    if (this.ancestors.includes(obj)) return SKIP;
    this.ancestors.push(obj);
    const out: Record<string, Clean> = {};
    const keys = Object.keys(obj);
    this.keysRead += keys.length;
    for (let i = 0; i < keys.length && this.budget > 0 && this.chars <= this.limits.maxEventBytes; i++) {
      const key = keys[i]!;
      this.budget -= 1;
      if (key.length > this.limits.maxStringLength || this.deny.denies(key)) continue;
      this.chars += key.length;
      let raw: unknown;
      try {
        raw = (obj as Record<string, unknown>)[key];
      } catch {
        continue; // a throwing getter loses its own value only
      }
      const clean = this.value(raw, depth);
      if (clean !== SKIP) out[key] = clean;
    }
    this.ancestors.pop();
    return out;
  }

  private array(items: readonly unknown[], depth: number): Clean[] | typeof SKIP {
    if (this.ancestors.includes(items)) return SKIP;
    this.ancestors.push(items);
    const out: Clean[] = [];
    const n = items.length;
    for (let i = 0; i < n && this.budget > 0 && this.chars <= this.limits.maxEventBytes; i++) {
      this.budget -= 1;
      let raw: unknown;
      try {
        raw = items[i];
      } catch {
        raw = null;
      }
      const clean = this.value(raw, depth);
      out.push(clean === SKIP ? null : clean);
    }
    this.ancestors.pop();
    return out;
  }

  /** `depth` is the level of the container holding `value`. */
  private value(value: unknown, depth: number): Clean | typeof SKIP {
    switch (typeof value) {
      case 'string': {
        const s =
          value.length > this.limits.maxStringLength ? truncate(value, this.limits.maxStringLength) : value;
        this.chars += s.length;
        return s;
      }
      case 'number':
        return Number.isFinite(value) ? value : null;
      case 'boolean':
        return value;
      case 'bigint': {
        const n = Number(value);
        if (Number.isSafeInteger(n)) return n;
        const digits = value.toString();
        return digits.length > this.limits.maxStringLength
          ? truncate(digits, this.limits.maxStringLength)
          : digits;
      }
      case 'object':
        if (value === null) return null;
        try {
          return this.nested(value, depth);
        } catch {
          return SKIP;
        }
      default:
        return SKIP; // undefined, functions, symbols
    }
  }

  private nested(value: object, depth: number): Clean | typeof SKIP {
    if (depth + 1 > this.limits.maxDepth) return SKIP;
    if (Array.isArray(value)) return this.array(value, depth + 1);
    if (value instanceof Date) {
      const t = value.getTime();
      return Number.isFinite(t) ? value.toISOString() : null;
    }
    if (ArrayBuffer.isView(value) || value instanceof ArrayBuffer) return SKIP;
    if (value instanceof Error) return this.value(value.name, depth);
    if (value instanceof Map) {
      const entries: Record<string, unknown> = {};
      for (const [k, v] of value) {
        if (typeof k === 'string' || typeof k === 'number') entries[String(k)] = v;
      }
      return this.object(entries, depth + 1);
    }
    if (value instanceof Set) return this.array([...value], depth + 1);
    const proto = Object.getPrototypeOf(value) as unknown;
    if (proto !== Object.prototype && proto !== null) {
      const toJSON = (value as { toJSON?: unknown }).toJSON;
      if (typeof toJSON === 'function') {
        const json: unknown = toJSON.call(value);
        if (typeof json !== 'object' || json === null) return this.value(json, depth);
        if (json !== value) return this.value(json, depth);
      }
    }
    return this.object(value, depth + 1);
  }
}

/** The first `max` UTF-16 units of `s`, never ending in half a surrogate pair. */
export function truncate(s: string, max: number): string {
  let end = max;
  const last = s.charCodeAt(end - 1);
  if (last >= 0xd800 && last <= 0xdbff) end -= 1;
  return s.slice(0, end);
}

/** Keeps the flatten trick observable to the optimiser; not for use. */
export function encoderSink(): number {
  return flattenSink;
}
