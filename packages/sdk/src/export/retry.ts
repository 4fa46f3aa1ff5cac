/** When to try a failed request again: exponential backoff with jitter, or what the server asked for. */

export interface RetryPolicy {
  /** Backoff before the first retry; doubles with each failure in a row. */
  initialDelayMs: number;
  /** Backoff never exceeds this (a server's Retry-After may, up to `maxRetryAfterMs`). */
  maxDelayMs: number;
  /** 5xx answers or unreadable 2xx answers in a row before a batch is given up (network errors, 408, 429 and 503 retry forever). */
  maxAttempts: number;
}

export const DEFAULT_RETRY: RetryPolicy = { initialDelayMs: 1_000, maxDelayMs: 30_000, maxAttempts: 10 };

/** A server cannot park a client for longer than this. */
export const MAX_RETRY_AFTER_MS = 5 * 60_000;

/**
 * The wait before retry number `attempt` (1-based): "equal jitter", i.e. between half and all of
 * `initialDelayMs · 2^(attempt-1)`, capped at `maxDelayMs`. The floor keeps a crowd of clients
 * from retrying at once; the jitter spreads them.
 */
export function backoffDelay(
  attempt: number,
  policy: RetryPolicy,
  random: () => number = Math.random,
): number {
  const exp = Math.min(
    policy.maxDelayMs,
    policy.initialDelayMs * 2 ** Math.min(Math.max(attempt, 1) - 1, 30),
  );
  return Math.round(exp / 2 + random() * (exp / 2));
}

/**
 * A `Retry-After` header in milliseconds: delta-seconds (fractions allowed) or an HTTP date.
 * Null when absent or unreadable; clamped to [0, MAX_RETRY_AFTER_MS].
 */
export function parseRetryAfter(value: string | null | undefined, now: number = Date.now()): number | null {
  if (value === null || value === undefined) return null;
  const text = value.trim();
  if (text === '') return null;
  let ms: number;
  if (/^\d+(\.\d+)?$/.test(text)) ms = Number(text) * 1000;
  else {
    if (!/[a-z]/i.test(text)) return null; // "-1" and the like are not dates
    const at = Date.parse(text);
    if (Number.isNaN(at)) return null;
    ms = at - now;
  }
  return Math.min(MAX_RETRY_AFTER_MS, Math.max(0, Math.ceil(ms)));
}

/** Honours `Retry-After` exactly as a floor, adding up to 10% (at most 1 s) so clients do not return in lockstep. */
export function retryAfterDelay(retryAfterMs: number, random: () => number = Math.random): number {
  return retryAfterMs + Math.round(random() * Math.min(1000, retryAfterMs * 0.1));
}
