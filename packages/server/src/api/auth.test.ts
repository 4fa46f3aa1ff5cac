import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, startVigil, TEST_ENGINE, type Vigil } from '../test/harness.js';

let vigil: Vigil;
let viewer: string;
let otherIngest: string;
let otherViewer: string;
let projectAdmin: string;

const createKey = async (json: Record<string, unknown>, token = vigil.adminToken) => {
  const res = await call(vigil, 'POST', '/api/keys', { token, json });
  expect(res.status).toBe(201);
  return res.body as { id: string; key: string; role: string; project: string };
};

beforeAll(async () => {
  vigil = await startVigil({
    config: { adminPassword: 'correct horse battery', rateLimits: { loginPerMinute: 3 } },
  });
  viewer = (await createKey({ role: 'viewer' })).key;
  otherIngest = (await createKey({ role: 'ingest', project: 'other' })).key;
  otherViewer = (await createKey({ role: 'viewer', project: 'other' })).key;
  projectAdmin = (await createKey({ role: 'admin', project: 'other' })).key;
});
afterAll(async () => {
  await vigil.cleanup();
});

const events = { events: [{ type: 'auth.test' }] };
const code = (res: { body: unknown }) => (res.body as { error: { code: string } }).error.code;

describe('keys and roles', () => {
  it('creates keys with the contract shape and never shows a secret again', async () => {
    const created = await createKey({ role: 'ingest', name: 'ci' });
    expect(created).toMatchObject({ role: 'ingest', project: 'default' });
    expect(created.key).toMatch(/^vgl_[0-9a-f]{16}_/);
    const list = await call(vigil, 'GET', '/api/keys', { token: vigil.adminToken });
    expect(list.status).toBe(200);
    expect(JSON.stringify(list.body)).not.toContain(created.key);
    expect(JSON.stringify(list.body)).not.toContain(created.key.slice(21));
    expect((list.body as { keys: { id: string }[] }).keys.map((k) => k.id)).toContain(created.id);
  });

  it('refuses a missing or unknown key with 401', async () => {
    expect((await call(vigil, 'POST', '/v1/events', { json: events })).status).toBe(401);
    const bogus = await call(vigil, 'POST', '/v1/events', {
      token: `vgl_${'0'.repeat(16)}_${'a'.repeat(32)}`,
      json: events,
    });
    expect([bogus.status, code(bogus)]).toEqual([401, 'unauthorized']);
    const malformed = await call(vigil, 'GET', '/api/events', { headers: { authorization: 'Basic abc' } });
    expect(malformed.status).toBe(401);
  });

  it('a revoked key stops working at once', async () => {
    const { id, key } = await createKey({ role: 'ingest' });
    expect((await call(vigil, 'POST', '/v1/events', { token: key, json: events })).status).toBe(200);
    const revoke = await call(vigil, 'DELETE', `/api/keys/${id}`, { token: vigil.adminToken });
    expect(revoke.status).toBe(200);
    expect((revoke.body as { revokedAt: string | null }).revokedAt).not.toBeNull();
    const after = await call(vigil, 'POST', '/v1/events', { token: key, json: events });
    expect([after.status, code(after)]).toEqual([401, 'key_revoked']);
  });

  it('an ingest key cannot read (403) and a viewer cannot write (403)', async () => {
    const read = await call(vigil, 'GET', '/api/events', { token: vigil.ingestKey });
    expect([read.status, code(read)]).toEqual([403, 'forbidden']);
    const keys = await call(vigil, 'GET', '/api/keys', { token: vigil.ingestKey });
    expect(keys.status).toBe(403);
    const write = await call(vigil, 'POST', '/v1/events', { token: viewer, json: events });
    expect([write.status, code(write)]).toEqual([403, 'forbidden']);
    const mint = await call(vigil, 'POST', '/api/keys', { token: viewer, json: { role: 'admin' } });
    expect(mint.status).toBe(403);
    expect((await call(vigil, 'GET', '/api/events', { token: viewer })).status).toBe(200);
  });

  it("another project's keys see and touch only their own project", async () => {
    await call(vigil, 'POST', '/v1/events', {
      token: vigil.ingestKey,
      json: { events: [{ type: 'default.secret' }] },
    });
    await call(vigil, 'POST', '/v1/events', {
      token: otherIngest,
      json: { events: [{ type: 'other.event' }] },
    });
    const theirs = await call(vigil, 'GET', '/api/events', { token: otherViewer });
    const types = (theirs.body as { events: { type: string }[] }).events.map((e) => e.type);
    expect(types).toEqual(['other.event']);
    const peek = await call(vigil, 'GET', '/api/events?project=default', { token: otherViewer });
    expect(peek.status).toBe(403);
    const pushInto = await call(vigil, 'POST', '/v1/events?project=default', {
      token: otherIngest,
      json: events,
    });
    expect(pushInto.status).toBe(403);
    // A project admin cannot list or revoke the default project's keys.
    const list = await call(vigil, 'GET', '/api/keys', { token: projectAdmin });
    expect((list.body as { keys: { project: string }[] }).keys.every((k) => k.project === 'other')).toBe(
      true,
    );
    const defaultKeys = (await call(vigil, 'GET', '/api/keys?project=default', { token: vigil.adminToken }))
      .body as {
      keys: { id: string }[];
    };
    const target = defaultKeys.keys[0]?.id ?? '';
    expect((await call(vigil, 'DELETE', `/api/keys/${target}`, { token: projectAdmin })).status).toBe(404);
    expect(
      (
        await call(vigil, 'POST', '/api/keys', {
          token: projectAdmin,
          json: { role: 'viewer', project: 'default' },
        })
      ).status,
    ).toBe(403);
  });

  it('validates key requests with a message that names the field', async () => {
    const res = await call(vigil, 'POST', '/api/keys', { token: vigil.adminToken, json: { role: 'boss' } });
    expect(res.status).toBe(400);
    expect((res.body as { error: { code: string; message: string } }).error).toMatchObject({
      code: 'invalid_body',
    });
    expect((res.body as { error: { message: string } }).error.message).toContain('role');
    expect((res.body as { error: { message: string } }).error.message).toContain('viewer');
  });

  it('unknown routes answer 404 in the error shape', async () => {
    const res = await call(vigil, 'GET', '/nope');
    expect(res.body).toEqual({ error: { code: 'not_found', message: 'No route GET /nope.' } });
  });
});

