/** `GET /api/openapi.json`: generated from the routes, so every route of the server is in it. */
import { afterEach, describe, expect, it } from 'vitest';
import { call, startVigil, type Vigil } from '../test/harness.js';
import { routeTable } from './index.js';

let vigil: Vigil | null = null;
afterEach(async () => {
  await vigil?.cleanup();
  vigil = null;
});

interface OpenApi {
  openapi: string;
  info: { version: string };
  paths: Record<
    string,
    Record<string, { tags?: string[]; parameters?: { name: string; in: string }[]; requestBody?: unknown }>
  >;
}

describe('GET /api/openapi.json', () => {
  it('lists every route the server registers, with the schemas it validates against', async () => {
    vigil = await startVigil();
    const res = await call(vigil, 'GET', '/api/openapi.json');
    expect(res.status).toBe(200);
    const doc = res.body as OpenApi;
    expect(doc.openapi).toBe('3.1.0');

    // The server's own route table (HEAD and OPTIONS: Fastify's twins of GET, CORS preflights).
    const registered = routeTable(vigil.server.app)
      .map((r) => `${r.method} ${r.url}`)
      .filter((r) => !/^(HEAD|OPTIONS) /.test(r) && r !== 'GET /api/openapi.json');
    expect(registered).toEqual(
      expect.arrayContaining(['GET /healthz', 'POST /v1/events', 'DELETE /api/keys/:id']),
    );
    expect(registered.length).toBeGreaterThan(50);
    const documented = new Set(
      Object.entries(doc.paths).flatMap(([path, ops]) =>
        Object.keys(ops).map((m) => `${m.toUpperCase()} ${path.replace(/\{(\w+)\}/g, ':$1')}`),
      ),
    );
    expect(registered.filter((r) => !documented.has(r))).toEqual([]);

    // The schemas the routes validate with come through.
    expect(doc.paths['/api/keys']?.post?.requestBody).toBeDefined();
    const query = doc.paths['/api/health/snapshots']?.get?.parameters?.map((p) => `${p.in}:${p.name}`) ?? [];
    expect(query).toEqual(expect.arrayContaining(['query:from', 'query:to']));
    expect(doc.paths['/v1/events']?.post).toMatchObject({
      tags: ['ingest'],
      description: 'Role: ingest key or admin.',
    });
    expect(doc.paths['/healthz']?.get).toMatchObject({ security: [], description: 'No authentication.' });
  });
});
