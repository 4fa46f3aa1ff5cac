/** The OTLP → Vigil mapping rules on requests built with the generated OTLP messages. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { defaultConfig } from '../config/index.js';
import { logsToEvents } from './logs.js';
import { exponentialBuckets } from './metrics.js';
import { type LogsRequest, SIGNALS, type TracesRequest } from './proto.js';
import { ContextSpans, spansToEvents } from './traces.js';
import { ContentAttributes, deterministicId } from './values.js';

const T0 = 1_795_000_000_000;
const ns = (ms: number) => String(BigInt(Math.round(ms * 1000)) * 1000n);
const attr = (key: string, v: string | number) =>
  typeof v === 'string'
    ? { key, value: { stringValue: v } }
    : Number.isInteger(v)
      ? { key, value: { intValue: String(v) } }
      : { key, value: { doubleValue: v } };

interface SpanSpec {
  id: string;
  parent?: string;
  start: number;
  end: number;
  attrs?: Record<string, string | number>;
  status?: number;
}

function request(
  spans: SpanSpec[],
  resource: Record<string, string> = { 'service.name': 'svc' },
): TracesRequest {
  const message = SIGNALS.traces.request;
  return message.decode(
    message
      .encode(
        message.fromObject({
          resourceSpans: [
            {
              resource: { attributes: Object.entries(resource).map(([k, v]) => attr(k, v)) },
              scopeSpans: [
                {
                  spans: spans.map((s) => ({
                    traceId: Buffer.from('0af7651916cd43dd8448eb211c80319c', 'hex'),
                    spanId: Buffer.from(s.id.padStart(16, '0'), 'hex'),
                    parentSpanId: s.parent ? Buffer.from(s.parent.padStart(16, '0'), 'hex') : undefined,
                    name: `span ${s.id}`,
                    startTimeUnixNano: ns(s.start),
                    endTimeUnixNano: ns(s.end),
                    attributes: Object.entries(s.attrs ?? {}).map(([k, v]) => attr(k, v)),
                    status: s.status ? { code: s.status } : undefined,
                  })),
                },
              ],
            },
          ],
        }),
      )
      .finish(),
  );
}

const config = defaultConfig().otlp;
const mapping = (overrides: Partial<typeof config> = {}) => ({
  project: 'p1',
  config: { ...config, ...overrides },
  content: new ContentAttributes(config.contentAttributes),
  contextSpans: new ContextSpans(),
});
type Mapped = { type: string; id: string; ts: number; props: Record<string, unknown> };
const values = (events: ReturnType<typeof spansToEvents>) =>
  events.map((e) => (e.ok ? (e.value as Mapped) : null)) as Mapped[];

describe('GenAI spans → llm.request', () => {
  const chat = { 'gen_ai.operation.name': 'chat', 'gen_ai.request.model': 'm' };

  it('counts cached input tokens once: inside input_tokens, or added when an instrumentation left them out', () => {
    const [inside, outside, none] = values(
      spansToEvents(
        request([
          {
            id: 'a1',
            start: T0,
            end: T0 + 10,
            attrs: { ...chat, 'gen_ai.usage.input_tokens': 100, 'gen_ai.usage.cache_read.input_tokens': 60 },
          },
          {
            id: 'a2',
            start: T0,
            end: T0 + 10,
            attrs: { ...chat, 'gen_ai.usage.input_tokens': 10, 'gen_ai.usage.cache_read.input_tokens': 60 },
          },
          { id: 'a3', start: T0, end: T0 + 10, attrs: { ...chat, 'gen_ai.usage.input_tokens': 10 } },
        ]),
        mapping(),
      ),
    );
    expect(inside?.props).toMatchObject({ prompt_tokens: 100, cache_read_tokens: 60, cache_hit: true });
    expect(outside?.props).toMatchObject({ prompt_tokens: 70, cache_read_tokens: 60, cache_hit: true });
    expect(none?.props.prompt_tokens).toBe(10);
    expect(none?.props.cache_hit).toBeUndefined();
  });

  it('takes context_ms from context child spans (overlaps once, also from an earlier export) and llm_ms as the rest', () => {
    const m = mapping();
    // The children end first, so the SDK may export them before their parent.
    spansToEvents(
      request([
        {
          id: 'c1',
          parent: 'b1',
          start: T0 + 10,
          end: T0 + 110,
          attrs: { 'gen_ai.operation.name': 'retrieval' },
        },
        {
          id: 'c2',
          parent: 'b1',
          start: T0 + 60,
          end: T0 + 160,
          attrs: { 'openinference.span.kind': 'RERANKER' },
        },
        {
          id: 'c3',
          parent: 'b1',
          start: T0 + 200,
          end: T0 + 300,
          attrs: { 'gen_ai.operation.name': 'execute_tool' },
        },
      ]),
      m,
    );
    const [llm] = values(spansToEvents(request([{ id: 'b1', start: T0, end: T0 + 1000, attrs: chat }]), m));
    expect(llm?.type).toBe('llm.request');
    expect(llm?.props).toMatchObject({ total_ms: 1000, context_ms: 150, llm_ms: 850 });
  });

  it('maps error.type, else an ERROR status (exception type or _OTHER); user and space from span or resource', () => {
    const events = values(
      spansToEvents(
        request(
          [
            {
              id: 'd1',
              start: T0,
              end: T0 + 5,
              attrs: { ...chat, 'error.type': 'rate_limit', 'tenant.id': 't9' },
            },
            { id: 'd2', start: T0, end: T0 + 5, attrs: chat, status: 2 },
            { id: 'd3', start: T0, end: T0 + 5, attrs: { ...chat, 'app.user': 'u7' }, status: 1 },
          ],
          { 'service.name': 'svc', 'vigil.space': 'from-resource' },
        ),
        mapping({ userAttributes: ['app.user'] }),
      ),
    );
    expect(events.map((e) => e.props.error_type)).toEqual(['rate_limit', '_OTHER', undefined]);
    // The span's own attribute wins over the resource's.
    expect(events[0]?.props.space).toBe('t9');
    expect(events[1]?.props.space).toBe('from-resource');
    expect(events[2]?.props.user).toBe('u7');
    expect(events[1]?.props.user).toBeUndefined();
  });

  it('treats agent and tool operations as plain spans, and a model+usage span without an operation as a model call', () => {
    const events = values(
      spansToEvents(
        request([
          {
            id: 'e1',
            start: T0,
            end: T0 + 5,
            attrs: { 'gen_ai.operation.name': 'invoke_agent', 'gen_ai.request.model': 'm' },
          },
          {
            id: 'e2',
            start: T0,
            end: T0 + 5,
            attrs: { 'gen_ai.system': 'openai', 'gen_ai.usage.prompt_tokens': 3 },
          },
        ]),
        mapping(),
      ),
    );
    expect(events.map((e) => e.type)).toEqual(['span', 'llm.request']);
    expect(events[1]?.props.prompt_tokens).toBe(3);
  });

  it('reads OpenInference LLM spans too', () => {
    const [e] = values(
      spansToEvents(
        request([
          {
            id: 'e3',
            start: T0,
            end: T0 + 5,
            attrs: {
              'openinference.span.kind': 'LLM',
              'llm.model_name': 'gpt-4o-mini',
              'llm.token_count.prompt': 40,
              'llm.token_count.completion': 8,
              'llm.token_count.prompt_details.cache_read': 16,
              'llm.cost.total': 0.0042,
              'llm.input_messages.0.message.content': 'secret',
            },
          },
        ]),
        mapping(),
      ),
    );
    expect(e?.type).toBe('llm.request');
    expect(e?.props).toMatchObject({
      model: 'gpt-4o-mini',
      prompt_tokens: 40,
      completion_tokens: 8,
      cache_read_tokens: 16,
      cache_hit: true,
      cost_usd: 0.0042,
    });
    expect(e?.props['llm.cost.total']).toBeUndefined();
    expect(JSON.stringify(e)).not.toContain('secret');
  });

  it("maps OpenLIT's gen_ai.usage.cost to cost_usd", () => {
    const [e] = values(
      spansToEvents(
        request([{ id: 'e4', start: T0, end: T0 + 5, attrs: { ...chat, 'gen_ai.usage.cost': 0.25 } }]),
        mapping(),
      ),
    );
    expect(e?.props.cost_usd).toBe(0.25);
    expect(e?.props['gen_ai.usage.cost']).toBeUndefined();
  });

  it('drops content attributes (exact names and dotted prefixes) and says how many', () => {
    const [e] = spansToEvents(
      request([
        {
          id: 'f1',
          start: T0,
          end: T0 + 5,
          attrs: {
            ...chat,
            'gen_ai.input.messages': 'x',
            'gen_ai.prompt.0.content': 'x',
            'gen_ai.prompt.0.role': 'user',
            'gen_ai.promptly': 'kept',
          },
        },
      ]),
      mapping(),
    );
    expect(e?.ok && e.scrubbed).toEqual(['content', 'content', 'content']);
    const props = (e?.ok ? (e.value as Mapped).props : {}) as Record<string, unknown>;
    expect(Object.keys(props).filter((k) => k.startsWith('gen_ai.prompt'))).toEqual(['gen_ai.promptly']);
  });

  it('gives every span a deterministic UUIDv7 carrying its start time', () => {
    const spans = request([
      { id: '71', start: T0, end: T0 + 5, attrs: chat },
      { id: '72', start: T0, end: T0 + 5 },
    ]);
    const a = values(spansToEvents(spans, mapping()));
    const b = values(spansToEvents(spans, mapping()));
    expect(a.map((e) => e.id)).toEqual(b.map((e) => e.id));
    expect(a[0]?.id).not.toBe(a[1]?.id);
    for (const e of a) {
      expect(e.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      expect(Number.parseInt(e.id.slice(0, 8) + e.id.slice(9, 13), 16)).toBe(T0);
    }
    // Another project gets other ids for the same spans.
    expect(values(spansToEvents(spans, { ...mapping(), project: 'p2' }))[0]?.id).not.toBe(a[0]?.id);
  });
});

describe('ids and buckets', () => {
  it('deterministicId is a valid UUIDv7 for any time and identity', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 48 - 1 }), fc.array(fc.string()), (ms, parts) => {
        const id = deterministicId(ms, ...parts);
        expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
        expect(Number.parseInt(id.slice(0, 8) + id.slice(9, 13), 16)).toBe(ms);
        expect(deterministicId(ms, ...parts)).toBe(id);
      }),
    );
  });

  it('exponential histogram buckets become cumulative le bounds that hold every value within one bucket width', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: -3, max: 5 }),
        fc.array(fc.double({ min: 1e-3, max: 1e6, noNaN: true }), { minLength: 1, maxLength: 50 }),
        fc.array(fc.double({ min: -1e4, max: -1e-3, noNaN: true }), { maxLength: 20 }),
        fc.nat(5),
        (scale, positives, negatives, zeros) => {
          const base = 2 ** (2 ** -scale);
          // Bucket index as the OTel spec defines it: value in (base^index, base^(index+1)].
          const index = (v: number) => Math.ceil(Math.log(v) / Math.log(base)) - 1;
          const bucketsOf = (vs: number[]) => {
            if (vs.length === 0) return { offset: 0, bucketCounts: [] as number[] };
            const idx = vs.map(index);
            const offset = Math.min(...idx);
            const counts = new Array(Math.max(...idx) - offset + 1).fill(0) as number[];
            for (const i of idx) counts[i - offset] = (counts[i - offset] ?? 0) + 1;
            return { offset, bucketCounts: counts };
          };
          const all = [...positives, ...negatives, ...new Array<number>(zeros).fill(0)];
          const out = exponentialBuckets({
            scale,
            zeroCount: zeros,
            count: all.length,
            positive: bucketsOf(positives),
            negative: bucketsOf(negatives.map((v) => -v)),
          });
          const bounds = out.map(([le, n]) => ({ le: le === '+Inf' ? Infinity : Number(le), n }));
          for (let i = 1; i < bounds.length; i++) {
            expect(bounds[i]?.le).toBeGreaterThan(bounds[i - 1]?.le as number);
            expect(bounds[i]?.n).toBeGreaterThanOrEqual(bounds[i - 1]?.n as number);
          }
          expect(bounds.at(-1)?.n).toBe(all.length);
          for (const b of bounds) {
            if (b.le === Infinity) continue;
            // Cumulative count at le lies between the values strictly one bucket below and those at or below le.
            const atOrBelow = all.filter((v) => v <= b.le * (1 + 1e-9)).length;
            const wellBelow = all.filter((v) =>
              b.le > 0 ? v <= b.le / base / (1 + 1e-9) : b.le === 0 ? v < 0 : v <= b.le * base * (1 + 1e-9),
            ).length;
            expect(b.n).toBeLessThanOrEqual(atOrBelow);
            expect(b.n).toBeGreaterThanOrEqual(wellBelow);
          }
        },
      ),
    );
  });
});

describe('log records → log events', () => {
  const logs = (records: Record<string, unknown>[]): LogsRequest => {
    const message = SIGNALS.logs.request;
    return message.decode(
      message
        .encode(message.fromObject({ resourceLogs: [{ scopeLogs: [{ logRecords: records }] }] }))
        .finish(),
    );
  };
  const content = new ContentAttributes(config.contentAttributes);

  it('drops the body of GenAI events, by event name or (over protobuf, without event_name) by GenAI attributes', () => {
    const events = logsToEvents(
      logs([
        { timeUnixNano: ns(T0), body: { stringValue: 'plain log line' } },
        {
          timeUnixNano: ns(T0),
          body: { stringValue: 'user text' },
          attributes: [attr('event.name', 'gen_ai.user.message')],
        },
        {
          timeUnixNano: ns(T0),
          body: { stringValue: 'model text' },
          attributes: [attr('gen_ai.system', 'openai')],
        },
      ]),
      { project: 'p1', content },
    );
    const props = events.map((e) => (e.ok ? (e.value as Mapped).props : {}));
    expect(props.map((p) => p.body)).toEqual(['plain log line', undefined, undefined]);
    expect(events.map((e) => (e.ok ? e.scrubbed : null))).toEqual([[], ['content'], ['content']]);
  });

  it('gives identical records in one request distinct ids, and the same ids on a retry', () => {
    const request = logs([
      { timeUnixNano: ns(T0), body: { stringValue: 'same' } },
      { timeUnixNano: ns(T0), body: { stringValue: 'same' } },
    ]);
    const ids = (r: LogsRequest) =>
      logsToEvents(r, { project: 'p1', content }).map((e) => (e.ok ? (e.value as Mapped).id : ''));
    const first = ids(request);
    expect(new Set(first).size).toBe(2);
    expect(ids(request)).toEqual(first);
  });
});
