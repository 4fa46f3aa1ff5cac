import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, readEvents, startVigil, type Vigil } from '../test/harness.js';

let vigil: Vigil;
const base = Date.parse('2026-11-01T00:00:00Z');

beforeAll(async () => {
  vigil = await startVigil({ config: { ingest: { maxAgeMs: 10 * 365 * 86_400_000 } } });
  const events = Array.from({ length: 250 }, (_, i) => ({
    type: i % 2 === 0 ? 'page.view' : 'decision.recommendation',
    ts: base + Math.floor(i / 3) * 1000, // three events share each timestamp: ties break by id
    props:
      i % 2 === 0
        ? { path: `/p/${i % 5}` }
        : { action: 'view', signal_id: `sig-${i % 7}`, recommendation_type: 'fraud' },
  }));
  const res = await call(vigil, 'POST', '/v1/events', { token: vigil.ingestKey, json: { events } });
  expect(res.body).toMatchObject({ accepted: 250 });
});
afterAll(async () => {
  await vigil.cleanup();
});

describe('GET /api/events', () => {
  it('pages newest first with a stable cursor that neither skips nor repeats', async () => {
    const seen: { ts: string; id: string }[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const res = await call(vigil, 'GET', `/api/events?limit=40${cursor ? `&cursor=${cursor}` : ''}`, {
        token: vigil.adminToken,
      });
      expect(res.status).toBe(200);
      const body = res.body as { events: { ts: string; id: string }[]; nextCursor: string | null };
      seen.push(...body.events);
      cursor = body.nextCursor;
      pages += 1;
      // New events arriving mid-paging land before the cursor and do not disturb later pages.
      if (pages === 2)
        await call(vigil, 'POST', '/v1/events', {
          token: vigil.ingestKey,
          json: { events: [{ type: 'late.arrival' }] },
        });
    } while (cursor);
    expect(pages).toBe(7);
    expect(seen).toHaveLength(250);
    expect(new Set(seen.map((e) => e.id)).size).toBe(250);
    const order = seen.map((e) => `${e.ts}|${e.id}`);
    expect(order).toEqual([...order].sort().reverse());
  });

  it('filters by type, time range and prop equality (typed and custom)', async () => {
    expect(await readEvents(vigil, { type: 'page.view' })).toHaveLength(125);
    const sig = await readEvents(vigil, { 'prop.signal_id': 'sig-3' });
    expect(sig.length).toBeGreaterThan(0);
    expect(sig.every((e) => e.props.signal_id === 'sig-3')).toBe(true);
    const path = await readEvents(vigil, { 'prop.path': '/p/0' });
    expect(path).toHaveLength(25);
    const window = await readEvents(vigil, {
      from: new Date(base + 10_000).toISOString(),
      to: String(base + 20_000),
    });
    expect(window).toHaveLength(30);
  });

  it('rejects bad parameters with 400 and a code', async () => {
    for (const q of ['limit=0', 'limit=5000', 'limit=abc', 'cursor=garbage', 'from=yesterday']) {
      const res = await call(vigil, 'GET', `/api/events?${q}`, { token: vigil.adminToken });
      expect(res.status, q).toBe(400);
      expect((res.body as { error: { code: string } }).error.code).toMatch(/^invalid_(query|cursor)$/);
    }
  });
});

describe('GET /api/events/types', () => {
  it("lists the project's own types beside the built-in ones, with counts over the window", async () => {
    const range = `from=${base}&to=${base + 86_400_000}`;
    const res = await call(vigil, 'GET', `/api/events/types?${range}`, { token: vigil.adminToken });
    expect(res.status).toBe(200);
    const { types } = res.body as { types: { type: string; builtIn: boolean; count: number }[] };
    expect(types.slice(0, 2)).toEqual([
      expect.objectContaining({ type: 'decision.recommendation', builtIn: true, count: 125 }),
      expect.objectContaining({ type: 'page.view', builtIn: false, count: 125 }),
    ]);
    // Built-in types are offered even without events; the custom one is there because it was sent.
    expect(types.map((t) => t.type).sort()).toEqual(
      ['admin.view', 'decision.outcome', 'decision.recommendation', 'llm.request', 'page.view'].sort(),
    );
    expect(types.find((t) => t.type === 'llm.request')).toMatchObject({ builtIn: true, count: 0 });
    // Another window holds none of them.
    const empty = await call(vigil, 'GET', `/api/events/types?from=${base - 86_400_000}&to=${base}`, {
      token: vigil.adminToken,
    });
    expect((empty.body as { types: { type: string }[] }).types.map((t) => t.type)).not.toContain('page.view');
    const bad = await call(vigil, 'GET', `/api/events/types?from=${base}&to=${base}`, {
      token: vigil.adminToken,
    });
    expect(bad.status).toBe(400);
    expect(bad.body).toMatchObject({ error: { code: 'invalid_query' } });
  });
});
