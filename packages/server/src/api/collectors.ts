import { type Static, Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { projectFor, reachable } from '../auth/index.js';
import { CollectorConflict, CredentialsUnavailable, describeEntry, SpecError } from '../collectors/index.js';
import { VigilError } from '../errors/index.js';
import { type AppContext, guard, principalOf } from './context.js';
import { ProjectQuery, type QueryOf } from './params.js';

const NameParams = Type.Object({ name: Type.String({ minLength: 1, maxLength: 64 }) });

/**
 * Collector configuration (admin): `GET /api/collectors`, `POST /api/collectors` with
 * `{type, name, url, intervalMs, timeoutMs, credentials?, …}`, `DELETE /api/collectors/:name`.
 * Credentials are sealed before storage and never come back: a collector shows `hasCredentials`.
 */
export async function collectorRoutes(app: FastifyInstance, ctx: AppContext): Promise<void> {
  app.get<{ Querystring: QueryOf<typeof ProjectQuery> }>(
    '/api/collectors',
    { onRequest: guard(ctx, 'admin'), schema: { querystring: ProjectQuery } },
    async (req) => {
      const principal = principalOf(req);
      const project =
        reachable(principal) === null && req.query.project === undefined
          ? null
          : projectFor(principal, req.query.project);
      return {
        collectors: ctx.collectors.list(project).map(describeEntry),
        credentialsSealable: ctx.collectors.canSealCredentials,
      };
    },
  );

  app.post<{ Querystring: QueryOf<typeof ProjectQuery> }>(
    '/api/collectors',
    { onRequest: guard(ctx, 'admin'), schema: { querystring: ProjectQuery } },
    async (req, reply) => {
      const body = req.body as { project?: unknown } | undefined;
      const requested = req.query.project ?? (typeof body?.project === 'string' ? body.project : undefined);
      const project = projectFor(principalOf(req), requested);
      if (!(await ctx.projects.get(project))) {
        throw new VigilError('not_found', { message: `No project '${project}'.` });
      }
      try {
        const entry = await ctx.collectors.add(req.body, project);
        req.log.info({ collector: entry.spec.name, type: entry.spec.type, project }, 'collector added');
        return reply.status(201).send(describeEntry(entry));
      } catch (err) {
        if (err instanceof SpecError) throw new VigilError('invalid_collector', { message: err.message });
        if (err instanceof CollectorConflict)
          throw new VigilError('collector_exists', { message: err.message });
        if (err instanceof CredentialsUnavailable) {
          throw new VigilError('credentials_unavailable', { message: err.message });
        }
        throw err;
      }
    },
  );

  app.delete<{ Params: Static<typeof NameParams>; Querystring: QueryOf<typeof ProjectQuery> }>(
    '/api/collectors/:name',
    { onRequest: guard(ctx, 'admin'), schema: { params: NameParams, querystring: ProjectQuery } },
    async (req, reply) => {
      const project = projectFor(principalOf(req), req.query.project);
      try {
        if (!(await ctx.collectors.remove(project, req.params.name))) {
          throw new VigilError('not_found', {
            message: `No collector '${req.params.name}' in project '${project}'.`,
          });
        }
      } catch (err) {
        if (err instanceof CollectorConflict)
          throw new VigilError('collector_readonly', { message: err.message });
        throw err;
      }
      req.log.info({ collector: req.params.name, project }, 'collector removed');
      return reply.status(204).send();
    },
  );
}
