import * as http from 'node:http';
import * as https from 'node:https';
import { gzip } from 'node:zlib';
import type { SendRequest, SendResult, Transport, TransportOptions } from '../types.js';

/** Answers longer than this are not read further: Vigil's are tiny, anything bigger is not Vigil. */
const MAX_RESPONSE_BYTES = 64 * 1024;
const COMPRESS_FROM_BYTES = 1024;

function gzipAsync(input: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    gzip(input, (error, output) => (error ? reject(error) : resolve(output)));
  });
}

/** `node:http(s)` with a keep-alive agent; gzip runs on libuv's thread pool, off the main thread. */
export class NodeTransport implements Transport {
  private readonly url: URL;
  private readonly agent: http.Agent;
  private readonly inFlight = new Set<http.ClientRequest>();
  private closed = false;

  constructor(private readonly options: TransportOptions) {
    this.url = new URL(options.url);
    const Agent = this.url.protocol === 'https:' ? https.Agent : http.Agent;
    this.agent = new Agent({ keepAlive: true, maxSockets: 2 });
  }

  async send(request: SendRequest): Promise<SendResult> {
    if (this.closed) return { kind: 'failure', reason: 'aborted', message: 'client closed' };
    let body: Buffer = Buffer.from(request.body, 'utf8');
    const headers: Record<string, string> = {
      authorization: `Bearer ${this.options.key}`,
      'content-type': 'application/json',
      'user-agent': this.options.userAgent,
    };
    if (this.options.compress && body.length >= COMPRESS_FROM_BYTES) {
      try {
        body = await gzipAsync(body);
        headers['content-encoding'] = 'gzip';
      } catch {
        // send it uncompressed
      }
    }
    headers['content-length'] = String(body.length);
    return this.post(body, headers);
  }

  private post(body: Buffer, headers: Record<string, string>): Promise<SendResult> {
    return new Promise<SendResult>((resolve) => {
      if (this.closed) {
        resolve({ kind: 'failure', reason: 'aborted', message: 'client closed' });
        return;
      }
      const lib = this.url.protocol === 'https:' ? https : http;
      let settled = false;
      const finish = (result: SendResult) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        this.inFlight.delete(req);
        resolve(result);
      };
      const req = lib.request(this.url, { method: 'POST', agent: this.agent, headers }, (res) => {
        const chunks: Buffer[] = [];
        let length = 0;
        res.on('data', (chunk: Buffer) => {
          if (length >= MAX_RESPONSE_BYTES) return;
          chunks.push(chunk);
          length += chunk.length;
        });
        res.on('end', () => {
          const retryAfter = res.headers['retry-after'];
          finish({
            kind: 'response',
            status: res.statusCode ?? 0,
            retryAfter: typeof retryAfter === 'string' ? retryAfter : null,
            body: Buffer.concat(chunks).subarray(0, MAX_RESPONSE_BYTES).toString('utf8'),
          });
        });
        res.on('error', (error) => finish(failure(error, this.closed)));
        res.on('aborted', () => finish({ kind: 'failure', reason: 'network', message: 'response aborted' }));
      });
      const timer = setTimeout(() => {
        finish({
          kind: 'failure',
          reason: 'timeout',
          message: `no answer within ${this.options.timeoutMs} ms`,
        });
        req.destroy();
      }, this.options.timeoutMs);
      timer.unref();
      req.on('error', (error) => finish(failure(error, this.closed)));
      this.inFlight.add(req);
      req.end(body);
    });
  }

  close(): void {
    this.closed = true;
    for (const req of this.inFlight) req.destroy();
    this.inFlight.clear();
    this.agent.destroy();
  }
}

function failure(error: Error, closed: boolean): SendResult {
  if (closed) return { kind: 'failure', reason: 'aborted', message: 'client closed' };
  const code = (error as NodeJS.ErrnoException).code;
  return { kind: 'failure', reason: 'network', message: code ? `${code}: ${error.message}` : error.message };
}
