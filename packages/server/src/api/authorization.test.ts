import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, startVigil, type Vigil } from '../test/harness.js';
import { routeTable } from './index.js';

/** The routes to check: HEAD twins of GET routes answer as their GET does. */
const routes = () => routeTable(vigil.server.app).filter((r) => r.method !== 'HEAD');

/**
 * The authorization matrix: every route of the real route table × every kind of caller. A route
 * added without an entry here fails the first test, so a new route cannot ship unreviewed.
 *
 * - `need`: who may call it — `public` (anyone), `login` (anyone; the route checks credentials
 *   itself), `ingest`, `read` (viewer), `admin` (of the project acted on), `server` (the admin
 *   user or VIGIL_ADMIN_TOKEN only).
 * - `scope`: how another project's admin would reach the default project's data — by `query`
 *   (`?project=default`), by `id` (a path naming a default project's resource), or `none` (the
 *   route has nothing of a project, or acts only on the caller's own).
 * - `body`, `query`: a valid request (naming the default project where it can), so the check
 *   reaches the handler instead of stopping at schema validation.
 */
type Need = 'public' | 'login' | 'ingest' | 'read' | 'admin' | 'server';
interface Entry {
  need: Need;
  scope: 'query' | 'id' | 'none';
  body?: unknown;
  query?: string;
}

const HOUR = 3_600_000;
const yesterday = new Date(Date.now() - 24 * HOUR).toISOString().slice(0, 10);
const rule = { name: 'matrix', metric: 'errorRate', operator: '>', threshold: 50 };

