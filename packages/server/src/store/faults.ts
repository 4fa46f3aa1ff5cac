import { interceptStore, type StoreCall, type StorePart } from './intercept.js';
import type { Store } from './types.js';

/** Before: the call never reaches the engine. After: it ran, and its caller is told it failed. */
export type FaultTiming = 'before' | 'after';

export interface Fault {
  /** Fails the n-th matching call (1-based), or every matching call when absent. */
  nth?: number;
  timing?: FaultTiming;
  /** Which calls count; every call when absent. */
  match?: (call: { part: StorePart; method: string }) => boolean;
  /** The error thrown (an I/O error by default). */
  error?: () => Error;
}

const ioError = () =>
  Object.assign(new Error('injected fault: I/O error (EIO)'), { code: 'EIO', injected: true });

/**
 * Fault injection at the store seam, for tests: wraps any engine's `Store` and fails the n-th
 * call (or every call) of the kind asked, before or after the engine ran it. Engine-neutral, so
 * every engine's write path can be proven all-or-nothing with the same wrapper.
 */
export class FaultyStore {
  readonly store: Store;
  /** Every call made through the wrapper, in order. */
  readonly calls: { part: StorePart; method: string }[] = [];
  private fault: (Fault & { seen: number }) | null = null;
  /** Faults thrown so far. */
  injected = 0;

  constructor(private readonly inner: Store) {
    this.store = interceptStore(
      () => this.inner,
      (call) => this.around(call),
    );
  }

  /** Arms a fault (replacing any armed one). */
  arm(fault: Fault): void {
    this.fault = { ...fault, seen: 0 };
  }

  disarm(): void {
    this.fault = null;
  }

  private around(call: StoreCall): unknown {
    this.calls.push({ part: call.part, method: call.method });
    const f = this.fault;
    if (!f || (f.match && !f.match(call))) return call.invoke();
    f.seen += 1;
    if (f.nth !== undefined && f.seen !== f.nth) return call.invoke();
    this.injected += 1;
    const error = (f.error ?? ioError)();
    if ((f.timing ?? 'before') === 'before') return Promise.reject(error);
    const result = call.invoke();
    if (result instanceof Promise) return result.then(() => Promise.reject(error));
    throw error;
  }
}
