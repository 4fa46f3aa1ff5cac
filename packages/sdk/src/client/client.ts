import { type AdminTelemetry, adminTelemetry } from '../builtin/admin.js';
import { type DecisionTelemetry, decisionTelemetry } from '../builtin/decisions.js';
import { type LlmTelemetry, llmTelemetry } from '../builtin/llm.js';
import type { EventProps, PropsOf, TrackOptions } from '../builtin/types.js';
import { VigilError, type VigilErrorCode, warnOncePerBurst } from '../errors.js';
import { DEFAULT_LIMITS, EventEncoder, queuedSize } from '../event/encode.js';
import { DEFAULT_DENY_PROPS, PropDenyList } from '../event/privacy.js';
import { retainedBytes } from '../event/retained.js';
import { UUID_PATTERN, Uuidv7Generator } from '../event/uuidv7.js';
import { type DeliveryCounters, Exporter } from '../export/exporter.js';
import { DEFAULT_RETRY, type RetryPolicy } from '../export/retry.js';
import { platform as defaultPlatform, type Platform } from '../platform/index.js';
import { EventQueue } from '../queue/event-queue.js';
import { type StagedEvent, StagedEvents } from '../queue/staged-events.js';
import type { ClientOptions, ClientStats, DeliveryReport, TrackedEvent } from './options.js';

export const SDK_VERSION = '0.1.0';

/** Same rule as the server: a letter, then up to 99 letters, digits, `.`, `_`, `:` or `-`. */
const TYPE_NAME = /^[A-Za-z][A-Za-z0-9_.:-]{0,99}$/;
/**
 * Work done by one slice of background encoding (characters of JSON written, plus 16 per property
 * key read; ~250 events of a typical size, under a millisecond) before it yields to the host's event
 * loop and goes on in the next turn. `track()` itself never encodes: it stages the event and charges
 * its estimated memory against the queue cap at once.
 */
const ENCODE_SLICE_WORK = 64 * 1024;

const isVersion = (v: unknown): v is string => typeof v === 'string' && v.length > 0 && v.length <= 64;

function toEpochMs(value: unknown): number | null {
  if (typeof value === 'number') return Number.isFinite(value) ? Math.round(value) : null;
  if (value instanceof Date) return Number.isFinite(value.getTime()) ? value.getTime() : null;
  if (typeof value === 'string' && value.length <= 64) {
    const t = Date.parse(value);
    return Number.isNaN(t) ? null : t;
  }
  return null;
}

/** Resolved settings of one client. */
interface Settings {
  url: string;
  key: string;
  version: string;
  enabled: boolean;
  flushAt: number;
  flushIntervalMs: number;
  maxQueueBytes: number;
  maxBatchEvents: number;
  maxBatchBytes: number;
  sampleRate: number;
  beforeSend: ClientOptions['beforeSend'];
  onError: (error: VigilError) => void;
  denyProps: readonly string[];
  requestTimeoutMs: number;
  retry: RetryPolicy;
  compress: boolean;
  limits: typeof DEFAULT_LIMITS;
  flushOnExit: boolean;
}

/**
 * A Vigil client: `track()` and the typed helpers record events; batching, retries and delivery
 * happen in the background. Create one per process (or page) with {@link createClient}.
 */
export class VigilClient {
  /** Decision telemetry: recommendations shown and decided, signal outcomes. */
  readonly decisions: DecisionTelemetry;
  /** Admin activity: screens opened. */
  readonly admin: AdminTelemetry;
  /** LLM request timing, tokens, cache hits and error categories. */
  readonly llm: LlmTelemetry;

  private readonly settings: Settings;
  private readonly platform: Platform;
  private readonly queue: EventQueue;
  private readonly exporter: Exporter | null;
  private readonly encoder: EventEncoder;
  private readonly ids = new Uuidv7Generator();
  private accepting: boolean;

  // Events tracked but not yet encoded, oldest first, charged against the queue cap. Encoding takes
  // from the head; a `beforeSend` that calls `track()` while encoding appends behind it.
  private readonly staged = new StagedEvents();
  private readonly shifted: StagedEvent = {
    type: undefined,
    props: undefined,
    ts: 0,
    options: undefined,
    size: 0,
  };
  private encoding = false;
  private encodeScheduled = false;
  /** The last type name `track()` found valid: most callers repeat a few literals. */
  private lastGoodType: unknown;
  private readonly encodeSlice = () => {
    this.encodeScheduled = false;
    this.encodeStaged(ENCODE_SLICE_WORK);
  };

