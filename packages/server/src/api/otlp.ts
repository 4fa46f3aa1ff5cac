import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { type ErrorCode, VigilError } from '../errors/index.js';
import { acceptEvents, decompress, mediaType, type RawEvent, type RejectedEvent } from '../ingest/index.js';
import {
  ContentAttributes,
  ContextSpans,
  decodeRequest,
  logsToEvents,
  metricsToSamples,
  type OtlpEncoding,
  otlpEncoding,
  pointsOf,
  SIGNALS,
  type Signal,
  type SignalRequest,
  StatusMessage,
  spansToEvents,
} from '../otlp/index.js';
import { IngestAdmission } from './admission.js';
import { type AppContext, guard } from './context.js';
import { targetProject } from './ingest.js';
import { ProjectQuery, type QueryOf } from './params.js';

const PATHS = ['/v1/traces', '/v1/metrics', '/v1/logs'];

/** gRPC status codes for the `code` of an OTLP error `Status`, by HTTP status. */
const GRPC_CODES: Record<number, number> = {
  400: 3, // INVALID_ARGUMENT
  401: 16, // UNAUTHENTICATED
  403: 7, // PERMISSION_DENIED
  404: 5, // NOT_FOUND
  413: 3,
  415: 3,
  429: 8, // RESOURCE_EXHAUSTED
  503: 14, // UNAVAILABLE
};

/**
 * OTLP/HTTP receivers (`POST /v1/traces`, `/v1/metrics`, `/v1/logs`), protobuf or JSON, gzip
 * or not, authenticated by ingest keys and admitted under the same budget as `/v1/events`.
 * Spans and log records become events through the same validation, scrubbing, group commit
 * and audit chain; metric points become samples. 200 only after the data is stored.
 */
export async function otlpRoutes(
  app: FastifyInstance,
  ctx: AppContext,
  admission = new IngestAdmission(ctx),
): Promise<void> {
  const limits = ctx.config.ingest;
  admission.install(app, PATHS);
  app.addHook('onSend', statusBody);

  const content = new ContentAttributes(ctx.config.otlp.contentAttributes);
  const contextSpans = new ContextSpans();

  const receive = <S extends Signal>(
    signal: S,
    handle: (
      request: SignalRequest[S],
      project: { id: string; strictTypes: boolean },
      receivedAt: number,
    ) => Promise<{ rejected: number; message: string }>,
  ) =>
    app.post<{ Querystring: QueryOf<typeof ProjectQuery> }>(
      `/v1/${signal}`,
      {
        bodyLimit: limits.maxBodyBytes,
        onRequest: [guard(ctx, 'ingest'), admission.admit],
        schema: { querystring: ProjectQuery },
      },
      async (req, reply) => {
        const receivedAt = Date.now();
        const encoding = otlpEncoding(mediaType(req.headers['content-type']));
        if (!encoding) {
          throw new VigilError('unsupported_media_type', {
            message: `Content-Type '${req.headers['content-type'] ?? ''}' is not OTLP/HTTP; send application/x-protobuf or application/json.`,
          });
        }
        const project = await targetProject(ctx, req);
        const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
        const bytes = await decompress(body, req.headers['content-encoding'], limits);
        const request = decodeRequest(signal, bytes, encoding);
        // One rule for every signal, before mapping: at most maxEventsPerRequest spans, log
        // records or data points, as for the events of /v1/events.
        const items = itemsOf(signal, request);
        if (items.count > limits.maxEventsPerRequest) {
          throw new VigilError('too_many_events', {
            message: `The request holds ${items.count} ${items.noun}; at most ${limits.maxEventsPerRequest} are allowed in one request.`,
          });
        }
        const { rejected, message } = await handle(request, project, receivedAt);
        return respond(reply, signal, encoding, rejected, message);
      },
    );

  const acceptAll = async (
    raw: RawEvent[],
    noun: string,
    project: { id: string; strictTypes: boolean },
    receivedAt: number,
  ) => {
    const result = await acceptEvents(raw, ctx.committer, {
      project: project.id,
      strictTypes: project.strictTypes,
      receivedAt,
      limits,
      privacy: ctx.privacy,
      prices: await ctx.prices.book(project.id),
    });
    return { rejected: result.rejected.length, message: summary(result.rejected, raw.length, noun) };
  };

  receive('traces', async (request, project, receivedAt) => {
    return acceptAll(
      mapped(() =>
        spansToEvents(request, { project: project.id, config: ctx.config.otlp, content, contextSpans }),
      ),
      'spans',
      project,
      receivedAt,
    );
  });
  receive('logs', async (request, project, receivedAt) => {
    return acceptAll(
      mapped(() => logsToEvents(request, { project: project.id, content })),
      'log records',
      project,
      receivedAt,
    );
  });
  receive('metrics', async (request, project, receivedAt) => {
    const result = mapped(() =>
      metricsToSamples(request, {
        project: project.id,
        receivedAt,
        limits,
        privacy: ctx.privacy,
        content,
        maxSamples: limits.maxEventsPerRequest * 10,
      }),
    );
    await ctx.store.samples.append(result.samples);
    const message =
      result.rejected > 0
        ? `${result.rejected} of ${result.points} data points rejected: ${result.errors.join('; ')}`
        : '';
    return { rejected: result.rejected, message };
  });
}

