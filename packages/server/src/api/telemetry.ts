import { type Static, Type } from '@sinclair/typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { AGGREGATIONS, type Aggregation, MAX_POINTS, seriesBuckets } from '../analytics/index.js';
import { projectFor } from '../auth/index.js';
import { DEPLOYMENT_STATUSES, publicView, telemetryStatus } from '../collectors/index.js';
import { VigilError } from '../errors/index.js';
import type { SampleHistoryRow } from '../store/index.js';
import { type AppContext, guard, principalOf } from './context.js';
import { isStorableTime, Param, ProjectQuery, type QueryOf, QuerySchema } from './params.js';

const STATS = ['avg', 'sum', 'min', 'max', 'last', 'count', 'increase'] as const;
type Stat = (typeof STATS)[number];

const HistoryQuery = QuerySchema(
  {
    metric: Param.text({ max: 200 }),
    from: Type.Optional(Param.time()),
    to: Type.Optional(Param.time()),
    aggregation: Type.Optional(Param.oneOf(AGGREGATIONS)),
    stat: Type.Optional(Param.oneOf(STATS)),
    project: Type.Optional(Param.project),
  },
  // `label.NAME=value` filters come through as extra keys.
  { extra: Param.text({ min: 0, max: 200 }) },
);

const Deployment = Type.Object(
  {
    service: Type.String({ minLength: 1, maxLength: 100 }),
    version: Type.String({ minLength: 1, maxLength: 100 }),
    status: Type.Optional(Type.Union(DEPLOYMENT_STATUSES.map((s) => Type.Literal(s)))),
    startedAt: Type.Optional(Type.Union([Type.String({ maxLength: 40 }), Type.Number()])),
    finishedAt: Type.Optional(Type.Union([Type.String({ maxLength: 40 }), Type.Number(), Type.Null()])),
  },
  { additionalProperties: false },
);

const RunsQuery = QuerySchema({
  project: Type.Optional(Param.project),
  collector: Type.Optional(Param.text({ max: 64 })),
  limit: Type.Optional(Param.count({ max: 1000 })),
});

const Settings = Type.Object({ publicEnabled: Type.Boolean() }, { additionalProperties: false });

/** A time in a body: ISO-8601 or epoch ms. */
function time(name: string, value: string | number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const ms = Math.round(
    typeof value === 'number' || /^-?\d+$/.test(value) ? Number(value) : Date.parse(value),
  );
  if (!isStorableTime(ms)) {
    throw new VigilError('invalid_body', {
      message: `${name} must be an ISO-8601 date-time or epoch milliseconds (years 1 to 9999).`,
    });
  }
  return ms;
}

/** The start of the bucket before the one holding `t` (for counter increases across `from`). */
function previousBucket(t: number, aggregation: Aggregation): number {
  const [first] = seriesBuckets(t, t + 1, aggregation);
  const start = first?.[0] ?? t;
  const d = new Date(start);
  switch (aggregation) {
    case 'minute':
      return start - 60_000;
    case 'hour':
      return start - 3_600_000;
    case 'day':
      return start - 86_400_000;
    case 'week':
      return start - 7 * 86_400_000;
    case 'month':
      return Date.UTC(d.getUTCFullYear(), d.getUTCMonth() - 1, 1);
  }
}

interface HistoryPoint {
  timestamp: string;
  value: number | null;
  count: number;
  sum: number;
  avg: number;
  min: number;
  max: number;
  last: number;
  /** For counters: the rise since the previous bucket's last value (a drop counts as a reset). */
  increase: number | null;
}

function points(rows: readonly SampleHistoryRow[], stat: Stat | undefined, from: number): HistoryPoint[] {
  const out: HistoryPoint[] = [];
  let prev: SampleHistoryRow | null = null;
  for (const r of rows) {
    const increase =
      prev === null ? null : r.lastValue >= prev.lastValue ? r.lastValue - prev.lastValue : r.lastValue;
    prev = r;
    if (r.bucket < from) continue;
    const avg = r.count === 0 ? 0 : r.sum / r.count;
    const chosen = stat ?? (r.kind === 'counter' ? 'increase' : 'avg');
    const value: Record<Stat, number | null> = {
      avg,
      sum: r.sum,
      min: r.min,
      max: r.max,
      last: r.lastValue,
      count: r.count,
      increase,
    };
    out.push({
      timestamp: new Date(r.bucket).toISOString(),
      value: value[chosen],
      count: r.count,
      sum: r.sum,
      avg,
      min: r.min,
      max: r.max,
      last: r.lastValue,
      increase,
    });
  }
  return out;
}

