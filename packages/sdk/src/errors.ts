/**
 * What can go wrong inside the SDK. Nothing here is ever thrown at the caller of `track()`:
 * errors go to the `onError` handler, off the caller's stack, coalesced by code.
 */

/** Stable codes of {@link VigilError}. */
export type VigilErrorCode =
  /** The options given to `createClient` cannot work; the client does nothing. */
  | 'invalid_config'
  /** An event could not be turned into JSON (bad type name, throwing getter, Proxy…); it was dropped. */
  | 'invalid_event'
  /** An event is larger than `limits.maxEventBytes`; it was dropped. */
  | 'event_too_large'
  /** The queue reached `maxQueueBytes`; the oldest events were dropped. */
  | 'queue_full'
  /** `beforeSend` threw; the event was dropped. */
  | 'before_send'
  /** The server could not be reached or the connection broke; the batch will be retried. */
  | 'network'
  /** The server did not answer within `requestTimeoutMs`; the batch will be retried. */
  | 'timeout'
  /** The server answered with an HTTP error status. */
  | 'http'
  /** The server refused some events of a batch for good (`rejected[]` in its answer). */
  | 'rejected'
  /** A 2xx answer that is not Vigil's `{"accepted","rejected"}`; the batch will be retried. */
  | 'bad_response'
  /** A batch failed `retry.maxAttempts` times in a row with 5xx or unreadable answers; it was given up. */
  | 'retries_exhausted';

/**
 * An SDK failure, as passed to `onError`.
 *
 * @example
 * ```ts
 * createClient({ endpoint, key, version: '1.4.0', onError: (e) => log.warn({ code: e.code, count: e.count }, e.message) });
 * ```
 */
export class VigilError extends Error {
  override readonly name = 'VigilError';
  /** Which kind of failure this is. */
  readonly code: VigilErrorCode;
  /** How many events it concerns (0 when none, e.g. a retried batch). */
  readonly count: number;
  /** The HTTP status, when the server answered. */
  readonly status: number | undefined;

  constructor(
    code: VigilErrorCode,
    message: string,
    options: { count?: number; status?: number; cause?: unknown } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.count = options.count ?? 0;
    this.status = options.status;
  }
}

/**
 * The default `onError`: one `console.warn` per burst of failures. After a warning, further errors are
 * only counted until `quietMs` has passed; the next warning says how many were held back.
 *
 * @example
 * ```ts
 * const onError = warnOncePerBurst({ quietMs: 10_000 });
 * ```
 */
export function warnOncePerBurst({
  quietMs = 60_000,
  warn = (message: string) => console.warn(message),
  now = () => Date.now(),
}: {
  quietMs?: number;
  warn?: (message: string) => void;
  now?: () => number;
} = {}): (error: VigilError) => void {
  let lastWarnAt = Number.NEGATIVE_INFINITY;
  let held = 0;
  return (error) => {
    const t = now();
    if (t - lastWarnAt < quietMs) {
      held += 1;
      return;
    }
    const suffix = held > 0 ? ` (${held} more SDK errors since the last warning)` : '';
    held = 0;
    lastWarnAt = t;
    warn(`[vigil] ${error.code}: ${error.message}${suffix}`);
  };
}
