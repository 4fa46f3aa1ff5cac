import { randomUUID } from 'node:crypto';
import Fastify, {
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
  LogController,
} from 'fastify';
import { pino } from 'pino';
import { VigilError } from '../errors/index.js';
import { refuseDeepNesting } from '../ingest/index.js';
import { accountRoutes } from './accounts.js';
import { IngestAdmission } from './admission.js';
import { alertRoutes } from './alerts.js';
import { collectorRoutes } from './collectors.js';
import type { AppContext } from './context.js';
import { installErrorHandling } from './errors.js';
import { eventRoutes } from './events.js';
import { healthRoutes } from './health.js';
import { ingestRoutes } from './ingest.js';
import { keyRoutes } from './keys.js';
import { llmRoutes } from './llm.js';
import { metricRoutes, queryRoutes } from './metrics.js';
import { oidcRoutes } from './oidc.js';
import { installOpenApi } from './openapi.js';
import { opsRoutes } from './ops.js';
import { otlpRoutes } from './otlp.js';
import { projectRoutes } from './projects.js';
import { trackRoutes } from './routes.js';
import { sdkRoutes } from './sdk.js';
import { sessionRoutes } from './session.js';
import { telemetryRoutes } from './telemetry.js';
import { webRoutes } from './web.js';

export type { AppContext } from './context.js';
export { ProjectCache } from './context.js';
export { type RouteEntry, routeTable } from './routes.js';

const REQUEST_ID = /^[A-Za-z0-9._-]{1,64}$/;
/** A request that takes this long is logged at info. */
const SLOW_REQUEST_MS = 1_000;
/** Streams (the dashboard's live feed) last as long as the page is open: never "slow". */
const isStream = (req: FastifyRequest) => req.routeOptions.url === '/api/live';

/**
 * The server's JSON log on standard output, buffered up to 4 MB: when it cannot be written (the
 * disk under a redirected log is full, the pipe is gone) lines are dropped and writing resumes
 * when it can; the process never dies of its log (pino's own destination rethrows such errors).
 */
export function createLogger(level: string): FastifyBaseLogger {
  const out = pino.destination({ dest: process.stdout.fd ?? 1, sync: false, maxLength: 4 * 1024 * 1024 });
  out.on('error', () => undefined);
  return pino({ level }, out) as FastifyBaseLogger;
}

/** The HTTP API: one Fastify app, JSON logs with request ids, every error from the catalog. */
export function buildApp(
  ctx: AppContext,
  log: FastifyBaseLogger = createLogger(ctx.config.logLevel),
): FastifyInstance {
  const app = Fastify({
    loggerInstance: log,
    genReqId: (req) => {
      const given = req.headers['x-request-id'];
      return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
    },
    bodyLimit: 1024 * 1024,
    // Errors the router raises before any route runs, in the catalog's shape too.
    frameworkErrors: (error, _req, reply) => {
      const vigil =
        error.code === 'FST_ERR_MAX_PARAM_LENGTH'
          ? new VigilError('uri_too_long', { message: 'A path segment is longer than 100 characters.' })
          : new VigilError('bad_request', { message: 'The URL is not valid (a malformed %-escape?).' });
      void (reply as FastifyReply).status(vigil.status).send(vigil.toBody());
    },
    return503OnClosing: true,
    forceCloseConnections: 'idle',
    // Fastify logs two info lines per request; a busy server would bury the first-start banner.
    logController: new LogController({ disableRequestLogging: true }),
  });
  app.addHook('onResponse', async (req, reply) => {
    const ms = reply.elapsedTime;
    const line = { method: req.method, url: req.url, status: reply.statusCode, ms: Math.round(ms) };
    // Errors and slow answers at info; the rest at debug (VIGIL_LOG_LEVEL=debug shows every request).
    if (reply.statusCode >= 400 || (ms >= SLOW_REQUEST_MS && !isStream(req))) req.log.info(line, 'request');
    else req.log.debug(line, 'request');
  });
  app.decorateRequest('principal', null);
  trackRoutes(app);
  // JSON bodies of the API: nesting is judged before parsing (see MAX_JSON_NESTING).
  const json = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (req, body, done) => {
    try {
      refuseDeepNesting(body as Buffer);
    } catch (err) {
      done(err as Error, undefined);
      return;
    }
    void json(req, body as unknown as string, done);
  });
  app.addHook('onSend', async (req, reply) => {
    void reply.header('x-request-id', req.id);
    // While draining, a keep-alive connection ends with its response instead of idling on.
    if (ctx.state.shuttingDown) void reply.header('connection', 'close');
  });
  installErrorHandling(app);
  // First: it collects every route registered after it.
  installOpenApi(app);

  // In a plugin, like every route: the OpenAPI document sees only routes added after it loads.
  void app.register(async (scope) => {
    scope.get('/healthz', async () => ({ status: 'ok' }));
    scope.get('/readyz', async () => {
      if (!ctx.state.ready || ctx.state.shuttingDown) throw new VigilError('not_ready');
      const problem = ctx.state.storeProblem;
      if (problem) throw new VigilError('not_ready', { message: `The store cannot write: ${problem}` });
      return { status: 'ready' };
    });
  });

  // One admission budget for every ingest route.
  const admission = new IngestAdmission(ctx);
  void app.register(async (scope) => ingestRoutes(scope, ctx, admission));
  void app.register(async (scope) => otlpRoutes(scope, ctx, admission));
  void app.register(async (scope) => keyRoutes(scope, ctx));
  void app.register(async (scope) => projectRoutes(scope, ctx));
  void app.register(async (scope) => sessionRoutes(scope, ctx));
  void app.register(async (scope) => accountRoutes(scope, ctx));
  void app.register(async (scope) => oidcRoutes(scope, ctx));
  void app.register(async (scope) => eventRoutes(scope, ctx));
  void app.register(async (scope) => healthRoutes(scope, ctx));
  void app.register(async (scope) => metricRoutes(scope, ctx));
  void app.register(async (scope) => llmRoutes(scope, ctx));
  void app.register(async (scope) => queryRoutes(scope, ctx));
  void app.register(async (scope) => collectorRoutes(scope, ctx));
  void app.register(async (scope) => telemetryRoutes(scope, ctx));
  void app.register(async (scope) => alertRoutes(scope, ctx));
  void app.register(async (scope) => opsRoutes(scope, ctx));
  void app.register(async (scope) => webRoutes(scope, ctx));
  void app.register(async (scope) => sdkRoutes(scope));
  return app;
}
