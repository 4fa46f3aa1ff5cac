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
  seriesBuckets,
  WINDOWS,
  type WindowName,
} from '../analytics/index.js';
import { projectFor } from '../auth/index.js';
import { VigilError } from '../errors/index.js';
import { parseTs } from '../ingest/index.js';
import { type AppContext, guard, principalOf } from './context.js';
import { isStorableTime, Param, type QueryOf, QuerySchema } from './params.js';

const Filter = {
  space: Type.Optional(Param.text({ max: 200 })),
  model: Type.Optional(Param.text({ max: 200 })),
  user: Type.Optional(Param.text({ max: 200 })),
};
const CurrentQuery = QuerySchema({
  project: Type.Optional(Param.project),
  window: Type.Optional(Param.oneOf(Object.keys(WINDOWS) as WindowName[])),
  ...Filter,
});
const HistoricalQuery = QuerySchema({
  project: Type.Optional(Param.project),
  type: Param.oneOf(METRIC_TYPES),
  aggregation: Type.Optional(Param.oneOf(AGGREGATIONS)),
  start: Type.Optional(Param.time()),
  end: Type.Optional(Param.time()),
  ...Filter,
});
const DecisionsQuery = QuerySchema({
  project: Type.Optional(Param.project),
  window: Type.Optional(Param.oneOf(['7d', '30d'])),
  groupBy: Type.Optional(Param.oneOf(['recommendation_type', 'explanation_version'])),
});

function filterOf(query: { space?: string; model?: string; user?: string }): LlmFilter {
  const filter: LlmFilter = {};
  for (const name of ['space', 'model', 'user'] as const) {
    const v = query[name];
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

  app.get<{ Querystring: QueryOf<typeof CurrentQuery> }>(
    '/api/metrics/current',
    { onRequest: read, schema: { querystring: CurrentQuery } },
    async (req) => {
      const project = projectFor(principalOf(req), req.query.project);
      const window = req.query.window ?? 'day';
      const filter = filterOf(req.query);
      const to = Date.now();
      const from = to - WINDOWS[window];
      const [snapshot, spike] = await Promise.all([
        llmSnapshot(ctx.store, ctx.rollups, project, from, to, filter),
        errorSpike(ctx.store, ctx.rollups, project, from, to, filter),
      ]);
      return { window, ...snapshot, errors: { ...snapshot.errors, spike } };
    },
  );

  app.get<{ Querystring: QueryOf<typeof HistoricalQuery> }>(
    '/api/metrics/historical',
    { onRequest: read, schema: { querystring: HistoricalQuery } },
    async (req) => {
      const q = req.query;
      const project = projectFor(principalOf(req), q.project);
      const aggregation = q.aggregation ?? 'hour';
      const end = q.end ?? Date.now();
      const start = q.start ?? end - 86_400_000;
      if (start >= end) throw new VigilError('invalid_query', { message: 'start must be before end.' });
      if (seriesBuckets(start, end, aggregation).length > MAX_POINTS) {
        throw new VigilError('invalid_query', {
          message: `That is more than ${MAX_POINTS} points; use a coarser aggregation.`,
        });
      }
      return historical(ctx.store, ctx.rollups, {
        project,
        metric: q.type,
        start,
        end,
        aggregation,
        filter: filterOf(q),
      });
    },
  );

  app.get<{ Querystring: QueryOf<typeof DecisionsQuery> }>(
    '/api/decisions/summary',
    { onRequest: read, schema: { querystring: DecisionsQuery } },
    async (req) => {
      const project = projectFor(principalOf(req), req.query.project);
      const window = req.query.window ?? '7d';
      const to = Date.now();
      const from = to - (window === '7d' ? 7 : 30) * 86_400_000;
      return {
        window,
        ...(await decisionSummary(ctx.store, ctx.rollups, project, from, to, req.query.groupBy)),
      };
    },
  );
}

const Name = Type.String({ minLength: 1, maxLength: 200 });
const Time = Type.Union([Type.String({ minLength: 1, maxLength: 40 }), Type.Number()]);
const QueryBody = Type.Object(
  {
    project: Type.Optional(Type.String({ maxLength: 64 })),
    // An event type as ingest accepts it.
    type: Type.String({ pattern: '^[A-Za-z][A-Za-z0-9_.:-]{0,99}$' }),
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
        if (ms === null || !isStorableTime(ms))
          throw new VigilError('invalid_body', {
            message: `${name} must be an ISO-8601 time or epoch milliseconds (years 1 to 9999).`,
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
