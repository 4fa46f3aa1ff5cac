import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { request as httpsRequest } from 'node:https';

export interface HttpAnswer {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

export interface HttpGetOptions {
  signal: AbortSignal;
  headers?: Record<string, string>;
  /** Bodies larger than this fail the request (default 16 MiB). */
  maxBytes?: number;
  /** Talk HTTP over this unix socket instead of TCP (the URL then only gives the path). */
  socketPath?: string;
}

/**
 * One GET with an abort signal and a body cap, over TCP or a unix socket. node:http rather
 * than fetch, because fetch has no unix sockets without an extra dispatcher package.
 */
export function httpGet(url: string, options: HttpGetOptions): Promise<HttpAnswer> {
  const { signal, headers = {}, maxBytes = 16 * 1024 * 1024, socketPath } = options;
  return new Promise((resolve, reject) => {
    if (signal.aborted) {
      reject(signal.reason ?? new Error('aborted'));
      return;
    }
    const target = new URL(url);
    const send = target.protocol === 'https:' ? httpsRequest : httpRequest;
    const req = send(
      {
        ...(socketPath === undefined
          ? { hostname: target.hostname.replace(/^\[|\]$/g, ''), port: target.port || undefined }
          : { socketPath }),
        protocol: socketPath === undefined ? target.protocol : 'http:',
        path: `${target.pathname}${target.search}`,
        method: 'GET',
        headers: { 'user-agent': 'vigil-collector', ...headers },
        signal,
      },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > maxBytes) {
            req.destroy(new Error(`response larger than ${maxBytes} bytes`));
            return;
          }
          chunks.push(chunk);
        });
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks).toString('utf8'),
          }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end();
  });
}

/** The headers that carry a collector's credentials. */
export function credentialHeaders(
  credentials: { token?: string; headers?: Record<string, string> } | undefined,
) {
  const out: Record<string, string> = { ...credentials?.headers };
  if (credentials?.token !== undefined) out.authorization = `Bearer ${credentials.token}`;
  return out;
}

/** A short reason for a failed request, never the request's headers. */
export function describeError(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as NodeJS.ErrnoException).code;
    if (err.name === 'AbortError') return 'aborted (timeout)';
    if (code === 'ECONNREFUSED') return 'connection refused';
    if (code === 'ENOENT') return 'no such socket';
    if (code === 'ECONNRESET') return 'connection reset';
    return code ? `${code}: ${err.message}` : err.message;
  }
  return String(err);
}
