import type { FastifyInstance, FastifyRequest } from 'fastify';
import { VigilError } from '../errors/index.js';
import type { AppContext } from './context.js';
import { fromFastify } from './errors.js';

/**
 * Admission control for every ingest route (`/v1/events` and the OTLP receivers share one
 * budget): requests admitted and the body bytes they may hold are reserved before the body
 * is read and released when the response is sent or the client goes away.
 */
export class IngestAdmission {
  private active = 0;
  private reservedBytes = 0;
  private readonly reservations = new WeakMap<FastifyRequest, number>();

  constructor(private readonly ctx: Pick<AppContext, 'config' | 'state' | 'committer' | 'metrics'>) {}

  /**
   * Prepares an ingest route scope; call once per scope that uses `admit`. Bodies are read raw
   * (the routes decode gzip, NDJSON and protobuf with their own limits), reservations are
   * released when the response is sent, and refused requests are counted by code for /metrics.
   */
  install(app: FastifyInstance, browserPaths: readonly string[]): void {
    allowBrowsers(app, browserPaths);
    app.removeAllContentTypeParsers();
    app.addContentTypeParser(
      '*',
      { parseAs: 'buffer', bodyLimit: this.ctx.config.ingest.maxBodyBytes },
      (_req, body, done) => done(null, body),
    );
    app.addHook('onResponse', this.release);
    app.addHook('onRequestAbort', this.release);
    app.addHook('onError', async (_req, _reply, err) => {
      const code = err instanceof VigilError ? err.code : fromFastify(err).code;
      this.ctx.metrics.ingestRejects.inc({ code, scope: 'request' });
    });
  }

  /** An onRequest hook: sheds with 429/503 + Retry-After before anything is buffered. */
  readonly admit = async (req: FastifyRequest): Promise<void> => {
    const { ctx } = this;
    const limits = ctx.config.ingest;
    if (ctx.state.shuttingDown) throw new VigilError('shutting_down', { retryAfter: 5 });
    const problem = ctx.state.storeProblem;
    if (problem) {
      throw new VigilError('store_unavailable', {
        retryAfter: 5,
        message: `The store cannot write right now (${problem}); nothing was stored. Retry after the time given in Retry-After.`,
      });
    }
    const declared = Number(req.headers['content-length']);
    const bytes =
      Number.isFinite(declared) && declared >= 0
        ? Math.min(declared, limits.maxBodyBytes)
        : limits.maxBodyBytes;
    const overBudget = this.active > 0 && this.reservedBytes + bytes > limits.maxInFlightBytes;
    if (ctx.committer.saturated || this.active >= limits.maxConcurrentRequests || overBudget) {
      throw new VigilError('overloaded', { retryAfter: 1 });
    }
    this.active += 1;
    this.reservedBytes += bytes;
    this.reservations.set(req, bytes);
  };

  private readonly release = async (req: FastifyRequest): Promise<void> => {
    const bytes = this.reservations.get(req);
    if (bytes === undefined) return;
    this.reservations.delete(req);
    this.active -= 1;
    this.reservedBytes -= bytes;
  };
}

// Browsers send telemetry from any origin with a bearer ingest key (never cookies), so any
// origin may post; Retry-After is exposed so clients can honour it.
const CORS = {
  'access-control-allow-origin': '*',
  'access-control-expose-headers': 'retry-after, x-request-id',
};

/** CORS for browser senders on the scope's routes, and preflight answers for `paths`. */
function allowBrowsers(app: FastifyInstance, paths: readonly string[]): void {
  app.addHook('onSend', async (_req, reply) => {
    void reply.headers(CORS);
  });
  for (const path of paths) {
    app.options(path, async (_req, reply) =>
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
  }
}