  private readonly counters: DeliveryCounters = { sent: 0, failed: 0, requests: 0, retries: 0 };
  private tracked = 0;
  private sampledOut = 0;
  private filtered = 0;
  private droppedQueueFull = 0;
  private droppedInvalid = 0;
  private droppedTooLarge = 0;
  private droppedClosed = 0;

  private readonly pendingErrors = new Map<
    VigilErrorCode,
    { message: string; count: number; source: VigilError | { cause?: unknown } | undefined }
  >();
  private errorsScheduled = false;
  private unsubscribeTerminate: (() => void) | null = null;
  private exitFlushing = false;
  private shutdownPromise: Promise<DeliveryReport> | null = null;

  /** Use {@link createClient}. */
  constructor(settings: Settings, platform: Platform) {
    this.settings = settings;
    this.platform = platform;
    this.accepting = settings.enabled;
    this.queue = new EventQueue(settings.maxQueueBytes, this.staged);
    this.encoder = new EventEncoder(settings.limits, new PropDenyList(settings.denyProps));
    this.exporter = settings.enabled
      ? new Exporter(
          this.queue,
          platform.createTransport({
            url: settings.url,
            key: settings.key,
            timeoutMs: settings.requestTimeoutMs,
            compress: settings.compress,
            userAgent: `vigil-sdk/${SDK_VERSION} (${platform.name})`,
          }),
          platform,
          {
            flushAt: settings.flushAt,
            flushIntervalMs: settings.flushIntervalMs,
            maxBatchEvents: settings.maxBatchEvents,
            maxBatchBytes: settings.maxBatchBytes,
            retry: settings.retry,
          },
          this.counters,
          { collect: () => this.encodeStaged(ENCODE_SLICE_WORK), report: (error) => this.report(error) },
        )
      : null;
    const track = this.track.bind(this) as (type: string, props?: EventProps, options?: TrackOptions) => void;
    const now = () => platform.now();
    this.decisions = decisionTelemetry(track, now);
    this.admin = adminTelemetry(track);
    this.llm = llmTelemetry(track, now);
    if (settings.enabled && settings.flushOnExit) {
      this.unsubscribeTerminate = platform.onTerminate((urgent) => this.onTerminate(urgent));
    }
  }

  /** False when disabled by `enabled: false` or by unusable options; every method is then a no-op. */
  get enabled(): boolean {
    return this.settings.enabled;
  }

  /**
   * Records one event. Synchronous, returns nothing and never throws, whatever it is given: the event
   * gets a UUIDv7 id, the timestamp and the client's version tag, and is queued for sending. Props are
   * copied one level deep now and serialized once the caller yields to the event loop, so do not
   * mutate nested objects you pass. Its memory counts against `maxQueueBytes` at once.
   *
   * @example
   * ```ts
   * client.track('checkout.completed', { plan: 'team', seats: 12 });
   * client.track('llm.request', { total_ms: 812, model: 'gpt-4o' }, { timestamp: startedAt });
   * ```
   */
  track<T extends string>(type: T, props?: PropsOf<T>, options?: TrackOptions): void {
    if (!this.accepting) {
      if (this.shutdownPromise) {
        this.tracked += 1;
        this.droppedClosed += 1;
      }
      return;
    }
    this.tracked += 1;
    try {
      const rate = this.settings.sampleRate;
      if (rate < 1 && !(Math.random() < rate)) {
        this.sampledOut += 1;
        return;
      }
      if (type !== this.lastGoodType && !this.settings.beforeSend) {
        // Without a beforeSend to rename it, a bad type is final: refuse it now, before it takes room.
        if (typeof type !== 'string' || !TYPE_NAME.test(type)) {
          this.droppedInvalid += 1;
          this.note('invalid_event', badTypeMessage(type), 1);
          return;
        }
        this.lastGoodType = type;
      }
      const limits = this.settings.limits;
      let copy = snapshot(props);
      let size = retainedBytes(copy, limits);
      if (size < 0) {
        copy = firstKeys(copy as object, limits.maxProps);
        size = retainedBytes(copy, limits);
      }
      if (this.makeRoom(size)) this.staged.push(type, copy, Date.now(), options, size);
      if (!this.encodeScheduled) {
        this.encodeScheduled = true;
        this.platform.defer(this.encodeSlice);
      }
    } catch (error) {
      this.droppedInvalid += 1;
      this.note('invalid_event', 'an event could not be read', 1, { cause: error });
    }
  }

