/**
 * Spans → events. A span of a model call under the GenAI semantic conventions becomes an
 * `llm.request`; every other span a custom `span` event with its attributes as props.
 * Message content attributes are dropped here (and counted); everything else goes through
 * the same validation and scrubbing as `/v1/events`.
 */
import type { Config } from '../config/index.js';
import type { RawEvent, ScrubReason } from '../ingest/index.js';
import { BUILTIN_TYPES } from '../model/index.js';
import type { KeyValue, Span, TracesRequest } from './proto.js';
import { attributes, type ContentAttributes, deterministicId, hex, int64 } from './values.js';

type OtlpConfig = Config['otlp'];

/** `gen_ai.operation.name` values of a model call (others, like invoke_agent, are plain spans). */
const MODEL_OPERATIONS = new Set(['chat', 'text_completion', 'generate_content', 'embeddings']);
const GENAI_MARKERS = [
  'gen_ai.request.model',
  'gen_ai.response.model',
  'gen_ai.provider.name',
  'gen_ai.system',
];
const SPAN_KINDS = ['unspecified', 'internal', 'server', 'client', 'producer', 'consumer'];
const STATUS = ['unset', 'ok', 'error'];
const STATUS_ERROR = 2;
/** Resource attributes copied onto every event (the rest describe the process, not the event). */
export const RESOURCE_PROPS = [
  'service.name',
  'service.namespace',
  'service.instance.id',
  'deployment.environment.name',
  'deployment.environment',
];
/** Token counts: the GenAI conventions first, then older names and OpenInference's. */
const INPUT_TOKENS = ['gen_ai.usage.input_tokens', 'gen_ai.usage.prompt_tokens', 'llm.token_count.prompt'];
const OUTPUT_TOKENS = [
  'gen_ai.usage.output_tokens',
  'gen_ai.usage.completion_tokens',
  'llm.token_count.completion',
];
const CACHE_READ_TOKENS = [
  'gen_ai.usage.cache_read.input_tokens',
  'gen_ai.usage.cache_read_input_tokens',
  'llm.token_count.prompt_details.cache_read',
];
/** What the request cost in US dollars: OpenLIT's attribute, then OpenInference's. */
const COST = ['gen_ai.usage.cost', 'llm.cost.total'];
const MODEL = ['gen_ai.request.model', 'gen_ai.response.model', 'llm.model_name'];
/** Attributes that become typed columns (not repeated as props). */
const MAPPED = new Set([
  ...INPUT_TOKENS,
  ...OUTPUT_TOKENS,
  ...CACHE_READ_TOKENS,
  ...COST,
  'gen_ai.request.model',
  'llm.model_name',
  'error.type',
]);
/** Attributes named like a typed field of llm.request: never copied to a span event's props. */
const TYPED_NAMES: ReadonlySet<string> = new Set(BUILTIN_TYPES['llm.request'].fields);

/** One span, flattened with what its resource says. */
interface FlatSpan {
  span: Span;
  attrs: Record<string, unknown>;
  resource: Record<string, unknown>;
  scope: string;
  traceId: string;
  spanId: string;
  parentId: string;
  startMs: number;
  endMs: number;
  contentDropped: number;
}

type Interval = [number, number];

/**
 * Context-assembly spans by parent (project, trace, parent span), kept for a while: a child
 * ends before its parent, so the BatchSpanProcessor may export it in an earlier request.
 */
export class ContextSpans {
  private readonly byParent = new Map<string, Interval[]>();
  constructor(private readonly capacity = 20_000) {}

  add(key: string, interval: Interval): void {
    const list = this.byParent.get(key);
    if (list) {
      if (!list.some(([a, b]) => a === interval[0] && b === interval[1])) list.push(interval);
      return;
    }
    this.byParent.set(key, [interval]);
    if (this.byParent.size > this.capacity) {
      const oldest = this.byParent.keys().next().value as string;
      this.byParent.delete(oldest);
    }
  }

