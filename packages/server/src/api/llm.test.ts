import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, readEvents, scratchDirs, startVigil, type Vigil } from '../test/harness.js';

const scratch = scratchDirs();
let vigil: Vigil;
let viewerKey: string;
let otherKey: string;

// biome-ignore lint/suspicious/noExplicitAny: tests read deep into the answer's JSON.
type Json = Record<string, any>;
const put = (json: unknown, token = vigil.adminToken) =>
  call(vigil, 'PUT', '/api/llm/prices', { token, json });
const get = async (path: string, token = vigil.adminToken) => {
  const res = await call(vigil, 'GET', path, { token });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body as Json;
};
const key = async (role: string, project?: string) => {
  const res = await call(vigil, 'POST', '/api/keys', {
    token: vigil.adminToken,
    json: { role, ...(project ? { project } : {}) },
  });
  expect(res.status).toBe(201);
  return (res.body as { key: string }).key;
};

beforeAll(async () => {
  vigil = await startVigil({
    dataDir: scratch.fresh(),
    config: {
      llm: { prices: [{ model: 'house-model', inputPerMillion: 1, outputPerMillion: 1 }] },
    },
  });
  viewerKey = await key('viewer');
  otherKey = await key('admin', 'other');
});
afterAll(async () => {
  await vigil.stop();
  scratch.cleanup();
});

