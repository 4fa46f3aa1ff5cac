import { interceptStore, type StoreCall } from './intercept.js';
import { type Store, StoreError } from './types.js';

export interface RecoveringStoreOptions {
  /** Opens the engine (again). */
  open: () => Promise<Store>;
  /** Must succeed before the store counts as writable again (e.g. enough free disk). */
  probe?: (store: Store) => Promise<void>;
  /** Pause between recovery attempts. */
  retryMs?: number;
  log: { warn: (obj: object, msg: string) => void; info: (obj: object, msg: string) => void };
  /** Told when the store stops or starts being writable (`problem` null when writable). */
  onChange?: (problem: string | null) => void;
}

/**
 * A store that survives its engine failing: once a call reports the engine unusable
 * (`StoreError('unavailable')`, e.g. the disk filled up during a checkpoint), the store counts as
 * not writable and is reopened in the background until it opens and `probe` passes. Reads go to
 * the reopened store as soon as it opens, so they keep working where the engine allows.
 * Engine-neutral: it sees the `Store` interface only.
 */
export class RecoveringStore {
  readonly store: Store;
  private current: Store;
  private problem: string | null = null;
  private recovery: Promise<void> | null = null;
  private closed = false;
  private wake: (() => void) | null = null;

  private constructor(
    first: Store,
    private readonly options: RecoveringStoreOptions,
  ) {
    this.current = first;
    this.store = interceptStore(
      () => this.current,
      (call) => this.around(call),
      { sizeBytes: () => this.current.sizeBytes(), close: () => this.close() },
    );
  }

  static async open(options: RecoveringStoreOptions): Promise<RecoveringStore> {
    return new RecoveringStore(await options.open(), options);
  }

  /** Null while the store can write; otherwise why it cannot. */
  get unwritable(): string | null {
    return this.problem;
  }

  private around(call: StoreCall): unknown {
    const used = this.current;
    const result = call.invoke(used);
    if (!(result instanceof Promise)) return result;
    return result.catch((err: unknown) => {
      if (err instanceof StoreError && err.code === 'unavailable') this.failed(err, used);
      throw err;
    });
  }

  private failed(err: StoreError, used: Store): void {
    // A failure of a store already replaced says nothing of the current one.
    if (used !== this.current || this.closed) return;
    if (this.problem === null) {
      this.problem = err.message;
      this.options.log.warn({ err }, 'the store cannot write; refusing writes and reopening it');
      this.options.onChange?.(this.problem);
    }
    this.recovery ??= this.recover(true).finally(() => {
      this.recovery = null;
    });
  }

  private async recover(reopen: boolean): Promise<void> {
    const { retryMs = 1000, open, probe } = this.options;
    let needsOpen = reopen;
    while (!this.closed) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, retryMs);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wake = null;
      if (this.closed) return;
      try {
        if (needsOpen) {
          const old = this.current;
          await old.close().catch(() => undefined);
          this.current = await open();
          needsOpen = false;
          this.options.log.info({}, 'the store is reopened; reads are served again');
        }
        await probe?.(this.current);
        this.problem = null;
        this.options.log.info({}, 'the store can write again');
        this.options.onChange?.(null);
        return;
      } catch (err) {
        // Still failing (the disk is still full, or the engine would not open): try again later.
        if (err instanceof StoreError && err.code === 'unavailable') needsOpen = true;
        this.problem = (err as Error).message;
        this.options.onChange?.(this.problem);
      }
    }
  }

  private async close(): Promise<void> {
    this.closed = true;
    this.wake?.();
    await this.recovery;
    await this.current.close();
  }
}