describe('login', () => {
  it('logs in with the admin password, reads with the session cookie, and limits attempts', async () => {
    const ok = await call(vigil, 'POST', '/api/login', {
      json: { user: 'admin', password: 'correct horse battery' },
    });
    expect(ok.status).toBe(200);
    const setCookie = ok.headers.get('set-cookie') ?? '';
    expect(setCookie).toMatch(/HttpOnly/);
    expect(setCookie).toMatch(/SameSite=Strict/);
    const session = setCookie.split(';')[0] ?? '';
    const read = await call(vigil, 'GET', '/api/events', { headers: { cookie: session } });
    expect(read.status).toBe(200);
    // A cookie alone cannot change state: the session's CSRF token must come with it (web.test.ts).
    const write = await call(vigil, 'POST', '/api/keys', {
      headers: { cookie: session },
      json: { role: 'viewer' },
    });
    expect(write.status).toBe(403);
    // `name`, as /api/users calls it, works too.
    const byName = await call(vigil, 'POST', '/api/login', {
      json: { name: 'admin', password: 'correct horse battery' },
    });
    expect(byName.status).toBe(200);

    const wrong = await call(vigil, 'POST', '/api/login', { json: { user: 'admin', password: 'nope' } });
    expect([wrong.status, code(wrong)]).toEqual([401, 'invalid_login']);
    let limited = wrong;
    for (let i = 0; i < 3 && limited.status !== 429; i++) {
      limited = await call(vigil, 'POST', '/api/login', { json: { user: 'admin', password: 'nope' } });
    }
    expect([limited.status, code(limited)]).toEqual([429, 'rate_limited']);
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
  });
});

