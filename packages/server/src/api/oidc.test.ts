/**
 * Sign-in through a real OpenID Connect provider (`oidc-provider` on loopback, its own keys) over
 * HTTP: the whole flow, and each way it must be refused — a wrong state, a replayed code, an expired
 * or wrongly signed ID token, an address outside allowedDomains, the provider down — plus roles
 * that follow the provider's groups at every sign-in.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { call, startVigil, type Vigil } from '../test/harness.js';
import {
  CLIENT_ID,
  CLIENT_SECRET,
  CookieJar,
  startSignIn,
  startTestProvider,
  type TestProvider,
} from '../test/oidc-provider.js';

let vigil: Vigil;
let provider: TestProvider;
let stopProvider: () => Promise<void>;

beforeAll(async () => {
  const started = await startTestProvider();
  stopProvider = started.close;
  vigil = await startVigil({
    config: {
      auth: {
        localLogin: true,
        oidc: {
          issuer: started.issuer,
          clientId: CLIENT_ID,
          clientSecret: CLIENT_SECRET,
          name: 'Test IdP',
          scopes: ['openid', 'email', 'groups'],
          roleClaim: 'groups',
          roleMapping: { 'vigil-admins': 'admin' },
          projectRoles: [
            { claim: 'groups', value: 'checkout-team', project: 'checkout', role: 'admin' },
            { claim: 'groups', value: 'search-team', project: 'search', role: 'viewer' },
            { claim: 'groups', value: 'search-leads', project: 'search', role: 'admin' },
          ],
          allowedDomains: ['example.com'],
          sessionMinutes: 30,
        },
      },
    },
  });
  // The provider starts after Vigil (it must know Vigil's callback URL): Vigil's discovery at
  // start failed, and the first sign-in discovers it again.
  provider = await started.attach(`${vigil.url}/auth/oidc/callback`);
}, 60_000);

beforeEach(({ task }) => {
  if (!task.name.startsWith('tells the login page')) provider.mode = { kind: 'pass' };
});

afterAll(async () => {
  await vigil?.cleanup();
  await stopProvider?.();
});

/** Calls Vigil's callback URL as the browser would (with the sign-in cookie). */
async function finish(callback: string, jar: CookieJar, accept = 'application/json') {
  const res = await fetch(callback, { redirect: 'manual', headers: { cookie: jar.header(), accept } });
  jar.take(res);
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {}
  return { status: res.status, location: res.headers.get('location'), body, text };
}

const codeOf = (body: unknown) => (body as { error?: { code?: string } }).error?.code;

