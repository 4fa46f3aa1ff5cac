/**
 * Query parameters go through one schema per route: a value out of range or of the wrong form is a
 * 400 `invalid_query` naming the parameter, never a 500 from the store.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, startVigil, type Vigil } from '../test/harness.js';
import { listRoutes } from '../test/routes.js';

let vigil: Vigil;
beforeAll(async () => {
  vigil = await startVigil({ config: { rateLimits: { read: { ratePerSec: 1e6, burst: 1e6 } } } });
});
afterAll(async () => {
  await vigil.cleanup();
});

const HUGE = '99999999999999999999';

describe('query parameters', () => {
  it.each([
    [`/api/events?from=${HUGE}`, 'from'],
    [`/api/events?to=${HUGE}`, 'to'],
    [`/api/metrics/alerts?from=${HUGE}`, 'from'],
    ['/telemetry/runs?limit=Infinity', 'limit'],
    ['/telemetry/runs?limit=1e3', 'limit'],
    ['/telemetry/runs?limit=0x10', 'limit'],
    ['/api/metrics/alerts?limit=1.5', 'limit'],
    [`/api/metrics/historical?type=requestRate&start=${HUGE}`, 'start'],
    [`/telemetry/history?metric=m&from=${HUGE}`, 'from'],
    ['/api/events?project=a%00b', 'project'],
    ['/api/metrics/current?window=fortnight', 'window'],
    ['/api/events?limit=1&limit=2', 'limit'],
  ])('%s → 400 invalid_query naming %s', async (path, name) => {
    const res = await call(vigil, 'GET', path, { token: vigil.adminToken });
    expect(res.status).toBe(400);
    const body = res.body as { error: { code: string; message: string } };
    expect(body.error.code).toBe('invalid_query');
    expect(body.error.message).toContain(name);
  });

  it('a cursor holding an impossible time is refused, not sent to the store', async () => {
    const cursor = Buffer.from(JSON.stringify([1e20, '01890a5d-ac96-774b-bcce-b302099a8057'])).toString(
      'base64url',
    );
    const res = await call(vigil, 'GET', `/api/events?cursor=${cursor}`, { token: vigil.adminToken });
    expect(res.status).toBe(400);
    expect((res.body as { error: { code: string } }).error.code).toBe('invalid_cursor');
  });

  it('valid values still answer, and an empty value means absent', async () => {
    for (const path of [
      '/api/events?from=2026-01-01T00:00:00Z&to=1800000000000&limit=5',
      '/api/events?from=&limit=',
      '/api/metrics/alerts?limit=1000&from=2026-01-01',
      '/telemetry/runs?limit=7',
      '/api/metrics/current?window=hour&space=',
    ]) {
      const res = await call(vigil, 'GET', path, { token: vigil.adminToken });
      expect(res.status, path).toBe(200);
    }
  });

  it('unknown parameters are ignored and never reach a handler', async () => {
    const res = await call(vigil, 'GET', '/api/metrics/alerts?limit=2&nonsense=Infinity', {
      token: vigil.adminToken,
    });
    expect(res.status).toBe(200);
  });
});

describe('errors the router raises', () => {
  it('a path parameter over 100 characters is 414 uri_too_long in the catalog shape', async () => {
    const res = await call(vigil, 'GET', `/api/alerts/rules/${'x'.repeat(150)}`, { token: vigil.adminToken });
    expect(res.status).toBe(414);
    expect(res.body).toMatchObject({ error: { code: 'uri_too_long', message: expect.any(String) } });
  });

  it('a malformed %-escape in the path is 400 bad_request in the catalog shape', async () => {
    const res = await call(vigil, 'GET', '/api/alerts/rules/%E0%A4%A', { token: vigil.adminToken });
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ error: { code: 'bad_request', message: expect.any(String) } });
  });
});

describe('bodies that name Object.prototype members', () => {
  it('POST /api/query of type __proto__ (no event type can have that name) → 400', async () => {
    const res = await call(vigil, 'POST', '/api/query', {
      token: vigil.adminToken,
      json: { type: '__proto__', aggregate: 'count', from: 0, to: Date.now() },
    });
    expect(res.status).toBe(400);
    expect((res.body as { error: { code: string } }).error.code).toBe('invalid_body');
  });

  it.each([['constructor'], ['toString'], ['hasOwnProperty']])(
    'POST /api/query of type %s answers from raw events',
    async (type) => {
      const res = await call(vigil, 'POST', '/api/query', {
        token: vigil.adminToken,
        json: { type, aggregate: 'count', from: 0, to: Date.now() },
      });
      expect(res.status).toBe(200);
    },
  );

  it.each([['constructor'], ['__proto__'], ['toString']])(
    'POST /api/query grouped by %s answers from raw events',
    async (dim) => {
      const res = await call(vigil, 'POST', '/api/query', {
        token: vigil.adminToken,
        json: { type: 'llm.request', aggregate: 'count', from: 0, to: Date.now(), groupBy: [dim] },
      });
      expect(res.status).toBe(200);
    },
  );

  it('a deployment time out of range is a 400', async () => {
    const res = await call(vigil, 'POST', '/telemetry/deployments', {
      token: vigil.adminToken,
      json: { service: 's', version: '1', startedAt: 1e20 },
    });
    expect(res.status).toBe(400);
    expect((res.body as { error: { code: string } }).error.code).toBe('invalid_body');
  });
});

describe('the route table', () => {
  it('lists every route with the role its guard asks for', () => {
    const routes = listRoutes(vigil);
    const find = (method: string, url: string) => routes.find((r) => r.method === method && r.url === url);
    expect(find('POST', '/v1/events')?.access).toBe('ingest');
    expect(find('GET', '/api/events')?.access).toBe('read');
    expect(find('POST', '/api/keys')?.access).toBe('admin');
    expect(find('GET', '/healthz')?.access).toBe('anonymous');
    expect(find('GET', '/metrics')?.access).toBe('read');
    expect(find('GET', '/api/events')?.query).not.toBeNull();
    expect(routes.some((r) => r.method === 'HEAD' && r.url === '/api/events')).toBe(false);
    expect(routes.length).toBeGreaterThan(40);
  });
});
