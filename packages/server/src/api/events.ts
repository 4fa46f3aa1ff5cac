import type { FastifyInstance } from 'fastify';
import { projectFor } from '../auth/index.js';
import { VigilError } from '../errors/index.js';
import { parseTs } from '../ingest/index.js';
import { TYPED_FIELDS, type TypedField, toEventView } from '../model/index.js';
import type { PropEquals } from '../store/index.js';
import { type AppContext, guard, principalOf } from './context.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

function encodeCursor(ts: number, id: string): string {
  return Buffer.from(JSON.stringify([ts, id])).toString('base64url');
}

function decodeCursor(cursor: string): { ts: number; id: string } {
  try {
    const [ts, id] = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as [unknown, unknown];
    if (typeof ts === 'number' && Number.isFinite(ts) && typeof id === 'string' && UUID.test(id))
      return { ts, id };
  } catch {
    // fall through
  }
  throw new VigilError('invalid_cursor');
}

function time(name: string, value: string | undefined): number | undefined {
  if (value === undefined || value === '') return undefined;
  const ms = parseTs(/^\d+$/.test(value) ? Number(value) : value);
  if (ms === null)
    throw new VigilError('invalid_query', {
      message: `${name} must be an ISO-8601 time or epoch milliseconds.`,
    });
  return ms;
}

/** The event log: newest first, stable keyset cursors, filters by type, time and prop equality. */
export async function eventRoutes(app: FastifyInstance, ctx: AppContext): Promise<void> {
  app.get<{ Querystring: Record<string, string | string[] | undefined> }>(
    '/api/events',
    { onRequest: guard(ctx, 'read') },
    async (req) => {
      const query = req.query;
      const one = (name: string): string | undefined => {
        const v = query[name];
        if (Array.isArray(v))
          throw new VigilError('invalid_query', { message: `${name} may be given once.` });
        return v;
      };
      const project = projectFor(principalOf(req), one('project'));
      const limitText = one('limit') ?? '100';
      const limit = Number(limitText);
      if (!Number.isInteger(limit) || limit < 1 || limit > 1000) {
        throw new VigilError('invalid_query', { message: 'limit must be an integer from 1 to 1000.' });
      }
      const types = one('type')
        ?.split(',')
        .map((t) => t.trim())
        .filter(Boolean);
      const where: PropEquals[] = [];
      for (const name of Object.keys(query)) {
        if (!name.startsWith('prop.')) continue;
        const prop = name.slice(5);
        const value = one(name) ?? '';
        if (prop === '' || prop.length > 200)
          throw new VigilError('invalid_query', { message: `'${name}' names no property.` });
        where.push({ field: Object.hasOwn(TYPED_FIELDS, prop) ? (prop as TypedField) : { prop }, value });
      }
      const cursor = one('cursor');
      const from = time('from', one('from'));
      const to = time('to', one('to'));
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
}