async function me(jar: CookieJar) {
  const res = await fetch(`${vigil.url}/api/me`, { headers: { cookie: jar.header() } });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

async function events(user: string) {
  const res = await call(vigil, 'GET', `/api/accounts/events?user=${encodeURIComponent(user)}`, {
    token: vigil.adminToken,
  });
  return (res.body as { events: { kind: string; actor: string; detail: string | null }[] }).events;
}

async function signIn(account: string) {
  const flow = await startSignIn(vigil.url, account);
  return { ...(await finish(flow.callback, flow.vigil)), jar: flow.vigil };
}

describe('sign-in with an OpenID Connect provider', () => {
  it('tells the login page about the provider, and says clearly when the provider is down', async () => {
    const options = await call(vigil, 'GET', '/api/login');
    expect(options.body).toEqual({
      localLogin: true,
      oidc: { name: 'Test IdP', loginUrl: '/auth/oidc/login' },
    });
    // Down since Vigil started: its discovery at start failed, and a sign-in says why.
    const down = await fetch(`${vigil.url}/auth/oidc/login`, { redirect: 'manual' });
    expect(down.status).toBe(424);
    expect(codeOf(await down.json())).toBe('oidc_unavailable');
    provider.mode = { kind: 'pass' };
    const up = await fetch(`${vigil.url}/auth/oidc/login`, { redirect: 'manual' });
    expect(up.status).toBe(302);
    const target = new URL(up.headers.get('location') as string);
    expect(target.origin).toBe(new URL(provider.issuer).origin);
    expect(target.searchParams.get('code_challenge_method')).toBe('S256');
    for (const p of ['state', 'nonce', 'code_challenge']) expect(target.searchParams.get(p)).toBeTruthy();
    expect(target.searchParams.get('redirect_uri')).toBe(`${vigil.url}/auth/oidc/callback`);
    expect(up.headers.get('set-cookie')).toMatch(/^vigil_oidc=[^;]+; HttpOnly; SameSite=Lax/);
  });

  it('creates the account at the first sign-in, with roles from the claims, and opens a session', async () => {
    provider.setAccount('alice', {
      email: 'alice@example.com',
      email_verified: true,
      groups: ['checkout-team', 'search-team'],
    });
    const done = await signIn('alice');
    expect(done.status).toBe(302);
    expect(done.location).toBe('/');
    expect(done.jar.get('vigil_session')).toBeTruthy();
    expect(done.jar.get('vigil_oidc')).toBeUndefined();
    const who = await me(done.jar);
    expect(who.status).toBe(200);
    expect(who.body).toMatchObject({
      user: 'alice@example.com',
      role: 'admin',
      projects: { checkout: 'admin', search: 'viewer' },
      signIn: 'oidc',
    });
    const users = (await call(vigil, 'GET', '/api/users', { token: vigil.adminToken })).body as {
      users: { name: string; signIn: string; email: string | null; lastSignInAt: string | null }[];
    };
    expect(users.users.find((u) => u.name === 'alice@example.com')).toMatchObject({
      signIn: 'oidc',
      email: 'alice@example.com',
    });
    expect(users.users.find((u) => u.name === 'alice@example.com')?.lastSignInAt).not.toBeNull();
    // The person reaches their projects and nothing else.
    const projects = await fetch(`${vigil.url}/api/projects`, { headers: { cookie: done.jar.header() } });
    const ids = ((await projects.json()) as { projects: { id: string }[] }).projects.map((p) => p.id);
    expect(ids.sort()).toEqual(['checkout', 'search']);
    expect((await events('alice@example.com')).map((e) => e.kind)).toEqual(['sign_in', 'user_created']);
  });

  it('takes roles from the claims at every sign-in: a removed group removes the role', async () => {
    provider.setAccount('bob', { email: 'bob@example.com', groups: ['checkout-team', 'search-leads'] });
    const first = await signIn('bob');
    expect(first.status).toBe(302);
    expect((await me(first.jar)).body.projects).toEqual({ checkout: 'admin', search: 'admin' });
    // Removed from checkout-team and search-leads at the provider, still in search-team.
    provider.setAccount('bob', { email: 'bob@example.com', groups: ['search-team'] });
    const second = await signIn('bob');
    expect(second.status).toBe(302);
    expect((await me(second.jar)).body).toMatchObject({ role: 'viewer', projects: { search: 'viewer' } });
    // The older session has lost the role too.
    const old = await me(first.jar);
    expect(old.body.projects).toEqual({ search: 'viewer' });
    const keys = await fetch(`${vigil.url}/api/keys?project=checkout`, {
      headers: { cookie: first.jar.header() },
    });
    expect(keys.status).toBe(403);
    const kinds = await events('bob@example.com');
    expect(kinds[0]).toMatchObject({ kind: 'sign_in' });
    expect(kinds[1]).toMatchObject({
      kind: 'role_change',
      detail: 'admin of checkout, admin of search → viewer of search',
    });
    // A group mapped to a server-wide role makes a server admin; losing every group refuses the sign-in.
    // The address the provider gives may change: the person keeps their account and name.
    provider.setAccount('bob', { email: 'robert@example.com', groups: ['vigil-admins'] });
    const admin = await signIn('bob');
    expect((await me(admin.jar)).body).toMatchObject({
      user: 'bob@example.com',
      role: 'admin',
      projects: null,
    });
    const people = (await call(vigil, 'GET', '/api/users', { token: vigil.adminToken })).body as {
      users: { name: string; email: string | null }[];
    };
    expect(people.users.find((u) => u.name === 'bob@example.com')?.email).toBe('robert@example.com');
    provider.setAccount('bob', { email: 'bob@example.com', groups: [] });
    const none = await signIn('bob');
    expect(none.status).toBe(403);
    expect(codeOf(none.body)).toBe('oidc_no_role');
    // Whatever the person had is gone too: the earlier session reaches nothing.
    expect((await me(admin.jar)).status).toBe(403);
    expect((await events('bob@example.com'))[0]).toMatchObject({
      kind: 'sign_in_refused',
      detail: 'no role in the claims',
    });
  });

  it('refuses a callback whose state is not the one this browser started with', async () => {
    provider.setAccount('carol', { email: 'carol@example.com', groups: ['search-team'] });
    const flow = await startSignIn(vigil.url, 'carol');
    const forged = new URL(flow.callback);
    forged.searchParams.set('state', 'forged-state');
    const wrong = await finish(forged.href, flow.vigil);
    expect(wrong.status).toBe(400);
    expect(codeOf(wrong.body)).toBe('oidc_state_mismatch');
    // Another browser (no sign-in cookie) cannot use the code either.
    const elsewhere = await finish(flow.callback, new CookieJar());
    expect(elsewhere.status).toBe(400);
    expect(codeOf(elsewhere.body)).toBe('oidc_state_mismatch');
  });

  it('refuses a replayed code', async () => {
    const flow = await startSignIn(vigil.url, 'carol');
    const kept = flow.vigil.header();
    const first = await finish(flow.callback, flow.vigil);
    expect(first.status).toBe(302);
    // The same callback again, with the same sign-in cookie: the provider has used the code up.
    const replay = await fetch(flow.callback, { redirect: 'manual', headers: { cookie: kept } });
    expect(replay.status).toBe(400);
    const body = await replay.json();
    expect(codeOf(body)).toBe('oidc_refused');
    expect(replay.headers.get('set-cookie') ?? '').not.toContain('vigil_session');
  });

  it('refuses an expired ID token and one signed with a key the provider never published', async () => {
    try {
      provider.mode = {
        kind: 'tamper',
        key: 'provider',
        change: (p) => {
          const now = Math.floor(Date.now() / 1000);
          p.iat = now - 7200;
          p.exp = now - 3600;
        },
      };
      const expired = await signIn('carol');
      expect(expired.status).toBe(401);
      expect(codeOf(expired.body)).toBe('oidc_invalid_token');
      expect(expired.jar.get('vigil_session')).toBeUndefined();

      provider.mode = { kind: 'tamper', key: 'foreign', change: () => undefined };
      const forged = await signIn('carol');
      expect(forged.status).toBe(401);
      expect(codeOf(forged.body)).toBe('oidc_invalid_token');
      expect(forged.jar.get('vigil_session')).toBeUndefined();

      // Signed right but for another client: the audience is checked too.
      provider.mode = {
        kind: 'tamper',
        key: 'provider',
        change: (p) => {
          p.aud = 'another-client';
        },
      };
      const audience = await signIn('carol');
      expect(audience.status).toBe(401);
    } finally {
      provider.mode = { kind: 'pass' };
    }
    // The same person, untouched tokens: signed in.
    expect((await signIn('carol')).status).toBe(302);
  });

  it('refuses people outside allowedDomains, and unverified addresses', async () => {
    provider.setAccount('mallory', { email: 'mallory@elsewhere.test', groups: ['vigil-admins'] });
    const outside = await signIn('mallory');
    expect(outside.status).toBe(403);
    expect(codeOf(outside.body)).toBe('oidc_domain_not_allowed');
    provider.setAccount('trudy', {
      email: 'trudy@example.com',
      email_verified: false,
      groups: ['vigil-admins'],
    });
    const unverified = await signIn('trudy');
    expect(unverified.status).toBe(403);
    expect(codeOf(unverified.body)).toBe('oidc_domain_not_allowed');
    const users = (await call(vigil, 'GET', '/api/users', { token: vigil.adminToken })).body as {
      users: { name: string }[];
    };
    expect(users.users.map((u) => u.name)).not.toContain('mallory@elsewhere.test');
    expect((await events('mallory@elsewhere.test'))[0]).toMatchObject({ kind: 'sign_in_refused' });
  });

  it('says the provider is down when it cannot finish a sign-in, and shows a browser a page, never a 5xx', async () => {
    const flow = await startSignIn(vigil.url, 'carol');
    provider.mode = { kind: 'down' };
    try {
      const down = await finish(flow.callback, flow.vigil, 'text/html,application/xhtml+xml');
      expect(down.status).toBe(424);
      expect(down.text).toContain('data-error="oidc_unavailable"');
      expect(down.text).toContain('Back to the login page');
    } finally {
      provider.mode = { kind: 'pass' };
    }
    const junk = await fetch(`${vigil.url}/auth/oidc/callback?code=x&state=y`, {
      headers: { cookie: 'vigil_oidc=garbage.sig' },
    });
    expect(junk.status).toBe(400);
  });
});

describe('a server whose provider cannot be discovered, with password login off', () => {
  it('starts, refuses passwords, and says at sign-in that the provider cannot be reached', async () => {
    const other = await startVigil({
      config: { auth: { localLogin: false, oidc: { issuer: 'not a url', clientId: 'vigil' } } },
    });
    try {
      expect((await call(other, 'GET', '/api/login')).body).toEqual({
        localLogin: false,
        oidc: { name: 'your identity provider', loginUrl: '/auth/oidc/login' },
      });
      const password = await call(other, 'POST', '/api/login', { json: { name: 'admin', password: 'x' } });
      expect(password.status).toBe(403);
      const login = await call(other, 'GET', '/auth/oidc/login');
      expect(login.status).toBe(424);
      expect(codeOf(login.body)).toBe('oidc_unavailable');
      // The break-glass token still works.
      expect((await call(other, 'GET', '/api/users', { token: other.adminToken })).status).toBe(200);
    } finally {
      await other.cleanup();
    }
  });
});
