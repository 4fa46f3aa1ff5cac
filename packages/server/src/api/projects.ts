import { type Static, Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { effectiveRetention, retentionProblem } from '../analytics/index.js';
import { reaches } from '../auth/index.js';
import { VigilError } from '../errors/index.js';
import type { ProjectRecord } from '../store/index.js';
import { type AppContext, guard, principalOf } from './context.js';

const Days = Type.Union([Type.Integer({ minimum: 1, maximum: 36_500 }), Type.Null()]);
const ProjectPatch = Type.Object(
  {
    strictTypes: Type.Optional(Type.Boolean()),
    retention: Type.Optional(
      Type.Object(
        {
          rawDays: Type.Optional(Days),
          rollupDays: Type.Optional(Days),
          dailyRollupDays: Type.Optional(Days),
        },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
);

export async function projectRoutes(app: FastifyInstance, ctx: AppContext): Promise<void> {
  const view = (p: ProjectRecord) => ({
    id: p.id,
    name: p.name,
    strictTypes: p.strictTypes,
    createdAt: new Date(p.createdAt).toISOString(),
    retention: effectiveRetention(ctx.config.retention, p.retention),
  });

  app.get('/api/projects', { onRequest: guard(ctx, 'read') }, async (req) => {
    const principal = principalOf(req);
    const all = await ctx.store.meta.listProjects();
    return {
      projects: all.filter((p) => reaches(principal, p.id)).map(view),
    };
  });

  app.patch<{ Params: { id: string }; Body: Static<typeof ProjectPatch> }>(
    '/api/projects/:id',
    { onRequest: guard(ctx, 'admin'), schema: { body: ProjectPatch } },
    async (req) => {
      const principal = principalOf(req);
      const { id } = req.params;
      const project = reaches(principal, id) ? await ctx.store.meta.getProject(id) : null;
      if (!project) throw new VigilError('not_found', { message: `No project '${id}'.` });
      const retention = req.body.retention ? { ...project.retention, ...req.body.retention } : undefined;
      if (retention) {
        const problem = retentionProblem(effectiveRetention(ctx.config.retention, retention));
        if (problem) throw new VigilError('invalid_body', { message: `retention: ${problem}` });
      }
      await ctx.store.meta.updateProject(id, {
        ...(req.body.strictTypes !== undefined ? { strictTypes: req.body.strictTypes } : {}),
        ...(retention ? { retention } : {}),
      });
      ctx.projects.forget(id);
      return view((await ctx.store.meta.getProject(id)) ?? project);
    },
  );
}
