/**
 * A stand-in for Vigil's ingest endpoint on 127.0.0.1, for the SDK's tests: it decodes what the
 * SDK sends (gzip, JSON), stores events idempotently by id like the real server, and answers
 * whatever the test scripts — including slowness, garbage and going down and up on the same port.
 */
import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { gunzipSync } from 'node:zlib';

export interface WireEvent {
  id: string;
  type: string;
  ts: number;
  version: string;
  props: Record<string, unknown>;
}

export interface ReceivedRequest {
  at: number;
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  /** Bytes on the wire. */
  bytes: number;
  /** The events sent (empty in `requests` when `keepEvents` is false). */
  events: WireEvent[];
  eventCount: number;
}

export type Reply =
  | { status: number; body?: string; headers?: Record<string, string>; delayMs?: number; store?: boolean }
  /** Writes these bytes on the raw socket (not HTTP) and closes it. */
  | { raw: Buffer }
  /** Closes the connection without answering. */
  | { hangUp: true };

export type Responder = (request: ReceivedRequest) => Reply;

export const accept: Responder = (request) => ({
  status: 200,
  body: JSON.stringify({ accepted: request.events.length, rejected: [] }),
});

export class LoopbackVigil {
  readonly requests: ReceivedRequest[] = [];
  /** Events committed, by id, as the idempotent server keeps them. */
  readonly stored = new Map<string, WireEvent>();
  /** How many storing 2xx answers that reached the client (fully written) carried each id. */
  readonly acked = new Map<string, number>();
  /** Events received again after they were stored (retries after a lost answer). */
  duplicates = 0;
  respond: Responder = accept;
  /** False keeps `requests` light (events counted, not kept) for long runs. */
  keepEvents = true;
  private server: Server;
  private readonly sockets = new Set<Socket>();
  private readonly timers = new Set<NodeJS.Timeout>();
  port = 0;

  private constructor() {
    this.server = this.create();
  }

  static async start(): Promise<LoopbackVigil> {
    const vigil = new LoopbackVigil();
    await vigil.listen(0);
    return vigil;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Ids of stored events, in arrival order. */
  storedIds(): string[] {
    return [...this.stored.keys()];
  }

  /** Stops listening and cuts every connection: clients see ECONNREFUSED / ECONNRESET. */
  async down(): Promise<void> {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const s of this.sockets) s.destroy();
    await closed;
  }

  /** Listens again on the same port. */
  async up(): Promise<void> {
    this.server = this.create();
    await this.listen(this.port);
  }

  async close(): Promise<void> {
    if (this.server.listening) await this.down();
  }

  private create(): Server {
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const raw = Buffer.concat(chunks);
        let events: WireEvent[] = [];
        try {
          const text = (req.headers['content-encoding'] === 'gzip' ? gunzipSync(raw) : raw).toString('utf8');
          if (text) events = (JSON.parse(text) as { events: WireEvent[] }).events ?? [];
        } catch {
          res.writeHead(400, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ error: { code: 'invalid_json', message: 'unreadable body' } }));
          return;
        }
        const request: ReceivedRequest = {
          at: Date.now(),
          method: req.method ?? '',
          path: req.url ?? '',
          headers: req.headers,
          bytes: raw.length,
          events,
          eventCount: events.length,
        };
        this.requests.push(this.keepEvents ? request : { ...request, events: [] });
        this.reply(request, this.respond(request), res);
      });
    });
    server.on('connection', (socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
    return server;
  }

  private reply(request: ReceivedRequest, reply: Reply, res: ServerResponse): void {
    if ('raw' in reply) {
      res.socket?.end(reply.raw);
      return;
    }
    if ('hangUp' in reply) {
      res.socket?.destroy();
      return;
    }
    const send = () => {
      const ok = reply.status >= 200 && reply.status < 300;
      // Like the real server: commit, then answer. A commit is idempotent on the event id.
      if (ok && reply.store !== false) {
        for (const e of request.events) {
          if (this.stored.has(e.id)) this.duplicates += 1;
          else this.stored.set(e.id, e);
        }
      }
      if (res.destroyed || res.socket?.destroyed) return;
      res.on('finish', () => {
        if (!ok || reply.store === false) return;
        for (const e of request.events) this.acked.set(e.id, (this.acked.get(e.id) ?? 0) + 1);
      });
      res.writeHead(reply.status, { 'content-type': 'application/json', ...reply.headers });
      res.end(reply.body ?? '');
    };
    if (reply.delayMs) {
      const t = setTimeout(() => {
        this.timers.delete(t);
        send();
      }, reply.delayMs);
      this.timers.add(t);
    } else send();
  }

  private listen(port: number): Promise<void> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, '127.0.0.1', () => {
        this.server.off('error', reject);
        this.port = (this.server.address() as AddressInfo).port;
        resolve();
      });
    });
  }
}

/** A port on 127.0.0.1 that nothing listens on (found by listening and closing). */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Polls `check` every 10 ms until it is true or `timeoutMs` passes; returns the last result. */
export async function until(check: () => boolean, timeoutMs = 5_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 10));
  }
  return true;
}
