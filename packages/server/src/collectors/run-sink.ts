import type { CollectorRun } from './framework.js';

/**
 * Stores runs in batches as they come: one write at a time, each taking all that queued
 * meanwhile. A first result waits a few ms for company (fewer, larger writes); the phase's last
 * result is written at once.
 */
export class RunSink {
  private queue: CollectorRun[] = [];
  private flushing: Promise<void> | null = null;
  private timer: NodeJS.Timeout | null = null;
  private received = 0;

  constructor(
    private readonly write: (runs: CollectorRun[]) => Promise<void>,
    private readonly expected: number,
    private readonly windowMs = 25,
  ) {}

  push(run: CollectorRun): void {
    this.queue.push(run);
    this.received += 1;
    if (this.received >= this.expected || this.windowMs <= 0) this.kick();
    else if (this.timer === null && this.flushing === null) {
      this.timer = setTimeout(() => this.kick(), this.windowMs);
    }
  }

  private kick(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.flushing ??= this.flush();
  }

  private async flush(): Promise<void> {
    while (this.queue.length > 0) {
      const batch = this.queue;
      this.queue = [];
      await this.write(batch);
    }
    this.flushing = null;
  }

  async drain(): Promise<void> {
    if (this.queue.length > 0) this.kick();
    while (this.flushing) await this.flushing;
  }
}
