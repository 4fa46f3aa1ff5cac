import { VigilError } from '../errors/index.js';
import { refuseDeepNesting } from '../ingest/index.js';
import { SIGNALS, type Signal, type SignalRequest } from './proto.js';

export type OtlpEncoding = 'protobuf' | 'json';

/** The OTLP/HTTP encoding a Content-Type asks for, or null when it is neither. */
export function otlpEncoding(mediaType: string): OtlpEncoding | null {
  if (mediaType === 'application/x-protobuf' || mediaType === 'application/protobuf') return 'protobuf';
  if (mediaType === 'application/json') return 'json';
  return null;
}

const ID_LENGTHS: Record<string, number> = { traceId: 32, spanId: 16, parentSpanId: 16 };
const MAX_JSON_DEPTH = 64;

/**
 * Decodes an (already decompressed) export request. Protobuf goes through the generated
 * decoder; JSON is first brought to what the generated `fromObject` reads (OTLP/JSON writes
 * trace and span ids as hex, not base64, and newer SDKs send `eventName` on log records).
 */
export function decodeRequest<S extends Signal>(
  signal: S,
  bytes: Buffer,
  encoding: OtlpEncoding,
): SignalRequest[S] {
  const message = SIGNALS[signal].request;
  // An empty request carries no telemetry; OTLP says to answer it with success.
  if (bytes.length === 0) return message.create() as SignalRequest[S];
  if (encoding === 'protobuf') {
    try {
      return message.decode(bytes) as SignalRequest[S];
    } catch (err) {
      throw new VigilError('invalid_protobuf', {
        message: `The body is not a protobuf ${requestName(signal)}: ${(err as Error).message}.`,
      });
    }
  }
  refuseDeepNesting(bytes);
  let parsed: unknown;
  try {
    parsed = JSON.parse(bytes.toString('utf8'));
  } catch (err) {
    throw new VigilError('invalid_json', {
      message: `The body is not valid JSON: ${(err as Error).message}`,
    });
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new VigilError('invalid_otlp', {
      message: `Expected a JSON object (an OTLP ${requestName(signal)}).`,
    });
  }
  normalizeJson(parsed, '', 0);
  try {
    // Through the wire format once: whatever loose values `fromObject` let through (arrays for
    // bytes, numbers for strings) come back as the types a protobuf body would have.
    const loose = message.fromObject(parsed as Record<string, unknown>);
    return message.decode(message.encode(loose).finish()) as SignalRequest[S];
  } catch (err) {
    const detail = (err as Error).message.replace(/^\.opentelemetry\.proto\.[\w.]+\./, '');
    throw new VigilError('invalid_otlp', {
      message: `The body is not an OTLP/JSON ${requestName(signal)}: ${detail}.`,
    });
  }
}

function requestName(signal: Signal): string {
  return signal === 'traces'
    ? 'ExportTraceServiceRequest'
    : signal === 'metrics'
      ? 'ExportMetricsServiceRequest'
      : 'ExportLogsServiceRequest';
}

/** Hex ids to bytes and `eventName` to the `event.name` attribute, in place. */
function normalizeJson(node: unknown, path: string, depth: number): void {
  if (typeof node !== 'object' || node === null) return;
  if (depth > MAX_JSON_DEPTH) {
    throw new VigilError('invalid_otlp', {
      message: `The body nests deeper than ${MAX_JSON_DEPTH} levels at ${path}.`,
    });
  }
  if (Array.isArray(node)) {
    node.forEach((item, i) => {
      normalizeJson(item, `${path}[${i}]`, depth + 1);
    });
    return;
  }
  const obj = node as Record<string, unknown>;
  for (const key of Object.keys(obj)) {
    const value = obj[key];
    const idLength = ID_LENGTHS[key];
    if (idLength !== undefined && typeof value === 'string') {
      if (value !== '' && (value.length !== idLength || !/^[0-9a-fA-F]*$/.test(value))) {
        throw new VigilError('invalid_otlp', {
          message: `${path ? `${path}.` : ''}${key} must be ${idLength} hex digits (OTLP/JSON ids are hex, not base64).`,
        });
      }
      obj[key] = Buffer.from(value, 'hex');
    } else if (key === 'logRecords' && Array.isArray(value)) {
      for (const record of value) moveEventName(record);
      normalizeJson(value, `${path}.${key}`, depth + 1);
    } else {
      normalizeJson(value, path ? `${path}.${key}` : key, depth + 1);
    }
  }
}

/** The generated LogRecord predates `event_name`; carry it as the `event.name` attribute. */
function moveEventName(record: unknown): void {
  if (typeof record !== 'object' || record === null) return;
  const r = record as { eventName?: unknown; attributes?: unknown };
  if (typeof r.eventName !== 'string' || r.eventName === '') return;
  if (r.attributes !== undefined && r.attributes !== null && !Array.isArray(r.attributes)) return;
  const attrs = Array.isArray(r.attributes) ? r.attributes : [];
  if (!attrs.some((kv) => (kv as { key?: unknown } | null)?.key === 'event.name')) {
    attrs.push({ key: 'event.name', value: { stringValue: r.eventName } });
  }
  r.attributes = attrs;
}
