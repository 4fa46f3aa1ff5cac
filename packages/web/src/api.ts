/** The dashboard's only way to the server: same-origin fetch, the session cookie, the CSRF token. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export interface Me {
  user: string | null;
  role: 'admin' | 'viewer' | 'ingest';
  project: string | null;
  csrfToken: string | null;
  /** A person with roles per project: each project and their role there (null: server-wide or a key). */
  projects?: Record<string, 'admin' | 'viewer'> | null;
  /** How the person signs in; null for keys and VIGIL_ADMIN_TOKEN. */
  signIn?: 'local' | 'oidc' | null;
}

let csrf: string | null = null;
let onUnauthorized: () => void = () => {};

export function setCsrf(token: string | null): void {
  csrf = token;
}

export function whenUnauthorized(handler: () => void): void {
  onUnauthorized = handler;
}

export async function api<T>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (method !== 'GET' && method !== 'HEAD' && csrf) headers['x-csrf-token'] = csrf;
  const res = await fetch(path, {
    method,
    headers,
    credentials: 'same-origin',
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  let parsed: unknown = null;
  try {
    parsed = text === '' ? null : JSON.parse(text);
  } catch {
    parsed = null;
  }
  if (!res.ok) {
    const err = (parsed as { error?: { code?: string; message?: string } } | null)?.error;
    const error = new ApiError(
      res.status,
      err?.code ?? 'http_error',
      err?.message ?? `${res.status} ${path}`,
    );
    if (res.status === 401 && path !== '/api/login') onUnauthorized();
    throw error;
  }
  return parsed as T;
}

function url(path: string, params: Record<string, string | number | undefined>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== '') q.set(k, String(v));
  const qs = q.toString();
  return qs ? `${path}?${qs}` : path;
}

/** Reads started before the page knew it needed them (see `prefetch`), each taken once. */
const early = new Map<string, Promise<unknown>>();

export const get = <T>(path: string, params: Record<string, string | number | undefined> = {}) => {
  const u = url(path, params);
  const started = early.get(u);
  if (started) {
    early.delete(u);
    return started as Promise<T>;
  }
  return api<T>('GET', u);
};

/**
 * Starts a read now that a view will ask for soon (the first view's data, while the page still
 * asks who is signed in). One not taken within 10 s is dropped; its failure is the taker's to see.
 */
export function prefetch(path: string, params: Record<string, string | number | undefined> = {}): void {
  const u = url(path, params);
  const p = api('GET', u);
  p.catch(() => undefined);
  early.set(u, p);
  setTimeout(() => early.delete(u), 10_000);
}

export interface QuerySeries {
  group: Record<string, string | null>;
  points: { timestamp: string; value: number | null; count: number }[];
}

export interface QueryBody {
  project?: string;
  type: string;
  field?: string;
  aggregate: 'count' | 'sum' | 'avg' | 'min' | 'max' | 'p50' | 'p90' | 'p95' | 'p99' | 'rate';
  from: number;
  to: number;
  bucket?: string;
  groupBy?: string[];
  filters?: Record<string, string>;
}

/** `POST /api/query` (a read; POST for its body, so it carries the CSRF token like any POST). */
export const query = (body: QueryBody) =>
  api<{ source: string; series: QuerySeries[] }>('POST', '/api/query', body);
