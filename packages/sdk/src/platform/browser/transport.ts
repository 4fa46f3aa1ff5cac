import { KEEPALIVE_MAX_BYTES } from '../limits.js';
import type { SendRequest, SendResult, Transport, TransportOptions } from '../types.js';

const MAX_RESPONSE_CHARS = 64 * 1024;
const COMPRESS_FROM_BYTES = 1024;

async function gzipBody(text: string): Promise<Uint8Array> {
  const stream = new Blob([text]).stream().pipeThrough(new CompressionStream('gzip'));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/**
 * `fetch` with `keepalive` (so a request survives the page), gzip through `CompressionStream` when
 * the browser has it. Urgent sends skip compression so the request starts before the page is gone.
 */
export class FetchTransport implements Transport {
  private readonly controllers = new Set<AbortController>();
  private closed = false;

  constructor(private readonly options: TransportOptions) {}

  async send(request: SendRequest): Promise<SendResult> {
    if (this.closed) return { kind: 'failure', reason: 'aborted', message: 'client closed' };
    const headers: Record<string, string> = {
      authorization: `Bearer ${this.options.key}`,
      'content-type': 'application/json',
    };
    let body: string | Uint8Array = request.body;
    let size = request.body.length;
    if (
      !request.urgent &&
      this.options.compress &&
      request.body.length >= COMPRESS_FROM_BYTES &&
      typeof CompressionStream === 'function'
    ) {
      try {
        body = await gzipBody(request.body);
        size = body.byteLength;
        headers['content-encoding'] = 'gzip';
      } catch {
        body = request.body;
      }
    }
    const controller = new AbortController();
    this.controllers.add(controller);
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      controller.abort();
    }, this.options.timeoutMs);
    try {
      const response = await fetch(this.options.url, {
        method: 'POST',
        headers,
        body: body as BodyInit,
        keepalive: size <= KEEPALIVE_MAX_BYTES,
        signal: controller.signal,
        credentials: 'omit',
      });
      const text = await response.text();
      return {
        kind: 'response',
        status: response.status,
        retryAfter: response.headers.get('retry-after'),
        body: text.slice(0, MAX_RESPONSE_CHARS),
      };
    } catch (error) {
      if (timedOut) {
        return {
          kind: 'failure',
          reason: 'timeout',
          message: `no answer within ${this.options.timeoutMs} ms`,
        };
      }
      if (this.closed) return { kind: 'failure', reason: 'aborted', message: 'client closed' };
      return {
        kind: 'failure',
        reason: 'network',
        message: error instanceof Error ? error.message : String(error),
      };
    } finally {
      clearTimeout(timer);
      this.controllers.delete(controller);
    }
  }

  close(): void {
    this.closed = true;
    for (const controller of this.controllers) controller.abort();
    this.controllers.clear();
  }
}
