import { hash } from 'node:crypto';
import type { AnyValue, Int64, KeyValue } from './proto.js';

/** A 64-bit protobuf integer as a JS number (exact up to 2^53; nanosecond times lose < 1 µs). */
export function int64(value: Int64 | null | undefined): number {
  if (value === null || value === undefined) return 0;
  return typeof value === 'number' ? value : value.toNumber();
}

/** Epoch milliseconds of an OTLP `*_unix_nano` time (0 when unset). */
export function nanosToMs(value: Int64 | null | undefined): number {
  return int64(value) / 1e6;
}

export function hex(bytes: Uint8Array | null | undefined): string {
  if (!bytes || bytes.length === 0) return '';
  // protobufjs hands out Buffer slices on Node.
  return Buffer.isBuffer(bytes)
    ? bytes.toString('hex')
    : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('hex');
}

/** An attribute value as JSON: int64 beyond 2^53 as a decimal string, bytes as base64. */
export function anyValue(value: AnyValue | null | undefined, depth = 0): unknown {
  if (!value || depth > 32) return null;
  // The set member of the oneof, read directly (protobufjs's oneof getter allocates per call).
  if (value.stringValue != null) return value.stringValue;
  if (value.intValue != null) {
    const n = int64(value.intValue);
    return Number.isSafeInteger(n) ? n : String(value.intValue);
  }
  if (value.doubleValue != null) {
    const d = value.doubleValue;
    // JSON has no NaN or infinities; keep what they were as text.
    return Number.isFinite(d) ? d : String(d);
  }
  if (value.boolValue != null) return value.boolValue;
  if (value.arrayValue != null) return (value.arrayValue.values ?? []).map((v) => anyValue(v, depth + 1));
  if (value.kvlistValue != null) return attributes(value.kvlistValue.values, depth + 1);
  if (value.bytesValue != null) return Buffer.from(value.bytesValue).toString('base64');
  return null;
}

/** Key/value attributes as a plain object (later duplicates win, as in the OTel SDKs). */
export function attributes(list: readonly KeyValue[] | null | undefined, depth = 0): Record<string, unknown> {
  const out: Record<string, unknown> = Object.create(null);
  for (const kv of list ?? []) {
    if (kv.key) out[kv.key] = anyValue(kv.value, depth);
  }
  return out;
}

/**
 * Which attribute names carry message content: a name matches an entry exactly or as a
 * dotted prefix (`gen_ai.prompt` matches `gen_ai.prompt.0.content`).
 */
export class ContentAttributes {
  private readonly exact: Set<string>;
  /** First dotted segments of the entries: a key starting otherwise cannot match (fast path). */
  private readonly heads: Set<string>;
  constructor(names: readonly string[]) {
    this.exact = new Set(names);
    this.heads = new Set(names.map(head));
  }
  matches(key: string): boolean {
    if (!this.heads.has(head(key))) return false;
    if (this.exact.has(key)) return true;
    // Any dotted ancestor of the key on the list (`gen_ai.prompt` for `gen_ai.prompt.0.content`).
    for (let dot = key.indexOf('.'); dot >= 0; dot = key.indexOf('.', dot + 1)) {
      if (this.exact.has(key.slice(0, dot))) return true;
    }
    return false;
  }
  /** The attributes of `list` without the content ones, and how many were left out. */
  read(list: readonly KeyValue[] | null | undefined): { attrs: Record<string, unknown>; dropped: number } {
    const attrs: Record<string, unknown> = Object.create(null);
    let dropped = 0;
    for (const kv of list ?? []) {
      if (!kv.key) continue;
      if (this.matches(kv.key)) dropped += 1;
      else attrs[kv.key] = anyValue(kv.value);
    }
    return { attrs, dropped };
  }
}

function head(name: string): string {
  const dot = name.indexOf('.');
  return dot < 0 ? name : name.slice(0, dot);
}

/**
 * A deterministic UUIDv7 for an OTLP item: the time gives the leading 48 bits (so the id
 * sorts and prunes like any other event id), a SHA-256 of the item's identity the rest.
 * The same span (or log record) exported again gets the same id, so retries are idempotent.
 */
export function deterministicId(ms: number, ...identity: string[]): string {
  const digest = hash('sha256', identity.join('\u0000'), 'buffer');
  const bytes = Buffer.alloc(16);
  const t = Math.max(0, Math.min(Math.trunc(ms), 2 ** 48 - 1));
  bytes.writeUIntBE(t, 0, 6);
  digest.copy(bytes, 6, 0, 10);
  bytes[6] = 0x70 | ((bytes[6] as number) & 0x0f);
  bytes[8] = 0x80 | ((bytes[8] as number) & 0x3f);
  const h = bytes.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}
