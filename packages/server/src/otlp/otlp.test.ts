/**
 * The unmodified OpenTelemetry JS SDK (2.x) and its OTLP/HTTP exporters (JSON and protobuf)
 * exporting to a real Vigil server on loopback over a real DuckDB file.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { ROOT_CONTEXT, SpanStatusCode, trace } from '@opentelemetry/api';
import { OTLPLogExporter } from '@opentelemetry/exporter-logs-otlp-http';
import { OTLPMetricExporter as OTLPMetricExporterJson } from '@opentelemetry/exporter-metrics-otlp-http';
import { OTLPMetricExporter as OTLPMetricExporterProto } from '@opentelemetry/exporter-metrics-otlp-proto';
import { OTLPTraceExporter as OTLPTraceExporterJson } from '@opentelemetry/exporter-trace-otlp-http';
import { OTLPTraceExporter as OTLPTraceExporterProto } from '@opentelemetry/exporter-trace-otlp-proto';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { LoggerProvider, SimpleLogRecordProcessor } from '@opentelemetry/sdk-logs';
import { AggregationType, MeterProvider, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import {
  BatchSpanProcessor,
  InMemorySpanExporter,
  NodeTracerProvider,
  type ReadableSpan,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore } from '../store/index.js';
import { call, readEvents, startVigil, type Vigil } from '../test/harness.js';
import { SIGNALS, StatusMessage } from './proto.js';

const SECRET = 'zebra-secret-prompt-7731';
let vigil: Vigil;
const headers = () => ({ Authorization: `Bearer ${vigil.ingestKey}` });
const resource = resourceFromAttributes({
  'service.name': 'rag-app',
  'service.version': '3.1.0',
  'host.name': 'box-1',
});

/** Finished spans made by the real SDK with set times, captured to be exported (and re-exported). */
function makeSpans(build: (tracer: ReturnType<NodeTracerProvider['getTracer']>) => void): ReadableSpan[] {
  const memory = new InMemorySpanExporter();
  const provider = new NodeTracerProvider({ resource, spanProcessors: [new SimpleSpanProcessor(memory)] });
  build(provider.getTracer('test-llm', '1.0.0'));
  return memory.getFinishedSpans();
}

function exportSpans(
  exporter: OTLPTraceExporterJson | OTLPTraceExporterProto,
  spans: ReadableSpan[],
): Promise<{ code: number; error?: Error }> {
  return new Promise((resolve) => {
    exporter.export(spans, resolve);
  });
}

const T0 = Date.now() - 60_000;

beforeAll(async () => {
  vigil = await startVigil();
});
afterAll(async () => {
  await vigil.cleanup();
});

