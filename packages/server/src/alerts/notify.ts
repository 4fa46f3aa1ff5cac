import type { FastifyBaseLogger } from 'fastify';
import { SIGNATURE_HEADER, sign, TIMESTAMP_HEADER } from './payload.js';
import type { Receiver } from './rule.js';

export interface DeliverySettings {
  /** Deliveries waiting or being retried at most; more are dropped and counted. */
  maxQueue: number;
  /** Requests in flight at once. */
  concurrency: number;
  timeoutMs: number;
  /** Attempts per delivery (the first one included). */
  maxAttempts: number;
  retryBaseMs: number;
  retryMaxMs: number;
}

export interface Delivery {
  receiver: Receiver;
  /** The JSON body, serialized once (it is what the signature covers). */
  body: string;
  /** For logs: which alert and transition. */
  alertId: string;
  status: string;
}

export interface DeliveryStats {
  queued: number;
  inFlight: number;
  delivered: number;
  failed: number;
  retried: number;
  dropped: number;
}

interface Job extends Delivery {
  attempt: number;
}

/**
 * Sends notifications off the evaluation path: a bounded queue, a few requests at a time, each
 * with a timeout; 5xx answers and network errors are retried with exponential backoff (and
 * jitter), 4xx answers are final. Nothing here throws into the caller.
 */
export class Notifier {
  private readonly queue: Job[] = [];
  private readonly retryTimers = new Set<NodeJS.Timeout>();
  private retrying = 0;
  private inFlight = 0;
  private stopped = false;
  /** Aborts requests in flight at shutdown (they are not waited on for their full timeout). */
  private readonly abort = new AbortController();
  private readonly idleWaiters: (() => void)[] = [];
  readonly stats: Omit<DeliveryStats, 'queued' | 'inFlight'> = {
    delivered: 0,
    failed: 0,
    retried: 0,
    dropped: 0,
  };

  constructor(
    private readonly settings: DeliverySettings,
    private readonly log: Pick<FastifyBaseLogger, 'info' | 'warn' | 'error'>,
  ) {}

  /** Queues a delivery; false (and counted as dropped) when the queue is full or stopped. */
  enqueue(d: Delivery): boolean {
    if (this.stopped || this.queue.length + this.retrying + this.inFlight >= this.settings.maxQueue) {
      this.stats.dropped += 1;
      this.log.error(
        { receiver: d.receiver.url, alertId: d.alertId, dropped: this.stats.dropped },
        'alert notification dropped: the delivery queue is full',
      );
      return false;
    }
    this.queue.push({ ...d, attempt: 0 });
    this.pump();
    return true;
  }

  snapshot(): DeliveryStats {
    return { ...this.stats, queued: this.queue.length + this.retrying, inFlight: this.inFlight };
  }

  /** Resolves once nothing is queued, waiting for a retry or in flight (for tests and shutdown). */
  idle(): Promise<void> {
    if (this.queue.length + this.retrying + this.inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Stops retrying and sending; waits for requests in flight. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of this.retryTimers) clearTimeout(t);
    const abandoned = this.queue.length + this.retrying;
    this.retryTimers.clear();
    this.retrying = 0;
    this.queue.length = 0;
    if (abandoned + this.inFlight > 0)
      this.log.warn(
        { abandoned: abandoned + this.inFlight },
        'alert notifications not delivered before shutdown',
      );
    this.abort.abort();
    await this.idle();
  }

  private pump(): void {
    while (!this.stopped && this.inFlight < this.settings.concurrency && this.queue.length > 0) {
      const job = this.queue.shift() as Job;
      this.inFlight += 1;
      void this.attempt(job).finally(() => {
        this.inFlight -= 1;
        this.pump();
        this.settle();
      });
    }
    this.settle();
  }

  private settle(): void {
    if (this.queue.length + this.retrying + this.inFlight > 0) return;
    for (const w of this.idleWaiters.splice(0)) w();
  }

  private async attempt(job: Job): Promise<void> {
    job.attempt += 1;
    let retry: string | null = null;
    try {
      const headers: Record<string, string> = {
        'content-type': 'application/json',
        'user-agent': 'vigil-alerts',
      };
      if (job.receiver.secret !== undefined) {
        const ts = String(Math.floor(Date.now() / 1000));
        headers[TIMESTAMP_HEADER] = ts;
        headers[SIGNATURE_HEADER] = sign(job.receiver.secret, ts, job.body);
      }
      const res = await fetch(job.receiver.url, {
        method: 'POST',
        headers,
        body: job.body,
        signal: AbortSignal.any([AbortSignal.timeout(this.settings.timeoutMs), this.abort.signal]),
      });
      await res.body?.cancel().catch(() => undefined);
      if (res.ok) {
        this.stats.delivered += 1;
        this.log.info(
          { receiver: job.receiver.url, alertId: job.alertId, status: job.status, attempt: job.attempt },
          'alert notification delivered',
        );
        return;
      }
      if (res.status >= 500) retry = `HTTP ${res.status}`;
      else {
        this.stats.failed += 1;
        this.log.error(
          { receiver: job.receiver.url, alertId: job.alertId, httpStatus: res.status },
          'alert notification refused by the receiver (4xx); not retried',
        );
        return;
      }
    } catch (err) {
      retry = (err as Error).message;
    }
    if (job.attempt >= this.settings.maxAttempts || this.stopped) {
      this.stats.failed += 1;
      this.log.error(
        { receiver: job.receiver.url, alertId: job.alertId, attempts: job.attempt, reason: retry },
        'alert notification failed after retries',
      );
      return;
    }
    const backoff = Math.min(this.settings.retryMaxMs, this.settings.retryBaseMs * 2 ** (job.attempt - 1));
    const delay = Math.round(backoff * (0.5 + Math.random() / 2));
    this.stats.retried += 1;
    this.log.warn(
      {
        receiver: job.receiver.url,
        alertId: job.alertId,
        attempt: job.attempt,
        reason: retry,
        retryInMs: delay,
      },
      'alert notification failed; retrying',
    );
    this.retrying += 1;
    const timer = setTimeout(() => {
      this.retryTimers.delete(timer);
      this.retrying -= 1;
      this.queue.push(job);
      this.pump();
    }, delay);
    timer.unref();
    this.retryTimers.add(timer);
  }
}
