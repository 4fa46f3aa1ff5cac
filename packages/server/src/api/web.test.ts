import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, startVigil, type Vigil } from '../test/harness.js';
import { WEB_DIST } from './web.js';

/** Dashboard plumbing over real HTTP: sessions, CSRF, `/api/me`, the static files, live updates. */
let vigil: Vigil;
const PASSWORD = 'correct horse battery staple';

beforeAll(async () => {
  vigil = await startVigil({ config: { adminPassword: PASSWORD } });
});
afterAll(async () => {
  await vigil.cleanup();
});

async function login(headers: Record<string, string> = {}) {
  const res = await call(vigil, 'POST', '/api/login', {
    json: { user: 'admin', password: PASSWORD },
    headers,
  });
  expect(res.status).toBe(200);
  const setCookie = res.headers.get('set-cookie') ?? '';
  return {
    setCookie,
    cookie: setCookie.split(';')[0] ?? '',
    csrf: (res.body as { csrfToken: string }).csrfToken,
  };
}

const code = (r: { body: unknown }) => (r.body as { error?: { code: string } }).error?.code;

describe('session and CSRF', () => {
  it('sets an HttpOnly, SameSite=Strict cookie, Secure only behind TLS', async () => {
    const plain = await login();
    expect(plain.setCookie).toMatch(/HttpOnly/);
    expect(plain.setCookie).toMatch(/SameSite=Strict/);
    expect(plain.setCookie).not.toMatch(/Secure/);
    // The test connects from loopback, the one peer trusted as a TLS-terminating proxy.
    const proxied = await login({ 'x-forwarded-proto': 'https' });
    expect(proxied.setCookie).toMatch(/; Secure/);
  });

  it('accepts a cookie-authenticated write only with the session CSRF token', async () => {
    const s = await login();
    const none = await call(vigil, 'POST', '/api/keys', {
      headers: { cookie: s.cookie },
      json: { role: 'viewer' },
    });
    expect([none.status, code(none)]).toEqual([403, 'forbidden']);
    const wrong = await call(vigil, 'POST', '/api/keys', {
      headers: { cookie: s.cookie, 'x-csrf-token': `${s.csrf.slice(0, -2)}xx` },
      json: { role: 'viewer' },
    });
    expect(wrong.status).toBe(403);
    const other = await login();
    const crossed = await call(vigil, 'POST', '/api/keys', {
      headers: { cookie: s.cookie, 'x-csrf-token': other.csrf },
      json: { role: 'viewer' },
    });
    expect(crossed.status).toBe(403);
    const unicode = await call(vigil, 'DELETE', '/api/keys/x', {
      headers: { cookie: s.cookie, 'x-csrf-token': encodeURIComponent('é'.repeat(43)) },
    });
    expect(unicode.status).toBe(403);
    const ok = await call(vigil, 'POST', '/api/keys', {
      headers: { cookie: s.cookie, 'x-csrf-token': s.csrf },
      json: { role: 'viewer' },
    });
    expect(ok.status).toBe(201);
    // Reads need no token; bearer calls are unchanged.
    expect((await call(vigil, 'GET', '/api/keys', { headers: { cookie: s.cookie } })).status).toBe(200);
    const bearer = await call(vigil, 'POST', '/api/keys', {
      token: vigil.adminToken,
      json: { role: 'viewer' },
    });
    expect(bearer.status).toBe(201);
  });

  it('/api/me tells the role and the CSRF token; logout needs the token and ends the session', async () => {
    const s = await login();
    const me = await call(vigil, 'GET', '/api/me', { headers: { cookie: s.cookie } });
    expect(me.body).toEqual({
      subject: 'user:admin',
      user: 'admin',
      role: 'admin',
      project: null,
      projects: null,
      csrfToken: s.csrf,
      signIn: 'local',
    });
    const viaKey = await call(vigil, 'GET', '/api/me', { token: vigil.adminToken });
    expect(viaKey.body).toMatchObject({ role: 'admin', user: null, csrfToken: null, signIn: null });
    expect((await call(vigil, 'GET', '/api/me')).status).toBe(401);

    const forged = await call(vigil, 'POST', '/api/logout', { headers: { cookie: s.cookie } });
    expect(forged.status).toBe(403);
    expect((await call(vigil, 'GET', '/api/me', { headers: { cookie: s.cookie } })).status).toBe(200);
    const out = await call(vigil, 'POST', '/api/logout', {
      headers: { cookie: s.cookie, 'x-csrf-token': s.csrf },
    });
    expect(out.status).toBe(204);
    expect((await call(vigil, 'GET', '/api/me', { headers: { cookie: s.cookie } })).status).toBe(401);
  });
});

