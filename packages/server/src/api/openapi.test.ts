/** `GET /api/openapi.json`: generated from the routes, so every route of the server is in it. */
import { afterEach, describe, expect, it } from 'vitest';
import { call, startVigil, type Vigil } from '../test/harness.js';

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

/**
 * `METHOD /path` of every route in Fastify's own route tree (`printRoutes`, one node per line,
 * 4 characters of indent per level, a node's text continuing its parent's path).
 */
function registeredRoutes(tree: string): string[] {
  const stack: string[] = [];
  const out: string[] = [];
  for (const line of tree.split('\n')) {
    const m = /^((?:[│ ] {3})*)(?:[├└]── )?(\S+) \(([A-Z, ]+)\)$/.exec(line);
    if (!m) continue;
    const depth = (m[1] as string).length / 4 + (line.includes('── ') ? 1 : 0);
    stack.length = depth;
    const path = (stack[depth - 1] ?? '') + (m[2] as string);
    stack[depth] = path;
    for (const method of (m[3] as string).split(', ')) out.push(`${method} ${path}`);
  }
  return out;
}

describe('GET /api/openapi.json', () => {
  it('lists every route the server registers, with the schemas it validates against', async () => {
    vigil = await startVigil();
    const res = await call(vigil, 'GET', '/api/openapi.json');
    expect(res.status).toBe(200);
    const doc = res.body as OpenApi;
    expect(doc.openapi).toBe('3.1.0');

    // HEAD and OPTIONS are Fastify's automatic twins of GET and the CORS preflights.
    const registered = registeredRoutes(vigil.server.app.printRoutes({ commonPrefix: false })).filter(
      (r) => !/^(HEAD|OPTIONS) /.test(r) && r !== 'GET /api/openapi.json',
    );
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
    expect(doc.paths['/v1/events']?.post?.tags).toEqual(['ingest']);
  });
});