  /**
   * Sends everything tracked so far. Resolves when those events are settled or after `timeoutMs`,
   * never rejects.
   *
   * @example
   * ```ts
   * const { pending } = await client.flush({ timeoutMs: 2_000 });
   * ```
   */
  flush({ timeoutMs = 10_000 }: { timeoutMs?: number } = {}): Promise<DeliveryReport> {
    return this.settle(timeoutMs, true);
  }

  /**
   * Drops the oldest events (queued, then staged) until `size` more bytes fit under the cap; false
   * when even then they do not (the new event is dropped). Every drop is counted as `queueFull`.
   */
  private makeRoom(size: number): boolean {
    const queue = this.queue;
    const max = this.settings.maxQueueBytes;
    if (queue.queuedBytes + queue.inFlightBytes + this.staged.bytes + size <= max) return true;
    let dropped = 0;
    let fits = false;
    for (;;) {
      if (queue.queuedBytes + queue.inFlightBytes + this.staged.bytes + size <= max) {
        fits = true;
        break;
      }
      if (!queue.dropOldest() && !this.staged.shift()) break;
      dropped += 1;
    }
    if (!fits) dropped += 1;
    this.droppedQueueFull += dropped;
    this.note(
      'queue_full',
      `the queue reached maxQueueBytes (${this.settings.maxQueueBytes}); dropped the oldest events`,
      dropped,
    );
    this.exporter?.checkWaiters();
    return fits;
  }

  private async settle(timeoutMs: number, keepAlive: boolean): Promise<DeliveryReport> {
    try {
      this.encodeStaged();
      await this.exporter?.settleThrough(this.queue.lastSeq, timeoutMs, keepAlive);
    } catch (error) {
      this.report(new VigilError('network', 'flush failed', { cause: error }));
    }
    return this.report_();
  }

  /**
   * Stops accepting events, sends what is queued, and releases timers and connections. Resolves within
   * `timeoutMs` (events still unsent then are reported as `pending`), never rejects. Calling it again
   * waits for the first call and gives the current report.
   *
   * @example
   * ```ts
   * process.on('SIGTERM', async () => {
   *   const report = await client.shutdown({ timeoutMs: 5_000 });
   *   console.log('telemetry', report); // { sent, dropped, failed, pending }
   *   process.exit(0);
   * });
   * ```
   */
  shutdown({ timeoutMs = 10_000 }: { timeoutMs?: number } = {}): Promise<DeliveryReport> {
    if (this.shutdownPromise) return this.shutdownPromise.then(() => this.report_());
    this.shutdownPromise = (async () => {
      this.unsubscribeTerminate?.();
      this.unsubscribeTerminate = null;
      try {
        this.encodeStaged();
        this.accepting = false;
        await this.exporter?.settleThrough(this.queue.lastSeq, timeoutMs, true);
      } catch (error) {
        this.report(new VigilError('network', 'shutdown failed', { cause: error }));
      }
      this.accepting = false;
      this.exporter?.stop();
      return this.report_();
    })();
    this.accepting = false;
    return this.shutdownPromise;
  }

  /**
   * Live counters.
   *
   * @example
   * ```ts
   * const { queuedBytes, droppedBy } = client.stats();
   * ```
   */
  stats(): ClientStats {
    return {
      ...this.report_(),
      tracked: this.tracked,
      sampledOut: this.sampledOut,
      filtered: this.filtered,
      droppedBy: {
        queueFull: this.droppedQueueFull,
        invalid: this.droppedInvalid,
        tooLarge: this.droppedTooLarge,
        closed: this.droppedClosed,
      },
      queuedEvents: this.queue.count,
      queuedBytes: this.queue.queuedBytes + this.queue.inFlightBytes + this.staged.bytes,
      inFlightEvents: this.exporter?.inFlightCount ?? 0,
      requests: this.counters.requests,
      retries: this.counters.retries,
    };
  }

  private report_(): DeliveryReport {
    return {
      sent: this.counters.sent,
      dropped: this.droppedQueueFull + this.droppedInvalid + this.droppedTooLarge + this.droppedClosed,
      failed: this.counters.failed,
      pending: this.staged.count + this.queue.count + (this.exporter?.inFlightCount ?? 0),
    };
  }