describe('users', () => {
  it('an admin adds a viewer (password shown once); the viewer reads but cannot administer', async () => {
    const created = await call(vigil, 'POST', '/api/users', {
      token: vigil.adminToken,
      json: { name: 'vera', role: 'viewer' },
    });
    expect(created.status).toBe(201);
    const { password } = created.body as { password: string };
    expect(password.length).toBeGreaterThanOrEqual(16);
    const again = await call(vigil, 'POST', '/api/users', {
      token: vigil.adminToken,
      json: { name: 'vera', role: 'admin', password: 'long enough password' },
    });
    expect([again.status, code(again)]).toEqual([400, 'invalid_body']);
    const list = await call(vigil, 'GET', '/api/users', { token: vigil.adminToken });
    expect((list.body as { users: { name: string; role: string }[] }).users).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ name: 'admin', role: 'admin' }),
        expect.objectContaining({ name: 'vera', role: 'viewer' }),
      ]),
    );
    expect(JSON.stringify(list.body)).not.toMatch(/scrypt|password/i);

    const res = await call(vigil, 'POST', '/api/login', { json: { user: 'vera', password } });
    expect(res.status).toBe(200);
    const cookie = (res.headers.get('set-cookie') ?? '').split(';')[0] ?? '';
    const csrf = (res.body as { csrfToken: string }).csrfToken;
    const me = await call(vigil, 'GET', '/api/me', { headers: { cookie } });
    expect(me.body).toMatchObject({ user: 'vera', role: 'viewer' });
    expect((await call(vigil, 'GET', '/api/events', { headers: { cookie } })).status).toBe(200);
    for (const [method, path, json] of [
      ['GET', '/api/users', undefined],
      ['GET', '/api/keys', undefined],
      ['POST', '/api/keys', { role: 'admin' }],
      ['POST', '/api/users', { name: 'mallory', role: 'admin' }],
    ] as const) {
      const denied = await call(vigil, method, path, { headers: { cookie, 'x-csrf-token': csrf }, json });
      expect([method, path, denied.status, code(denied)]).toEqual([method, path, 403, 'forbidden']);
    }
    // A project-bound admin key cannot create server-wide users.
    const key = await call(vigil, 'POST', '/api/keys', { token: vigil.adminToken, json: { role: 'admin' } });
    const projectAdmin = (key.body as { key: string }).key;
    const byKey = await call(vigil, 'POST', '/api/users', {
      token: projectAdmin,
      json: { name: 'x', role: 'viewer' },
    });
    expect(byKey.status).toBe(403);
  });
});

describe('static dashboard', () => {
  it('serves the built index with a CSP, hashed assets gzipped and immutable, and 404s in the error shape', async () => {
    const index = await fetch(`${vigil.url}/`);
    expect(index.status).toBe(200);
    expect(index.headers.get('content-type')).toMatch(/text\/html/);
    expect(index.headers.get('content-security-policy')).toMatch(/script-src 'self'/);
    const html = await index.text();
    const script = /src="(\/assets\/[^"]+\.js)"/.exec(html)?.[1];
    expect(script, `index.html of ${WEB_DIST} names its script`).toBeDefined();
    const js = await fetch(`${vigil.url}${script}`, { headers: { 'accept-encoding': 'gzip' } });
    expect(js.status).toBe(200);
    expect(js.headers.get('content-type')).toMatch(/javascript/);
    expect(js.headers.get('cache-control')).toMatch(/immutable/);
    expect(js.headers.get('content-encoding')).toBe('gzip');
    expect((await js.text()).length).toBeGreaterThan(1000);
    // (fetch itself resolves %2e%2e segments, so those never reach the server)
    for (const path of ['/assets/nope.js', '/assets/..%2F..%2Fpackage.json', '/assets/.vite']) {
      const res = await call(vigil, 'GET', path);
      expect([path, res.status, code(res)]).toEqual([path, 404, 'not_found']);
    }
  });
});

