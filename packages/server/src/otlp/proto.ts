/**
 * The OTLP messages: the protobufjs static module generated from the official OTLP protos
 * (shipped by `@opentelemetry/otlp-transformer` 0.52), used for protobuf and, after the
 * OTLP/JSON specifics are normalised, for JSON too. The types below describe the decoded
 * shapes this receiver reads; the wire format is the generated code's alone.
 */
import generated from '@opentelemetry/otlp-transformer/build/src/generated/root.js';
import protobuf from 'protobufjs';

/** A 64-bit integer as protobufjs hands it out (`long` objects; plain numbers without `long`). */
export type Int64 = number | { toNumber(): number; toString(): string };

export interface AnyValue {
  stringValue?: string | null;
  boolValue?: boolean | null;
  intValue?: Int64 | null;
  doubleValue?: number | null;
  arrayValue?: { values: AnyValue[] } | null;
  kvlistValue?: { values: KeyValue[] } | null;
  bytesValue?: Uint8Array | null;
}

export interface KeyValue {
  key?: string | null;
  value?: AnyValue | null;
}

interface Resource {
  attributes?: KeyValue[] | null;
}
interface Scope {
  name?: string | null;
  version?: string | null;
}

export interface SpanEvent {
  name?: string | null;
  timeUnixNano?: Int64 | null;
  attributes?: KeyValue[] | null;
}

export interface Span {
  traceId?: Uint8Array | null;
  spanId?: Uint8Array | null;
  parentSpanId?: Uint8Array | null;
  name?: string | null;
  kind?: number | null;
  startTimeUnixNano?: Int64 | null;
  endTimeUnixNano?: Int64 | null;
  attributes?: KeyValue[] | null;
  events?: SpanEvent[] | null;
  status?: { code?: number | null; message?: string | null } | null;
}

export interface TracesRequest {
  resourceSpans?:
    | { resource?: Resource | null; scopeSpans: { scope?: Scope | null; spans: Span[] }[] }[]
    | null;
}

export interface NumberDataPoint {
  attributes?: KeyValue[] | null;
  timeUnixNano?: Int64 | null;
  flags?: number | null;
  asDouble?: number | null;
  asInt?: Int64 | null;
}

export interface HistogramDataPoint {
  attributes?: KeyValue[] | null;
  timeUnixNano?: Int64 | null;
  flags?: number | null;
  count?: Int64 | null;
  sum?: number | null;
  bucketCounts?: Int64[] | null;
  explicitBounds?: number[] | null;
  min?: number | null;
  max?: number | null;
}

interface Buckets {
  offset?: number | null;
  bucketCounts: Int64[];
}

export interface ExponentialHistogramDataPoint {
  attributes?: KeyValue[] | null;
  timeUnixNano?: Int64 | null;
  flags?: number | null;
  count?: Int64 | null;
  sum?: number | null;
  scale?: number | null;
  zeroCount?: Int64 | null;
  positive?: Buckets | null;
  negative?: Buckets | null;
  min?: number | null;
  max?: number | null;
}

export interface SummaryDataPoint {
  attributes?: KeyValue[] | null;
  timeUnixNano?: Int64 | null;
  flags?: number | null;
  count?: Int64 | null;
  sum?: number | null;
  quantileValues?: { quantile?: number | null; value?: number | null }[] | null;
}

export interface Metric {
  name?: string | null;
  gauge?: { dataPoints: NumberDataPoint[] } | null;
  sum?: {
    dataPoints: NumberDataPoint[];
    aggregationTemporality?: number | null;
    isMonotonic?: boolean | null;
  } | null;
  histogram?: { dataPoints: HistogramDataPoint[]; aggregationTemporality?: number | null } | null;
  exponentialHistogram?: {
    dataPoints: ExponentialHistogramDataPoint[];
    aggregationTemporality?: number | null;
  } | null;
  summary?: { dataPoints: SummaryDataPoint[] } | null;
}

export interface MetricsRequest {
  resourceMetrics?:
    | { resource?: Resource | null; scopeMetrics: { scope?: Scope | null; metrics: Metric[] }[] }[]
    | null;
}

export interface LogRecord {
  timeUnixNano?: Int64 | null;
  observedTimeUnixNano?: Int64 | null;
  severityNumber?: number | null;
  severityText?: string | null;
  body?: AnyValue | null;
  attributes?: KeyValue[] | null;
  traceId?: Uint8Array | null;
  spanId?: Uint8Array | null;
  eventName?: string | null;
}

export interface LogsRequest {
  resourceLogs?:
    | { resource?: Resource | null; scopeLogs: { scope?: Scope | null; logRecords: LogRecord[] }[] }[]
    | null;
}

interface MessageClass<T> {
  decode(bytes: Uint8Array): T;
  fromObject(object: Record<string, unknown>): T;
  encode(message: T): { finish(): Uint8Array };
  create(properties?: Record<string, unknown>): T;
}

type Generated = {
  opentelemetry: {
    proto: {
      collector: {
        trace: { v1: Record<'ExportTraceServiceRequest' | 'ExportTraceServiceResponse', unknown> };
        metrics: { v1: Record<'ExportMetricsServiceRequest' | 'ExportMetricsServiceResponse', unknown> };
        logs: { v1: Record<'ExportLogsServiceRequest' | 'ExportLogsServiceResponse', unknown> };
      };
      logs: { v1: { LogRecord: unknown } };
    };
  };
};
const collector = (generated as unknown as Generated).opentelemetry.proto.collector;

export type Signal = 'traces' | 'metrics' | 'logs';

/** Per signal: the request and response messages and the name of the partial-success count. */
export const SIGNALS = {
  traces: {
    request: collector.trace.v1.ExportTraceServiceRequest as MessageClass<TracesRequest>,
    response: collector.trace.v1.ExportTraceServiceResponse as MessageClass<object>,
    rejectedField: 'rejectedSpans',
    noun: 'spans',
  },
  metrics: {
    request: collector.metrics.v1.ExportMetricsServiceRequest as MessageClass<MetricsRequest>,
    response: collector.metrics.v1.ExportMetricsServiceResponse as MessageClass<object>,
    rejectedField: 'rejectedDataPoints',
    noun: 'data points',
  },
  logs: {
    request: collector.logs.v1.ExportLogsServiceRequest as MessageClass<LogsRequest>,
    response: collector.logs.v1.ExportLogsServiceResponse as MessageClass<object>,
    rejectedField: 'rejectedLogRecords',
    noun: 'log records',
  },
} as const;

/** What the body of each signal decodes to. */
export interface SignalRequest {
  traces: TracesRequest;
  metrics: MetricsRequest;
  logs: LogsRequest;
}

export const LogRecordMessage = (generated as unknown as Generated).opentelemetry.proto.logs.v1
  .LogRecord as MessageClass<LogRecord>;

/**
 * `google.rpc.Status`, the body of OTLP/HTTP error responses. Not among the generated OTLP
 * messages; its two scalar fields are declared here (details, a repeated Any, are never sent).
 */
export const StatusMessage = new protobuf.Type('Status')
  .add(new protobuf.Field('code', 1, 'int32'))
  .add(new protobuf.Field('message', 2, 'string'));
new protobuf.Root().define('google.rpc').add(StatusMessage);
