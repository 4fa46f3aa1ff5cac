import type { FastifyInstance, FastifyRequest } from 'fastify';
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

  // Requests admitted and the body bytes they may hold: reserved before the body is read,
  // released when the response is sent or the client goes away.
  let active = 0;
  let reservedBytes = 0;
  const reservations = new WeakMap<FastifyRequest, number>();
  const release = async (req: FastifyRequest) => {
    const bytes = reservations.get(req);
    if (bytes === undefined) return;
    reservations.delete(req);
    active -= 1;
    reservedBytes -= bytes;
  };
  app.addHook('onResponse', release);
  app.addHook('onRequestAbort', release);

  const admit = async (req: FastifyRequest) => {
    // Shed before reading the body: nothing is buffered for a request we cannot take.
    if (ctx.state.shuttingDown) throw new VigilError('shutting_down', { retryAfter: 5 });
    const declared = Number(req.headers['content-length']);
    const bytes =
      Number.isFinite(declared) && declared >= 0
        ? Math.min(declared, limits.maxBodyBytes)
        : limits.maxBodyBytes;
    const overBudget = active > 0 && reservedBytes + bytes > limits.maxInFlightBytes;
    if (ctx.committer.saturated || active >= limits.maxConcurrentRequests || overBudget) {
      throw new VigilError('overloaded', { retryAfter: 1 });
    }
    active += 1;
    reservedBytes += bytes;
    reservations.set(req, bytes);
  };

  // Browsers send events from any origin with a bearer ingest key (never cookies), so any
  // origin may post; Retry-After is exposed so clients can honour it.
  const CORS = {
    'access-control-allow-origin': '*',
    'access-control-expose-headers': 'retry-after, x-request-id',
  };
  app.addHook('onSend', async (_req, reply) => {
    void reply.headers(CORS);
  });
  app.options('/v1/events', async (_req, reply) =>
    reply
      .status(204)
      .headers({
        ...CORS,
        'access-control-allow-methods': 'POST',
        'access-control-allow-headers': 'authorization, content-type, content-encoding',
        'access-control-max-age': '86400',
      })
      .send(),
  );

  app.post<{ Querystring: { project?: string } }>(
    '/v1/events',
    { bodyLimit: limits.maxBodyBytes, onRequest: [guard(ctx, 'ingest'), admit] },
    async (req) => {
      const receivedAt = Date.now();
      if (!isIngestMediaType(req.headers['content-type'])) throw new VigilError('unsupported_media_type');
      if (!Buffer.isBuffer(req.body)) {
        throw new VigilError('invalid_body', { message: 'The body is empty; expected {"events":[…]}.' });
      }
      const projectId = projectFor(principalOf(req), req.query.project);
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
      raw.forEach((item, index) => {
        if (!item.ok) {
          rejected.push({ index, code: 'invalid_json', message: item.message });
          return;
        }
        const result = validateEvent(item.value, vctx);
        if (isRejection(result)) rejected.push({ index, ...result });
        else {
          valid.push(result);
          indexOf.push(index);
        }
      });
      // Rejections ride along with the commit: counted durably for telemetry health, no extra write per request.
      const outcomes = await ctx.committer.submit(valid, {
        project: project.id,
        receivedAt,
        count: rejected.length,
      });
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
    },
  );
}
