/** What the SDK needs from its runtime. One implementation per platform, chosen in `./index.ts`. */

/** One request body to send to `POST {endpoint}/v1/events`. */
export interface SendRequest {
  /** `{"events":[…]}` as JSON text. */
  body: string;
  /**
   * The page is going away: send now, synchronously up to the network call, without compression,
   * in a way that outlives the page (browser `fetch` with `keepalive`).
   */
  urgent: boolean;
}

/** How a request ended: an HTTP answer, or no answer at all. */
export type SendResult =
  | { kind: 'response'; status: number; retryAfter: string | null; body: string }
  | { kind: 'failure'; reason: 'network' | 'timeout' | 'aborted'; message: string };

export interface Transport {
  /** Never rejects: every failure is a `SendResult` of kind `failure`. */
  send(request: SendRequest): Promise<SendResult>;
  /** Aborts requests in flight and releases connections. */
  close(): void;
}

export interface TransportOptions {
  /** `{endpoint}/v1/events`. */
  url: string;
  /** The ingest key, sent as `Authorization: Bearer …`. */
  key: string;
  timeoutMs: number;
  /** Gzip bodies of at least 1 KiB. */
  compress: boolean;
  userAgent: string;
}

export interface Platform {
  readonly name: 'node' | 'browser';
  createTransport(options: TransportOptions): Transport;
  /**
   * Calls `callback` when the host is about to go away: Node's `beforeExit` (`urgent` false: there is
   * time for a normal flush), or a browser page being hidden or unloaded (`urgent` true).
   * Returns the function that unsubscribes.
   */
  onTerminate(callback: (urgent: boolean) => void): () => void;
  /** Runs `callback` soon, after the current task, without keeping a Node process alive on its own. */
  defer(callback: () => void): void;
  /**
   * A timer; returns its cancel function. It does not keep a Node process alive unless `keepAlive`
   * (used only while the application awaits `flush()` or `shutdown()`).
   */
  timer(callback: () => void, ms: number, keepAlive?: boolean): () => void;
  /** A monotonic clock in milliseconds, for durations. */
  now(): number;
}
