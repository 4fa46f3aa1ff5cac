/** A person changes their own password (POST /api/me/password) over a real server on loopback. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, startVigil, type Vigil } from '../test/harness.js';

let vigil: Vigil;

beforeAll(async () => {
  vigil = await startVigil();
}, 60_000);
afterAll(async () => {
  await vigil?.cleanup();
});

async function login(name: string, password: string) {
  const res = await fetch(`${vigil.url}/api/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name, password }),
  });
  if (res.status !== 200) return { status: res.status, cookie: '', csrf: '' };
  const cookie = (res.headers.get('set-cookie') ?? '').split(';')[0] as string;
  return { status: 200, cookie, csrf: ((await res.json()) as { csrfToken: string }).csrfToken };
}

const change = (session: { cookie: string; csrf: string }, body: unknown, csrf = session.csrf) =>
  fetch(`${vigil.url}/api/me/password`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', cookie: session.cookie, 'x-csrf-token': csrf },
    body: JSON.stringify(body),
  });

describe('changing your own password', () => {
  it('needs the current password and the CSRF token; ends the other sessions, keeps this one', async () => {
    const created = await call(vigil, 'POST', '/api/users', {
      token: vigil.adminToken,
      json: { name: 'dana', role: 'viewer', password: 'first password 1234' },
    });
    expect(created.status).toBe(201);
    const here = await login('dana', 'first password 1234');
    const elsewhere = await login('dana', 'first password 1234');
    expect(here.status).toBe(200);

    const next = { currentPassword: 'first password 1234', newPassword: 'second password 5678' };
    expect((await change(here, next, 'not-the-token')).status).toBe(403);
    const wrong = await change(here, { ...next, currentPassword: 'not it' });
    expect(wrong.status).toBe(400);
    expect(((await wrong.json()) as { error: { code: string } }).error.code).toBe('wrong_password');
    const short = await change(here, { ...next, newPassword: 'short' });
    expect(short.status).toBe(400);

    const ok = await change(here, next);
    expect(ok.status).toBe(200);
    const me = (s: { cookie: string }) => fetch(`${vigil.url}/api/me`, { headers: { cookie: s.cookie } });
    expect((await me(here)).status).toBe(200);
    expect((await me(elsewhere)).status).toBe(401);
    expect((await login('dana', 'first password 1234')).status).toBe(401);
    expect((await login('dana', 'second password 5678')).status).toBe(200);
    const events = await call(vigil, 'GET', '/api/accounts/events?user=dana', { token: vigil.adminToken });
    const kinds = (events.body as { events: { kind: string; actor: string }[] }).events;
    expect(kinds.map((e) => e.kind)).toEqual([
      'sign_in',
      'sign_in_refused',
      'password_change',
      'sign_in',
      'sign_in',
      'user_created',
    ]);
    expect(kinds[2]?.actor).toBe('user:dana');
  });

  it('is refused to keys, which have no password', async () => {
    const res = await call(vigil, 'POST', '/api/me/password', {
      token: vigil.adminToken,
      json: { currentPassword: 'x', newPassword: 'a long enough password' },
    });
    expect(res.status).toBe(400);
    expect((res.body as { error: { code: string } }).error.code).toBe('not_a_person');
  });
});
