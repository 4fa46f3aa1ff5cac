import type { FastifyInstance, FastifyRequest } from 'fastify';
import { projectFor } from '../auth/index.js';
import { VigilError } from '../errors/index.js';
import { type AcceptResult, acceptEvents, decodeEvents, isIngestMediaType } from '../ingest/index.js';
import type { ProjectRecord } from '../store/index.js';
import { IngestAdmission } from './admission.js';
import { type AppContext, guard, principalOf } from './context.js';
import { ProjectQuery, type QueryOf } from './params.js';

/** `POST /v1/events`: decode → validate/scrub → group commit → 200 after the commit. */
export async function ingestRoutes(
  app: FastifyInstance,
  ctx: AppContext,
  admission = new IngestAdmission(ctx),
): Promise<void> {
  const limits = ctx.config.ingest;
  admission.install(app, ['/v1/events']);

  app.post<{ Querystring: QueryOf<typeof ProjectQuery> }>(
    '/v1/events',
    {
      bodyLimit: limits.maxBodyBytes,
      onRequest: [guard(ctx, 'ingest'), admission.admit],
      schema: { querystring: ProjectQuery },
    },
    async (req) => {
      const receivedAt = Date.now();
      if (!isIngestMediaType(req.headers['content-type'])) throw new VigilError('unsupported_media_type');
      if (!Buffer.isBuffer(req.body)) {
        throw new VigilError('invalid_body', { message: 'The body is empty; expected {"events":[…]}.' });
      }
      const project = await targetProject(ctx, req);

      ctx.metrics.ingestBytes.inc(req.body.length);
      const raw = await decodeEvents(
        req.body,
        { contentType: req.headers['content-type'], contentEncoding: req.headers['content-encoding'] },
        limits,
      );
      // Rejections ride along with the commit: counted durably for telemetry health, no extra write per request.
      const result = await acceptEvents(raw, ctx.committer, {
        project: project.id,
        strictTypes: project.strictTypes,
        receivedAt,
        limits,
        privacy: ctx.privacy,
        prices: await ctx.prices.book(project.id),
      });
      countRejections(ctx, result);
      return result;
    },
  );
}

/** Events refused inside a 200, by code, for /metrics (stored and duplicate ones are counted at commit). */
export function countRejections(ctx: Pick<AppContext, 'metrics'>, result: AcceptResult): void {
  if (result.rejected.length === 0) return;
  ctx.metrics.ingestEvents.inc({ outcome: 'rejected' }, result.rejected.length);
  for (const r of result.rejected) ctx.metrics.ingestRejects.inc({ code: r.code, scope: 'event' });
}

/** The project an ingest request writes to (the key's, or `?project=` for a server-wide key). */
export async function targetProject(
  ctx: Pick<AppContext, 'projects'>,
  req: FastifyRequest<{ Querystring: QueryOf<typeof ProjectQuery> }>,
): Promise<ProjectRecord> {
  const projectId = projectFor(principalOf(req), req.query.project);
  const project = await ctx.projects.get(projectId);
  if (!project) throw new VigilError('not_found', { message: `No project '${projectId}'.` });
  return project;
}
