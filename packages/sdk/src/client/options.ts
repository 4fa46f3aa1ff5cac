import type { EventProps } from '../builtin/types.js';
import type { VigilError } from '../errors.js';
import type { EventLimits } from '../event/encode.js';
import type { RetryPolicy } from '../export/retry.js';

/** An event as `beforeSend` sees it, and as it is sent (`ts` in epoch milliseconds). */
export interface TrackedEvent {
  id: string;
  type: string;
  ts: number;
  version: string;
  props: EventProps;
}

export interface ClientOptions {
  /** Base URL of the Vigil server, e.g. `https://vigil.example.com`; events go to `{endpoint}/v1/events`. */
  endpoint: string;
  /** An ingest key (`POST /api/keys {"role":"ingest"}`). */
  key: string;
  /** The version tag every event carries (your app or algorithm version); 1–64 characters. */
  version: string;
  /** Send as soon as this many events wait. Default 100. */
  flushAt?: number;
  /** Send whatever waits at least this often. Default 5,000 ms. */
  flushIntervalMs?: number;
  /** Memory the queue may hold, in bytes; beyond it the oldest events are dropped and counted. Default 50 MB. */
  maxQueueBytes?: number;
  /** Events per request. Default 500. */
  maxBatchEvents?: number;
  /** Uncompressed bytes per request. Default 1 MiB. */
  maxBatchBytes?: number;
  /** Share of events kept, 0..1, decided per event at `track()`. Default 1. */
  sampleRate?: number;
  /**
   * Sees every event before it is queued; returns it (changed or not), or null to drop it.
   * Runs off the `track()` call when possible; if it throws, the event is dropped and reported.
   */
  beforeSend?: (event: TrackedEvent) => TrackedEvent | null | undefined;
  /** Where SDK failures go (never to the caller of `track`). Default: one `console.warn` per burst. */
  onError?: (error: VigilError) => void;
  /** Property names removed at any depth before anything leaves the process. Default: the server's deny-list. */
  denyProps?: readonly string[];
  /** Per-request timeout. Default 10,000 ms. */
  requestTimeoutMs?: number;
  /** Backoff and give-up policy for failed requests. */
  retry?: Partial<RetryPolicy>;
  /** Gzip request bodies of 1 KiB or more. Default 'gzip'. */
  compression?: 'gzip' | 'none';
  /** Shape limits applied to each event (defaults match the server's). */
  limits?: Partial<EventLimits>;
  /** Node: flush on `beforeExit`; browser: send on page hide. Default true. */
  flushOnExit?: boolean;
  /** False makes every method a no-op (for tests and local development). Default true. */
  enabled?: boolean;
}

/** What `flush()` and `shutdown()` resolve with: counts since the client was created. */
export interface DeliveryReport {
  /** Events the server stored. */
  sent: number;
  /** Events the client discarded: queue overflow, unencodable or too large, tracked after shutdown. */
  dropped: number;
  /** Events the server refused for good, or gave up on after `retry.maxAttempts`. */
  failed: number;
  /** Events still waiting or in flight. */
  pending: number;
}

/** Live counters, from `client.stats()`. */
export interface ClientStats extends DeliveryReport {
  /**
   * Calls to `track()` (on an enabled client). Each ends up in exactly one of `sampledOut`, `filtered`,
   * `dropped`, `failed`, `sent` or `pending`, and these add up to `tracked`.
   */
  tracked: number;
  /** Events left out by `sampleRate`. */
  sampledOut: number;
  /** Events `beforeSend` returned null for. */
  filtered: number;
  droppedBy: { queueFull: number; invalid: number; tooLarge: number; closed: number };
  /** Encoded events waiting to be sent (events tracked but not encoded yet count in `pending` only). */
  queuedEvents: number;
  /** Bytes charged against `maxQueueBytes`: events not yet encoded (estimated), queued and in flight. */
  queuedBytes: number;
  inFlightEvents: number;
  requests: number;
  retries: number;
}
