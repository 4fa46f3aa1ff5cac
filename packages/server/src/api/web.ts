import { existsSync, readFileSync, statSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { projectFor } from '../auth/index.js';
import { VigilError } from '../errors/index.js';
import { type AppContext, guard, principalOf } from './context.js';

/** The dashboard's build output (`packages/web/dist`), the same path from `src/api` and `dist/api`. */
export const WEB_DIST = fileURLToPath(new URL('../../../web/dist/', import.meta.url));

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.tgz': 'application/gzip',
};
const FILE_NAME = /^[A-Za-z0-9_-][A-Za-z0-9._-]{0,200}$/;
// uPlot sets inline style attributes, hence 'unsafe-inline' for styles only; no inline scripts.
const CSP =
  "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; " +
  "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

export interface Asset {
  mtimeMs: number;
  body: Buffer;
  gzip: Buffer | null;
}

/** Files of the built dashboard, read once (again when the build changes them) and gzipped once. */
export class AssetCache {
  private readonly files = new Map<string, Asset>();
  constructor(private readonly dir: string) {}

  get(relative: string): Asset | null {
    const path = join(this.dir, relative);
    let mtimeMs: number;
    try {
      const st = statSync(path);
      if (!st.isFile()) return null;
      mtimeMs = st.mtimeMs;
    } catch {
      return null;
    }
    const hit = this.files.get(relative);
    if (hit && hit.mtimeMs === mtimeMs) return hit;
    const body = readFileSync(path);
    const compressible = /\.(html|js|css|svg|json|map)$/.test(relative) && body.length > 512;
    const asset = { mtimeMs, body, gzip: compressible ? gzipSync(body, { level: 9 }) : null };
    if (this.files.size > 200) this.files.clear();
    this.files.set(relative, asset);
    return asset;
  }
}

export function send(req: FastifyRequest, reply: FastifyReply, name: string, asset: Asset, cache: string) {
  void reply
    .header('content-type', TYPES[extname(name)] ?? 'application/octet-stream')
    .header('cache-control', cache)
    .header('x-content-type-options', 'nosniff')
    .header('vary', 'accept-encoding');
  const accepts = String(req.headers['accept-encoding'] ?? '');
  if (asset.gzip && /\bgzip\b/.test(accepts)) {
    return reply.header('content-encoding', 'gzip').send(asset.gzip);
  }
  return reply.send(asset.body);
}

/**
 * Live updates for the dashboard over server-sent events: one shared timer, running only while
 * someone listens, watches the committer's head and tells every listener once per tick that new
 * batches were committed. Bounded: at most `maxClients` streams, a stream that stops reading is dropped.
 */
class LiveFeed {
  /** Each listener: the project it may see (every project when null), the last head it was told, when. */
  private readonly clients = new Map<
    ServerResponse,
    { project: string | null; seq: number; wrote: number }
  >();
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly headFor: (project: string | null) => number,
    private readonly options: { tickMs: number; heartbeatMs: number; maxClients: number },
  ) {}

  get size(): number {
    return this.clients.size;
  }

  add(res: ServerResponse, project: string | null): boolean {
    if (this.clients.size >= this.options.maxClients) return false;
    const seq = this.headFor(project);
    this.clients.set(res, { project, seq, wrote: Date.now() });
    res.on('close', () => this.remove(res));
    if (this.timer === null) {
      this.timer = setInterval(() => this.tick(), this.options.tickMs);
      this.timer.unref();
    }
    this.write(res, `event: hello\ndata: ${JSON.stringify({ seq })}\n\n`);
    return true;
  }

  closeAll(): void {
    for (const res of [...this.clients.keys()]) res.end();
    this.clients.clear();
    this.stop();
  }

  private remove(res: ServerResponse): void {
    this.clients.delete(res);
    if (this.clients.size === 0) this.stop();
  }

  private stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }

  private tick(): void {
    const now = Date.now();
    const at = new Date(now).toISOString();
    for (const [res, client] of [...this.clients]) {
      const seq = this.headFor(client.project);
      if (seq !== client.seq) {
        client.seq = seq;
        client.wrote = now;
        this.write(res, `event: commit\ndata: ${JSON.stringify({ seq, at })}\n\n`);
      } else if (now - client.wrote >= this.options.heartbeatMs) {
        client.wrote = now;
        this.write(res, ': keep-alive\n\n');
      }
    }
  }

  private write(res: ServerResponse, message: string): void {
    // A listener that does not read is not buffered for: it is dropped and reconnects by itself.
    if (res.writableLength > 64 * 1024) {
      res.destroy();
      this.remove(res);
      return;
    }
    res.write(message);
  }
}

/** The dashboard (static files of `packages/web/dist`) and its live-update stream. */
export async function webRoutes(
  app: FastifyInstance,
  ctx: AppContext,
  options: { dir?: string; tickMs?: number; heartbeatMs?: number; maxClients?: number } = {},
): Promise<void> {
  const { dir = WEB_DIST, tickMs = 1_000, heartbeatMs = 20_000, maxClients = 100 } = options;
  const assets = new AssetCache(dir);
  const live = new LiveFeed((project) => ctx.commits.headFor(project), { tickMs, heartbeatMs, maxClients });
  app.addHook('preClose', async () => live.closeAll());

  const page = async (req: FastifyRequest, reply: FastifyReply) => {
    const index = assets.get('index.html');
    if (!index) {
      throw new VigilError('not_found', {
        message: `The dashboard is not built (no ${join(dir, 'index.html')}); run npm start or npm run build.`,
      });
    }
    void reply
      .header('content-security-policy', CSP)
      .header('x-frame-options', 'DENY')
      .header('referrer-policy', 'same-origin');
    return send(req, reply, 'index.html', index, 'no-cache');
  };
  app.get('/', page);
  app.get('/index.html', page);

  app.get<{ Params: { file: string } }>('/assets/:file', async (req, reply) => {
    const name = req.params.file;
    const asset = FILE_NAME.test(name) ? assets.get(join('assets', name)) : null;
    if (!asset) throw new VigilError('not_found', { message: `No dashboard asset '${name}'.` });
    // Vite names assets by content hash, so a name never changes meaning.
    return send(req, reply, name, asset, 'public, max-age=31536000, immutable');
  });

  app.get('/favicon.svg', async (req, reply) => {
    const asset = existsSync(join(dir, 'favicon.svg')) ? assets.get('favicon.svg') : null;
    if (!asset) throw new VigilError('not_found', { message: 'No favicon.' });
    return send(req, reply, 'favicon.svg', asset, 'public, max-age=86400');
  });

  app.get('/api/live', { onRequest: guard(ctx, 'read') }, async (req, reply) => {
    if (ctx.state.shuttingDown) throw new VigilError('shutting_down', { retryAfter: 5 });
    if (live.size >= maxClients) {
      throw new VigilError('rate_limited', {
        retryAfter: 30,
        message: `At most ${maxClients} live streams at once; retry later.`,
      });
    }
    reply.hijack();
    reply.raw.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      'x-accel-buffering': 'no',
      'x-request-id': req.id,
      connection: 'keep-alive',
    });
    // Reconnect after 3 s when the stream drops (EventSource does this by itself).
    reply.raw.write('retry: 3000\n\n');
    const principal = principalOf(req);
    // A person follows one project's commits: the one the dashboard opens with.
    live.add(reply.raw, principal.projects ? projectFor(principal, undefined) : principal.project);
  });
}