describe('LLM price table API', () => {
  it('shows the shipped table with sources, and the config file entries', async () => {
    const table = await get('/api/llm/prices', viewerKey);
    expect(table.project).toBe('default');
    const gpt = table.prices.find((p: Json) => p.model === 'gpt-4o-mini');
    expect(gpt).toMatchObject({ match: 'exact', source: 'default', inputPerMillion: 0.15 });
    expect(gpt.reference.url).toMatch(/^https:/);
    expect(table.prices.find((p: Json) => p.model === 'house-model')?.source).toBe('config');
  });

  it('lets only admins change prices, and only their own project', async () => {
    const body = { prices: [{ model: 'x', inputPerMillion: 1, outputPerMillion: 1 }] };
    expect((await call(vigil, 'PUT', '/api/llm/prices', { json: body })).status).toBe(401);
    expect((await put(body, vigil.ingestKey)).status).toBe(403);
    expect((await put(body, viewerKey)).status).toBe(403);
    expect((await call(vigil, 'GET', '/api/llm/prices', { token: vigil.ingestKey })).status).toBe(403);
    // Another project's admin neither reads nor writes the default project's prices.
    expect((await call(vigil, 'GET', '/api/llm/prices?project=default', { token: otherKey })).status).toBe(
      403,
    );
    const res = await call(vigil, 'PUT', '/api/llm/prices?project=default', { token: otherKey, json: body });
    expect(res.status).toBe(403);
    expect((await get('/api/llm/prices', otherKey)).project).toBe('other');
  });

  it('refuses invalid lists with 400 invalid_prices naming the entry and field', async () => {
    const cases: [unknown, RegExp][] = [
      [
        { prices: [{ model: 'x', inputPerMillion: 'cheap', outputPerMillion: 1 }] },
        /prices\.0\.inputPerMillion/,
      ],
      [{ prices: [{ model: 'x', inputPerMillion: 1 }] }, /outputPerMillion/],
      [{ prices: [{ model: '', inputPerMillion: 1, outputPerMillion: 1 }] }, /prices\.0\.model/],
      [
        { prices: [{ model: 'a*', match: 'exact', inputPerMillion: 1, outputPerMillion: 1 }] },
        /"match":"pattern"/,
      ],
      [
        { prices: [{ model: 'x', inputPerMillion: 1, outputPerMillion: 1, effectiveFrom: '2026-13-45' }] },
        /effectiveFrom/,
      ],
      [{ prices: [{ model: 'x', inputPerMillion: 1, outputPerMillion: 1, color: 'red' }] }, /prices\.0/],
      [[1, 2], /prices/],
      ['nonsense', /prices/],
    ];
    for (const [body, message] of cases) {
      const res = await put(body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      const error = (res.body as Json).error;
      expect(error.code).toBe('invalid_prices');
      expect(error.message).toMatch(message);
    }
  });

  it('prices events by pattern and by effective date; reported costs win; unpriced ones are counted', async () => {
    const now = Date.now();
    const changed = new Date(now - 2 * 3_600_000).toISOString();
    const res = await put({
      prices: [
        { model: 'llama-3-*', match: 'pattern', inputPerMillion: 2, outputPerMillion: 4 },
        {
          model: 'llama-3-*',
          match: 'pattern',
          inputPerMillion: 1,
          outputPerMillion: 2,
          effectiveFrom: changed,
        },
        { model: 'gpt-4o-mini', inputPerMillion: 0.1, outputPerMillion: 0.2, cacheReadPerMillion: 0.01 },
      ],
    });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    const table = (await get('/api/llm/prices', viewerKey)).prices as Json[];
    expect(table.slice(0, 3).map((p) => p.source)).toEqual(['project', 'project', 'project']);
    expect(table.slice(0, 3).map((p) => p.model)).toEqual(['llama-3-*', 'llama-3-*', 'gpt-4o-mini']);

    const llm = (ts: number, props: Json) => ({ type: 'llm.request', ts, props: { total_ms: 10, ...props } });
    const sent = await call(vigil, 'POST', '/v1/events', {
      token: vigil.ingestKey,
      json: {
        events: [
          // Before the change: 1M prompt × $2 + 1M completion × $4.
          llm(now - 3 * 3_600_000, {
            model: 'llama-3-70b',
            prompt_tokens: 1e6,
            completion_tokens: 1e6,
            user: 'ann',
          }),
          // After it: $1 + $2.
          llm(now - 60_000, { model: 'llama-3-8b', prompt_tokens: 1e6, completion_tokens: 1e6, user: 'bob' }),
          // The project's price over the shipped one; cached tokens at the cache-read price.
          llm(now - 60_000, {
            model: 'gpt-4o-mini',
            prompt_tokens: 1e6,
            cache_read_tokens: 5e5,
            completion_tokens: 0,
            user: 'bob',
          }),
          // Reported cost wins.
          llm(now - 60_000, {
            model: 'llama-3-8b',
            prompt_tokens: 1e6,
            completion_tokens: 1e6,
            cost_usd: 0.5,
          }),
          // No price: unpriced, counted.
          llm(now - 60_000, {
            model: 'mystery-7b',
            prompt_tokens: 100,
            completion_tokens: 100,
            space: 'lab',
          }),
        ],
      },
    });
    expect(sent.body).toEqual({ accepted: 5, rejected: [] });

    const stored = await readEvents(vigil, { type: 'llm.request' });
    const costs = stored.map((e) => e.props.cost_usd ?? null).sort();
    expect(costs).toEqual([0.055, 0.5, 3, 6, null].sort());
    expect(stored.find((e) => e.props.model === 'mystery-7b')?.props.cost_usd).toBeUndefined();

    const cost = (await get('/api/metrics/current?window=day', viewerKey)).cost as Json;
    expect(cost.totalUsd).toBeCloseTo(9.555, 9);
    expect(cost.promptUsd).toBeCloseTo(2 + 1 + 0.055, 9);
    expect(cost.completionUsd).toBeCloseTo(4 + 2, 9);
    expect(cost.reportedUsd).toBeCloseTo(0.5, 9);
    expect(cost.byUser).toEqual({ ann: 6, bob: 3.055 });
    expect(cost.byModel['llama-3-8b']).toBeCloseTo(3.5, 9);
    expect(cost.unpricedRequests).toBe(1);
    expect(cost.unpricedModels).toEqual({ 'mystery-7b': 1 });
    expect(cost.averagePerRequest).toBeCloseTo(9.555 / 4, 9);

    const series = (await get(
      `/api/metrics/historical?type=costUsd&aggregation=hour&start=${now - 5 * 3_600_000}&end=${now + 60_000}`,
      viewerKey,
    )) as unknown as { value: number; metadata: Json }[];
    expect(series.reduce((a, p) => a + p.value, 0)).toBeCloseTo(9.555, 9);
    expect(series.reduce((a, p) => a + p.metadata.unpricedRequests, 0)).toBe(1);

    // POST /api/query aggregates cost_usd, from rollups and from raw events alike.
    const query = async (body: Json) => {
      const res = await call(vigil, 'POST', '/api/query', {
        token: viewerKey,
        json: { type: 'llm.request', from: now - 5 * 3_600_000, to: now + 60_000, ...body },
      });
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      return res.body as Json;
    };
    const byModel = await query({ field: 'cost_usd', aggregate: 'sum', groupBy: ['model'] });
    expect(byModel.source).toBe('rollups');
    const sums = Object.fromEntries(byModel.series.map((s: Json) => [s.group.model, s.points[0].value]));
    expect(sums['llama-3-8b']).toBeCloseTo(3.5, 9);
    expect(sums['mystery-7b'] ?? null).toBeNull();
    const raw = await query({ field: 'cost_usd', aggregate: 'max', filters: { user: 'bob', space: 'x' } });
    expect(raw.source).toBe('raw');
    const p50 = await query({ field: 'prompt_cost_usd', aggregate: 'p50' });
    expect(p50.source).toBe('raw');
  });

  it('keeps the project prices across a restart', async () => {
    await vigil.stop();
    vigil = await startVigil({ dataDir: vigil.dataDir });
    const table = (await get('/api/llm/prices')).prices as Json[];
    expect(table.filter((p) => p.source === 'project').map((p) => p.model)).toEqual([
      'llama-3-*',
      'llama-3-*',
      'gpt-4o-mini',
    ]);
  });
});