/**
 * Infrastructure telemetry: `GET /telemetry/status` and `GET /telemetry/runs` (viewer), `GET /telemetry/public`
 * (anonymous unless switched off), `GET /telemetry/history` (viewer, from sample rollups),
 * `POST /telemetry/collect` (admin), `POST /telemetry/deployments` (ingest or admin),
 * `GET|PATCH /api/telemetry/settings`.
 */
export async function telemetryRoutes(app: FastifyInstance, ctx: AppContext): Promise<void> {
  const project = async (req: FastifyRequest, requested: string | undefined) => {
    const id = projectFor(principalOf(req), requested);
    if (!(await ctx.projects.get(id))) throw new VigilError('not_found', { message: `No project '${id}'.` });
    return id;
  };

  app.get<{ Querystring: QueryOf<typeof ProjectQuery> }>(
    '/telemetry/status',
    { onRequest: guard(ctx, 'read'), schema: { querystring: ProjectQuery } },
    async (req) => {
      const id = await project(req, req.query.project);
      return telemetryStatus(ctx.store, id, ctx.collectors.list(id));
    },
  );

  app.get<{ Querystring: QueryOf<typeof RunsQuery> }>(
    '/telemetry/runs',
    { onRequest: guard(ctx, 'read'), schema: { querystring: RunsQuery } },
    async (req) => {
      const id = await project(req, req.query.project);
      const runs = await ctx.store.collectors.runs(id, {
        ...(req.query.collector === undefined ? {} : { collector: req.query.collector }),
        limit: req.query.limit ?? 100,
      });
      return {
        project: id,
        runs: runs.map((r) => ({
          snapshotId: r.snapshotId,
          collector: r.collector,
          type: r.type,
          startedAt: new Date(r.startedAt).toISOString(),
          durationMs: r.durationMs,
          outcome: r.outcome,
          error: r.error,
          samples: r.samples,
        })),
      };
    },
  );

  app.get<{ Querystring: QueryOf<typeof ProjectQuery> }>(
    '/telemetry/public',
    { schema: { querystring: ProjectQuery } },
    async (req) => {
      const wait = ctx.limiters.read.take(`public:${req.ip}`);
      if (wait > 0) throw new VigilError('rate_limited', { retryAfter: wait });
      const id = req.query.project ?? 'default';
      // One answer for "switched off" and "no such project": the anonymous caller learns nothing.
      if (
        !ctx.config.telemetry.publicEnabled ||
        !(await ctx.projects.get(id)) ||
        !(await ctx.store.collectors.publicEnabled(id))
      ) {
        throw new VigilError('public_view_disabled');
      }
      return publicView(await telemetryStatus(ctx.store, id, ctx.collectors.list(id)));
    },
  );

  app.get<{ Querystring: QueryOf<typeof HistoryQuery> }>(
    '/telemetry/history',
    { onRequest: guard(ctx, 'read'), schema: { querystring: HistoryQuery } },
    async (req) => {
      const q = req.query;
      const id = await project(req, q.project);
      const to = q.to ?? Date.now();
      const from = q.from ?? to - 86_400_000;
      if (from >= to) throw new VigilError('invalid_query', { message: 'from must be before to.' });
      const aggregation = q.aggregation ?? 'hour';
      if (seriesBuckets(from, to, aggregation).length > MAX_POINTS) {
        throw new VigilError('invalid_query', {
          message: `More than ${MAX_POINTS} ${aggregation} buckets; narrow the range or use a coarser aggregation.`,
        });
      }
      // No prototype: a label may be called __proto__.
      const labels: Record<string, string> = Object.create(null);
      for (const [k, v] of Object.entries(q)) {
        if (!k.startsWith('label.')) {
          if (!['metric', 'from', 'to', 'aggregation', 'stat', 'project'].includes(k)) {
            throw new VigilError('invalid_query', {
              message: `Unknown parameter '${k}'; filter by label with label.NAME=value.`,
            });
          }
          continue;
        }
        const name = k.slice('label.'.length);
        if (!/^[A-Za-z_][A-Za-z0-9_]{0,63}$/.test(name)) {
          throw new VigilError('invalid_query', { message: `'${name}' is not a label name.` });
        }
        labels[name] = String(v);
      }
      const start = seriesBuckets(from, from + 1, aggregation)[0]?.[0] ?? from;
      const rows = await ctx.store.samples.history({
        project: id,
        name: q.metric,
        from: previousBucket(from, aggregation),
        to,
        bucket: aggregation,
        labels,
        maxSeries: 1000,
      });
      const series = new Map<string, SampleHistoryRow[]>();
      for (const r of rows) {
        const key = JSON.stringify(r.labels);
        const list = series.get(key) ?? [];
        if (list.length === 0) series.set(key, list);
        list.push(r);
      }
      return {
        project: id,
        metric: q.metric,
        from: new Date(start).toISOString(),
        to: new Date(to).toISOString(),
        aggregation,
        stat: q.stat ?? null,
        source: 'rollups',
        /** At most 1,000 series (by label set); narrow with label.NAME=value when true. */
        truncated: series.size >= 1000,
        series: [...series.values()]
          .map((list) => ({
            labels: list[0]?.labels ?? {},
            kind: list.at(-1)?.kind ?? 'untyped',
            points: points(list, q.stat, start),
          }))
          .filter((s) => s.points.length > 0),
      };
    },
  );

  app.post<{ Querystring: QueryOf<typeof ProjectQuery> }>(
    '/telemetry/collect',
    { onRequest: guard(ctx, 'admin'), schema: { querystring: ProjectQuery } },
    async (req) => {
      const id = await project(req, req.query.project);
      const report = await ctx.collectors.collect(id);
      return {
        project: id,
        snapshotId: report.snapshotId,
        startedAt: new Date(report.startedAt).toISOString(),
        durationMs: report.durationMs,
        collectors: report.runs.map((r) => ({
          name: r.collector,
          type: r.type,
          outcome: r.outcome,
          ok: r.outcome === 'ok',
          error: r.error,
          durationMs: r.durationMs,
          samples: r.samples.length,
          result: r.result,
        })),
      };
    },
  );

  app.post<{ Querystring: QueryOf<typeof ProjectQuery>; Body: Static<typeof Deployment> }>(
    '/telemetry/deployments',
    { onRequest: guard(ctx, 'ingest'), schema: { querystring: ProjectQuery, body: Deployment } },
    async (req, reply) => {
      const id = await project(req, req.query.project);
      const b = req.body;
      const now = Date.now();
      const finishedAt =
        b.finishedAt === null || b.finishedAt === undefined ? null : time('finishedAt', b.finishedAt, now);
      // A finished deployment reported without its start is taken as instantaneous.
      const startedAt = time('startedAt', b.startedAt, finishedAt ?? now);
      const status = b.status ?? (finishedAt === null ? 'started' : 'succeeded');
      if (finishedAt !== null && finishedAt < startedAt) {
        throw new VigilError('invalid_body', { message: 'finishedAt is before startedAt.' });
      }
      if (status === 'started' && finishedAt !== null) {
        throw new VigilError('invalid_body', {
          message: "A deployment with status 'started' has no finishedAt yet.",
        });
      }
      if (startedAt > now + 5 * 60_000) {
        throw new VigilError('invalid_body', {
          message: 'startedAt is in the future; check the sender clock.',
        });
      }
      const record = await ctx.collectors.recordDeployment({
        project: id,
        service: b.service,
        version: b.version,
        status,
        startedAt,
        finishedAt,
        source: principalOf(req).role === 'ingest' ? 'webhook:ingest-key' : 'webhook:admin',
      });
      return reply.status(201).send({
        id: record.id,
        project: record.project,
        service: record.service,
        version: record.version,
        status: record.status,
        startedAt: new Date(record.startedAt).toISOString(),
        finishedAt: record.finishedAt === null ? null : new Date(record.finishedAt).toISOString(),
      });
    },
  );

  app.get<{ Querystring: QueryOf<typeof ProjectQuery> }>(
    '/api/telemetry/settings',
    { onRequest: guard(ctx, 'read'), schema: { querystring: ProjectQuery } },
    async (req) => {
      const id = await project(req, req.query.project);
      return {
        project: id,
        publicEnabled: await ctx.store.collectors.publicEnabled(id),
        publicEnabledByConfig: ctx.config.telemetry.publicEnabled,
      };
    },
  );

  app.patch<{ Querystring: QueryOf<typeof ProjectQuery>; Body: Static<typeof Settings> }>(
    '/api/telemetry/settings',
    { onRequest: guard(ctx, 'admin'), schema: { querystring: ProjectQuery, body: Settings } },
    async (req) => {
      const id = await project(req, req.query.project);
      await ctx.store.collectors.setPublicEnabled(id, req.body.publicEnabled);
      return {
        project: id,
        publicEnabled: req.body.publicEnabled,
        publicEnabledByConfig: ctx.config.telemetry.publicEnabled,
      };
    },
  );
}
