import { type TSchema, Type } from '@sinclair/typebox';
import { type TypeCheck, TypeCompiler } from '@sinclair/typebox/compiler';
import { uuidv7 } from 'uuidv7';
import type { IngestLimits } from '../config/index.js';
import { EVENT_REJECTIONS, type EventRejectionCode } from '../errors/index.js';
import {
  BUILTIN_TYPES,
  type BuiltinType,
  type EventRow,
  emptyRow,
  isBuiltinType,
  TYPED_FIELDS,
  type TypedField,
  type TypedFieldSpec,
  wellFormed,
} from '../model/index.js';
import { type PriceBook, priceRequest } from '../pricing/index.js';
import { type ScrubPolicy, type ScrubReason, sensitiveValue } from './scrub.js';

export interface Rejection {
  code: EventRejectionCode;
  message: string;
}

export interface ValidEvent {
  row: EventRow;
  scrubbed: ScrubReason[] | null;
}

export interface ValidationContext {
  project: string;
  strictTypes: boolean;
  receivedAt: number;
  limits: IngestLimits;
  privacy: ScrubPolicy;
  /** The project's LLM prices: an llm.request without a reported cost is priced at ingestion. */
  prices?: PriceBook;
}

const TYPE_NAME = /^[A-Za-z][A-Za-z0-9_.:-]{0,99}$/;
const UUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;
const ISO_TIME = /^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?)?$/i;
const ENVELOPE = new Set(['id', 'type', 'ts', 'version', 'props']);

function fieldSchema(spec: TypedFieldSpec, maxLength: number): TSchema {
  const bounds = { minimum: spec.min, maximum: spec.max };
  switch (spec.kind) {
    case 'double':
      return Type.Number(bounds);
    case 'integer':
      return Type.Integer(bounds);
    case 'boolean':
      return Type.Boolean();
    case 'string':
      return spec.values
        ? Type.Union(spec.values.map((v) => Type.Literal(v)))
        : Type.String({ minLength: 1, maxLength });
  }
}

/** One compiled schema per built-in type: its typed fields (null means absent), other props free. */
function compileBuiltins(maxLength: number): Record<BuiltinType, TypeCheck<TSchema>> {
  const out = {} as Record<BuiltinType, TypeCheck<TSchema>>;
  for (const [type, spec] of Object.entries(BUILTIN_TYPES) as [
    BuiltinType,
    (typeof BUILTIN_TYPES)[BuiltinType],
  ][]) {
    const properties: Record<string, TSchema> = {};
    for (const field of spec.fields) {
      const schema = fieldSchema(TYPED_FIELDS[field], maxLength);
      properties[field] = (spec.required as readonly string[]).includes(field)
        ? schema
        : Type.Optional(Type.Union([schema, Type.Null()]));
    }
    out[type] = TypeCompiler.Compile(Type.Object(properties, { additionalProperties: true }));
  }
  return out;
}

const compiled = new Map<number, Record<BuiltinType, TypeCheck<TSchema>>>();
function builtins(maxLength: number) {
  let found = compiled.get(maxLength);
  if (!found) {
    found = compileBuiltins(maxLength);
    compiled.set(maxLength, found);
  }
  return found;
}

const reject = (code: EventRejectionCode, detail?: string): Rejection => ({
  code,
  message: detail ? `${EVENT_REJECTIONS[code]} ${detail}` : EVENT_REJECTIONS[code],
});

/** Parses `ts` as epoch ms; ISO date-times without a zone are taken as UTC. */
export function parseTs(value: unknown): number | null {
  if (typeof value === 'number') return Number.isFinite(value) ? Math.round(value) : null;
  if (typeof value !== 'string') return null;
  const m = ISO_TIME.exec(value);
  if (!m) return null;
  const iso = value.replace(' ', 'T');
  const ms = Date.parse(m[1] || value.length === 10 ? iso : `${iso}Z`);
  return Number.isNaN(ms) ? null : ms;
}

