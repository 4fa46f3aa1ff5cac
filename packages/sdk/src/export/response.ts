/** What the SDK makes of one request's outcome (the contract of `POST /v1/events` in DESIGN.md). */
import { VigilError } from '../errors.js';
import type { SendResult } from '../platform/types.js';
import { parseRetryAfter } from './retry.js';

export interface EventRejection {
  index: number;
  code: string;
  message: string;
}

export type Verdict =
  /** Stored; `rejected` lists the events refused for good (never retried). */
  | { kind: 'delivered'; rejected: EventRejection[] }
  /** 413 on a batch of more than one event: send it again in halves. */
  | { kind: 'split'; error: VigilError }
  /**
   * Try the same events again later. `retryAfterMs` is the server's wish when it gave one;
   * `limited` retries count towards `maxAttempts` (5xx and unreadable answers), the others never run out.
   */
  | { kind: 'retry'; retryAfterMs: number | null; limited: boolean; error: VigilError }
  /** Refused for good: every event of the batch fails. */
  | { kind: 'refused'; error: VigilError }
  /** The client is closing and aborted the request: keep the events as pending. */
  | { kind: 'aborted' };

const MAX_MESSAGE = 200;

function serverError(body: string): { code: string; message: string } | null {
  try {
    const parsed = JSON.parse(body) as { error?: { code?: unknown; message?: unknown } };
    const code = parsed?.error?.code;
    const message = parsed?.error?.message;
    if (typeof code === 'string') {
      return { code, message: typeof message === 'string' ? message.slice(0, MAX_MESSAGE) : '' };
    }
  } catch {
    // not JSON: described by status alone
  }
  return null;
}

function describe(status: number, body: string): string {
  const err = serverError(body);
  return err ? `HTTP ${status} ${err.code}: ${err.message}` : `HTTP ${status}`;
}

/** The rejections of a 200 answer, or null when the body is not Vigil's `{"accepted","rejected"}`. */
function parseAccepted(body: string, batchSize: number): EventRejection[] | null {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return null;
  }
  if (typeof parsed !== 'object' || parsed === null) return null;
  const { accepted, rejected } = parsed as { accepted?: unknown; rejected?: unknown };
  if (typeof accepted !== 'number' || (rejected !== undefined && !Array.isArray(rejected))) return null;
  const out: EventRejection[] = [];
  const seen = new Set<number>();
  for (const item of (rejected as unknown[] | undefined) ?? []) {
    if (typeof item !== 'object' || item === null) continue;
    const { index, code, message } = item as { index?: unknown; code?: unknown; message?: unknown };
    if (typeof index !== 'number' || !Number.isInteger(index) || index < 0 || index >= batchSize) continue;
    if (seen.has(index)) continue;
    seen.add(index);
    out.push({
      index,
      code: typeof code === 'string' ? code.slice(0, 64) : 'unknown',
      message: typeof message === 'string' ? message.slice(0, MAX_MESSAGE) : '',
    });
  }
  return out;
}

export function judge(result: SendResult, batchSize: number, now: number = Date.now()): Verdict {
  if (result.kind === 'failure') {
    if (result.reason === 'aborted') return { kind: 'aborted' };
    const code = result.reason === 'timeout' ? 'timeout' : 'network';
    return {
      kind: 'retry',
      retryAfterMs: null,
      limited: false,
      error: new VigilError(code, result.message, { count: batchSize }),
    };
  }
  const { status, body } = result;
  const retryAfterMs = parseRetryAfter(result.retryAfter, now);
  if (status >= 200 && status < 300) {
    const rejected = parseAccepted(body, batchSize);
    if (rejected) return { kind: 'delivered', rejected };
    return {
      kind: 'retry',
      retryAfterMs,
      limited: true,
      error: new VigilError(
        'bad_response',
        `HTTP ${status} with a body that is not {"accepted","rejected"}`,
        {
          status,
          count: batchSize,
        },
      ),
    };
  }
  const error = new VigilError('http', describe(status, body), { status, count: batchSize });
  if (status === 413) return batchSize > 1 ? { kind: 'split', error } : { kind: 'refused', error };
  if (status === 408 || status === 429 || status === 503) {
    return { kind: 'retry', retryAfterMs, limited: false, error };
  }
  if (status >= 500) return { kind: 'retry', retryAfterMs, limited: true, error };
  return { kind: 'refused', error };
}
