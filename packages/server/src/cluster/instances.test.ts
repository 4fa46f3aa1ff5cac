/**
 * Two servers sharing one PostgreSQL: what one is told, the other knows. A dashboard streaming
 * `/api/live` from one hears the commits acknowledged by the other; an alert rule made through one
 * is listed by the other.
 */
import { type IncomingMessage, request } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { call, scratchDirs, startVigil, type Vigil } from '../test/harness.js';
import { usePostgres } from '../test/postgres.js';

const postgres = usePostgres();
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

describe('live view across instances', () => {
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
});
