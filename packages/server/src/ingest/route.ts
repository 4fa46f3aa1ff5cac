import type { FastifyInstance } from 'fastify';
import { type AppContext, guard, principalOf } from '../api/context.js';
import { projectFor } from '../auth/index.js';
import { EVENT_REJECTIONS, VigilError } from '../errors/index.js';
import { decodeEvents, isIngestMediaType } from './decode.js';
import { isRejection, type ValidEvent, validateEvent } from './validate.js';

interface RejectedEvent {
  index: number;
  code: string;
  message: string;
}

/** `POST /v1/events`: decode → validate/scrub → group commit → 200 after the commit. */
export async function ingestRoutes(app: FastifyInstance, ctx: AppContext): Promise<void> {
  const limits = ctx.config.ingest;
  // Bodies are read raw so that gzip and NDJSON are decoded here, with our own limits.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: limits.maxBodyBytes }, (_req, body, done) => {
    done(null, body);
  });

  let active = 0;
  app.post<{ Querystring: { project?: string } }>(
    '/v1/events',
    {
      bodyLimit: limits.maxBodyBytes,
      onRequest: [
        guard(ctx, 'ingest'),
        async () => {
          // Shed before reading the body: nothing is buffered for a request we cannot take.
          if (ctx.state.shuttingDown) throw new VigilError('shutting_down', { retryAfter: 5 });
          if (ctx.committer.saturated || active >= limits.maxConcurrentRequests) {
            throw new VigilError('overloaded', { retryAfter: 1 });
          }
        },
      ],
    },
    async (req) => {
      active += 1;
      try {
        const receivedAt = Date.now();
        if (!isIngestMediaType(req.headers['content-type'])) throw new VigilError('unsupported_media_type');
        if (!Buffer.isBuffer(req.body)) {
          throw new VigilError('invalid_body', { message: 'The body is empty; expected {"events":[…]}.' });
        }
        const principal = principalOf(req);
        const projectId = projectFor(principal, req.query.project);
        const project = await ctx.projects.get(projectId);
        if (!project) throw new VigilError('not_found', { message: `No project '${projectId}'.` });

        const raw = await decodeEvents(
          req.body,
          { contentType: req.headers['content-type'], contentEncoding: req.headers['content-encoding'] },
          limits,
        );
        const vctx = {
          project: project.id,
          strictTypes: project.strictTypes,
          receivedAt,
          limits,
          privacy: ctx.privacy,
        };
        const rejected: RejectedEvent[] = [];
        const valid: ValidEvent[] = [];
        const indexOf: number[] = [];
        for (let index = 0; index < raw.length; index++) {
          const item = raw[index];
          if (!item) continue;
          if (!item.ok) {
            rejected.push({ index, code: 'invalid_json', message: item.message });
            continue;
          }
          const result = validateEvent(item.value, vctx);
          if (isRejection(result)) rejected.push({ index, ...result });
          else {
            valid.push(result);
            indexOf.push(index);
          }
        }
        const outcomes = await ctx.committer.submit(valid);
        outcomes.forEach((outcome, k) => {
          if (outcome === 'duplicate_outcome') {
            rejected.push({
              index: indexOf[k] as number,
              code: 'duplicate_outcome',
              message: EVENT_REJECTIONS.duplicate_outcome,
            });
          }
        });
        rejected.sort((a, b) => a.index - b.index);
        return { accepted: raw.length - rejected.length, rejected };
      } finally {
        active -= 1;
      }
    },
  );
}
