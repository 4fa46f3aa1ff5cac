import { type Static, Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { createKey, projectFor, reachable, reaches } from '../auth/index.js';
import { VigilError } from '../errors/index.js';
import { ROLES, type Role } from '../model/index.js';
import type { KeyRecord } from '../store/index.js';
import { type AppContext, guard, principalOf } from './context.js';
import { PROJECT_PATTERN, ProjectQuery, type QueryOf } from './params.js';

export const PROJECT_ID = Type.String({ pattern: PROJECT_PATTERN });

const CreateKey = Type.Object(
  {
    role: Type.Unsafe<Role>({ type: 'string', enum: [...ROLES] }),
    name: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
    project: Type.Optional(PROJECT_ID),
  },
  { additionalProperties: false },
);

const keyView = (k: KeyRecord) => ({
  id: k.id,
  role: k.role,
  project: k.project,
  name: k.name,
  createdAt: new Date(k.createdAt).toISOString(),
  revokedAt: k.revokedAt === null ? null : new Date(k.revokedAt).toISOString(),
});

/** API keys: created (secret shown once), listed without secrets, revoked at once. */
export async function keyRoutes(app: FastifyInstance, ctx: AppContext): Promise<void> {
  const admin = guard(ctx, 'admin');

  app.post<{ Body: Static<typeof CreateKey> }>(
    '/api/keys',
    { onRequest: admin, schema: { body: CreateKey } },
    async (req, reply) => {
      const principal = principalOf(req);
      const project = projectFor(principal, req.body.project);
      await ctx.projects.ensure(project);
      const { id, key, createdAt } = await createKey(ctx.store.meta, {
        project,
        role: req.body.role,
        name: req.body.name ?? null,
      });
      req.log.info({ keyId: id, role: req.body.role, project, by: principal.subject }, 'api key created');
      return reply.status(201).send({
        id,
        key,
        role: req.body.role,
        project,
        name: req.body.name ?? null,
        createdAt: new Date(createdAt).toISOString(),
      });
    },
  );

  app.get<{ Querystring: QueryOf<typeof ProjectQuery> }>(
    '/api/keys',
    { onRequest: admin, schema: { querystring: ProjectQuery } },
    async (req) => {
      const principal = principalOf(req);
      const project =
        reachable(principal) === null
          ? (req.query.project ?? null)
          : projectFor(principal, req.query.project);
      return { keys: (await ctx.store.meta.listKeys(project)).map(keyView) };
    },
  );

  app.delete<{ Params: { id: string } }>('/api/keys/:id', { onRequest: admin }, async (req) => {
    const principal = principalOf(req);
    const key = await ctx.store.meta.getKey(req.params.id);
    // A key of another project is reported as missing: its existence is not this caller's business.
    if (!key || !reaches(principal, key.project)) {
      throw new VigilError('not_found', { message: `No key '${req.params.id}'.` });
    }
    await ctx.store.meta.revokeKey(key.id, Date.now());
    ctx.auth.evictKey(key.id);
    req.log.info({ keyId: key.id, by: principal.subject }, 'api key revoked');
    const revoked = await ctx.store.meta.getKey(key.id);
    return keyView(revoked ?? key);
  });
}
