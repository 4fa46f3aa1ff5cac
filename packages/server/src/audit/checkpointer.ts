import type { KeyObject } from 'node:crypto';
import type { FastifyBaseLogger } from 'fastify';
import type { ChainLink } from '../store/index.js';
import { appendCheckpoint, type Checkpoint, type CheckpointReason, signCheckpoint } from './checkpoint.js';

export interface CheckpointWebhook {
  url: string;
  /** Sent as `Authorization: Bearer …` when set. */
  token?: string | undefined;
  timeoutMs: number;
}

export interface CheckpointerOptions {
  chain: string;
  /** The chain's head as the writer knows it (null before the first batch). */
  head: () => ChainLink | null;
  key: KeyObject;
  /** Appended to; null for none. */
  file: string | null;
  webhook: CheckpointWebhook | null;
  intervalMs: number;
  /** The last checkpoint of this chain already kept (read from the file at start). */
  last: Checkpoint | null;
  log: FastifyBaseLogger;
  /** Told of every failed write, by target (for /metrics). */
  onFailure?: (target: 'file' | 'webhook') => void;
}

/**
 * Signs the chain head on an interval (only when it moved) and at shutdown, and keeps each
 * checkpoint in the file and/or at the webhook. Failures are logged and counted, never thrown:
 * checkpointing must not stop ingestion. A webhook that was down gets the newest checkpoint next
 * time (it supersedes the ones missed).
 */
export class Checkpointer {
  private timer: NodeJS.Timeout | null = null;
  private work: Promise<void> = Promise.resolve();
  /** The newest checkpoint signed (kept in at least one place or not). */
  latest: Checkpoint | null;
  private undelivered: Checkpoint | null = null;

  constructor(private readonly options: CheckpointerOptions) {
    this.latest = options.last;
  }

  start(): void {
    void this.checkpoint('start');
    this.timer = setInterval(() => void this.checkpoint('interval'), this.options.intervalMs).unref();
  }

  /** Signs and keeps the current head unless it is already the latest checkpoint. */
  checkpoint(reason: CheckpointReason): Promise<void> {
    this.work = this.work.then(() => this.take(reason));
    return this.work;
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.checkpoint('shutdown');
  }

  private async take(reason: CheckpointReason): Promise<void> {
    const head = this.options.head();
    const moved = head !== null && (this.latest?.seq !== head.seq || this.latest.hash !== head.hash);
    if (moved) {
      const c = signCheckpoint({ ...head, chain: this.options.chain }, this.options.key, { reason });
      if (this.options.file) {
        try {
          await appendCheckpoint(this.options.file, c);
        } catch (err) {
          this.options.onFailure?.('file');
          this.options.log.error(
            { err, file: this.options.file },
            'audit checkpoint not written to its file',
          );
        }
      }
      this.latest = c;
      this.undelivered = c;
    }
    if (this.undelivered && this.options.webhook) await this.deliver(this.undelivered, this.options.webhook);
  }

  private async deliver(c: Checkpoint, hook: CheckpointWebhook): Promise<void> {
    try {
      const res = await fetch(hook.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          ...(hook.token ? { authorization: `Bearer ${hook.token}` } : {}),
        },
        body: JSON.stringify(c),
        signal: AbortSignal.timeout(hook.timeoutMs),
      });
      await res.body?.cancel();
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      if (this.undelivered === c) this.undelivered = null;
    } catch (err) {
      this.options.onFailure?.('webhook');
      this.options.log.warn(
        { err: (err as Error).message, seq: c.seq },
        'audit checkpoint not delivered to the webhook; the next one will be sent instead',
      );
    }
  }
}
