/**
 * Two servers sharing one PostgreSQL: what one is told, the other knows. A dashboard streaming
 * `/api/live` from one hears the commits acknowledged by the other; an alert rule, a price list or a
 * collector made through one is used by the other, and a session ended through one is refused by
 * the other, within seconds.
 */
import { type IncomingMessage, request } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { call, scratchDirs, startVigil, type Vigil } from '../test/harness.js';
import { usePostgres } from '../test/postgres.js';

const postgres = usePostgres();
const ADMIN_PASSWORD = 'instances-test-password-0123';
const scratch = scratchDirs();
const running: Vigil[] = [];
afterEach(async () => {
  for (const v of running.splice(0)) await v.stop();
  scratch.cleanup();
});

/** Opens `/api/live`; `seen(text)` waits (bounded) until the stream has carried it `times` times. */
async function openLive(vigil: Vigil) {
  const res = await new Promise<IncomingMessage>((resolve, reject) => {
    const req = request(
      `${vigil.url}/api/live`,
      { headers: { authorization: `Bearer ${vigil.adminToken}` } },
      resolve,
    );
    req.on('error', reject);
    req.end();
  });
  let text = '';
  res.setEncoding('utf8');
  res.on('data', (chunk: string) => {
    text += chunk;
  });
  const count = (needle: string) => text.split(needle).length - 1;
  return {
    count,
    seen: async (needle: string, times = 1) => {
      for (let i = 0; i < 100 && count(needle) < times; i++) await new Promise((r) => setTimeout(r, 50));
      expect(count(needle), text).toBeGreaterThanOrEqual(times);
    },
    close: () => res.destroy(),
  };
}

describe('instances sharing one PostgreSQL', () => {
  it("a stream on one instance hears the other's commits", async () => {
    const url = await postgres.fresh();
    const config = (instanceId: string) => ({ instanceId, store: { postgres: { url } } });
    const a = await startVigil({ dataDir: scratch.fresh(), config: config('node-a') });
    running.push(a);
    const b = await startVigil({
      dataDir: scratch.fresh(),
      config: config('node-b'),
      ingestKey: a.ingestKey,
    });
    running.push(b);
    const live = await openLive(b);
    try {
      await live.seen('event: hello');
      const sent = await call(a, 'POST', '/v1/events', {
        token: a.ingestKey,
        json: { events: [{ type: 'live.elsewhere' }] },
      });
      expect(sent.body).toEqual({ accepted: 1, rejected: [] });
      await live.seen('event: commit');
      // And its own, as before.
      await call(b, 'POST', '/v1/events', { token: b.ingestKey, json: { events: [{ type: 'live.here' }] } });
      await live.seen('event: commit', 2);
    } finally {
      live.close();
    }
  }, 60_000);

  it('an alert rule made through one instance is listed by the other within seconds', async () => {
    const url = await postgres.fresh();
    const config = (instanceId: string) => ({ instanceId, store: { postgres: { url } } });
    const a = await startVigil({ dataDir: scratch.fresh(), config: config('node-a') });
    running.push(a);
    const b = await startVigil({
      dataDir: scratch.fresh(),
      config: config('node-b'),
      ingestKey: a.ingestKey,
    });
    running.push(b);
    const made = await call(a, 'POST', '/api/alerts/rules', {
      token: a.adminToken,
      json: { name: 'made on a', metric: 'errorRate', operator: '>', threshold: 5 },
    });
    expect(made.status).toBe(201);
    const names = async () =>
      (
        (await call(b, 'GET', '/api/alerts/rules', { token: b.adminToken })).body as {
          rules: { name: string }[];
        }
      ).rules.map((r) => r.name);
    for (let i = 0; i < 50 && !(await names()).includes('made on a'); i++)
      await new Promise((r) => setTimeout(r, 100));
    expect(await names()).toContain('made on a');
  }, 60_000);

  it('prices, collectors and a logout made through one instance apply on the other within seconds', async () => {
    const url = await postgres.fresh();
    const config = (instanceId: string) => ({
      instanceId,
      adminPassword: ADMIN_PASSWORD,
      store: { postgres: { url } },
    });
    const a = await startVigil({ dataDir: scratch.fresh(), config: config('node-a') });
    running.push(a);
    const b = await startVigil({
      dataDir: scratch.fresh(),
      config: config('node-b'),
      ingestKey: a.ingestKey,
    });
    running.push(b);
    /** Waits (bounded) until `probe` holds. */
    const until = async (probe: () => Promise<boolean>, what: string) => {
      for (let i = 0; i < 50 && !(await probe()); i++) await new Promise((r) => setTimeout(r, 100));
      expect(await probe(), what).toBe(true);
    };
    const token = a.adminToken;
    const cost = async () => {
      const sent = await call(b, 'POST', '/v1/events', {
        token: b.ingestKey,
        json: {
          events: [{ type: 'llm.request', props: { total_ms: 5, model: 'house', prompt_tokens: 1_000_000 } }],
        },
      });
      expect(sent.status).toBe(200);
      const listed = await call(b, 'GET', '/api/events?limit=1', { token });
      return (listed.body as { events: { props: { cost_usd?: number } }[] }).events[0]?.props.cost_usd;
    };
    // An unknown model has no price on b; a price put through a reaches b's ingest.
    expect(await cost()).toBeUndefined();
    const put = await call(a, 'PUT', '/api/llm/prices', {
      token,
      json: { prices: [{ model: 'house', inputPerMillion: 3, outputPerMillion: 1 }] },
    });
    expect(put.status).toBe(200);
    await until(async () => (await cost()) === 3, "b prices with a's list");

    // A collector added through a is listed (and would be run) by b; removed, it goes on b too.
    const added = await call(a, 'POST', '/api/collectors', {
      token,
      json: { type: 'http-health', name: 'made-on-a', url: 'http://127.0.0.1:1/health', enabled: false },
    });
    expect(added.status, JSON.stringify(added.body)).toBe(201);
    const names = async () =>
      (
        (await call(b, 'GET', '/api/collectors', { token })).body as { collectors: { name: string }[] }
      ).collectors.map((c) => c.name);
    await until(async () => (await names()).includes('made-on-a'), 'b lists the collector');
    expect((await call(a, 'DELETE', '/api/collectors/made-on-a', { token })).status).toBe(204);
    await until(async () => !(await names()).includes('made-on-a'), 'b forgets the collector');

    // A session ended through a is refused by b (which had it cached).
    const login = await call(a, 'POST', '/api/login', { json: { user: 'admin', password: ADMIN_PASSWORD } });
    expect(login.status).toBe(200);
    const cookie = /vigil_session=[^;]+/.exec(login.headers.get('set-cookie') ?? '')?.[0] ?? '';
    const csrf = (login.body as { csrfToken: string }).csrfToken;
    const me = (v: Vigil) => call(v, 'GET', '/api/me', { headers: { cookie } });
    expect((await me(b)).status).toBe(200);
    const out = await call(a, 'POST', '/api/logout', { headers: { cookie, 'x-csrf-token': csrf } });
    expect(out.status).toBe(204);
    await until(async () => (await me(b)).status === 401, 'b refuses the ended session');
  }, 60_000);
});