  /**
   * Encodes staged events into the queue (ids, beforeSend, privacy, limits, the byte cap), oldest
   * first, until `budget` units of work are done (see {@link ENCODE_SLICE_WORK}); what is left goes on
   * in the next turn of the event loop.
   */
  private encodeStaged(budget = Number.POSITIVE_INFINITY): void {
    if (this.encoding || this.staged.count === 0) return;
    this.encoding = true;
    // Only what is staged now: events a `beforeSend` tracks meanwhile wait for the next slice.
    let left = this.staged.count;
    let used = 0;
    const dropsBefore = this.droppedQueueFull;
    const e = this.shifted;
    try {
      while (left > 0 && used < budget && this.staged.shift(e)) {
        left -= 1;
        const { type, props, options, ts } = e;
        e.type = undefined;
        e.props = undefined;
        e.options = undefined;
        used += this.encodeOne(type, props, ts, options);
      }
    } finally {
      this.encoding = false;
    }
    const queueFull = this.droppedQueueFull - dropsBefore;
    if (queueFull > 0) {
      this.note(
        'queue_full',
        `the queue reached maxQueueBytes (${this.settings.maxQueueBytes}); dropped the oldest events`,
        queueFull,
      );
      this.exporter?.checkWaiters();
    }
    if (this.staged.count > 0 && !this.encodeScheduled) {
      this.encodeScheduled = true;
      this.platform.defer(this.encodeSlice);
    }
    if (this.queue.count >= this.settings.flushAt) this.exporter?.kick();
    else if (this.queue.count > 0) this.exporter?.eventsWaiting();
  }

  /** Queues one event; returns the work it took (see {@link SYNC_CHUNK_WORK}). */
  private encodeOne(
    type: unknown,
    props: unknown,
    trackedAt: number,
    options: TrackOptions | undefined,
  ): number {
    try {
      let ts = trackedAt;
      let version = this.settings.version;
      let id: string | undefined;
      if (options !== undefined && options !== null) {
        const at = toEpochMs(options.timestamp);
        if (at !== null) ts = at;
        if (typeof options.id === 'string' && UUID_PATTERN.test(options.id)) id = options.id.toLowerCase();
        if (isVersion(options.version)) version = options.version;
      }
      id ??= this.ids.next(trackedAt);
      let finalType = type;
      let finalProps = props;
      if (this.settings.beforeSend) {
        const event: TrackedEvent = {
          id,
          type: typeof type === 'string' ? type : String(type),
          ts,
          version,
          props: (props as EventProps | undefined) ?? {},
        };
        let result: TrackedEvent | null | undefined;
        try {
          result = this.settings.beforeSend(event);
        } catch (error) {
          this.droppedInvalid += 1;
          this.note('before_send', 'beforeSend threw; the event was dropped', 1, { cause: error });
          return 1;
        }
        if (result === null || result === undefined || typeof result !== 'object') {
          this.filtered += 1;
          return 0;
        }
        finalType = result.type;
        finalProps = result.props;
        if (typeof result.id === 'string' && UUID_PATTERN.test(result.id)) id = result.id.toLowerCase();
        if (typeof result.ts === 'number' && Number.isFinite(result.ts)) ts = Math.round(result.ts);
        if (isVersion(result.version)) version = result.version;
      }
      // Without beforeSend, track() has checked the type already.
      if (this.settings.beforeSend && (typeof finalType !== 'string' || !TYPE_NAME.test(finalType))) {
        this.droppedInvalid += 1;
        this.note('invalid_event', badTypeMessage(finalType), 1);
        return 0;
      }
      const json = this.encoder.encode({ id, type: finalType as string, ts, version }, finalProps);
      if (json === null || json.length > this.settings.limits.maxEventBytes) {
        this.droppedTooLarge += 1;
        this.note(
          'event_too_large',
          `a ${finalType} event is larger than limits.maxEventBytes (${this.settings.limits.maxEventBytes})`,
          1,
        );
        return this.settings.limits.maxEventBytes + 16 * this.encoder.keysRead;
      }
      const dropped = this.queue.push(json, queuedSize(json));
      if (dropped > 0) this.droppedQueueFull += dropped;
      return json.length + 16 * this.encoder.keysRead;
    } catch (error) {
      this.droppedInvalid += 1;
      this.note('invalid_event', 'an event could not be encoded', 1, { cause: error });
      return 1;
    }
  }

