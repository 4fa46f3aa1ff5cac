import type { OidcConfig } from '../config/index.js';
import type { PersonRole } from '../model/index.js';

/** What the provider says about a person, as read from a validated ID token. */
export type Claims = Readonly<Record<string, unknown>>;

/** The roles a person's claims give them: server-wide (`role`) or per project. */
export interface ClaimedRoles {
  role: PersonRole | null;
  projects: { project: string; role: PersonRole }[];
}

/** A claim's values: a string, or the strings of a list (`groups`), else none. */
function valuesOf(claims: Claims, name: string): string[] {
  const v = claims[name];
  if (typeof v === 'string') return [v];
  if (Array.isArray(v)) return v.filter((x): x is string => typeof x === 'string');
  return [];
}

const better = (a: PersonRole | null, b: PersonRole): PersonRole =>
  a === 'admin' || b === 'admin' ? 'admin' : b;

/**
 * Roles from claims, read at every sign-in: `roleMapping` gives a server-wide role (which wins over
 * roles per project), `projectRoles` a role in one project; the highest role any rule gives counts.
 */
export function rolesFromClaims(config: OidcConfig, claims: Claims): ClaimedRoles {
  let role: PersonRole | null = null;
  if (config.roleClaim !== undefined) {
    for (const value of valuesOf(claims, config.roleClaim)) {
      const mapped = config.roleMapping?.[value];
      if (mapped !== undefined) role = better(role, mapped);
    }
  }
  if (role !== null) return { role, projects: [] };
  const byProject = new Map<string, PersonRole>();
  for (const rule of config.projectRoles ?? []) {
    if (!valuesOf(claims, rule.claim).includes(rule.value)) continue;
    byProject.set(rule.project, better(byProject.get(rule.project) ?? null, rule.role));
  }
  return {
    role: null,
    projects: [...byProject]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([project, r]) => ({ project, role: r })),
  };
}

/** The person's email address, unless the provider marks it unverified. */
export function emailOf(claims: Claims): string | null {
  const email = claims.email;
  if (typeof email !== 'string' || !email.includes('@')) return null;
  return claims.email_verified === false ? null : email;
}

/** Whether `allowedDomains` (when given) admits the email: its domain, exactly, in any case. */
export function domainAllowed(config: OidcConfig, email: string | null): boolean {
  const allowed = config.allowedDomains;
  if (allowed === undefined) return true;
  if (email === null) return false;
  const domain = email.slice(email.lastIndexOf('@') + 1).toLowerCase();
  return allowed.some((d) => d.toLowerCase() === domain);
}

/** A person's user name: their email, else `preferred_username`, else the provider's `sub`. */
export function userNameOf(claims: Claims): string {
  const pick = [claims.email, claims.preferred_username, claims.sub].find(
    (v): v is string => typeof v === 'string' && v.length > 0,
  );
  return (pick ?? 'person').slice(0, 90);
}

/** A readable summary of roles, as account events record them. */
export function describeRoles(
  role: PersonRole | null,
  projects: readonly { project: string; role: PersonRole }[],
): string {
  if (role !== null) return `${role} of every project`;
  if (projects.length === 0) return 'no role';
  return projects.map((p) => `${p.role} of ${p.project}`).join(', ');
}