const MATRIX: Record<string, Entry> = {
  'GET /healthz': { need: 'public', scope: 'none' },
  'GET /api/openapi.json': { need: 'public', scope: 'none' },
  'GET /readyz': { need: 'public', scope: 'none' },
  'OPTIONS /v1/events': { need: 'public', scope: 'none' },
  'OPTIONS /v1/traces': { need: 'public', scope: 'none' },
  'OPTIONS /v1/logs': { need: 'public', scope: 'none' },
  'OPTIONS /v1/metrics': { need: 'public', scope: 'none' },
  'POST /v1/events': { need: 'ingest', scope: 'query', body: { events: [{ type: 'matrix' }] } },
  'POST /v1/traces': { need: 'ingest', scope: 'query', body: {} },
  'POST /v1/logs': { need: 'ingest', scope: 'query', body: {} },
  'POST /v1/metrics': { need: 'ingest', scope: 'query', body: {} },
  'POST /api/keys': { need: 'admin', scope: 'query', body: { role: 'viewer', project: 'default' } },
  'GET /api/keys': { need: 'admin', scope: 'query' },
  'DELETE /api/keys/:id': { need: 'admin', scope: 'id' },
  'GET /api/projects': { need: 'read', scope: 'none' },
  'PATCH /api/projects/:id': { need: 'admin', scope: 'id', body: { strictTypes: false } },
  'POST /api/login': { need: 'login', scope: 'none' },
  'POST /api/logout': { need: 'login', scope: 'none' },
  'GET /api/login': { need: 'public', scope: 'none' },
  'GET /auth/oidc/login': { need: 'public', scope: 'none' },
  'GET /auth/oidc/callback': { need: 'public', scope: 'none' },
  'GET /api/me': { need: 'read', scope: 'none' },
  // A person's own password (keys have none: 400); a wrong current password is 400, not 401/403.
  'POST /api/me/password': {
    need: 'read',
    scope: 'none',
    body: { currentPassword: 'not the password', newPassword: 'matrix-new-password-1234' },
  },
  'GET /api/users': { need: 'server', scope: 'none' },
  'POST /api/users': { need: 'server', scope: 'none', body: { name: 'matrix', role: 'viewer' } },
  'PUT /api/users/:id/roles': { need: 'server', scope: 'none', body: { role: null, projects: [] } },
  'DELETE /api/users/:id/sessions': { need: 'server', scope: 'none' },
  'POST /api/users/:id/password': { need: 'server', scope: 'none', body: {} },
  'GET /api/accounts/events': { need: 'server', scope: 'none' },
  'GET /api/events': { need: 'read', scope: 'query' },
  'GET /api/events/types': { need: 'read', scope: 'query' },
  'GET /api/health/summary': { need: 'read', scope: 'query' },
  'GET /api/health/today': { need: 'read', scope: 'query' },
  'GET /api/health/snapshots': { need: 'read', scope: 'query' },
  'POST /api/health/snapshots': { need: 'admin', scope: 'query', body: { date: yesterday } },
  'GET /api/metrics/current': { need: 'read', scope: 'query' },
  'GET /api/metrics/historical': { need: 'read', scope: 'query', query: 'type=requestRate' },
  'GET /api/decisions/summary': { need: 'read', scope: 'query' },
  'POST /api/query': {
    need: 'read',
    scope: 'query',
    body: {
      project: 'default',
      type: 'llm.request',
      field: 'total_ms',
      aggregate: 'count',
      from: Date.now() - HOUR,
      to: Date.now(),
    },
  },
  'GET /api/collectors': { need: 'admin', scope: 'query' },
  'POST /api/collectors': { need: 'admin', scope: 'query' },
  'DELETE /api/collectors/:name': { need: 'admin', scope: 'query' },
  'GET /telemetry/status': { need: 'read', scope: 'query' },
  'GET /telemetry/runs': { need: 'read', scope: 'query' },
  'GET /telemetry/public': { need: 'public', scope: 'none' },
  'GET /telemetry/history': { need: 'read', scope: 'query', query: 'metric=vigil_collector_up' },
  'POST /telemetry/collect': { need: 'admin', scope: 'query' },
  'POST /telemetry/deployments': {
    need: 'ingest',
    scope: 'query',
    body: { service: 'api', version: '1.0.0' },
  },
  'GET /api/telemetry/settings': { need: 'read', scope: 'query' },
  'PATCH /api/telemetry/settings': { need: 'admin', scope: 'query', body: { publicEnabled: true } },
  'GET /api/alerts/rules': { need: 'admin', scope: 'query' },
  'POST /api/alerts/rules': { need: 'admin', scope: 'query', body: { ...rule, project: 'default' } },
  'GET /api/alerts/rules/:id': { need: 'admin', scope: 'id' },
  'PUT /api/alerts/rules/:id': { need: 'admin', scope: 'id', body: rule },
  'DELETE /api/alerts/rules/:id': { need: 'admin', scope: 'id' },
  'GET /api/alerts/metrics': { need: 'read', scope: 'none' },
  'GET /api/alerts/receivers': { need: 'admin', scope: 'query' },
  'PUT /api/alerts/receivers': { need: 'admin', scope: 'query', body: { project: 'default', receivers: [] } },
  'GET /api/metrics/alerts': { need: 'read', scope: 'query' },
  'GET /api/metrics/alerts/:alertId': { need: 'read', scope: 'id' },
  'POST /api/metrics/alerts/:alertId/ack': { need: 'admin', scope: 'id' },
  'POST /api/metrics/alerts/:alertId/silence': { need: 'admin', scope: 'id' },
  'GET /api/alerts/silences': { need: 'admin', scope: 'query' },
  'POST /api/alerts/silences': {
    need: 'admin',
    scope: 'query',
    body: { ruleId: 'placeholder', duration: '1h' },
  },
  'DELETE /api/alerts/silences/:id': { need: 'admin', scope: 'id' },
  // Server-wide series are shown to any reader; series of a project only to its own (auth.test.ts).
  'GET /metrics': { need: 'read', scope: 'none' },
  'POST /api/admin/backup': { need: 'server', scope: 'none' },
  'GET /': { need: 'public', scope: 'none' },
  'GET /index.html': { need: 'public', scope: 'none' },
  'GET /assets/:file': { need: 'public', scope: 'none' },
  'GET /favicon.svg': { need: 'public', scope: 'none' },
  'GET /api/live': { need: 'read', scope: 'none' },
  'GET /sdk/': { need: 'public', scope: 'none' },
  'GET /sdk/:file': { need: 'public', scope: 'none' },
  'GET /api/llm/prices': { need: 'read', scope: 'query' },
  'PUT /api/llm/prices': { need: 'admin', scope: 'query', body: { prices: [] } },
};

