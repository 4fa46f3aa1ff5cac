export const ROLES = ['admin', 'viewer', 'ingest'] as const;
export type Role = (typeof ROLES)[number];

/** What a person may be in one project (ingest is for keys only). */
export type PersonRole = Exclude<Role, 'ingest'>;

/**
 * Who is making a request. `project: null` means every project (a server-wide admin or viewer);
 * a key is bound to one project.
 */
export interface Principal {
  role: Role;
  project: string | null;
  /** The API key, user or token that authenticated, for logs and rate limits. */
  subject: string;
  /**
   * A person with roles per project: the projects this request may act on, with the role in
   * each (the guard keeps only those where the role suffices for the route). `role` is then the
   * highest of them and `project` null; the principal reaches no other project.
   */
  projects?: ReadonlyMap<string, PersonRole>;
}
