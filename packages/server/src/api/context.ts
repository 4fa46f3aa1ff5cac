import type { FastifyRequest } from 'fastify';
import type { RetentionJob, RollupMaintainer } from '../analytics/index.js';
import { type Authenticator, allows, type RateLimiter, SESSION_COOKIE } from '../auth/index.js';
import type { CollectorOrchestrator } from '../collectors/index.js';
import type { Config } from '../config/index.js';
import { VigilError } from '../errors/index.js';
import type { HealthMonitor } from '../health/index.js';
import type { GroupCommitter, ScrubPolicy } from '../ingest/index.js';
import type { Principal } from '../model/index.js';
import type { SelfMetrics } from '../ops/index.js';
import type { ProjectRecord, Store } from '../store/index.js';

declare module 'fastify' {
  interface FastifyRequest {
    principal: Principal | null;
  }
}

/** Everything a route needs, built once at start. */
export interface AppContext {
  config: Config;
  store: Store;
  auth: Authenticator;
  committer: GroupCommitter;
  health: HealthMonitor;
  /** Infrastructure collectors: schedule, on-demand rounds, configs. */
  collectors: CollectorOrchestrator;
  rollups: RollupMaintainer;
  retention: RetentionJob;
  privacy: ScrubPolicy;
  limiters: { ingest: RateLimiter; read: RateLimiter; login: RateLimiter };
  projects: ProjectCache;
  state: { ready: boolean; shuttingDown: boolean };
  /** Vigil's own Prometheus metrics (`GET /metrics`), one registry per server instance. */
  metrics: SelfMetrics;
}

/** Project records change rarely and are read on every ingest request. */
export class ProjectCache {
  private readonly cache = new Map<string, { record: ProjectRecord | null; at: number }>();
  constructor(private readonly store: Store) {}
  async get(id: string): Promise<ProjectRecord | null> {
    const hit = this.cache.get(id);
    if (hit && Date.now() - hit.at < 5_000) return hit.record;
    const record = await this.store.meta.getProject(id);
    this.cache.set(id, { record, at: Date.now() });
    return record;
  }
  forget(id: string): void {
    this.cache.delete(id);
  }
}

export function cookie(req: FastifyRequest, name: string): string | undefined {
  const header = req.headers.cookie;
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return decodeURIComponent(part.slice(eq + 1).trim());
  }
  return undefined;
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * An onRequest hook: authenticates (bearer key, or a session cookie on safe methods until
 * the dashboard brings CSRF tokens), checks the role and takes a rate-limit token.
 */
export function guard(ctx: AppContext, need: 'ingest' | 'read' | 'admin') {
  return async (req: FastifyRequest): Promise<void> => {
    const header = req.headers.authorization;
    let principal: Principal;
    if (header !== undefined) {
      const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
      if (!m) throw new VigilError('unauthorized');
      principal = await ctx.auth.fromBearer(m[1] as string);
    } else {
      const session = cookie(req, SESSION_COOKIE);
      if (session === undefined || !SAFE_METHODS.has(req.method)) throw new VigilError('unauthorized');
      principal = await ctx.auth.fromSession(session);
    }
    if (!allows(principal, need)) {
      throw new VigilError('forbidden', {
        message:
          principal.role === 'ingest'
            ? 'An ingest key can only send events; use a viewer or admin key to read.'
            : `This needs the ${need === 'ingest' ? 'ingest' : need === 'read' ? 'viewer' : 'admin'} role; this key is ${principal.role}.`,
      });
    }
    const limiter = need === 'ingest' ? ctx.limiters.ingest : ctx.limiters.read;
    const wait = limiter.take(principal.subject);
    if (wait > 0) throw new VigilError('rate_limited', { retryAfter: wait });
    req.principal = principal;
  };
}

export function principalOf(req: FastifyRequest): Principal {
  if (!req.principal) throw new VigilError('unauthorized');
  return req.principal;
}