  private onTerminate(urgent: boolean): void {
    try {
      if (urgent) {
        this.exporter?.sendUrgent();
        return;
      }
      // Node's beforeExit: the loop is empty. Flush once; if that in turn only waits on an (unref'd)
      // backoff timer, beforeExit comes again and the process is let go.
      if (this.exitFlushing || this.report_().pending === 0) return;
      this.exitFlushing = true;
      this.exporter?.retryNow();
      void this.settle(this.settings.requestTimeoutMs * 2, false).then(() => {
        this.exitFlushing = false;
      });
    } catch {
      // never break the host's exit
    }
  }

  /** Coalesces errors by code and hands them to `onError` after the current task. */
  private report(error: VigilError): void {
    this.note(error.code, error.message, error.count, error);
  }

  /** Like `report`, without building an Error (and its stack) on the encoding path. */
  private note(
    code: VigilErrorCode,
    message: string,
    count: number,
    error?: VigilError | { cause?: unknown },
  ): void {
    const previous = this.pendingErrors.get(code);
    if (previous) {
      previous.message = message;
      previous.count += count;
      previous.source = error ?? previous.source;
    } else this.pendingErrors.set(code, { message, count, source: error });
    if (this.errorsScheduled) return;
    this.errorsScheduled = true;
    this.platform.defer(() => this.emitErrors());
  }

  private emitErrors(): void {
    this.errorsScheduled = false;
    const pending = [...this.pendingErrors];
    this.pendingErrors.clear();
    for (const [code, { message, count, source }] of pending) {
      try {
        const status = source instanceof VigilError ? source.status : undefined;
        const cause = source instanceof VigilError ? source.cause : source?.cause;
        this.settings.onError(
          source instanceof VigilError && source.count === count && source.message === message
            ? source
            : new VigilError(code, message, { count, status, cause }),
        );
      } catch {
        // a throwing onError must not break delivery
      }
    }
  }
}

/**
 * What `track()` keeps of its props until they are encoded: a one-level copy of a plain object (cut
 * to `limits.maxProps` keys by `track()`), so later changes by the caller do not leak in.
 * Other objects (class instances, Maps…) are kept as given; non-objects mean no props.
 */
function snapshot(props: unknown): unknown {
  if (typeof props !== 'object' || props === null || Array.isArray(props)) return undefined;
  const proto = Object.getPrototypeOf(props) as unknown;
  if (proto !== Object.prototype && proto !== null) return props;
  return { ...props };
}

/** The first `maxKeys` keys of a copy that has more (all the encoder would read). */
function firstKeys(copy: object, maxKeys: number): Record<string, unknown> {
  const keys = Object.keys(copy);
  const out: Record<string, unknown> = {};
  for (let i = 0; i < maxKeys; i++) out[keys[i]!] = (copy as Record<string, unknown>)[keys[i]!];
  return out;
}

function badTypeMessage(type: unknown): string {
  return `event type must be 1-100 letters, digits, ".", "_", ":" or "-", starting with a letter; got ${describe(type)}`;
}

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.slice(0, 40));
  return typeof value;
}

function unitInterval(value: unknown, problems: string[]): number {
  if (typeof value === 'number' && value >= 0 && value <= 1) return value;
  problems.push('sampleRate must be within 0..1; using 1');
  return 1;
}

function positive(value: unknown, fallback: number, problems: string[], name: string): number {
  if (value === undefined) return fallback;
  if (typeof value === 'number' && Number.isFinite(value) && value > 0) return value;
  problems.push(`${name} must be a positive number; using ${fallback}`);
  return fallback;
}

/**
 * Creates a client. Never throws: options that cannot work (no endpoint, key or version) give a
 * disabled client and one `invalid_config` error; a bad number falls back to its default.
 *
 * @example
 * ```ts
 * import { createClient } from '@vigil/sdk';
 *
 * const vigil = createClient({ endpoint: 'http://127.0.0.1:4318', key: process.env.VIGIL_KEY!, version: '2.3.1' });
 * vigil.track('report.exported', { format: 'csv' });
 * await vigil.shutdown();
 * ```
 */
export function createClient(options: ClientOptions): VigilClient {
  return buildClient(options, defaultPlatform);
}