/** Turns one received event into a stored row, or says why it is rejected. */
export function validateEvent(raw: unknown, ctx: ValidationContext): ValidEvent | Rejection {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return reject('invalid_event');
  const input = raw as Record<string, unknown>;
  const { limits } = ctx;

  const type = input.type;
  if (typeof type !== 'string' || !TYPE_NAME.test(type)) return reject('invalid_type');
  const builtin = isBuiltinType(type) ? type : null;
  if (!builtin && ctx.strictTypes) return reject('unknown_event_type', `Got '${type}'.`);

  const row = emptyRow();
  row.project = ctx.project;
  row.type = type;
  row.received_at = ctx.receivedAt;

  if (input.id === undefined || input.id === null) row.id = uuidv7();
  else if (typeof input.id === 'string' && UUID.test(input.id)) row.id = input.id.toLowerCase();
  else return reject('invalid_id');

  if (input.ts === undefined || input.ts === null) row.ts = ctx.receivedAt;
  else {
    const ts = parseTs(input.ts);
    if (ts === null) return reject('invalid_ts');
    if (ts > ctx.receivedAt + limits.futureToleranceMs) return reject('ts_in_future');
    if (ts < ctx.receivedAt - limits.maxAgeMs) return reject('ts_too_old');
    row.ts = ts;
    row.late = ts < ctx.receivedAt - limits.lateAfterMs;
  }

  if (input.version !== undefined && input.version !== null) {
    if (typeof input.version !== 'string' || input.version.length === 0 || input.version.length > 64) {
      return reject('invalid_version');
    }
    row.version = wellFormed(input.version);
  }

  // Props: the `props` object, plus any other top-level keys (props win on a clash).
  let props: Record<string, unknown>;
  if (input.props === undefined || input.props === null) props = {};
  else if (typeof input.props === 'object' && !Array.isArray(input.props))
    props = input.props as Record<string, unknown>;
  else return reject('invalid_field', 'props must be an object.');
  let extra: Record<string, unknown> | null = null;
  for (const key in input) {
    if (!ENVELOPE.has(key) && !Object.hasOwn(props, key)) {
      extra ??= {};
      extra[key] = input[key];
    }
  }
  if (extra) props = { ...extra, ...props };

  const walk = new PropWalk(limits, ctx.privacy);
  const clean = walk.object(props, 1);
  if (walk.rejection) return walk.rejection;

  if (builtin) {
    const check = builtins(limits.maxStringLength)[builtin];
    if (!check.Check(clean)) {
      const first = check.Errors(clean).First();
      const field = first?.path.replace(/^\//, '').replaceAll('/', '.') || 'props';
      const missing = first?.message.startsWith('Expected required property');
      if (missing) {
        const wasScrubbed = walk.scrubbedKeys?.has(field);
        return reject(
          'missing_field',
          wasScrubbed
            ? `'${field}' was removed because it looked like personal data.`
            : `'${field}' is required for ${builtin}.`,
        );
      }
      return reject('invalid_field', `${field}: ${first?.message ?? 'invalid'}.`);
    }
    const typed = row as unknown as Record<TypedField, unknown>;
    for (const field of BUILTIN_TYPES[builtin].fields) {
      const value = clean[field];
      if (value !== undefined) {
        typed[field] = value;
        delete clean[field];
      }
    }
    if (builtin === 'llm.request' && ctx.prices) priceRequest(row, ctx.prices);
  }
  if (Object.keys(clean).length > 0) {
    row.props = JSON.stringify(clean);
    if (row.props.length > limits.maxEventBytes) {
      return reject(
        'event_too_large',
        `Its props take ${row.props.length} bytes; at most ${limits.maxEventBytes}.`,
      );
    }
  }
  return { row, scrubbed: walk.scrubbed };
}

export function isRejection(v: ValidEvent | Rejection): v is Rejection {
  return (v as Rejection).code !== undefined;
}

/**
 * One pass over the props: depth, key count and string length limits, scrubbing, and lone
 * surrogates replaced by U+FFFD (what any store would keep of them).
 */
class PropWalk {
  keys = 0;
  rejection: Rejection | null = null;
  scrubbed: ScrubReason[] | null = null;
  scrubbedKeys: Set<string> | null = null;

  constructor(
    private readonly limits: IngestLimits,
    private readonly privacy: ScrubPolicy,
  ) {}

  private drop(reason: ScrubReason, key: string) {
    this.scrubbed ??= [];
    this.scrubbed.push(reason);
    this.scrubbedKeys ??= new Set();
    this.scrubbedKeys.add(key);
  }

  object(obj: Record<string, unknown>, depth: number): Record<string, unknown> {
    if (depth > this.limits.maxDepth) {
      this.rejection ??= reject('too_deep', `At most ${this.limits.maxDepth} levels are allowed.`);
      return {};
    }
    // No prototype: a prop named "__proto__" is data like any other.
    const out: Record<string, unknown> = Object.create(null);
    for (const key in obj) {
      if (this.rejection) return out;
      if (++this.keys > this.limits.maxProps) {
        this.rejection = reject('too_many_props', `At most ${this.limits.maxProps} are allowed.`);
        return out;
      }
      if (key.length > this.limits.maxStringLength) {
        this.rejection = reject('string_too_long', `A property name is ${key.length} characters long.`);
        return out;
      }
      if (this.privacy.denyList.has(key.toLowerCase())) {
        this.drop('deny_list', key);
        continue;
      }
      const value = this.value(obj[key], depth, key);
      if (value !== DROPPED) out[wellFormed(key)] = value;
    }
    return out;
  }

  private value(value: unknown, depth: number, key: string): unknown {
    if (typeof value === 'string') {
      if (value.length > this.limits.maxStringLength) {
        this.rejection ??= reject(
          'string_too_long',
          `'${key}' is ${value.length} characters long; at most ${this.limits.maxStringLength}.`,
        );
        return DROPPED;
      }
      const reason = sensitiveValue(value, this.privacy);
      if (reason) {
        this.drop(reason, key);
        return DROPPED;
      }
      return wellFormed(value);
    }
    if (typeof value !== 'object' || value === null) return value;
    if (depth + 1 > this.limits.maxDepth) {
      this.rejection ??= reject('too_deep', `At most ${this.limits.maxDepth} levels are allowed.`);
      return DROPPED;
    }
    if (Array.isArray(value)) {
      const out: unknown[] = [];
      for (const item of value) {
        if (++this.keys > this.limits.maxProps) {
          this.rejection ??= reject('too_many_props', `At most ${this.limits.maxProps} are allowed.`);
          return DROPPED;
        }
        const v = this.value(item, depth + 1, key);
        if (v !== DROPPED) out.push(v);
      }
      return out;
    }
    return this.object(value as Record<string, unknown>, depth + 1);
  }
}

const DROPPED = Symbol('dropped');