/** How many items (spans, log records, data points) an export request holds. */
function itemsOf<S extends Signal>(signal: S, request: SignalRequest[S]): { count: number; noun: string } {
  const sum = <T>(list: T[] | null | undefined, f: (item: T) => number) =>
    (list ?? []).reduce((n, item) => n + f(item), 0);
  if (signal === 'traces') {
    const r = request as SignalRequest['traces'];
    return {
      count: sum(r.resourceSpans, (rs) => sum(rs.scopeSpans, (ss) => ss.spans?.length ?? 0)),
      noun: 'spans',
    };
  }
  if (signal === 'logs') {
    const r = request as SignalRequest['logs'];
    return {
      count: sum(r.resourceLogs, (rl) => sum(rl.scopeLogs, (sl) => sl.logRecords?.length ?? 0)),
      noun: 'log records',
    };
  }
  const r = request as SignalRequest['metrics'];
  return {
    count: sum(r.resourceMetrics, (rm) => sum(rm.scopeMetrics, (sm) => sum(sm.metrics, pointsOf))),
    noun: 'data points',
  };
}

/** Mapping reads only decoded data: anything it cannot make sense of is the request's fault. */
function mapped<T>(map: () => T): T {
  try {
    return map();
  } catch (err) {
    if (err instanceof VigilError) throw err;
    throw new VigilError('invalid_otlp', {
      message: `The export request holds data that cannot be mapped: ${(err as Error).message}.`,
    });
  }
}

function summary(rejected: readonly RejectedEvent[], total: number, noun: string): string {
  if (rejected.length === 0) return '';
  const first = rejected
    .slice(0, 3)
    .map((r) => `#${r.index}: ${r.code}: ${r.message}`)
    .join('; ');
  return `${rejected.length} of ${total} ${noun} rejected: ${first}${rejected.length > 3 ? '; …' : ''}`;
}

/** ExportXServiceResponse in the request's encoding; partial_success only when something was rejected. */
function respond(
  reply: FastifyReply,
  signal: Signal,
  encoding: OtlpEncoding,
  rejected: number,
  errorMessage: string,
): Buffer | string {
  const { response, rejectedField } = SIGNALS[signal];
  const partialSuccess = rejected > 0 ? { [rejectedField]: rejected, errorMessage } : undefined;
  if (encoding === 'protobuf') {
    void reply.type('application/x-protobuf');
    return Buffer.from(response.encode(response.create(partialSuccess ? { partialSuccess } : {})).finish());
  }
  void reply.type('application/json');
  // proto3 JSON writes 64-bit integers as strings.
  return JSON.stringify(
    partialSuccess ? { partialSuccess: { [rejectedField]: String(rejected), errorMessage } } : {},
  );
}

/**
 * OTLP error bodies are a `google.rpc.Status` in the request's encoding. For protobuf clients
 * the catalog error becomes one; JSON clients get the Status fields next to Vigil's `error`.
 */
async function statusBody(req: FastifyRequest, reply: FastifyReply, payload: unknown): Promise<unknown> {
  if (reply.statusCode < 400 || typeof payload !== 'string') return payload;
  let error: { code: ErrorCode; message: string } | undefined;
  try {
    error = (JSON.parse(payload) as { error?: { code: ErrorCode; message: string } }).error;
  } catch {
    return payload;
  }
  if (!error) return payload;
  const code = GRPC_CODES[reply.statusCode] ?? 13;
  if (otlpEncoding(mediaType(req.headers['content-type'])) === 'protobuf') {
    void reply.type('application/x-protobuf');
    return Buffer.from(
      StatusMessage.encode(
        StatusMessage.create({ code, message: `${error.code}: ${error.message}` }),
      ).finish(),
    );
  }
  return JSON.stringify({ code, message: error.message, error });
}
