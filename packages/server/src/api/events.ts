import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { projectFor } from '../auth/index.js';
import { VigilError } from '../errors/index.js';
import { BUILTIN_TYPES, TYPED_FIELDS, type TypedField, toEventView } from '../model/index.js';
import type { PropEquals } from '../store/index.js';
import { type AppContext, guard, principalOf } from './context.js';
import { isStorableTime, Param, type QueryOf, QuerySchema } from './params.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

function encodeCursor(ts: number, id: string): string {
  return Buffer.from(JSON.stringify([ts, id])).toString('base64url');
}

function decodeCursor(cursor: string): { ts: number; id: string } {
  try {
    const [ts, id] = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as [unknown, unknown];
    if (typeof ts === 'number' && isStorableTime(ts) && typeof id === 'string' && UUID.test(id))
      return { ts, id };
  } catch {
    // fall through
  }
  throw new VigilError('invalid_cursor');
}

const EventsQuery = QuerySchema(
  {
    project: Type.Optional(Param.project),
    limit: Type.Optional(Param.count({ max: 1000 })),
    type: Type.Optional(Param.text({ max: 2000 })),
    cursor: Type.Optional(Param.text({ max: 200 })),
    from: Type.Optional(Param.time()),
    to: Type.Optional(Param.time()),
  },
  // `prop.NAME=value` filters by equality.
  { extra: Param.text({ min: 0, max: 1000 }) },
);

const TypesQuery = QuerySchema({
  project: Type.Optional(Param.project),
  from: Type.Optional(Param.time()),
  to: Type.Optional(Param.time()),
});

const DAY = 86_400_000;

/** The event log: newest first, stable keyset cursors, filters by type, time and prop equality. */
export async function eventRoutes(app: FastifyInstance, ctx: AppContext): Promise<void> {
  app.get<{ Querystring: QueryOf<typeof EventsQuery> }>(
    '/api/events',
    { onRequest: guard(ctx, 'read'), schema: { querystring: EventsQuery } },
    async (req) => {
      const query = req.query;
      const project = projectFor(principalOf(req), query.project);
      const limit = query.limit ?? 100;
      const types = query.type
        ?.split(',')
        .map((t) => t.trim())
        .filter(Boolean);
      const where: PropEquals[] = [];
      for (const [name, value] of Object.entries(query)) {
        if (!name.startsWith('prop.') || typeof value !== 'string') continue;
        const prop = name.slice(5);
        if (prop === '' || prop.length > 200)
          throw new VigilError('invalid_query', { message: `'${name}' names no property.` });
        where.push({ field: Object.hasOwn(TYPED_FIELDS, prop) ? (prop as TypedField) : { prop }, value });
      }
      const { cursor, from, to } = query;
      const rows = await ctx.store.events.listEvents({
        project,
        ...(types && types.length > 0 ? { types } : {}),
        ...(from !== undefined ? { from } : {}),
        ...(to !== undefined ? { to } : {}),
        where,
        ...(cursor ? { before: decodeCursor(cursor) } : {}),
        limit: limit + 1,
      });
      const page = rows.slice(0, limit);
      const last = page.at(-1);
      return {
        events: page.map(toEventView),
        nextCursor: rows.length > limit && last ? encodeCursor(last.ts, last.id) : null,
      };
    },
  );

  // The types to filter the log by: the built-in ones and the project's own, with how many events
  // each has in [from, to) (default: the last 30 days).
  app.get<{ Querystring: QueryOf<typeof TypesQuery> }>(
    '/api/events/types',
    { onRequest: guard(ctx, 'read'), schema: { querystring: TypesQuery } },
    async (req) => {
      const project = projectFor(principalOf(req), req.query.project);
      const to = req.query.to ?? Date.now();
      const from = req.query.from ?? to - 30 * DAY;
      if (to <= from) throw new VigilError('invalid_query', { message: "'to' must be after 'from'." });
      const stats = await ctx.store.health.typeStats({ project, from, to }, []);
      const seen = new Map(stats.map((t) => [t.type, t]));
      const types = [
        ...stats.map((t) => ({
          type: t.type,
          builtIn: Object.hasOwn(BUILTIN_TYPES, t.type),
          count: t.count,
          lastSeen: new Date(t.lastTs).toISOString(),
        })),
        ...Object.keys(BUILTIN_TYPES)
          .filter((t) => !seen.has(t))
          .map((type) => ({ type, builtIn: true, count: 0, lastSeen: null })),
      ].sort((a, b) => b.count - a.count || a.type.localeCompare(b.type));
      return { project, from: new Date(from).toISOString(), to: new Date(to).toISOString(), types };
    },
  );
}