/** POST /api/login from a given loopback address (all of 127.0.0.0/8 reaches the server). */
const loginFrom = (target: Vigil, address: string, password: string) =>
  new Promise<number>((resolve, reject) => {
    const req = request(
      `${target.url}/api/login`,
      { method: 'POST', localAddress: address, headers: { 'content-type': 'application/json' } },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', reject);
    req.end(JSON.stringify({ user: 'admin', password }));
  });

describe('login limits', () => {
  it('wrong passwords from one address or from many never lock the admin out where they signed in', async () => {
    const target = await startVigil({
      config: { adminPassword: 'correct horse battery', rateLimits: { loginPerMinute: 3 } },
    });
    try {
      const right = 'correct horse battery';
      // The admin signs in from .2 (remembered), then one guesser at .3 runs into its address's limit.
      expect(await loginFrom(target, '127.0.0.2', right)).toBe(200);
      const guesser: number[] = [];
      for (let i = 0; i < 5; i++) guesser.push(await loginFrom(target, '127.0.0.3', 'guess'));
      expect(guesser).toEqual([401, 401, 401, 429, 429]);
      // Elsewhere the right password still works: the guesser's address was limited, not the user.
      expect(await loginFrom(target, '127.0.0.4', right)).toBe(200);
      // Many guessers together (3 wrong passwords from each of 5 more addresses) empty the user's bucket
      // of wrong passwords (5 × 3): a new address now waits, even with the right password…
      for (let a = 10; a < 15; a++)
        for (let i = 0; i < 3; i++) await loginFrom(target, `127.0.0.${a}`, 'guess');
      expect(await loginFrom(target, '127.0.0.20', right)).toBe(429);
      expect(await loginFrom(target, '127.0.0.21', 'guess')).toBe(429);
      // …while the addresses the admin signed in from before still let them in.
      expect(await loginFrom(target, '127.0.0.2', right)).toBe(200);
      expect(await loginFrom(target, '127.0.0.4', right)).toBe(200);
    } finally {
      await target.cleanup();
    }
  });
});

describe('rate limits', () => {
  it('answers 429 with Retry-After when an ingest key exceeds its bucket, per key', async () => {
    const limited = await startVigil({ config: { rateLimits: { ingest: { ratePerSec: 1, burst: 3 } } } });
    try {
      const statuses: number[] = [];
      let retryAfter: string | null = null;
      for (let i = 0; i < 5; i++) {
        const res = await call(limited, 'POST', '/v1/events', { token: limited.ingestKey, json: events });
        statuses.push(res.status);
        if (res.status === 429) retryAfter = res.headers.get('retry-after');
      }
      expect(statuses.slice(0, 3)).toEqual([200, 200, 200]);
      expect(statuses.at(-1)).toBe(429);
      expect(Number(retryAfter)).toBeGreaterThanOrEqual(1);
      // The admin token has a bucket of its own.
      expect(
        (await call(limited, 'POST', '/v1/events', { token: limited.adminToken, json: events })).status,
      ).toBe(200);
    } finally {
      await limited.cleanup();
    }
  });
});

describe('server-wide operations', () => {
  it("refuse a project's admin key: backups and users span every project", async () => {
    for (const [method, path, json] of [
      ['POST', '/api/admin/backup', undefined],
      ['GET', '/api/users', undefined],
      ['POST', '/api/users', { name: 'mallory', role: 'admin' }],
    ] as const) {
      const res = await call(vigil, method, path, { token: projectAdmin, ...(json ? { json } : {}) });
      expect([path, res.status, code(res)]).toEqual([path, 403, 'forbidden']);
      expect((res.body as { error: { message: string } }).error.message).toMatch(/VIGIL_ADMIN_TOKEN/);
    }
    // The server-wide admin still may (where the engines allow a backup file: see docs/scale-out.md).
    const backup = await call(vigil, 'POST', '/api/admin/backup', { token: vigil.adminToken });
    if (TEST_ENGINE === 'duckdb') expect(backup.status).toBe(200);
    else expect([backup.status, code(backup)]).toEqual([409, 'not_supported_by_store']);
    expect((await call(vigil, 'GET', '/api/users', { token: vigil.adminToken })).status).toBe(200);
  });

  it("show a project's key only its own project's series on /metrics", async () => {
    const added = await call(vigil, 'POST', '/api/collectors', {
      token: vigil.adminToken,
      json: { type: 'http-health', name: 'default-secret-name', url: 'http://127.0.0.1:9/health' },
    });
    expect(added.status).toBe(201);
    expect((await call(vigil, 'POST', '/telemetry/collect', { token: vigil.adminToken })).status).toBe(200);
    const scrape = async (token: string) => {
      const res = await call(vigil, 'GET', '/metrics', { token });
      expect(res.status).toBe(200);
      return res.body as string;
    };
    expect(await scrape(viewer)).toMatch(
      /vigil_collector_runs_total\{project="default",collector="default-secret-name"/,
    );
    const theirs = await scrape(otherViewer);
    expect(theirs).not.toContain('default-secret-name');
    // Server-wide series stay, and so does the exposition's shape.
    expect(theirs).toMatch(/^vigil_ingest_events_total\{outcome="stored"\} \d+$/m);
    expect(theirs).toMatch(/^# TYPE vigil_collector_runs_total counter$/m);
  });
});
