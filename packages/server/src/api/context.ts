import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import type { AlertEngine } from '../alerts/index.js';
import type { RetentionJob, RollupMaintainer } from '../analytics/index.js';
import {
  type Authenticator,
  allows,
  type LoginThrottle,
  type Need,
  narrow,
  type RateLimiter,
  SESSION_COOKIE,
} from '../auth/index.js';
import type { ClusterCommits } from '../cluster/commits.js';
import type { CollectorOrchestrator } from '../collectors/index.js';
import type { Config } from '../config/index.js';
import { VigilError } from '../errors/index.js';
import type { HealthMonitor } from '../health/index.js';
import type { GroupCommitter, ScrubPolicy } from '../ingest/index.js';
import type { Principal } from '../model/index.js';
import type { SelfMetrics } from '../ops/index.js';
import type { PriceCatalog } from '../pricing/index.js';
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
  /** Commits of every instance sharing the store, per project (the live view). */
  commits: ClusterCommits;
  health: HealthMonitor;
  /** Infrastructure collectors: schedule, on-demand rounds, configs. */
  collectors: CollectorOrchestrator;
  alerts: AlertEngine;
  rollups: RollupMaintainer;
  retention: RetentionJob;
  privacy: ScrubPolicy;
  limiters: { ingest: RateLimiter; read: RateLimiter; login: LoginThrottle };
  projects: ProjectCache;
  /** LLM prices per project (shipped, config file, the project's own). */
  prices: PriceCatalog;
  /** `storeProblem`: why the store cannot write right now (null when it can). */
  state: { ready: boolean; shuttingDown: boolean; storeProblem: string | null };
  /** Vigil's own Prometheus metrics (`GET /metrics`), one registry per server instance. */
  metrics: SelfMetrics;
}

