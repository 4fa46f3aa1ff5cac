import { randomUUID } from 'node:crypto';
import type { FastifyBaseLogger } from 'fastify';
import type { LeaseStore } from '../store/index.js';

/** What a scheduled job asks before it runs: whether this instance holds the scheduler lease. */
export interface SchedulerTurn {
  readonly held: boolean;
}

export interface SchedulerLeaseOptions {
  /** This instance's id (the holder names it, with a token of this process). */
  instanceId: string;
  /** How long a take or renewal holds the lease (default 20 s). */
  ttlMs?: number;
  /** How often the holder renews and the others try to take it (default 5 s). */
  renewMs?: number;
  log: FastifyBaseLogger;
  /** Told when this instance takes the lease (it reloads what another holder changed). */
  onAcquired?: () => Promise<void>;
  now?: () => number;
}

const NAME = 'scheduler';

/**
 * The scheduler lease: the instance holding it runs the work that must run once per cluster
 * (alert evaluation and notification, collectors, daily health snapshots, retention, rollup
 * compaction); the others skip that work and keep serving. The holder renews it every `renewMs`
 * for `ttlMs`; when the holder dies, another instance takes it within `ttlMs + renewMs` (25 s by
 * default). A holder counts the lease as its own only until a quarter of the term before it
 * expires, so two instances never both think they hold it while clocks agree.
 */
export class SchedulerLease implements SchedulerTurn {
  readonly holder: string;
  private heldUntil = 0;
  private timer: NodeJS.Timeout | null = null;
  private ticking: Promise<void> = Promise.resolve();
  private readonly ttlMs: number;
  private readonly renewMs: number;
  private readonly now: () => number;

  constructor(
    private readonly leases: LeaseStore,
    private readonly o: SchedulerLeaseOptions,
  ) {
    this.holder = `${o.instanceId}/${randomUUID().slice(0, 8)}`;
    this.ttlMs = o.ttlMs ?? 20_000;
    this.renewMs = o.renewMs ?? 5_000;
    this.now = o.now ?? Date.now;
  }

  get held(): boolean {
    return this.now() < this.heldUntil - this.ttlMs / 4;
  }

  /** Tries once (so a lone instance holds the lease before its jobs start), then on an interval. */
  async start(): Promise<void> {
    await this.tick();
    this.timer = setInterval(() => {
      this.ticking = this.ticking.then(() => this.tick());
    }, this.renewMs);
    this.timer.unref();
  }

  /** Stops trying and frees the lease at once, so another instance need not wait for it to expire. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.ticking;
    if (this.heldUntil === 0) return;
    this.heldUntil = 0;
    await this.leases.release({ name: NAME, holder: this.holder }).catch((err: unknown) => {
      this.o.log.warn(
        { err },
        'could not release the scheduler lease; another instance takes it when it expires',
      );
    });
  }

  private async tick(): Promise<void> {
    const wasHeld = this.heldUntil > this.now();
    try {
      const lease = await this.leases.take({
        name: NAME,
        holder: this.holder,
        now: this.now(),
        ttlMs: this.ttlMs,
      });
      if (!lease) {
        if (wasHeld) this.o.log.warn({ holder: this.holder }, 'scheduler lease lost to another instance');
        this.heldUntil = 0;
        return;
      }
      this.heldUntil = lease.expiresAt;
      if (!wasHeld) {
        this.o.log.info(
          { holder: this.holder, term: lease.term },
          'scheduler lease taken: this instance runs the scheduled work',
        );
        await this.o.onAcquired?.();
      }
    } catch (err) {
      // The store is unreachable: what is held runs out on its own.
      this.o.log.warn({ err }, 'scheduler lease not renewed');
    }
  }
}