/**
 * Keys, plus people signed in with a session: `personViewer` is viewer of the default project
 * only, `personOther` admin of another project only (and so, like `otherAdmin`, must never reach
 * the default project).
 */
type Caller =
  | 'anonymous'
  | 'ingest'
  | 'viewer'
  | 'projectAdmin'
  | 'serverAdmin'
  | 'otherAdmin'
  | 'revoked'
  | 'personViewer'
  | 'personOther';
const CALLERS: readonly Caller[] = [
  'anonymous',
  'ingest',
  'viewer',
  'projectAdmin',
  'serverAdmin',
  'otherAdmin',
  'revoked',
  'personViewer',
  'personOther',
];
const OTHERS: readonly Caller[] = ['otherAdmin', 'personOther'];

/** Whether a caller passes a route's own check (acting on its own project). */
function admitted(need: Need, caller: Caller): boolean {
  if (need === 'public' || need === 'login') return true;
  if (caller === 'anonymous' || caller === 'revoked') return false;
  if (need === 'ingest') return caller !== 'viewer' && caller !== 'personViewer';
  if (need === 'read') return caller !== 'ingest';
  if (need === 'admin')
    return (
      caller === 'projectAdmin' ||
      caller === 'serverAdmin' ||
      caller === 'otherAdmin' ||
      caller === 'personOther'
    );
  return caller === 'serverAdmin';
}

let vigil: Vigil;
const tokens: Partial<Record<Caller, string>> = {};
/** Session cookies and CSRF tokens of the people. */
const sessions: Partial<Record<Caller, { cookie: string; csrf: string }>> = {};

