import {
  type StaticDecode,
  type TLiteral,
  type TObject,
  type TSchema,
  type TString,
  type TTransform,
  type TUnion,
  Type,
} from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { TransformDecodeError, Value } from '@sinclair/typebox/value';
import type { FastifyRequest, RouteOptions } from 'fastify';
import { VigilError } from '../errors/index.js';
import { parseTs } from '../ingest/index.js';

/**
 * Query parameters: every route declares its query string as one TypeBox object schema
 * (`schema: { querystring }`), built from the parameter kinds below; `installQuerySchemas`
 * checks and decodes it before the handler runs, so a handler sees typed, bounded values
 * (numbers finite and in range, projects well-formed) and never a raw request string. A route
 * that declares nothing sees an empty query.
 */

/** Why a parameter's value is refused; the message ends up in the 400. */
class ParamProblem extends Error {}

type Why = { why: string };
const why = (text: string): Why => ({ why: text });

/** ISO-8601 dates from year 1 to 9999 and epoch milliseconds in the same span: what every engine can hold. */
const EARLIEST_MS = -62_135_596_800_000;
const LATEST_MS = 253_402_300_799_999;
/** Whether epoch milliseconds are a whole number within years 1 to 9999. */
export const isStorableTime = (ms: number): boolean =>
  Number.isInteger(ms) && ms >= EARLIEST_MS && ms <= LATEST_MS;
const TIME_WHY = 'must be an ISO-8601 time or epoch milliseconds (years 1 to 9999)';

/** A point in time → epoch milliseconds. */
function time(): TTransform<TString, number> {
  return Type.Transform(Type.String({ minLength: 1, maxLength: 40, ...why(TIME_WHY) }))
    .Decode((text) => {
      const ms = parseTs(/^\d{1,16}$/.test(text) ? Number(text) : text);
      if (ms === null || !isStorableTime(ms)) throw new ParamProblem(TIME_WHY);
      return ms;
    })
    .Encode((ms) => String(ms));
}

/** A whole number from `min` to `max`, written in plain decimal digits. */
function count({ min = 1, max }: { min?: number; max: number }): TTransform<TString, number> {
  const text = `must be a whole number from ${min} to ${max}`;
  return Type.Transform(Type.String({ pattern: '^[0-9]{1,16}$', ...why(text) }))
    .Decode((digits) => {
      const n = Number(digits);
      if (n < min || n > max) throw new ParamProblem(text);
      return n;
    })
    .Encode((n) => String(n));
}

/** One of a closed list of words. */
function oneOf<const T extends string>(values: readonly T[]): TUnion<TLiteral<T>[]> {
  return Type.Union(
    values.map((v) => Type.Literal(v)),
    why(`must be one of ${values.join(', ')}`),
  );
}

/** Free text (a name, a filter value) of bounded length. */
function text({ max, min = 1 }: { max: number; min?: number }): TString {
  return Type.String({ minLength: min, maxLength: max, ...why(`must be ${min}-${max} characters`) });
}

export const PROJECT_PATTERN = '^[a-z0-9][a-z0-9_-]{0,63}$';

/** The parameter kinds a query schema is built from. */
export const Param = {
  project: Type.String({ pattern: PROJECT_PATTERN, ...why('must be a project id (a-z, 0-9, _ or -)') }),
  time,
  count,
  oneOf,
  text,
} as const;

/** A query string schema: named parameters, plus (when given) free-named ones like `prop.NAME`. */
export function QuerySchema<P extends Record<string, TSchema>>(
  properties: P,
  options: { extra?: TSchema } = {},
): TObject<P> {
  return Type.Object(properties, { additionalProperties: options.extra ?? true });
}

/** The query of a route whose only parameter is the project (default: the caller's). */
export const ProjectQuery = QuerySchema({ project: Type.Optional(Param.project) });

export type QueryOf<S extends TSchema> = StaticDecode<S>;

const NO_QUERY = QuerySchema({});

function fieldOf(path: string): string {
  return path.replace(/^\//, '').replaceAll('/', '.') || 'query';
}

function checker(schema: TObject) {
  const check = TypeCompiler.Compile(schema);
  const named = new Set(Object.keys(schema.properties));
  const extra = typeof schema.additionalProperties === 'object';
  return async (req: FastifyRequest): Promise<void> => {
    const query: Record<string, unknown> = {};
    for (const [name, value] of Object.entries(req.query as Record<string, unknown>)) {
      if (!named.has(name) && !extra) continue; // unknown parameters are ignored, never read
      if (Array.isArray(value))
        throw new VigilError('invalid_query', { message: `${name} may be given once.` });
      // An empty value is an absent one (a form's empty field), except for free-named filters.
      if (value === '' && named.has(name)) continue;
      query[name] = value;
    }
    const problems = new Map<string, string>();
    for (const e of check.Errors(query)) {
      const field = fieldOf(e.path);
      if (problems.has(field)) continue;
      const reason = (e.schema as TSchema & { why?: string }).why ?? e.message;
      problems.set(field, e.value === undefined ? `is required and ${reason}` : reason);
      if (problems.size >= 3) break;
    }
    if (problems.size > 0) {
      throw new VigilError('invalid_query', {
        message: [...problems].map(([field, reason]) => `${field}: ${reason}.`).join(' '),
      });
    }
    try {
      req.query = check.Decode(Value.Clean(schema, query));
    } catch (err) {
      if (err instanceof TransformDecodeError && err.error instanceof ParamProblem)
        throw new VigilError('invalid_query', { message: `${fieldOf(err.path)}: ${err.error.message}.` });
      throw err;
    }
  };
}

const checked = Symbol('vigil.query');

/**
 * An `onRoute` hook: takes the route's query schema (none means no parameters) away from
 * Fastify's validator, whose number coercion is loose (`Infinity`, `0x10`, `1e3` pass as
 * integers), and checks it first thing in preValidation instead.
 */
export function installQuerySchemas(route: RouteOptions): void {
  const options = route as RouteOptions & { [checked]?: true };
  if (options[checked]) return;
  options[checked] = true;
  const { querystring, ...rest } = (route.schema ?? {}) as { querystring?: TObject };
  route.schema = rest;
  const hook = checker(querystring ?? NO_QUERY);
  const existing = route.preValidation;
  route.preValidation = [
    hook,
    ...(existing === undefined ? [] : Array.isArray(existing) ? existing : [existing]),
  ];
}