describe('OTLP traces from the OpenTelemetry SDK', () => {
  it('maps GenAI spans (JSON and protobuf exporters) to llm.request and shows them in /api/metrics/current', async () => {
    // JSON exporter: a chat span with a retrieval child, cached input tokens and message content.
    const chat = makeSpans((tracer) => {
      const parent = tracer.startSpan('chat gpt-4o', {
        startTime: T0,
        attributes: {
          'gen_ai.operation.name': 'chat',
          'gen_ai.provider.name': 'openai',
          'gen_ai.request.model': 'gpt-4o',
          'gen_ai.response.model': 'gpt-4o-2024-08-06',
          'gen_ai.usage.input_tokens': 100,
          'gen_ai.usage.output_tokens': 20,
          'gen_ai.usage.cache_read.input_tokens': 40,
          'gen_ai.input.messages': JSON.stringify([
            { role: 'user', parts: [{ type: 'text', content: SECRET }] },
          ]),
          'gen_ai.output.messages': `[{"role":"assistant","content":"${SECRET}"}]`,
          'gen_ai.prompt.0.content': SECRET,
          'user.id': 'u-1',
          'vigil.space': 'space-a',
        },
      });
      const ctx = trace.setSpan(ROOT_CONTEXT, parent);
      const retrieval = tracer.startSpan(
        'retrieve docs',
        { startTime: T0 + 10, attributes: { 'gen_ai.operation.name': 'retrieval' } },
        ctx,
      );
      retrieval.end(T0 + 210);
      parent.end(T0 + 1000);
    });
    const json = new OTLPTraceExporterJson({ url: `${vigil.url}/v1/traces`, headers: headers() });
    expect((await exportSpans(json, chat)).code).toBe(0);

    // Protobuf exporter: an error by error.type, an error by status + exception, and a plain span.
    const more = makeSpans((tracer) => {
      const a = tracer.startSpan('chat claude', {
        startTime: T0 + 2000,
        attributes: {
          'gen_ai.operation.name': 'chat',
          'gen_ai.request.model': 'claude-sonnet',
          'gen_ai.usage.input_tokens': 50,
          'gen_ai.usage.output_tokens': 10,
          'error.type': 'timeout',
          'user.id': 'u-2',
          'vigil.space': 'space-b',
        },
      });
      a.setStatus({ code: SpanStatusCode.ERROR, message: 'upstream timed out' });
      a.end(T0 + 2500);
      const b = tracer.startSpan('generate', {
        startTime: T0 + 3000,
        attributes: { 'gen_ai.operation.name': 'chat', 'gen_ai.request.model': 'gpt-4o', 'user.id': 'u-1' },
      });
      b.recordException(new TypeError('bad response'));
      b.setStatus({ code: SpanStatusCode.ERROR });
      b.end(T0 + 3100);
      const http = tracer.startSpan('GET /search', {
        startTime: T0 + 4000,
        attributes: {
          'http.request.method': 'GET',
          'http.route': '/search',
          'http.response.status_code': 200,
        },
      });
      http.end(T0 + 4042);
    });
    // Configured the way an application is, by the standard environment (gzip included).
    process.env.OTEL_EXPORTER_OTLP_TRACES_COMPRESSION = 'gzip';
    const proto = new OTLPTraceExporterProto({ url: `${vigil.url}/v1/traces`, headers: headers() });
    delete process.env.OTEL_EXPORTER_OTLP_TRACES_COMPRESSION;
    expect((await exportSpans(proto, more)).code).toBe(0);
    // Exporter retries of the same spans are idempotent (deterministic ids).
    expect((await exportSpans(proto, more)).code).toBe(0);
    expect((await exportSpans(json, chat)).code).toBe(0);

    const current = await call(vigil, 'GET', '/api/metrics/current?window=hour', { token: vigil.adminToken });
    expect(current.status).toBe(200);
    const m = current.body as {
      tokens: {
        promptTokens: number;
        completionTokens: number;
        totalTokens: number;
        bySpace: Record<string, number>;
      };
      errors: {
        totalErrors: number;
        totalRequests: number;
        totalErrorRate: number;
        errorCountByType: Record<string, number>;
      };
      totalLatency: { max: number; min: number; count: number };
      llmLatency: { max: number; min: number };
      contextLatency: { max: number; count: number };
      cacheHitRate: { hits: number; misses: number };
    };
    // Cached input tokens are part of input_tokens: 100 + 50, not 100 + 40 + 50.
    expect(m.tokens.promptTokens).toBe(150);
    expect(m.tokens.completionTokens).toBe(30);
    expect(m.tokens.totalTokens).toBe(180);
    expect(m.errors.totalRequests).toBe(3);
    expect(m.errors.totalErrors).toBe(2);
    expect(m.errors.totalErrorRate).toBeCloseTo((2 / 3) * 100, 5);
    expect(m.errors.errorCountByType).toMatchObject({ timeout: 1, TypeError: 1 });
    expect(m.totalLatency.count).toBe(3);
    expect(m.totalLatency.max).toBeCloseTo(1000, 5);
    expect(m.totalLatency.min).toBeCloseTo(100, 5);
    expect(m.llmLatency.max).toBeCloseTo(800, 5);
    expect(m.contextLatency.count).toBe(1);
    expect(m.contextLatency.max).toBeCloseTo(200, 5);
    expect(m.cacheHitRate.hits).toBe(1);

    const llm = await readEvents(vigil, { type: 'llm.request' });
    expect(llm).toHaveLength(3);
    const first = llm.find((e) => e.props.model === 'gpt-4o' && e.props.total_ms === 1000);
    expect(first?.version).toBe('3.1.0');
    expect(first?.props).toMatchObject({
      total_ms: 1000,
      context_ms: 200,
      llm_ms: 800,
      prompt_tokens: 100,
      completion_tokens: 20,
      cache_read_tokens: 40,
      cache_hit: true,
      user: 'u-1',
      space: 'space-a',
      'gen_ai.provider.name': 'openai',
      'gen_ai.response.model': 'gpt-4o-2024-08-06',
      'service.name': 'rag-app',
    });
    expect(JSON.stringify(llm)).not.toContain(SECRET);
    expect(JSON.stringify(llm)).not.toContain('gen_ai.input.messages');

    const spans = await readEvents(vigil, { type: 'span' });
    expect(spans.map((s) => s.props.name).sort()).toEqual(['GET /search', 'retrieve docs']);
    const search = spans.find((s) => s.props.name === 'GET /search');
    expect(search?.props).toMatchObject({
      kind: 'internal',
      duration_ms: 42,
      status: 'unset',
      'http.route': '/search',
      'http.response.status_code': 200,
    });

    const scrubs = await vigil.server.context.store.events.scrubCounts('default');
    // Three content attributes on the chat span, counted once per export that stored it.
    expect(scrubs.find((s) => s.reason === 'content')?.count).toBe(3);
  });

  it('delivers through a BatchSpanProcessor on flush, as an instrumented application does', async () => {
    const provider = new NodeTracerProvider({
      resource,
      spanProcessors: [
        new BatchSpanProcessor(
          new OTLPTraceExporterProto({ url: `${vigil.url}/v1/traces`, headers: headers() }),
        ),
      ],
    });
    const tracer = provider.getTracer('app');
    await tracer.startActiveSpan(
      'embeddings text-embedding-3-small',
      {
        attributes: {
          'gen_ai.operation.name': 'embeddings',
          'gen_ai.request.model': 'text-embedding-3-small',
          'gen_ai.usage.input_tokens': 9,
        },
      },
      async (span) => {
        await new Promise((r) => setTimeout(r, 20));
        span.end();
      },
    );
    await provider.forceFlush();
    await provider.shutdown();
    const stored = await readEvents(vigil, { type: 'llm.request', 'prop.model': 'text-embedding-3-small' });
    expect(stored).toHaveLength(1);
    expect(stored[0]?.props.prompt_tokens).toBe(9);
    expect(stored[0]?.props.total_ms).toBeGreaterThanOrEqual(15);
  });

  it('answers partial success for spans that fail validation, in the request encoding', async () => {
    const spans = makeSpans((tracer) => {
      tracer.startSpan('ok', { startTime: Date.now() - 1000 }).end(Date.now() - 900);
      // Ten days in the future: rejected like any event with a far-future ts.
      const future = Date.now() + 10 * 86_400_000;
      tracer.startSpan('future', { startTime: future }).end(future + 5);
    });
    const json = new OTLPTraceExporterJson({ url: `${vigil.url}/v1/traces`, headers: headers() });
    // The exporter reports partial success as success; read the raw answer too.
    expect((await exportSpans(json, spans)).code).toBe(0);
    const body = {
      resourceSpans: [
        {
          scopeSpans: [
            {
              spans: [
                {
                  traceId: '5b8efff798038103d269b633813fc60c',
                  spanId: 'eee19b7ec3c1b174',
                  name: 'future',
                  startTimeUnixNano: String(BigInt(Date.now() + 10 * 86_400_000) * 1_000_000n),
                  endTimeUnixNano: String(BigInt(Date.now() + 10 * 86_400_000 + 5) * 1_000_000n),
                },
              ],
            },
          ],
        },
      ],
    };
    const res = await call(vigil, 'POST', '/v1/traces', { token: vigil.ingestKey, json: body });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/application\/json/);
    const partial = (res.body as { partialSuccess: { rejectedSpans: string; errorMessage: string } })
      .partialSuccess;
    expect(partial.rejectedSpans).toBe('1');
    expect(partial.errorMessage).toMatch(/ts_in_future/);
  });

  it('rejects what it cannot take with the OTLP status codes and a Status body', async () => {
    const unsupported = await call(vigil, 'POST', '/v1/traces', {
      token: vigil.ingestKey,
      body: '{}',
      headers: { 'content-type': 'text/plain' },
    });
    expect(unsupported.status).toBe(415);
    expect(unsupported.body).toMatchObject({ error: { code: 'unsupported_media_type' } });

    const anonymous = await call(vigil, 'POST', '/v1/metrics', {
      body: new Uint8Array(),
      headers: { 'content-type': 'application/x-protobuf' },
    });
    expect(anonymous.status).toBe(401);

    const res = await fetch(`${vigil.url}/v1/logs`, {
      method: 'POST',
      headers: { ...headers(), 'content-type': 'application/x-protobuf' },
      body: new Uint8Array([0x0a, 0xff, 0xff, 0x01]),
    });
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toMatch(/application\/x-protobuf/);
    const status = StatusMessage.decode(new Uint8Array(await res.arrayBuffer())) as unknown as {
      code: number;
      message: string;
    };
    expect(status.code).toBe(3);
    expect(status.message).toMatch(/^invalid_protobuf: /);

    const empty = await call(vigil, 'POST', '/v1/traces', {
      token: vigil.ingestKey,
      body: '',
      headers: { 'content-type': 'application/json' },
    });
    expect(empty.status).toBe(200);
    expect(empty.body).toEqual({});
  });
});

