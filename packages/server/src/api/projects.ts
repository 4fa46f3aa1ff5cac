import { type Static, Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { VigilError } from '../errors/index.js';
import type { ProjectRecord } from '../store/index.js';
import { type AppContext, guard, principalOf } from './context.js';

const ProjectPatch = Type.Object({ strictTypes: Type.Boolean() }, { additionalProperties: false });

const view = (p: ProjectRecord) => ({
  id: p.id,
  name: p.name,
  strictTypes: p.strictTypes,
  createdAt: new Date(p.createdAt).toISOString(),
});

export async function projectRoutes(app: FastifyInstance, ctx: AppContext): Promise<void> {
  app.get('/api/projects', { onRequest: guard(ctx, 'read') }, async (req) => {
    const principal = principalOf(req);
    const all = await ctx.store.meta.listProjects();
    return {
      projects: all.filter((p) => principal.project === null || p.id === principal.project).map(view),
    };
  });

  app.patch<{ Params: { id: string }; Body: Static<typeof ProjectPatch> }>(
    '/api/projects/:id',
    { onRequest: guard(ctx, 'admin'), schema: { body: ProjectPatch } },
    async (req) => {
      const principal = principalOf(req);
      const { id } = req.params;
      const project =
        principal.project === null || principal.project === id ? await ctx.store.meta.getProject(id) : null;
      if (!project) throw new VigilError('not_found', { message: `No project '${id}'.` });
      await ctx.store.meta.setProjectStrict(id, req.body.strictTypes);
      ctx.projects.forget(id);
      return view({ ...project, strictTypes: req.body.strictTypes });
    },
  );
}