  /** Milliseconds of [from, to] covered by the parent's context spans (overlaps counted once). */
  covered(key: string, from: number, to: number): number | null {
    const list = this.byParent.get(key);
    if (!list) return null;
    const clipped = list
      .map(([a, b]): Interval => [Math.max(a, from), Math.min(b, to)])
      .filter(([a, b]) => b > a)
      .sort((x, y) => x[0] - y[0]);
    let total = 0;
    let end = -Infinity;
    for (const [a, b] of clipped) {
      if (b <= end) continue;
      total += b - Math.max(a, end);
      end = b;
    }
    return total;
  }
}

export interface SpanMapping {
  project: string;
  config: OtlpConfig;
  content: ContentAttributes;
  contextSpans: ContextSpans;
}

/** Every span of the request in order, each as one event to validate. */
export function spansToEvents(request: TracesRequest, m: SpanMapping): RawEvent[] {
  const flat: FlatSpan[] = [];
  for (const rs of request.resourceSpans ?? []) {
    const resource = attributes(rs.resource?.attributes);
    for (const ss of rs.scopeSpans ?? []) {
      for (const span of ss.spans ?? []) flat.push(flatten(span, resource, ss.scope?.name ?? '', m));
    }
  }
  const contextValues = new Set(m.config.contextSpanValues.map((v) => v.toLowerCase()));
  const isContext = (s: FlatSpan) =>
    m.config.contextSpanAttributes.some((name) => {
      const v = s.attrs[name];
      return typeof v === 'string' && contextValues.has(v.toLowerCase());
    });
  for (const s of flat) {
    if (s.parentId !== '' && isContext(s)) {
      m.contextSpans.add(`${m.project}/${s.traceId}/${s.parentId}`, [s.startMs, s.endMs]);
    }
  }
  return flat.map((s) => (isModelCall(s.attrs) ? llmRequest(s, m) : plainSpan(s, m)));
}

function flatten(span: Span, resource: Record<string, unknown>, scope: string, m: SpanMapping): FlatSpan {
  const { attrs, dropped: contentDropped } = m.content.read(span.attributes);
  const startNs = int64(span.startTimeUnixNano);
  const endNs = int64(span.endTimeUnixNano);
  return {
    span,
    attrs,
    resource,
    scope,
    traceId: hex(span.traceId),
    spanId: hex(span.spanId),
    parentId: hex(span.parentSpanId),
    startMs: startNs / 1e6,
    endMs: endNs / 1e6,
    contentDropped,
  };
}

function isModelCall(attrs: Record<string, unknown>): boolean {
  const op = attrs['gen_ai.operation.name'];
  if (typeof op === 'string') return MODEL_OPERATIONS.has(op);
  // OpenInference marks model calls by span kind rather than the GenAI conventions.
  if (attrs['openinference.span.kind'] === 'LLM') return true;
  return GENAI_MARKERS.some((k) => attrs[k] !== undefined);
}

const round3 = (ms: number) => Math.round(ms * 1000) / 1000;

function firstOf(names: readonly string[], ...sources: Record<string, unknown>[]): string | undefined {
  for (const source of sources) {
    for (const name of names) {
      const v = source[name];
      if (typeof v === 'string' && v !== '') return v;
      if (typeof v === 'number' || typeof v === 'boolean') return String(v);
    }
  }
  return undefined;
}

function numberAttr(attrs: Record<string, unknown>, ...names: string[]): unknown {
  for (const name of names) if (attrs[name] !== undefined) return attrs[name];
  return undefined;
}

function exceptionType(span: Span): string | undefined {
  for (const event of span.events ?? []) {
    if (event.name !== 'exception') continue;
    const type = (event.attributes ?? []).find((kv: KeyValue) => kv.key === 'exception.type');
    const v = type?.value?.stringValue;
    if (v) return v;
  }
  return undefined;
}