describe('OTLP keys and projects', () => {
  it("takes only ingest or admin keys and writes into the key's own project", async () => {
    const key = async (role: string, project?: string) =>
      (
        (await call(vigil, 'POST', '/api/keys', { token: vigil.adminToken, json: { role, project } }))
          .body as {
          key: string;
        }
      ).key;
    const viewer = await key('viewer');
    const otherIngest = await key('ingest', 'other');
    const otherViewer = await key('viewer', 'other');
    const spans = makeSpans((tracer) => {
      tracer.startSpan('other.work', { startTime: Date.now() - 500 }).end(Date.now() - 400);
    });
    const as = (token: string) =>
      new OTLPTraceExporterProto({
        url: `${vigil.url}/v1/traces`,
        headers: { Authorization: `Bearer ${token}` },
      });
    const denied = await exportSpans(as(viewer), spans);
    expect(denied.code).not.toBe(0);
    expect((await exportSpans(as(otherIngest), spans)).code).toBe(0);
    const theirs = await call(vigil, 'GET', '/api/events?type=span', { token: otherViewer });
    expect(
      (theirs.body as { events: { props: { name: string } }[] }).events.map((e) => e.props.name),
    ).toEqual(['other.work']);
    const ours = await readEvents(vigil, { type: 'span' });
    expect(ours.some((e) => e.props.name === 'other.work')).toBe(false);
    const pushInto = await call(vigil, 'POST', '/v1/traces?project=default', {
      token: otherIngest,
      json: {},
    });
    expect(pushInto.status).toBe(403);

    // A strict project takes the llm.request of a GenAI span and refuses the custom span event.
    const strict = await call(vigil, 'PATCH', '/api/projects/other', {
      token: vigil.adminToken,
      json: { strictTypes: true },
    });
    expect(strict.status).toBe(200);
    const now = BigInt(Date.now()) * 1_000_000n;
    const span = (id: string, attributes: unknown[]) => ({
      traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
      spanId: id,
      name: 'x',
      startTimeUnixNano: String(now - 5_000_000n),
      endTimeUnixNano: String(now),
      attributes,
    });
    const mixed = await call(vigil, 'POST', '/v1/traces', {
      token: otherIngest,
      json: {
        resourceSpans: [
          {
            scopeSpans: [
              {
                spans: [
                  span('00f067aa0ba902b7', [
                    { key: 'gen_ai.operation.name', value: { stringValue: 'chat' } },
                  ]),
                  span('00f067aa0ba902b8', []),
                ],
              },
            ],
          },
        ],
      },
    });
    expect(mixed.status).toBe(200);
    expect(mixed.body).toMatchObject({
      partialSuccess: { rejectedSpans: '1', errorMessage: expect.stringMatching(/#1: unknown_event_type/) },
    });
  });
});

describe('OTLP backpressure', () => {
  it('sheds with 429 and Retry-After (protobuf Status body for protobuf clients), then recovers', async () => {
    const small = await startVigil({ config: { rateLimits: { ingest: { ratePerSec: 0.5, burst: 1 } } } });
    try {
      const body = gzipSync(SIGNALS.traces.request.encode(SIGNALS.traces.request.create({})).finish());
      const send = () =>
        fetch(`${small.url}/v1/traces`, {
          method: 'POST',
          headers: {
            authorization: `Bearer ${small.ingestKey}`,
            'content-type': 'application/x-protobuf',
            'content-encoding': 'gzip',
          },
          body,
        });
      expect((await send()).status).toBe(200);
      const shed = await send();
      expect(shed.status).toBe(429);
      expect(Number(shed.headers.get('retry-after'))).toBeGreaterThan(0);
      const status = StatusMessage.decode(new Uint8Array(await shed.arrayBuffer())) as unknown as {
        code: number;
        message: string;
      };
      expect(status).toMatchObject({ code: 8, message: expect.stringMatching(/^rate_limited: /) });
      await new Promise((r) => setTimeout(r, Number(shed.headers.get('retry-after')) * 1000));
      expect((await send()).status).toBe(200);
    } finally {
      await small.cleanup();
    }
  });
});

describe('OTLP request limits', () => {
  it('counts data points like spans and log records: more than one request may hold is a 413', async () => {
    const small = await startVigil({ config: { ingest: { maxEventsPerRequest: 2 } } });
    try {
      const ns = String(BigInt(Date.now()) * 1_000_000n);
      const gauge = (points: number) => ({
        resourceMetrics: [
          {
            scopeMetrics: [
              {
                metrics: [
                  {
                    name: 'g',
                    gauge: {
                      dataPoints: Array.from({ length: points }, (_, i) => ({
                        timeUnixNano: ns,
                        asDouble: i,
                      })),
                    },
                  },
                ],
              },
            ],
          },
        ],
      });
      const three = await call(small, 'POST', '/v1/metrics', { token: small.ingestKey, json: gauge(3) });
      expect(three.status).toBe(413);
      expect(three.body).toMatchObject({
        error: { code: 'too_many_events', message: expect.stringMatching(/3 data points/) },
      });
      const two = await call(small, 'POST', '/v1/metrics', { token: small.ingestKey, json: gauge(2) });
      expect(two.status).toBe(200);
      const logs = await call(small, 'POST', '/v1/logs', {
        token: small.ingestKey,
        json: {
          resourceLogs: [
            {
              scopeLogs: [
                { logRecords: [1, 2, 3].map((n) => ({ timeUnixNano: ns, body: { intValue: n } })) },
              ],
            },
          ],
        },
      });
      expect(logs.status).toBe(413);
      expect(logs.body).toMatchObject({ error: { message: expect.stringMatching(/3 log records/) } });
    } finally {
      await small.cleanup();
    }
  });

  it('refuses more spans, or more samples (histogram buckets count), than one request may hold, with 413', async () => {
    const small = await startVigil({ config: { ingest: { maxEventsPerRequest: 2 } } });
    try {
      const ns = String(BigInt(Date.now()) * 1_000_000n);
      const spans = ['00f067aa0ba902b1', '00f067aa0ba902b2', '00f067aa0ba902b3'].map((spanId) => ({
        traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
        spanId,
        name: 's',
        startTimeUnixNano: ns,
        endTimeUnixNano: ns,
      }));
      const traces = await call(small, 'POST', '/v1/traces', {
        token: small.ingestKey,
        json: { resourceSpans: [{ scopeSpans: [{ spans }] }] },
      });
      expect(traces.status).toBe(413);
      expect(traces.body).toMatchObject({
        error: { code: 'too_many_events', message: expect.stringMatching(/3 spans/) },
      });
      // One histogram point with 30 bounds makes 33 samples; at most 2 × 10 are allowed.
      const bounds = Array.from({ length: 30 }, (_, i) => i + 1);
      const metrics = await call(small, 'POST', '/v1/metrics', {
        token: small.ingestKey,
        json: {
          resourceMetrics: [
            {
              scopeMetrics: [
                {
                  metrics: [
                    {
                      name: 'h',
                      histogram: {
                        aggregationTemporality: 2,
                        dataPoints: [
                          {
                            timeUnixNano: ns,
                            count: '0',
                            bucketCounts: bounds.map(() => '0').concat('0'),
                            explicitBounds: bounds,
                          },
                        ],
                      },
                    },
                  ],
                },
              ],
            },
          ],
        },
      });
      expect(metrics.status).toBe(413);
      expect(metrics.body).toMatchObject({ error: { code: 'too_many_events' } });
      expect(
        await small.server.context.store.samples.list({
          project: 'default',
          from: 0,
          to: Date.now() + 60_000,
          limit: 10,
        }),
      ).toEqual([]);
    } finally {
      await small.cleanup();
    }
  });
});

describe('OTLP metrics and logs from the OpenTelemetry SDK', () => {
  it('stores sums, gauges, histograms and exponential histograms as samples (JSON and protobuf)', async () => {
    for (const [encoding, Exporter] of [
      ['json', OTLPMetricExporterJson],
      ['proto', OTLPMetricExporterProto],
    ] as const) {
      const reader = new PeriodicExportingMetricReader({
        exporter: new Exporter({ url: `${vigil.url}/v1/metrics`, headers: headers() }),
        exportIntervalMillis: 3_600_000,
      });
      const provider = new MeterProvider({
        resource,
        readers: [reader],
        views: [
          { instrumentName: 'llm.latency.exp', aggregation: { type: AggregationType.EXPONENTIAL_HISTOGRAM } },
        ],
      });
      const meter = provider.getMeter('test');
      meter.createCounter('llm.requests').add(7, { model: 'gpt-4o', encoding });
      meter.createUpDownCounter('queue.depth').add(-3, { encoding });
      meter.createGauge('gpu.temperature').record(71.5, { encoding });
      const h = meter.createHistogram('llm.latency', {
        advice: { explicitBucketBoundaries: [100, 500, 1000] },
      });
      for (const v of [50, 200, 700, 5000]) h.record(v, { encoding });
      const e = meter.createHistogram('llm.latency.exp');
      for (const v of [1, 2, 4, 8, 1000]) e.record(v, { encoding });
      await provider.forceFlush();
      await provider.shutdown();
    }
    const store = vigil.server.context.store.samples;
    const from = Date.now() - 3_600_000;
    const to = Date.now() + 60_000;
    for (const encoding of ['json', 'proto']) {
      const latest = async (name: string, labels: Record<string, string> = {}) =>
        (
          await store.list({ project: 'default', name, from, to, limit: 10, labels: { encoding, ...labels } })
        )[0];
      const counter = await latest('llm_requests', { model: 'gpt-4o' });
      expect(counter).toMatchObject({ value: 7, kind: 'counter', source: 'otlp' });
      expect(counter?.labels).toMatchObject({ job: 'rag-app', model: 'gpt-4o' });
      expect(await latest('queue_depth')).toMatchObject({ value: -3, kind: 'gauge' });
      expect(await latest('gpu_temperature')).toMatchObject({ value: 71.5, kind: 'gauge' });
      expect(await latest('llm_latency_bucket', { le: '100' })).toMatchObject({
        value: 1,
        kind: 'histogram',
      });
      expect(await latest('llm_latency_bucket', { le: '1000' })).toMatchObject({ value: 3 });
      expect(await latest('llm_latency_bucket', { le: '+Inf' })).toMatchObject({ value: 4 });
      expect(await latest('llm_latency_sum')).toMatchObject({ value: 5950 });
      expect(await latest('llm_latency_count')).toMatchObject({ value: 4 });
      expect(await latest('llm_latency_exp_count')).toMatchObject({ value: 5 });
      expect(await latest('llm_latency_exp_bucket', { le: '+Inf' })).toMatchObject({ value: 5 });
      const exp = await store.list({
        project: 'default',
        name: 'llm_latency_exp_bucket',
        from,
        to,
        limit: 1000,
        labels: { encoding },
      });
      // Every recorded value lies at or below the first bound whose cumulative count reaches it.
      const bounds = exp
        .filter((s) => s.labels.le !== '+Inf')
        .map((s) => ({ le: Number(s.labels.le), n: s.value }))
        .sort((a, b) => a.le - b.le);
      for (const v of [1, 2, 4, 8, 1000]) {
        const le = bounds.find((b) => b.le >= v);
        expect(le).toBeDefined();
        expect(le?.n).toBeGreaterThanOrEqual([1, 2, 4, 8, 1000].filter((x) => x <= v).length);
        expect((le?.le ?? 0) / v).toBeLessThan(1.1);
      }
    }
  });

  it('stores log records as log events and drops GenAI event bodies', async () => {
    // Endpoint and key from the standard exporter environment, as docs/opentelemetry.md tells users.
    process.env.OTEL_EXPORTER_OTLP_ENDPOINT = vigil.url;
    process.env.OTEL_EXPORTER_OTLP_HEADERS = `Authorization=Bearer%20${vigil.ingestKey}`;
    const exporter = new OTLPLogExporter();
    delete process.env.OTEL_EXPORTER_OTLP_ENDPOINT;
    delete process.env.OTEL_EXPORTER_OTLP_HEADERS;
    const provider = new LoggerProvider({
      resource,
      processors: [new SimpleLogRecordProcessor({ exporter })],
    });
    const logger = provider.getLogger('app');
    logger.emit({
      body: 'cache warmed in 12 ms',
      severityText: 'INFO',
      severityNumber: 9,
      attributes: { area: 'cache' },
    });
    logger.emit({
      eventName: 'gen_ai.user.message',
      body: { role: 'user', content: SECRET },
      attributes: { 'gen_ai.provider.name': 'openai' },
    });
    await provider.forceFlush();
    await provider.shutdown();
    const logs = await readEvents(vigil, { type: 'log' });
    expect(logs).toHaveLength(2);
    const info = logs.find((l) => l.props.severity === 'INFO');
    expect(info?.props).toMatchObject({
      body: 'cache warmed in 12 ms',
      area: 'cache',
      severity_number: 9,
      'service.name': 'rag-app',
    });
    const genai = logs.find((l) => l.props.event_name === 'gen_ai.user.message');
    expect(genai?.props.body).toBeUndefined();
    expect(JSON.stringify(logs)).not.toContain(SECRET);
  });

  it('keeps message content out of the DuckDB file', async () => {
    await vigil.stop();
    const files = readdirSync(vigil.dataDir, { recursive: true, encoding: 'utf8' });
    for (const f of files) {
      const path = join(vigil.dataDir, f);
      try {
        expect(readFileSync(path).includes(SECRET)).toBe(false);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EISDIR') throw err;
      }
    }
    const store = await openStore({ dataDir: vigil.dataDir });
    try {
      const rows = await store.events.listEvents({ project: 'default', limit: 10_000 });
      expect(rows.length).toBeGreaterThanOrEqual(7);
      expect(JSON.stringify(rows)).not.toContain(SECRET);
    } finally {
      await store.close();
    }
  });
});
