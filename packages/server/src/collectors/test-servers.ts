/**
 * Real HTTP servers on loopback (or a unix socket) for the collector tests: fake agents,
 * Prometheus targets and a Docker engine that answers with recorded Engine API responses.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface TestServer {
  url: string;
  server: Server;
  /** Requests seen, with their headers. */
  requests: { url: string; headers: IncomingMessage['headers'] }[];
  close(): Promise<void>;
}

export type Handler = (req: IncomingMessage, res: ServerResponse) => void;

/** A server on 127.0.0.1 (random port) or on a unix socket when `socketPath` is given. */
export async function serve(handler: Handler, socketPath?: string): Promise<TestServer> {
  const requests: TestServer['requests'] = [];
  const server = createServer((req, res) => {
    requests.push({ url: req.url ?? '', headers: req.headers });
    handler(req, res);
  });
  await new Promise<void>((resolve) => {
    if (socketPath) server.listen(socketPath, resolve);
    else server.listen(0, '127.0.0.1', resolve);
  });
  const port = socketPath ? 0 : (server.address() as AddressInfo).port;
  return {
    url: socketPath ? `unix:${socketPath}` : `http://127.0.0.1:${port}`,
    server,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A JSON answer after an optional delay. */
export function json(body: unknown, options: { status?: number; delayMs?: number } = {}): Handler {
  return (_req, res) => {
    const send = () => {
      res.writeHead(options.status ?? 200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (options.delayMs) setTimeout(send, options.delayMs);
    else send();
  };
}

/** Never answers (the connection stays open until the server closes). */
export const hang: Handler = () => undefined;
