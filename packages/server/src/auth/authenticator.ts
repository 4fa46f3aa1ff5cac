import { VigilError } from '../errors/index.js';
import type { Principal, Role } from '../model/index.js';
import type { AccountStore } from '../store/index.js';
import { parseApiKey, safeEqual, sha256, verifySecret } from './secrets.js';

export const SESSION_COOKIE = 'vigil_session';

interface Cached {
  principal: Principal;
  keyId: string;
}

/**
 * Resolves a request's credentials to a Principal. A verified API key is cached by the
 * SHA-256 of the token (scrypt runs once per key, not per request); revoking evicts it.
 */
export class Authenticator {
  private readonly cache = new Map<string, Cached>();

  constructor(
    private readonly meta: AccountStore,
    private readonly adminToken: string | undefined,
  ) {}

  async fromBearer(token: string): Promise<Principal> {
    if (this.adminToken && safeEqual(token, this.adminToken)) {
      return { role: 'admin', project: null, subject: 'admin-token' };
    }
    const digest = sha256(token);
    const cached = this.cache.get(digest);
    if (cached) return cached.principal;
    const parsed = parseApiKey(token);
    if (!parsed) throw new VigilError('unauthorized');
    const key = await this.meta.getKey(parsed.id);
    if (!key || !(await verifySecret(parsed.secret, key.secretHash))) throw new VigilError('unauthorized');
    if (key.revokedAt !== null) throw new VigilError('key_revoked');
    const principal: Principal = { role: key.role, project: key.project, subject: `key:${key.id}` };
    if (this.cache.size >= 10_000) this.cache.clear();
    this.cache.set(digest, { principal, keyId: key.id });
    return principal;
  }

  async fromSession(token: string, now = Date.now()): Promise<Principal> {
    const session = await this.meta.getSession(sha256(token));
    if (!session || session.expiresAt <= now)
      throw new VigilError('unauthorized', { message: 'The session has expired; log in again.' });
    const user = await this.meta.getUser(session.userId);
    if (!user) throw new VigilError('unauthorized');
    return { role: user.role, project: null, subject: `user:${user.name}` };
  }

  /** Forget a revoked key at once. */
  evictKey(keyId: string): void {
    for (const [digest, entry] of this.cache) if (entry.keyId === keyId) this.cache.delete(digest);
  }
}

const RANK: Record<Role, number> = { ingest: 0, viewer: 1, admin: 2 };

/**
 * What a route needs: `ingest` (write events), `read` (viewer), `admin` (of the project acted on),
 * or `server` (a server-wide admin: the admin user or VIGIL_ADMIN_TOKEN, never a project's key —
 * for operations that span projects, such as backups and users).
 */
export type Need = 'ingest' | 'read' | 'admin' | 'server';

/** admin may do everything in its scope; viewer reads; an ingest key only writes events. */
export function allows(principal: Principal, need: Need): boolean {
  if (need === 'ingest') return principal.role === 'ingest' || principal.role === 'admin';
  if (need === 'read') return RANK[principal.role] >= RANK.viewer;
  if (need === 'server') return principal.role === 'admin' && principal.project === null;
  return principal.role === 'admin';
}

/** The project a request acts on: a project-bound principal acts on its own only. */
export function projectFor(principal: Principal, requested: string | undefined): string {
  if (principal.project !== null) {
    if (requested !== undefined && requested !== principal.project) {
      throw new VigilError('forbidden', { message: `This key belongs to project '${principal.project}'.` });
    }
    return principal.project;
  }
  return requested ?? 'default';
}
