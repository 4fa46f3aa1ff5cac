import { type Static, Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import {
  AGGREGATES,
  AGGREGATIONS,
  type Aggregation,
  decisionSummary,
  errorSpike,
  explore,
  historical,
  type LlmFilter,
  llmSnapshot,
  MAX_POINTS,
  METRIC_TYPES,
  type MetricType,
  seriesBuckets,
  WINDOWS,
  type WindowName,
} from '../analytics/index.js';
import { projectFor } from '../auth/index.js';
import { VigilError } from '../errors/index.js';
import { parseTs } from '../ingest/index.js';
import { type AppContext, guard, principalOf } from './context.js';

type Query = Record<string, string | string[] | undefined>;

function one(query: Query, name: string): string | undefined {
  const v = query[name];
  if (Array.isArray(v)) throw new VigilError('invalid_query', { message: `${name} may be given once.` });
  return v === '' ? undefined : v;
}

function oneOf<T extends string>(query: Query, name: string, allowed: readonly T[], fallback?: T): T {
  const v = one(query, name) ?? fallback;
  if (v === undefined || !(allowed as readonly string[]).includes(v)) {
    throw new VigilError('invalid_query', { message: `${name} must be one of ${allowed.join(', ')}.` });
  }
  return v as T;
}

function time(query: Query, name: string): number | undefined {
  const v = one(query, name);
  if (v === undefined) return undefined;
  const ms = parseTs(/^\d+$/.test(v) ? Number(v) : v);
  if (ms === null)
    throw new VigilError('invalid_query', {
      message: `${name} must be an ISO-8601 time or epoch milliseconds.`,
    });
  return ms;
}

function filterOf(query: Query): LlmFilter {
  const filter: LlmFilter = {};
  for (const name of ['space', 'model', 'user'] as const) {
    const v = one(query, name);
    if (v !== undefined) filter[name] = v;
  }
  if (Object.keys(filter).length > 1) {
    throw new VigilError('invalid_query', { message: 'Filter by one of space, model or user at a time.' });
  }
  return filter;
}

/** The LLM and decision read API (viewer). */
export async function metricRoutes(app: FastifyInstance, ctx: AppContext): Promise<void> {
  const read = guard(ctx, 'read');

  app.get<{ Querystring: Query }>('/api/metrics/current', { onRequest: read }, async (req) => {
    const project = projectFor(principalOf(req), one(req.query, 'project'));
    const window = oneOf<WindowName>(req.query, 'window', Object.keys(WINDOWS) as WindowName[], 'day');
    const filter = filterOf(req.query);
    const to = Date.now();
    const from = to - WINDOWS[window];
    const [snapshot, spike] = await Promise.all([
      llmSnapshot(ctx.store, ctx.rollups, project, from, to, filter),
      errorSpike(ctx.store, ctx.rollups, project, from, to),
    ]);
    return { window, ...snapshot, errors: { ...snapshot.errors, spike } };
  });

  app.get<{ Querystring: Query }>('/api/metrics/historical', { onRequest: read }, async (req) => {
    const project = projectFor(principalOf(req), one(req.query, 'project'));
    const metric = oneOf<MetricType>(req.query, 'type', METRIC_TYPES);
    const aggregation = oneOf<Aggregation>(req.query, 'aggregation', AGGREGATIONS, 'hour');
    const end = time(req.query, 'end') ?? Date.now();
    const start = time(req.query, 'start') ?? end - 86_400_000;
    if (start >= end) throw new VigilError('invalid_query', { message: 'start must be before end.' });
    if (seriesBuckets(start, end, aggregation).length > MAX_POINTS) {
      throw new VigilError('invalid_query', {
        message: `That is more than ${MAX_POINTS} points; use a coarser aggregation.`,
      });
    }
    return historical(ctx.store, ctx.rollups, {
      project,
      metric,
      start,
      end,
      aggregation,
      filter: filterOf(req.query),
    });
  });

  app.get<{ Querystring: Query }>('/api/decisions/summary', { onRequest: read }, async (req) => {
    const project = projectFor(principalOf(req), one(req.query, 'project'));
    const window = oneOf(req.query, 'window', ['7d', '30d'] as const, '7d');
    const groupBy = one(req.query, 'groupBy');
    if (groupBy !== undefined && groupBy !== 'recommendation_type' && groupBy !== 'explanation_version') {
      throw new VigilError('invalid_query', {
        message: 'groupBy must be recommendation_type or explanation_version.',
      });
    }
    const to = Date.now();
    const from = to - (window === '7d' ? 7 : 30) * 86_400_000;
    return { window, ...(await decisionSummary(ctx.store, ctx.rollups, project, from, to, groupBy)) };
  });
}

const Name = Type.String({ minLength: 1, maxLength: 200 });
const Time = Type.Union([Type.String({ minLength: 1, maxLength: 40 }), Type.Number()]);
const QueryBody = Type.Object(
  {
    project: Type.Optional(Type.String({ maxLength: 64 })),
    type: Name,
    field: Type.Optional(Name),
    aggregate: Type.Unsafe<(typeof AGGREGATES)[number]>({ type: 'string', enum: [...AGGREGATES] }),
    from: Time,
    to: Time,
    bucket: Type.Optional(Type.Unsafe<Aggregation>({ type: 'string', enum: [...AGGREGATIONS] })),
    groupBy: Type.Optional(Type.Array(Name, { maxItems: 2 })),
    filters: Type.Optional(
      Type.Record(Type.String({ minLength: 1, maxLength: 200 }), Type.String({ maxLength: 1000 })),
    ),
  },
  { additionalProperties: false },
);

/** `POST /api/query`: the dashboard's general aggregate query (viewer). */
export async function queryRoutes(app: FastifyInstance, ctx: AppContext): Promise<void> {
  app.post<{ Body: Static<typeof QueryBody> }>(
    '/api/query',
    { onRequest: guard(ctx, 'read'), schema: { body: QueryBody } },
    async (req) => {
      const b = req.body;
      const project = projectFor(principalOf(req), b.project);
      const at = (name: 'from' | 'to') => {
        const v = b[name];
        // Ajv may have turned a number into a string for the union type: digits are epoch ms.
        const ms = parseTs(typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : v);
        if (ms === null)
          throw new VigilError('invalid_body', {
            message: `${name} must be an ISO-8601 time or epoch milliseconds.`,
          });
        return ms;
      };
      const from = at('from');
      const to = at('to');
      if (from >= to) throw new VigilError('invalid_body', { message: 'from must be before to.' });
      if (b.field === undefined && b.aggregate !== 'count' && b.aggregate !== 'rate') {
        throw new VigilError('invalid_body', { message: `field is required for ${b.aggregate}.` });
      }
      if (b.bucket && seriesBuckets(from, to, b.bucket).length > MAX_POINTS) {
        throw new VigilError('invalid_body', {
          message: `That is more than ${MAX_POINTS} buckets; use a coarser bucket.`,
        });
      }
      return explore(ctx.store, ctx.rollups, {
        project,
        type: b.type,
        ...(b.field !== undefined ? { field: b.field } : {}),
        aggregate: b.aggregate,
        from,
        to,
        ...(b.bucket ? { bucket: b.bucket } : {}),
        groupBy: b.groupBy ?? [],
        filters: b.filters ?? {},
      });
    },
  );
}