/** A local person with roles in some projects, signed in. */
async function person(name: string, projects: { project: string; role: string }[]) {
  const password = 'matrix-password-1234';
  const created = await call(vigil, 'POST', '/api/users', {
    token: vigil.adminToken,
    json: { name, projects, password },
  });
  expect(created.status, JSON.stringify(created.body)).toBe(201);
  const res = await fetch(`${vigil.url}/api/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ user: name, password }),
  });
  expect(res.status).toBe(200);
  const cookie = (res.headers.get('set-cookie') ?? '').split(';')[0] as string;
  return { cookie, csrf: ((await res.json()) as { csrfToken: string }).csrfToken };
}
/** Resources of the default project that another project's admin must not reach. */
const defaults = { keyId: '', ruleId: '', silenceId: '', alertId: 'no-such-alert' };

const key = async (json: Record<string, unknown>) => {
  const res = await call(vigil, 'POST', '/api/keys', { token: vigil.adminToken, json });
  expect(res.status).toBe(201);
  return res.body as { id: string; key: string };
};

beforeAll(async () => {
  vigil = await startVigil();
  tokens.ingest = vigil.ingestKey;
  tokens.viewer = (await key({ role: 'viewer' })).key;
  const projectAdmin = await key({ role: 'admin' });
  tokens.projectAdmin = projectAdmin.key;
  tokens.serverAdmin = vigil.adminToken;
  tokens.otherAdmin = (await key({ role: 'admin', project: 'other' })).key;
  const revoked = await key({ role: 'admin' });
  expect((await call(vigil, 'DELETE', `/api/keys/${revoked.id}`, { token: vigil.adminToken })).status).toBe(
    200,
  );
  tokens.revoked = revoked.key;
  defaults.keyId = projectAdmin.id;
  sessions.personViewer = await person('matrix-viewer', [{ project: 'default', role: 'viewer' }]);
  sessions.personOther = await person('matrix-other', [{ project: 'other', role: 'admin' }]);

  const rule = await call(vigil, 'POST', '/api/alerts/rules', {
    token: vigil.adminToken,
    json: { name: 'matrix', metric: 'errorRate', operator: '>', threshold: 50 },
  });
  expect(rule.status, JSON.stringify(rule.body)).toBe(201);
  defaults.ruleId = (rule.body as { id: string }).id;
  const silence = await call(vigil, 'POST', '/api/alerts/silences', {
    token: vigil.adminToken,
    json: { ruleId: defaults.ruleId, duration: '1h' },
  });
  expect(silence.status, JSON.stringify(silence.body)).toBe(201);
  defaults.silenceId = (silence.body as { id: string }).id;
});
afterAll(async () => {
  await vigil.cleanup();
});

/** A path with its parameters filled: default project resources for `id` routes. */
function pathOf(url: string, query?: string): string {
  return url
    .replace(
      ':id',
      url.startsWith('/api/keys')
        ? defaults.keyId
        : url.startsWith('/api/projects')
          ? 'default'
          : url.includes('silences')
            ? defaults.silenceId
            : defaults.ruleId,
    )
    .replace(':alertId', defaults.alertId)
    .replace(':name', 'no-such-collector')
    .replace(':file', 'no-such-file.js')
    .concat(query ? `?${query}` : '');
}

/** One request; a live stream is closed as soon as its headers arrive. */
async function send(
  method: string,
  path: string,
  caller: Caller,
  body?: unknown,
): Promise<{ status: number; body: string }> {
  const headers: Record<string, string> = {};
  const token = tokens[caller];
  if (token) headers.authorization = `Bearer ${token}`;
  const session = sessions[caller];
  if (session) {
    headers.cookie = session.cookie;
    headers['x-csrf-token'] = session.csrf;
  }
  if (body !== undefined) headers['content-type'] = 'application/json';
  // The silence placeholder names the default project's rule once it exists.
  const json = JSON.stringify(body)?.replace('placeholder', defaults.ruleId);
  const abort = new AbortController();
  const res = await fetch(`${vigil.url}${path}`, { method, headers, body: json, signal: abort.signal });
  if ((res.headers.get('content-type') ?? '').startsWith('text/event-stream')) {
    abort.abort();
    return { status: res.status, body: '' };
  }
  return { status: res.status, body: await res.text() };
}

describe('the authorization matrix', () => {
  it('has an entry for every route the server serves, and no entry for a route it does not', async () => {
    const served = routes().map((r) => `${r.method} ${r.url}`);
    expect(
      served.filter((r) => !(r in MATRIX)),
      'routes without an entry in MATRIX',
    ).toEqual([]);
    expect(
      Object.keys(MATRIX).filter((r) => !served.includes(r)),
      'entries for no route',
    ).toEqual([]);
  });

  it('admits each caller exactly where its role and project allow', async () => {
    const wrong: string[] = [];
    for (const route of routes()) {
      const entry = MATRIX[`${route.method} ${route.url}`];
      if (!entry) continue;
      // Deletions name nothing that exists: the resources are kept for the next test.
      const path =
        route.method === 'DELETE'
          ? route.url.replace(/:\w+/, 'no-such-thing')
          : pathOf(route.url, entry.query);
      for (const caller of CALLERS) {
        if (OTHERS.includes(caller) && entry.scope !== 'none') continue; // checked below
        // A person logging out would end the session the other checks use (logout is for anyone).
        if (route.url === '/api/logout' && sessions[caller]) continue;
        const { status } = await send(route.method, path, caller, entry.body);
        const ok = admitted(entry.need, caller);
        const expected = ok ? 'not 401/403' : caller === 'anonymous' || caller === 'revoked' ? '401' : '403';
        const passed = ok ? status !== 401 && status !== 403 : String(status) === expected;
        if (!passed) wrong.push(`${route.method} ${path} as ${caller}: ${status}, expected ${expected}`);
        if (status >= 500) wrong.push(`${route.method} ${path} as ${caller}: ${status}`);
      }
    }
    expect(wrong).toEqual([]);
    // Every route as every caller, one after another: minutes on database servers of a busy machine.
  }, 180_000);

  it("never lets another project's admin, key or person, reach the default project", async () => {
    const wrong: string[] = [];
    for (const route of routes()) {
      const entry = MATRIX[`${route.method} ${route.url}`];
      if (!entry || entry.scope === 'none') continue;
      const base = pathOf(route.url, entry.query);
      const path = entry.scope === 'query' ? `${base}${base.includes('?') ? '&' : '?'}project=default` : base;
      for (const caller of OTHERS) {
        const { status } = await send(route.method, path, caller, entry.body);
        if (status !== 403 && status !== 404)
          wrong.push(`${route.method} ${path} as ${caller}: ${status}, expected 403 or 404`);
      }
    }
    expect(wrong).toEqual([]);
    // And nothing of the default project was changed on the way.
    const keys = await call(vigil, 'GET', '/api/keys', { token: vigil.adminToken });
    const own = (keys.body as { keys: { id: string; revokedAt: string | null }[] }).keys.find(
      (k) => k.id === defaults.keyId,
    );
    expect(own?.revokedAt).toBeNull();
    expect(
      (await call(vigil, 'GET', `/api/alerts/rules/${defaults.ruleId}`, { token: vigil.adminToken })).status,
    ).toBe(200);
  });
});

describe('people with roles per project', () => {
  const get = async (path: string, caller: Caller) => {
    const res = await send('GET', path, caller);
    return { status: res.status, body: JSON.parse(res.body) as Record<string, unknown> };
  };

  it('see only their own projects, and act on them without naming them', async () => {
    const viewer = await get('/api/projects', 'personViewer');
    expect((viewer.body.projects as { id: string }[]).map((p) => p.id)).toEqual(['default']);
    const other = await get('/api/projects', 'personOther');
    expect((other.body.projects as { id: string }[]).map((p) => p.id)).toEqual(['other']);
    expect((await get('/api/me', 'personOther')).body).toMatchObject({
      user: 'matrix-other',
      role: 'admin',
      project: null,
      projects: { other: 'admin' },
    });
    // Keys listed without a project are the person's own project's, never every project's.
    const keys = await get('/api/keys', 'personOther');
    expect(keys.status).toBe(200);
    expect((keys.body.keys as { project: string }[]).every((k) => k.project === 'other')).toBe(true);
  });

  it("a viewer in one project is refused an admin's work there, and a role change applies at once", async () => {
    expect((await send('GET', '/api/keys', 'personViewer')).status).toBe(403);
    const users = (await call(vigil, 'GET', '/api/users', { token: vigil.adminToken })).body as {
      users: { id: string; name: string; projects: unknown[]; signIn: string; lastSignInAt: string | null }[];
    };
    const viewer = users.users.find((u) => u.name === 'matrix-viewer');
    expect(viewer).toMatchObject({ projects: [{ project: 'default', role: 'viewer' }], signIn: 'local' });
    expect(viewer?.lastSignInAt).not.toBeNull();
    const changed = await call(vigil, 'PUT', `/api/users/${viewer?.id}/roles`, {
      token: vigil.adminToken,
      json: { role: null, projects: [{ project: 'default', role: 'admin' }] },
    });
    expect(changed.status, JSON.stringify(changed.body)).toBe(200);
    expect((await send('GET', '/api/keys', 'personViewer')).status).toBe(200);
    // The change is recorded: who, by whom, from where.
    const events = (
      await call(vigil, 'GET', '/api/accounts/events?user=matrix-viewer', { token: vigil.adminToken })
    ).body as { events: { kind: string; actor: string; address: string | null; detail: string }[] };
    expect(events.events.map((e) => e.kind)).toEqual(['role_change', 'sign_in', 'user_created']);
    expect(events.events[0]).toMatchObject({
      actor: 'admin-token',
      detail: 'viewer of default → admin of default',
    });
    expect(events.events[0]?.address).toBeTruthy();
    // Back as it was, for the other tests; then end the person's sessions: the cookie stops working.
    await call(vigil, 'PUT', `/api/users/${viewer?.id}/roles`, {
      token: vigil.adminToken,
      json: { role: null, projects: [{ project: 'default', role: 'viewer' }] },
    });
    expect((await send('GET', '/api/keys', 'personViewer')).status).toBe(403);
    const ended = await call(vigil, 'DELETE', `/api/users/${viewer?.id}/sessions`, {
      token: vigil.adminToken,
    });
    expect(ended.body).toEqual({ ended: 1 });
    expect((await send('GET', '/api/me', 'personViewer')).status).toBe(401);
  });
});
