/**
 * The send loop: takes batches from the queue, one request at a time, and decides what happens to
 * them from the server's answer. Batches go out when `flushAt` events wait, when the flush interval
 * fires, or continuously while someone waits on `flush()`. Failed batches go back to the front of the
 * queue and are retried after backoff (or the server's Retry-After); a 413 halves the batch size.
 */
import { VigilError } from '../errors.js';
import type { Platform, SendResult, Transport } from '../platform/index.js';
import { KEEPALIVE_MAX_BYTES } from '../platform/limits.js';
import type { Batch, EventQueue } from '../queue/event-queue.js';
import { judge } from './response.js';
import { backoffDelay, type RetryPolicy, retryAfterDelay } from './retry.js';

export interface ExporterOptions {
  flushAt: number;
  flushIntervalMs: number;
  maxBatchEvents: number;
  maxBatchBytes: number;
  retry: RetryPolicy;
}

/** Counters the exporter advances; owned by the client. */
export interface DeliveryCounters {
  sent: number;
  failed: number;
  requests: number;
  retries: number;
}

export interface ExporterHooks {
  /** Moves events tracked since the last call into the queue. */
  collect(): void;
  /** Reports a failure (asynchronously, coalesced). */
  report(error: VigilError): void;
}

interface Waiter {
  target: number;
  resolve: () => void;
  cancelTimer: () => void;
}

export class Exporter {
  private inFlight: Batch | null = null;
  private cancelRetry: (() => void) | null = null;
  private cancelInterval: (() => void) | null = null;
  private kickScheduled = false;
  /** Failures in a row, for the backoff exponent. */
  private failuresInRow = 0;
  /** 5xx / unreadable answers in a row, against `retry.maxAttempts`. */
  private limitedFailures = 0;
  /** Lowered by a 413, doubled back with each delivered batch. */
  private batchLimit: number;
  private readonly waiters: Waiter[] = [];
  private stopped = false;

  constructor(
    private readonly queue: EventQueue,
    private readonly transport: Transport,
    private readonly platform: Platform,
    private readonly options: ExporterOptions,
    private readonly counters: DeliveryCounters,
    private readonly hooks: ExporterHooks,
  ) {
    this.batchLimit = options.maxBatchEvents;
  }

  /** Events of the in-flight request. */
  get inFlightCount(): number {
    return this.inFlight?.events.length ?? 0;
  }

  /** Something was tracked: make sure it goes out within the flush interval. */
  eventsWaiting(): void {
    if (this.cancelInterval || this.stopped) return;
    this.cancelInterval = this.platform.timer(() => {
      this.cancelInterval = null;
      this.pump(true);
    }, this.options.flushIntervalMs);
  }

  /** Events are waiting to be encoded or sent: do it soon, after the caller's current task. */
  kick(): void {
    if (this.kickScheduled || this.stopped) return;
    this.kickScheduled = true;
    this.platform.defer(() => {
      this.kickScheduled = false;
      this.pump(false);
    });
  }