/** Project records change rarely and are read on every ingest request. */
export class ProjectCache {
  private readonly cache = new Map<string, { record: ProjectRecord | null; at: number }>();
  constructor(private readonly store: Store) {}
  async get(id: string): Promise<ProjectRecord | null> {
    const hit = this.cache.get(id);
    // Other instances sharing the store may change a project: then look again after a second.
    if (hit && Date.now() - hit.at < (this.store.shared.metadata ? 1_000 : 5_000)) return hit.record;
    const record = await this.store.meta.getProject(id);
    this.cache.set(id, { record, at: Date.now() });
    return record;
  }
  forget(id: string): void {
    this.cache.delete(id);
  }
  /** Creates the project (named by its id) when it does not exist yet. */
  async ensure(id: string): Promise<void> {
    await this.store.meta.ensureProject({ id, name: id, strictTypes: false, createdAt: Date.now() });
    this.forget(id);
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
 * Dashboard sessions resolved in the last 10 s, per server, by the session token's SHA-256: a page
 * load makes several requests at once, and each would otherwise read the session and its user from
 * the store. Logout forgets the session at once (`forgetSession`).
 */
const sessionCaches = new WeakMap<
  AppContext,
  Map<string, { principal: Promise<Principal>; until: number }>
>();
const SESSION_CACHE_MS = 10_000;
/** With other instances sharing the store, a logout there reaches this one within a second. */
const SHARED_SESSION_CACHE_MS = 1_000;
const tokenKey = (token: string) => createHash('sha256').update(token).digest('base64url');

async function fromSession(ctx: AppContext, token: string): Promise<Principal> {
  let cache = sessionCaches.get(ctx);
  if (!cache) {
    cache = new Map();
    sessionCaches.set(ctx, cache);
  }
  const key = tokenKey(token);
  const now = Date.now();
  const hit = cache.get(key);
  if (hit && hit.until > now) return hit.principal;
  // The lookup itself is shared, so requests that arrive together read the store once.
  const principal = ctx.auth.fromSession(token, now);
  if (cache.size >= 10_000) cache.clear();
  cache.set(key, {
    principal,
    until: now + (ctx.store.shared.metadata ? SHARED_SESSION_CACHE_MS : SESSION_CACHE_MS),
  });
  principal.catch(() => cache.delete(key));
  return principal;
}

export function forgetSession(ctx: AppContext, token: string): void {
  sessionCaches.get(ctx)?.delete(tokenKey(token));
}

/** After a person's roles change or their sessions end: no request may use what was cached. */
export function forgetAllSessions(ctx: AppContext): void {
  sessionCaches.get(ctx)?.clear();
}
export const CSRF_HEADER = 'x-csrf-token';

/**
 * The CSRF token of a dashboard session, derived from the session secret: only a page that
 * learnt it from `/api/login` or `/api/me` (same origin) can send it, and it dies with the session.
 */
export function csrfToken(sessionToken: string): string {
  return createHash('sha256').update(`vigil-csrf:${sessionToken}`).digest('base64url');
}

/** A state-changing request authenticated by the session cookie must carry the session's CSRF token. */
export function checkCsrf(req: FastifyRequest, sessionToken: string): void {
  if (SAFE_METHODS.has(req.method)) return;
  const header = req.headers[CSRF_HEADER];
  const sent = Buffer.from(typeof header === 'string' ? header : '');
  const want = Buffer.from(csrfToken(sessionToken));
  if (sent.length !== want.length || !timingSafeEqual(sent, want)) {
    throw new VigilError('forbidden', {
      message: `A dashboard session must send its CSRF token in ${CSRF_HEADER} on ${req.method}; reload the page or log in again.`,
    });
  }
}

/** The least role a guarded route needs (`server`: an admin of every project). */
export type Access = Need;
export const ACCESS = Symbol('vigil.access');

/**
 * An onRequest hook: authenticates (bearer key, or a session cookie — with its CSRF token on
 * state-changing methods), checks the role and takes a rate-limit token.
 */
export function guard(ctx: AppContext, need: Need) {
  const check = async (req: FastifyRequest): Promise<void> => {
    const header = req.headers.authorization;
    let principal: Principal;
    if (header !== undefined) {
      const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
      if (!m) throw new VigilError('unauthorized');
      principal = await ctx.auth.fromBearer(m[1] as string);
    } else {
      const session = cookie(req, SESSION_COOKIE);
      if (session === undefined) throw new VigilError('unauthorized');
      principal = await fromSession(ctx, session);
      checkCsrf(req, session);
    }
    if (!allows(principal, need)) throw new VigilError('forbidden', { message: refusal(principal, need) });
    const limiter = need === 'ingest' ? ctx.limiters.ingest : ctx.limiters.read;
    const wait = limiter.take(principal.subject);
    if (wait > 0) throw new VigilError('rate_limited', { retryAfter: wait });
    req.principal = narrow(principal, need);
  };
  // The route table reads the role a route needs from its guard.
  return Object.assign(check, { [ACCESS]: need });
}

function refusal(principal: Principal, need: Need): string {
  if (principal.projects) {
    if (need === 'server') return 'This operation spans every project; it needs a server admin.';
    return principal.projects.size === 0
      ? 'Your account has no role in any project yet; ask a Vigil admin for one.'
      : `This needs the ${need === 'read' ? 'viewer' : 'admin'} role in a project; your account has ${principal.role} at most.`;
  }
  if (principal.role === 'ingest')
    return 'An ingest key can only send events; use a viewer or admin key to read.';
  if (need === 'server' && principal.role === 'admin') {
    return `This operation spans every project; it needs the admin user or VIGIL_ADMIN_TOKEN, not a key of project '${principal.project}'.`;
  }
  const role = need === 'ingest' ? 'ingest' : need === 'read' ? 'viewer' : 'admin';
  return `This needs the ${role} role; this key is ${principal.role}.`;
}

export function principalOf(req: FastifyRequest): Principal {
  if (!req.principal) throw new VigilError('unauthorized');
  return req.principal;
}
