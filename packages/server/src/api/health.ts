import { type Static, Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { projectFor } from '../auth/index.js';
import { VigilError } from '../errors/index.js';
import { addDays, dayOf, dayStart, isDay } from '../health/index.js';
import { type AppContext, guard, principalOf } from './context.js';
import { Param, ProjectQuery, type QueryOf, QuerySchema } from './params.js';

const DAY_PATTERN = '^\\d{4}-\\d{2}-\\d{2}$';
const MAX_RANGE_DAYS = 366;

const Day = Type.String({ pattern: DAY_PATTERN, why: 'must be a calendar day YYYY-MM-DD' });
const ListQuery = QuerySchema({
  project: Type.Optional(Param.project),
  from: Type.Optional(Day),
  to: Type.Optional(Day),
  revisions: Type.Optional(Param.oneOf(['latest', 'all'])),
});
const SnapshotRequest = Type.Object({ date: Type.String({ pattern: DAY_PATTERN }) });

function day(name: string, value: string | undefined, fallback: string): string {
  if (value === undefined) return fallback;
  if (!isDay(value)) throw new VigilError('invalid_query', { message: `${name} is not a calendar day.` });
  return value;
}

/**
 * Telemetry health: `GET /api/health/summary`, `GET /api/health/today` (so far, provisional),
 * `GET /api/health/snapshots?from=&to=`,
 * `POST /api/health/snapshots {date}` (admin; a day that has a snapshot gets a new revision).
 */
export async function healthRoutes(app: FastifyInstance, ctx: AppContext): Promise<void> {
  const project = async (req: Parameters<typeof principalOf>[0], requested: string | undefined) => {
    const id = projectFor(principalOf(req), requested);
    if (!(await ctx.projects.get(id))) throw new VigilError('not_found', { message: `No project '${id}'.` });
    return id;
  };

  app.get<{ Querystring: QueryOf<typeof ProjectQuery> }>(
    '/api/health/summary',
    { onRequest: guard(ctx, 'read'), schema: { querystring: ProjectQuery } },
    async (req) => ctx.health.summary(await project(req, req.query.project)),
  );

  app.get<{ Querystring: QueryOf<typeof ProjectQuery> }>(
    '/api/health/today',
    { onRequest: guard(ctx, 'read'), schema: { querystring: ProjectQuery } },
    async (req) => ctx.health.today(await project(req, req.query.project)),
  );

  app.get<{ Querystring: QueryOf<typeof ListQuery> }>(
    '/api/health/snapshots',
    { onRequest: guard(ctx, 'read'), schema: { querystring: ListQuery } },
    async (req) => {
      const id = await project(req, req.query.project);
      const to = day('to', req.query.to, addDays(dayOf(Date.now()), -1));
      const from = day('from', req.query.from, addDays(to, -29));
      if (from > to) throw new VigilError('invalid_query', { message: 'from is after to.' });
      if (dayStart(to) - dayStart(from) >= MAX_RANGE_DAYS * 86_400_000) {
        throw new VigilError('invalid_query', { message: `At most ${MAX_RANGE_DAYS} days at once.` });
      }
      const snapshots = await ctx.health.list(id, from, to, { allRevisions: req.query.revisions === 'all' });
      return { project: id, from, to, snapshots };
    },
  );

  app.post<{ Querystring: QueryOf<typeof ProjectQuery>; Body: Static<typeof SnapshotRequest> }>(
    '/api/health/snapshots',
    { onRequest: guard(ctx, 'admin'), schema: { querystring: ProjectQuery, body: SnapshotRequest } },
    async (req, reply) => {
      const id = await project(req, req.query.project);
      const { date } = req.body;
      if (!isDay(date)) throw new VigilError('invalid_body', { message: 'date is not a calendar day.' });
      if (dayStart(date) + 86_400_000 > Date.now()) {
        throw new VigilError('invalid_body', {
          message: `${date} is not over yet (UTC); only a complete day can be snapshotted.`,
        });
      }
      const snapshot = await ctx.health.snapshot(id, date);
      return reply.status(201).send(snapshot);
    },
  );
}