  /**
   * Resolves once every event up to sequence number `target` is settled (delivered, refused, dropped),
   * or after `timeoutMs`. Meanwhile batches go out back to back, whatever `flushAt` says. With
   * `keepAlive`, the wait itself keeps a Node process alive (someone awaits it).
   */
  settleThrough(target: number, timeoutMs: number, keepAlive: boolean): Promise<void> {
    if (this.oldestUnsettled() > target || this.stopped) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const waiter: Waiter = {
        target,
        resolve,
        cancelTimer: this.platform.timer(() => this.release(waiter), Math.max(0, timeoutMs), keepAlive),
      };
      this.waiters.push(waiter);
      this.pump(true);
    });
  }

  /** Skips the current backoff wait (a last attempt before the process exits). */
  retryNow(): void {
    if (!this.cancelRetry) return;
    this.cancelRetry();
    this.cancelRetry = null;
    this.pump(true);
  }

  /** The page is going away: send one batch now, small enough for a `keepalive` request. */
  sendUrgent(): void {
    if (this.stopped || this.inFlight) return;
    this.cancelRetry?.();
    this.cancelRetry = null;
    this.hooks.collect();
    this.sendNext(true);
  }

  /** Something settled outside the exporter (events dropped from the queue): wake `flush()` callers. */
  checkWaiters(): void {
    if (this.waiters.length === 0) return;
    const oldest = this.oldestUnsettled();
    for (const waiter of [...this.waiters]) if (oldest > waiter.target) this.release(waiter);
  }

  /** Stops for good: timers cancelled, the in-flight request aborted (its events stay pending). */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.cancelRetry?.();
    this.cancelInterval?.();
    this.cancelRetry = null;
    this.cancelInterval = null;
    this.transport.close();
    for (const waiter of [...this.waiters]) this.release(waiter);
  }

  private release(waiter: Waiter): void {
    const i = this.waiters.indexOf(waiter);
    if (i < 0) return;
    this.waiters.splice(i, 1);
    waiter.cancelTimer();
    waiter.resolve();
  }

  private oldestUnsettled(): number {
    return this.inFlight ? this.inFlight.seqs[0]! : this.queue.headSeq;
  }

  private pump(due: boolean): void {
    if (this.stopped) return;
    // Encode what was tracked even when nothing can be sent now, so it never piles up for track() to do.
    this.hooks.collect();
    if (this.inFlight || this.cancelRetry || this.queue.count === 0) return;
    if (!due && this.waiters.length === 0 && this.queue.count < this.options.flushAt) {
      this.eventsWaiting();
      return;
    }
    this.sendNext(false);
  }

  private sendNext(urgent: boolean): void {
    const batch = this.queue.take(
      this.batchLimit,
      urgent ? Math.min(KEEPALIVE_MAX_BYTES, this.options.maxBatchBytes) : this.options.maxBatchBytes,
    );
    if (!batch) return;
    this.inFlight = batch;
    this.cancelInterval?.();
    this.cancelInterval = null;
    this.counters.requests += 1;
    const body = `{"events":[${batch.events.join(',')}]}`;
    let sending: Promise<SendResult>;
    try {
      sending = this.transport.send({ body, urgent });
    } catch (error) {
      sending = Promise.resolve({ kind: 'failure', reason: 'network', message: String(error) });
    }
    void sending.then(
      (result) => this.onResult(batch, result),
      (error: unknown) =>
        this.onResult(batch, { kind: 'failure', reason: 'network', message: String(error) }),
    );
  }

  private onResult(batch: Batch, result: SendResult): void {
    this.inFlight = null;
    const n = batch.events.length;
    const verdict = judge(result, n);
    switch (verdict.kind) {
      case 'delivered': {
        const refused = verdict.rejected.length;
        this.counters.sent += n - refused;
        this.counters.failed += refused;
        this.queue.settle(batch);
        this.failuresInRow = 0;
        this.limitedFailures = 0;
        this.batchLimit = Math.min(this.options.maxBatchEvents, this.batchLimit * 2);
        if (refused > 0) {
          const first = verdict.rejected[0]!;
          this.hooks.report(
            new VigilError(
              'rejected',
              `the server refused ${refused} event(s), e.g. ${first.code}: ${first.message}`,
              {
                count: refused,
              },
            ),
          );
        }
        break;
      }
      case 'split':
        this.queue.putBack(batch);
        this.batchLimit = Math.max(1, Math.floor(n / 2));
        break;
      case 'refused':
        this.counters.failed += n;
        this.queue.settle(batch);
        this.hooks.report(verdict.error);
        break;
      case 'retry':
        if (verdict.limited && ++this.limitedFailures >= this.options.retry.maxAttempts) {
          this.counters.failed += n;
          this.queue.settle(batch);
          this.limitedFailures = 0;
          this.hooks.report(
            new VigilError(
              'retries_exhausted',
              `gave up a batch of ${n} after ${this.options.retry.maxAttempts} attempts: ${verdict.error.message}`,
              { count: n, status: verdict.error.status },
            ),
          );
          break;
        }
        this.queue.putBack(batch);
        this.failuresInRow += 1;
        this.counters.retries += 1;
        this.hooks.report(verdict.error);
        if (!this.stopped) {
          const delay =
            verdict.retryAfterMs === null
              ? backoffDelay(this.failuresInRow, this.options.retry)
              : retryAfterDelay(verdict.retryAfterMs);
          this.cancelRetry = this.platform.timer(() => {
            this.cancelRetry = null;
            this.pump(true);
          }, delay);
        }
        this.checkWaiters();
        return;
      case 'aborted':
        this.queue.putBack(batch);
        return;
    }
    this.checkWaiters();
    this.pump(false);
  }
}
