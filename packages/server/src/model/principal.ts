export const ROLES = ['admin', 'viewer', 'ingest'] as const;
export type Role = (typeof ROLES)[number];

/** Who is making a request. `project: null` means every project (a server-wide admin). */
export interface Principal {
  role: Role;
  project: string | null;
  /** The API key, user or token that authenticated, for logs and rate limits. */
  subject: string;
}
