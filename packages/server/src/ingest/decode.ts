import { promisify } from 'node:util';
import { gunzip } from 'node:zlib';
import type { IngestLimits } from '../config/index.js';
import { VigilError } from '../errors/index.js';
import { refuseDeepNesting } from './nesting.js';
import type { ScrubReason } from './scrub.js';

const gunzipAsync = promisify(gunzip);

/**
 * One event as it arrived, or the reason its NDJSON line could not be read. `scrubbed` lists
 * what a decoder already dropped for privacy (OTLP message content), to be counted with the rest.
 */
export type RawEvent =
  | { ok: true; value: unknown; scrubbed?: readonly ScrubReason[] }
  | { ok: false; message: string };

const NDJSON_TYPES = new Set([
  'application/x-ndjson',
  'application/ndjson',
  'application/jsonl',
  'application/x-jsonlines',
]);
// sendBeacon from a browser can only send text/plain without a CORS preflight.
const JSON_TYPES = new Set(['application/json', 'text/plain', '']);

export function mediaType(contentType: string | undefined): string {
  return (contentType ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
}

export function isIngestMediaType(contentType: string | undefined): boolean {
  const type = mediaType(contentType);
  return JSON_TYPES.has(type) || NDJSON_TYPES.has(type);
}

/** Decompresses (bounded: a gzip bomb stops at the limit) and splits the body into events. */
export async function decodeEvents(
  body: Buffer,
  headers: { contentType: string | undefined; contentEncoding: string | undefined },
  limits: Pick<IngestLimits, 'maxDecompressedBytes' | 'maxEventsPerRequest'>,
): Promise<RawEvent[]> {
  const bytes = await decompress(body, headers.contentEncoding, limits);
  const type = mediaType(headers.contentType);
  const ndjson = NDJSON_TYPES.has(type);
  refuseDeepNesting(bytes, { lines: ndjson });
  const text = bytes.toString('utf8');
  if (text.trim() === '')
    throw new VigilError('invalid_body', { message: 'The body is empty; expected {"events":[…]}.' });
  const events = ndjson ? splitNdjson(text) : parseJsonBody(text);
  if (events.length > limits.maxEventsPerRequest) {
    throw new VigilError('too_many_events', {
      message: `The request holds ${events.length} events; at most ${limits.maxEventsPerRequest} are allowed in one request.`,
    });
  }
  return events;
}

/** The body as sent, decompressed per Content-Encoding (bounded: a gzip bomb stops at the limit). */
export async function decompress(
  body: Buffer,
  contentEncoding: string | undefined,
  limits: Pick<IngestLimits, 'maxDecompressedBytes'>,
): Promise<Buffer> {
  const encoding = (contentEncoding ?? 'identity').trim().toLowerCase();
  let bytes = body;
  if (encoding === 'gzip' || encoding === 'x-gzip') {
    try {
      bytes = await gunzipAsync(body, { maxOutputLength: limits.maxDecompressedBytes });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') {
        throw new VigilError('decompressed_too_large', {
          message: `The body decompresses to more than ${limits.maxDecompressedBytes} bytes; send smaller batches.`,
        });
      }
      throw new VigilError('invalid_gzip', { cause: err });
    }
  } else if (encoding !== 'identity' && encoding !== '') {
    throw new VigilError('unsupported_encoding', {
      message: `Content-Encoding '${encoding}' is not supported; send identity or gzip.`,
    });
  } else if (bytes.length > limits.maxDecompressedBytes) {
    throw new VigilError('payload_too_large');
  }
  return bytes;
}

function parseJsonBody(text: string): RawEvent[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new VigilError('invalid_json', {
      message: `The body is not valid JSON: ${(err as Error).message}`,
    });
  }
  const list = Array.isArray(parsed)
    ? parsed
    : typeof parsed === 'object' && parsed !== null && Array.isArray((parsed as { events?: unknown }).events)
      ? (parsed as { events: unknown[] }).events
      : null;
  if (list === null) {
    throw new VigilError('invalid_body', {
      message: 'Expected a JSON object {"events":[…]} (or an array of events).',
    });
  }
  return list.map((value) => ({ ok: true, value }));
}

function splitNdjson(text: string): RawEvent[] {
  const events: RawEvent[] = [];
  let parsedAny = false;
  let lineNo = 0;
  for (const line of text.split('\n')) {
    lineNo += 1;
    if (line.trim() === '') continue;
    try {
      events.push({ ok: true, value: JSON.parse(line) });
      parsedAny = true;
    } catch (err) {
      events.push({ ok: false, message: `line ${lineNo} is not valid JSON: ${(err as Error).message}` });
    }
  }
  if (!parsedAny && events.length > 0) {
    throw new VigilError('invalid_ndjson', { message: 'No line of the NDJSON body is valid JSON.' });
  }
  return events;
}