/** {@link createClient} on a given platform (tests run the browser platform under Node with it). */
export function buildClient(
  {
    endpoint,
    key,
    version,
    flushAt = 100,
    flushIntervalMs = 5_000,
    maxQueueBytes = 50 * 1024 * 1024,
    maxBatchEvents = 500,
    maxBatchBytes = 1024 * 1024,
    sampleRate = 1,
    beforeSend,
    onError = warnOncePerBurst(),
    denyProps = DEFAULT_DENY_PROPS,
    requestTimeoutMs = 10_000,
    retry = {},
    compression = 'gzip',
    limits = {},
    flushOnExit = true,
    enabled = true,
  }: ClientOptions,
  platform: Platform,
): VigilClient {
  const problems: string[] = [];
  let url = '';
  try {
    const base = new URL(String(endpoint));
    if (base.protocol !== 'http:' && base.protocol !== 'https:') problems.push('endpoint must be http(s)');
    url = `${base.href.replace(/\/+$/, '')}/v1/events`;
  } catch {
    problems.push(`endpoint is not a URL: ${describe(endpoint)}`);
  }
  if (typeof key !== 'string' || key.length === 0) problems.push('key (an ingest key) is required');
  if (!isVersion(version)) problems.push('version must be a string of 1-64 characters');
  const fatal = problems.length > 0;
  const settings: Settings = {
    url,
    key: typeof key === 'string' ? key : '',
    version: isVersion(version) ? version : 'unknown',
    enabled: enabled !== false && !fatal,
    flushAt: Math.max(1, Math.floor(positive(flushAt, 100, problems, 'flushAt'))),
    flushIntervalMs: positive(flushIntervalMs, 5_000, problems, 'flushIntervalMs'),
    maxQueueBytes: positive(maxQueueBytes, 50 * 1024 * 1024, problems, 'maxQueueBytes'),
    maxBatchEvents: Math.max(1, Math.floor(positive(maxBatchEvents, 500, problems, 'maxBatchEvents'))),
    maxBatchBytes: positive(maxBatchBytes, 1024 * 1024, problems, 'maxBatchBytes'),
    sampleRate: unitInterval(sampleRate, problems),
    beforeSend: typeof beforeSend === 'function' ? beforeSend : undefined,
    onError: typeof onError === 'function' ? onError : warnOncePerBurst(),
    denyProps: Array.isArray(denyProps)
      ? denyProps.filter((n): n is string => typeof n === 'string')
      : DEFAULT_DENY_PROPS,
    requestTimeoutMs: positive(requestTimeoutMs, 10_000, problems, 'requestTimeoutMs'),
    retry: {
      initialDelayMs: positive(
        retry.initialDelayMs,
        DEFAULT_RETRY.initialDelayMs,
        problems,
        'retry.initialDelayMs',
      ),
      maxDelayMs: positive(retry.maxDelayMs, DEFAULT_RETRY.maxDelayMs, problems, 'retry.maxDelayMs'),
      maxAttempts: Math.max(
        1,
        Math.floor(positive(retry.maxAttempts, DEFAULT_RETRY.maxAttempts, problems, 'retry.maxAttempts')),
      ),
    },
    compress: compression !== 'none',
    limits: {
      maxStringLength: Math.floor(
        positive(limits.maxStringLength, DEFAULT_LIMITS.maxStringLength, problems, 'limits.maxStringLength'),
      ),
      maxDepth: Math.floor(positive(limits.maxDepth, DEFAULT_LIMITS.maxDepth, problems, 'limits.maxDepth')),
      maxProps: Math.floor(positive(limits.maxProps, DEFAULT_LIMITS.maxProps, problems, 'limits.maxProps')),
      maxEventBytes: Math.floor(
        positive(limits.maxEventBytes, DEFAULT_LIMITS.maxEventBytes, problems, 'limits.maxEventBytes'),
      ),
    },
    flushOnExit: flushOnExit !== false,
  };
  const client = new VigilClient(settings, platform);
  if (problems.length > 0) {
    const message = fatal
      ? `the client is disabled: ${problems.join('; ')}`
      : `some options were replaced by defaults: ${problems.join('; ')}`;
    const error = new VigilError('invalid_config', message);
    platform.defer(() => {
      try {
        settings.onError(error);
      } catch {
        // nothing more to do
      }
    });
  }
  return client;
}