/** The attributes every span event carries besides its own. */
function common(s: FlatSpan): Record<string, unknown> {
  const props: Record<string, unknown> = {};
  for (const name of RESOURCE_PROPS) if (s.resource[name] !== undefined) props[name] = s.resource[name];
  if (s.scope) props['otel.scope.name'] = s.scope;
  props.trace_id = s.traceId;
  props.span_id = s.spanId;
  if (s.parentId) props.parent_span_id = s.parentId;
  return props;
}

function envelope(s: FlatSpan, m: SpanMapping, type: string, props: Record<string, unknown>): RawEvent {
  const version = s.resource['service.version'];
  const scrubbed: ScrubReason[] = new Array(s.contentDropped).fill('content');
  return {
    ok: true,
    value: {
      id: deterministicId(s.startMs, m.project, 'span', s.traceId, s.spanId),
      type,
      ts: Math.floor(s.startMs),
      version: typeof version === 'string' && version !== '' ? version : undefined,
      props,
    },
    scrubbed,
  };
}

function errorType(s: FlatSpan): string | null {
  const declared = s.attrs['error.type'];
  if (typeof declared === 'string' && declared !== '') return declared;
  if ((s.span.status?.code ?? 0) === STATUS_ERROR) return exceptionType(s.span) ?? '_OTHER';
  return null;
}

function llmRequest(s: FlatSpan, m: SpanMapping): RawEvent {
  const { attrs } = s;
  const total = s.endMs - s.startMs;
  const context = m.contextSpans.covered(`${m.project}/${s.traceId}/${s.spanId}`, s.startMs, s.endMs);
  const input = numberAttr(attrs, ...INPUT_TOKENS);
  const output = numberAttr(attrs, ...OUTPUT_TOKENS);
  const cacheRead = numberAttr(attrs, ...CACHE_READ_TOKENS);
  const cost = numberAttr(attrs, ...COST);
  const props: Record<string, unknown> = {};
  for (const k in attrs) if (!MAPPED.has(k) && !TYPED_NAMES.has(k)) props[k] = attrs[k];
  Object.assign(props, common(s));
  props.total_ms = round3(total);
  props.llm_ms = round3(context === null ? total : Math.max(0, total - context));
  if (context !== null) props.context_ms = round3(context);
  // The GenAI conventions count cached input inside input_tokens: prompt_tokens is input_tokens,
  // the cached part is kept beside it. An instrumentation that reports more cached than input
  // tokens evidently left the cached part out; then it is added (counted once either way).
  if (typeof input === 'number' && typeof cacheRead === 'number' && cacheRead > input) {
    props.prompt_tokens = input + cacheRead;
  } else if (input !== undefined) props.prompt_tokens = input;
  if (output !== undefined) props.completion_tokens = output;
  if (cacheRead !== undefined) {
    props.cache_read_tokens = cacheRead;
    if (typeof cacheRead === 'number') props.cache_hit = cacheRead > 0;
  }
  if (cost !== undefined) props.cost_usd = cost;
  const error = errorType(s);
  if (error !== null) props.error_type = error;
  const user = firstOf(m.config.userAttributes, attrs, s.resource);
  if (user !== undefined) props.user = user;
  const space = firstOf(m.config.spaceAttributes, attrs, s.resource);
  if (space !== undefined) props.space = space;
  const model = firstOf(MODEL, attrs);
  if (model !== undefined) props.model = model;
  return envelope(s, m, 'llm.request', props);
}

function plainSpan(s: FlatSpan, m: SpanMapping): RawEvent {
  const props: Record<string, unknown> = { ...s.attrs, ...common(s) };
  props.name = s.span.name ?? '';
  props.kind = SPAN_KINDS[s.span.kind ?? 0] ?? 'unspecified';
  props.duration_ms = round3(s.endMs - s.startMs);
  props.status = STATUS[s.span.status?.code ?? 0] ?? 'unset';
  const message = s.span.status?.message;
  if (message) props.status_message = message;
  const error = errorType(s);
  if (error !== null) props.error_type = error;
  return envelope(s, m, 'span', props);
}
