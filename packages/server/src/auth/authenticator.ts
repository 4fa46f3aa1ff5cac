import { VigilError } from '../errors/index.js';
import type { PersonRole, Principal, Role } from '../model/index.js';
import type { AccountStore } from '../store/index.js';
import { parseApiKey, safeEqual, sha256, verifySecret } from './secrets.js';

export const SESSION_COOKIE = 'vigil_session';

interface Cached {
  principal: Principal;
  keyId: string;
  /** When the key was last read from the store (it may have been revoked elsewhere since). */
  checkedAt: number;
}

/** How long a cached key is trusted before its revocation is read again (other instances revoke too). */
const RECHECK_MS = 1_000;

/**
 * Resolves a request's credentials to a Principal. A verified API key is cached by the
 * SHA-256 of the token (scrypt runs once per key, not per request); revoking evicts it here, and
 * a key revoked through another instance sharing the store is refused within `RECHECK_MS`.
 */
export class Authenticator {
  private readonly cache = new Map<string, Cached>();

  constructor(
    private readonly meta: AccountStore,
    private readonly adminToken: string | undefined,
  ) {}

  async fromBearer(token: string, now = Date.now()): Promise<Principal> {
    if (this.adminToken && safeEqual(token, this.adminToken)) {
      return { role: 'admin', project: null, subject: 'admin-token' };
    }
    const digest = sha256(token);
    const cached = this.cache.get(digest);
    if (cached && now - cached.checkedAt < RECHECK_MS) return cached.principal;
    if (cached) {
      // Only the revocation can change: no scrypt again.
      const key = await this.meta.getKey(cached.keyId);
      if (!key || key.revokedAt !== null) {
        this.cache.delete(digest);
        throw new VigilError(key ? 'key_revoked' : 'unauthorized');
      }
      cached.checkedAt = now;
      return cached.principal;
    }
    const parsed = parseApiKey(token);
    if (!parsed) throw new VigilError('unauthorized');
    const key = await this.meta.getKey(parsed.id);
    if (!key || !(await verifySecret(parsed.secret, key.secretHash))) throw new VigilError('unauthorized');
    if (key.revokedAt !== null) throw new VigilError('key_revoked');
    const principal: Principal = { role: key.role, project: key.project, subject: `key:${key.id}` };
    if (this.cache.size >= 10_000) this.cache.clear();
    this.cache.set(digest, { principal, keyId: key.id, checkedAt: now });
    return principal;
  }

  async fromSession(token: string, now = Date.now()): Promise<Principal> {
    const session = await this.meta.getSession(sha256(token));
    if (!session || session.expiresAt <= now)
      throw new VigilError('unauthorized', { message: 'The session has expired; log in again.' });
    const user = await this.meta.getUser(session.userId);
    if (!user) throw new VigilError('unauthorized');
    const subject = `user:${user.name}`;
    if (user.role !== null) return { role: user.role, project: null, subject };
    const projects = new Map((await this.meta.userProjectRoles(user.id)).map((r) => [r.project, r.role]));
    return { role: highest(projects), project: null, subject, projects };
  }

  /** Forget a revoked key at once. */
  evictKey(keyId: string): void {
    for (const [digest, entry] of this.cache) if (entry.keyId === keyId) this.cache.delete(digest);
  }
}

const RANK: Record<Role, number> = { ingest: 0, viewer: 1, admin: 2 };

/** A person's highest role over their projects (viewer when they have none: they reach nothing). */
function highest(projects: ReadonlyMap<string, PersonRole>): PersonRole {
  return [...projects.values()].includes('admin') ? 'admin' : 'viewer';
}

/**
 * What a route needs: `ingest` (write events), `read` (viewer), `admin` (of the project acted on),
 * or `server` (a server-wide admin: the admin user or VIGIL_ADMIN_TOKEN, never a project's key —
 * for operations that span projects, such as backups and users).
 */
export type Need = 'ingest' | 'read' | 'admin' | 'server';

function roleAllows(role: Role, need: Need): boolean {
  if (need === 'ingest') return role === 'ingest' || role === 'admin';
  if (need === 'read') return RANK[role] >= RANK.viewer;
  return role === 'admin';
}

/**
 * admin may do everything in its scope; viewer reads; an ingest key only writes events. A person
 * with roles per project passes when some project allows it (`narrow` then keeps only those), and
 * is never server-wide.
 */
export function allows(principal: Principal, need: Need): boolean {
  if (principal.projects) {
    if (need === 'server') return false;
    for (const role of principal.projects.values()) if (roleAllows(role, need)) return true;
    return false;
  }
  if (need === 'server') return principal.role === 'admin' && principal.project === null;
  return roleAllows(principal.role, need);
}

/** The principal for one request that needs `need`: a person keeps only the projects where their
 * role suffices, so whatever the route acts on is checked against the right role. */
export function narrow(principal: Principal, need: Need): Principal {
  if (!principal.projects) return principal;
  const projects = new Map([...principal.projects].filter(([, role]) => roleAllows(role, need)));
  return { ...principal, role: highest(projects), projects };
}

/** Whether the principal may act on (or see) the project's data. */
export function reaches(principal: Principal, project: string): boolean {
  if (principal.projects) return principal.projects.has(project);
  return principal.project === null || principal.project === project;
}

/** The projects a principal may see; null means every project. */
export function reachable(principal: Principal): ReadonlySet<string> | null {
  if (principal.projects) return new Set(principal.projects.keys());
  return principal.project === null ? null : new Set([principal.project]);
}

/** The project a request acts on: a project-bound principal acts on its own only. */
export function projectFor(principal: Principal, requested: string | undefined): string {
  if (principal.projects) {
    const own = principal.projects;
    const id = requested ?? (own.has('default') ? 'default' : own.keys().next().value);
    if (id === undefined || !own.has(id)) {
      throw new VigilError('forbidden', {
        message:
          id === undefined
            ? 'Your account has no project where it may do this; ask a Vigil admin for a role.'
            : `Your account may not do this in project '${id}'; ask a Vigil admin for a role there.`,
      });
    }
    return id;
  }
  if (principal.project !== null) {
    if (requested !== undefined && requested !== principal.project) {
      throw new VigilError('forbidden', { message: `This key belongs to project '${principal.project}'.` });
    }
    return principal.project;
  }
  return requested ?? 'default';
}
