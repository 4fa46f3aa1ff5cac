import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, scratchDirs, startVigil, type Vigil } from '../test/harness.js';

const scratch = scratchDirs();
let vigil: Vigil;
const HOUR = 3_600_000;
const base = Math.floor(Date.now() / HOUR) * HOUR - 5 * HOUR;

type Result = {
  source: string;
  series: { group: Record<string, string>; points: { value: number | null; count: number }[] }[];
};
const query = async (body: Record<string, unknown>) => {
  const res = await call(vigil, 'POST', '/api/query', {
    token: vigil.adminToken,
    json: { from: base, to: base + 3 * HOUR, ...body },
  });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body as Result;
};

beforeAll(async () => {
  vigil = await startVigil({ dataDir: scratch.fresh() });
  const events = Array.from({ length: 600 }, (_, i) => ({
    type: 'llm.request',
    ts: base + i * 17_000,
    props: {
      total_ms: 50 + ((i * 37) % 950),
      prompt_tokens: i % 100,
      space: `s${i % 3}`,
      model: `m${i % 2}`,
      region: i % 2 ? 'eu' : 'us',
    },
  }));
  expect(
    (await call(vigil, 'POST', '/v1/events', { token: vigil.ingestKey, json: { events } })).body,
  ).toMatchObject({ accepted: 600 });
  await vigil.server.context.rollups.flushNow();
});
afterAll(async () => {
  await vigil.stop();
  scratch.cleanup();
});

describe('POST /api/query', () => {
  it('answers from rollups when one group fits, with the same counts and sums as raw events', async () => {
    const fromRollups = await query({
      type: 'llm.request',
      field: 'prompt_tokens',
      aggregate: 'sum',
      bucket: 'hour',
      groupBy: ['space'],
    });
    expect(fromRollups.source).toBe('rollups');
    // A prop the rollups do not know forces raw events, which gives the exact reference.
    const fromRaw = await query({
      type: 'llm.request',
      field: 'prompt_tokens',
      aggregate: 'sum',
      bucket: 'hour',
      groupBy: ['space', 'region'],
    });
    expect(fromRaw.source).toBe('raw');
    for (const s of fromRollups.series) {
      const space = s.group.space as string;
      const rawSeries = fromRaw.series.filter((r) => r.group.space === space);
      s.points.forEach((p, i) => {
        expect(p.value).toBe(rawSeries.reduce((a, r) => a + (r.points[i]?.value ?? 0), 0));
        expect(p.count).toBe(rawSeries.reduce((a, r) => a + (r.points[i]?.count ?? 0), 0));
      });
    }
    expect(fromRollups.series).toHaveLength(3);
  });

  it('gives percentiles from sketches within 1% of the exact raw percentile', async () => {
    const approx = await query({
      type: 'llm.request',
      field: 'total_ms',
      aggregate: 'p95',
      filters: { model: 'm1' },
    });
    const exact = await query({
      type: 'llm.request',
      field: 'total_ms',
      aggregate: 'p95',
      filters: { model: 'm1', region: 'eu' },
    });
    expect(approx.source).toBe('rollups');
    expect(exact.source).toBe('raw');
    const a = approx.series[0]?.points[0]?.value as number;
    const e = exact.series[0]?.points[0]?.value as number;
    expect(Math.abs(a - e) / e).toBeLessThanOrEqual(0.01);
  });

  it('counts and rates custom events from raw events, grouped by a prop', async () => {
    await call(vigil, 'POST', '/v1/events', {
      token: vigil.ingestKey,
      json: {
        events: [
          { type: 'page.view', ts: base + 60_000, props: { path: '/a' } },
          { type: 'page.view', ts: base + 120_000, props: { path: '/b' } },
          { type: 'page.view', ts: base + 180_000, props: { path: '/a' } },
        ],
      },
    });
    const r = await query({ type: 'page.view', aggregate: 'count', groupBy: ['path'] });
    expect(r.source).toBe('raw');
    expect(Object.fromEntries(r.series.map((s) => [s.group.path, s.points[0]?.value]))).toEqual({
      '/a': 2,
      '/b': 1,
    });
  });

  it('refuses malformed queries with 400', async () => {
    for (const body of [
      { type: 'llm.request', aggregate: 'p95' },
      { type: 'llm.request', aggregate: 'median', field: 'total_ms' },
      { type: 'llm.request', aggregate: 'count', groupBy: ['a', 'b', 'c'] },
      { type: 'llm.request', aggregate: 'count', from: 'soon' },
      { type: 'llm.request', aggregate: 'count', from: base + HOUR, to: base },
      { type: 'llm.request', aggregate: 'count', bucket: 'minute', from: 0, to: base },
    ]) {
      const res = await call(vigil, 'POST', '/api/query', {
        token: vigil.adminToken,
        json: { from: base, to: base + HOUR, ...body },
      });
      expect(res.status, JSON.stringify(body)).toBe(400);
    }
  });
});
