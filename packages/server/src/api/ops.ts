import { timingSafeEqual } from 'node:crypto';
import { PassThrough } from 'node:stream';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { reachable } from '../auth/index.js';
import { prepareBackup } from '../ops/backup.js';
import { ACCESS, type AppContext, guard } from './context.js';

const sameSecret = (a: string, b: string) => {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
};

const PROJECT_LABEL = /[{,]project="([^"]*)"/;

/**
 * The exposition as a project's key may see it: series labelled with another project (collector
 * names, for one) are left out; server-wide series carry no project label and stay.
 */
function ownSeries(exposition: string, projects: ReadonlySet<string>): string {
  return exposition
    .split('\n')
    .filter((line) => {
      if (line.startsWith('#')) return true;
      const labelled = PROJECT_LABEL.exec(line);
      return labelled === null || projects.has(labelled[1] as string);
    })
    .join('\n');
}

/**
 * Operations over HTTP: `GET /metrics` (Vigil's own metrics, Prometheus text format) and
 * `POST /api/admin/backup` (a consistent backup of the running server, streamed).
 */
export async function opsRoutes(app: FastifyInstance, ctx: AppContext): Promise<void> {
  const { metrics: settings } = ctx.config;
  const read = guard(ctx, 'read');
  ctx.metrics.observe({
    queuedEvents: () => ctx.committer?.queued ?? 0,
    inFlightEvents: () => ctx.committer?.inFlight ?? 0,
    storeBytes: () => ctx.store.sizeBytes(),
  });

  // Scrapers authenticate with the metrics token, or any viewer/admin key; or not at all when public.
  const scrapeAuth = Object.assign(
    async (req: FastifyRequest) => {
      if (settings.public) return;
      const m = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '');
      if (m && settings.token !== undefined && sameSecret(m[1] as string, settings.token)) return;
      await read(req);
    },
    { [ACCESS]: settings.public ? ('anonymous' as const) : ('read' as const) },
  );

  // Switched off: the route does not exist (404), as for any unknown path.
  if (settings.enabled)
    app.get('/metrics', { onRequest: scrapeAuth }, async (req, reply) => {
      const body = await ctx.metrics.registry.metrics();
      const projects = req.principal ? reachable(req.principal) : null;
      return reply
        .header('content-type', ctx.metrics.registry.contentType)
        .send(projects === null ? body : ownSeries(body, projects));
    });

  app.post('/api/admin/backup', { onRequest: guard(ctx, 'server') }, async (_req, reply) => {
    const prepared = await prepareBackup(ctx.store, ctx.config.dataDir);
    const out = new PassThrough();
    out.on('close', () => prepared.discard());
    prepared.writeTo(out).catch((err: unknown) => {
      reply.log.error({ err }, 'backup stream failed');
      out.destroy(err as Error);
    });
    return reply
      .header('content-type', 'application/octet-stream')
      .header('content-length', String(Buffer.byteLength(prepared.header) + prepared.manifest.payload.bytes))
      .header('x-vigil-schema-version', String(prepared.manifest.schemaVersion))
      .send(out);
  });
}