/** An open `/api/live` stream: everything it received so far, and a wait for a piece of text. */
async function openLive(url: string, token: string) {
  const chunks: string[] = [];
  const res = await new Promise<import('node:http').IncomingMessage>((resolve, reject) => {
    const req = request(`${url}/api/live`, { headers: { authorization: `Bearer ${token}` } }, resolve);
    req.on('error', reject);
    req.end();
  });
  res.setEncoding('utf8');
  res.on('data', (c: string) => chunks.push(c));
  const text = () => chunks.join('');
  const seen = (wanted: string) =>
    new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no '${wanted}' in ${JSON.stringify(text())}`)), 5_000);
      const check = () => {
        if (!text().includes(wanted)) return;
        clearTimeout(timer);
        res.off('data', check);
        resolve();
      };
      res.on('data', check);
      check();
    });
  return { res, text, seen, close: () => res.destroy() };
}

async function keyOf(project: string, role: 'viewer' | 'ingest') {
  const res = await call(vigil, 'POST', '/api/keys', { token: vigil.adminToken, json: { role, project } });
  expect(res.status).toBe(201);
  return (res.body as { key: string }).key;
}

describe('live updates', () => {
  it('needs a reader, says hello, and sends a commit event after an ingest commits', async () => {
    expect((await call(vigil, 'GET', '/api/live')).status).toBe(401);
    const live = await openLive(vigil.url, vigil.adminToken);
    expect(live.res.statusCode).toBe(200);
    expect(live.res.headers['content-type']).toMatch(/text\/event-stream/);
    await live.seen('event: hello');
    const sent = await call(vigil, 'POST', '/v1/events', {
      token: vigil.ingestKey,
      json: { events: [{ type: 'live.test' }] },
    });
    expect(sent.status).toBe(200);
    await live.seen('event: commit');
    live.close();
  });

  it("tells a project's key only of its own project's commits", async () => {
    const mine = await openLive(vigil.url, await keyOf('default', 'viewer'));
    const theirs = await openLive(vigil.url, await keyOf('live-other', 'viewer'));
    await Promise.all([mine.seen('event: hello'), theirs.seen('event: hello')]);
    const sent = await call(vigil, 'POST', '/v1/events', {
      token: vigil.ingestKey,
      json: { events: [{ type: 'live.scoped' }] },
    });
    expect(sent.status).toBe(200);
    await mine.seen('event: commit');
    // One timer writes to every stream in the same tick; wait past the next tick to be sure.
    await new Promise((r) => setTimeout(r, 1_500));
    expect(theirs.text()).not.toContain('event: commit');
    const own = await call(vigil, 'POST', '/v1/events', {
      token: await keyOf('live-other', 'ingest'),
      json: { events: [{ type: 'live.scoped' }] },
    });
    expect(own.status).toBe(200);
    await theirs.seen('event: commit');
    mine.close();
    theirs.close();
  });

  it('ends open streams when the server closes, so close does not hang', async () => {
    const other = await startVigil();
    const res = await new Promise<import('node:http').IncomingMessage>((resolve, reject) => {
      const req = request(
        `${other.url}/api/live`,
        { headers: { authorization: `Bearer ${other.adminToken}` } },
        resolve,
      );
      req.on('error', reject);
      req.end();
    });
    expect(res.statusCode).toBe(200);
    const ended = new Promise<void>((resolve) => {
      res.on('end', resolve);
      res.on('close', resolve);
      res.resume();
    });
    await other.cleanup();
    await ended;
  });
});
