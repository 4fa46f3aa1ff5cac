import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, scratchDirs, startVigil, type Vigil } from '../test/harness.js';

const scratch = scratchDirs();
let vigil: Vigil;
const ingest = (events: unknown[], v = vigil) =>
  call(v, 'POST', '/v1/events', { token: v.ingestKey, json: { events } });
const get = async (path: string, v = vigil) => {
  const res = await call(v, 'GET', path, { token: v.adminToken });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  // biome-ignore lint/suspicious/noExplicitAny: tests read deep into the answer's JSON.
  return res.body as Record<string, any>;
};

beforeAll(async () => {
  // A long flush interval: what the API shows right after an ack comes from pending deltas.
  vigil = await startVigil({ dataDir: scratch.fresh() });
});
afterAll(async () => {
  await vigil.stop();
  scratch.cleanup();
});

describe('metrics API', () => {
  it('shows an acknowledged event in /api/metrics/current at once', async () => {
    const before = (await get('/api/metrics/current?window=hour')).requestRate.total as number;
    const res = await ingest([
      { type: 'llm.request', props: { total_ms: 321, prompt_tokens: 7, completion_tokens: 3, space: 'now' } },
    ]);
    expect(res.body).toEqual({ accepted: 1, rejected: [] });
    const after = await get('/api/metrics/current?window=hour');
    expect(after.requestRate.total).toBe(before + 1);
    expect(after.tokens.bySpace.now).toBe(10);
    const filtered = await get('/api/metrics/current?window=minute&space=now');
    expect(filtered.requestRate.total).toBe(1);
    expect(filtered.totalLatency).toMatchObject({ min: 321, max: 321, average: 321 });
  });

  it('reports an error spike only against a baseline, and for the filtered requests only', async () => {
    const now = Date.now();
    const req = (model: string, ts: number, failed: boolean) => ({
      type: 'llm.request',
      ts,
      props: { total_ms: 10, model, ...(failed ? { error_type: 'timeout' } : {}) },
    });
    // A new install: a steady 10% error rate with nothing before it is not a spike.
    await ingest(Array.from({ length: 40 }, (_, i) => req('steady', now - 60_000, i % 10 === 0)));
    const steady = (await get('/api/metrics/current?window=day&model=steady')).errors;
    expect(steady.totalRequests).toBe(40);
    expect(steady.spike).toMatchObject({ detected: false, latestRequests: 40, baselineRequests: 0 });
    // With an error-free hour before, 50% errors in the last minutes is one — counted for this model only.
    await ingest([
      ...Array.from({ length: 40 }, () => req('spiky', now - 3_600_000, false)),
      ...Array.from({ length: 30 }, (_, i) => req('spiky', now - 60_000, i % 2 === 0)),
    ]);
    const spiky = (await get('/api/metrics/current?window=day&model=spiky')).errors.spike;
    expect(spiky).toMatchObject({
      detected: true,
      latestRequests: 30,
      baselineRequests: 40,
      baselineRate: 0,
    });
    expect(spiky.latestRate).toBeCloseTo(50, 5);
  });

  it('puts a late event into the bucket of its own time', async () => {
    const ts = Math.floor(Date.now() / 3_600_000) * 3_600_000 - 5 * 3_600_000 + 17 * 60_000;
    await ingest([{ type: 'llm.request', ts, props: { total_ms: 50, model: 'late-model' } }]);
    const series = (await get(
      `/api/metrics/historical?type=requestRate&aggregation=hour&model=late-model&start=${ts - 3_600_000}&end=${ts + 3_600_000}`,
    )) as unknown as { timestamp: string; metadata: { requests: number } }[];
    const hit = series.find((p) => p.metadata.requests > 0);
    expect(hit?.timestamp).toBe(new Date(Math.floor(ts / 3_600_000) * 3_600_000).toISOString());
    expect(series.reduce((a, p) => a + p.metadata.requests, 0)).toBe(1);
  });

  it('computes decision metrics by their definitions, overall and per explanation version', async () => {
    const rec = (signal: string, action: string, version: string, time: number) => ({
      type: 'decision.recommendation',
      props: {
        action,
        signal_id: signal,
        recommendation_type: 'fraud',
        explanation_version: version,
        decision_time_ms: time,
      },
    });
    await ingest([
      rec('d1', 'accept', 'v1', 1000),
      rec('d2', 'override', 'v1', 3000),
      rec('d3', 'ignore', 'v2', 2000),
      rec('d4', 'accept', 'v2', 4000),
      rec('d4', 'view', 'v2', 0),
      { type: 'decision.outcome', props: { signal_id: 'd1', outcome_status: 'false_positive' } },
      { type: 'decision.outcome', props: { signal_id: 'd3', outcome_status: 'confirmed' } },
      { type: 'decision.outcome', props: { signal_id: 'd4', outcome_status: 'confirmed' } },
    ]);
    const s = await get('/api/decisions/summary?window=7d&groupBy=explanation_version');
    expect(s.acceptanceRate).toBeCloseTo(50, 9); // 2 accepts of 4 acted on (views are not actions)
    expect(s.overrideRate).toBeCloseTo(25, 9);
    expect(s.averageDecisionTimeMs).toBeCloseTo(2000, 9); // (1000+3000+2000+4000+0) / 5 timed events
    expect(s.falsePositiveRate).toBeCloseTo(100 / 3, 9);
    expect(s.outcomeDistribution).toEqual({ false_positive: 1, confirmed: 2 });
    expect(s.groups.v1).toMatchObject({ acceptanceRate: 50, overrideRate: 50, falsePositiveRate: 100 });
    expect(s.groups.v2).toMatchObject({
      acceptanceRate: 50,
      falsePositiveRate: 0,
      outcomeDistribution: { confirmed: 2 },
    });
  });

  it('never shows a scrubbed value', async () => {
    await ingest([
      {
        type: 'llm.request',
        props: { total_ms: 5, user: 'mallory@example.com', space: '+1 415 555 0199', model: 'clean' },
      },
    ]);
    const outputs = [
      await get('/api/metrics/current?window=day'),
      await get('/api/metrics/historical?type=totalTokens&aggregation=hour'),
      await get('/api/events?limit=1000'),
    ];
    const text = JSON.stringify(outputs);
    expect(text).not.toContain('mallory');
    expect(text).not.toContain('555 0199');
    expect(text).toContain('clean');
  });

  it('rejects bad parameters with 400 and a code', async () => {
    for (const q of [
      '/api/metrics/current?window=fortnight',
      '/api/metrics/current?space=a&model=b',
      '/api/metrics/historical?type=nope',
      '/api/metrics/historical?type=errorRate&start=2026-02-01&end=2026-01-01',
      '/api/metrics/historical?type=errorRate&aggregation=minute&start=2020-01-01',
      '/api/decisions/summary?window=1y',
      '/api/decisions/summary?groupBy=user',
    ]) {
      const res = await call(vigil, 'GET', q, { token: vigil.adminToken });
      expect([res.status, (res.body as { error: { code: string } }).error.code], q).toEqual([
        400,
        'invalid_query',
      ]);
    }
    expect((await call(vigil, 'GET', '/api/metrics/current', { token: vigil.ingestKey })).status).toBe(403);
  });
});

describe('rollup recovery', () => {
  it('rebuilds what was folded but not flushed from the stored events after a crash', async () => {
    const dataDir = scratch.fresh();
    const first = await startVigil({ dataDir });
    // No timed flushes: everything folded stays pending, as at a crash between flushes.
    const maintainer = first.server.context.rollups as unknown as {
      timers: NodeJS.Timeout[];
      pending: { cells: Map<string, unknown> };
      stop: () => Promise<void>;
    };
    for (const t of maintainer.timers) clearInterval(t);
    const events = Array.from({ length: 50 }, (_, i) => ({
      type: 'llm.request',
      props: { total_ms: i + 1, prompt_tokens: i },
    }));
    await ingest(events, first);
    const before = await get('/api/metrics/current?window=hour', first);
    expect(before.requestRate.total).toBe(50);
    const { store, committer } = first.server.context;
    expect((await store.rollups.watermark('default')).seq).toBeLessThan(committer.headSeq);
    // The crash: pending deltas are lost, never flushed.
    maintainer.pending.cells.clear();
    maintainer.stop = async () => undefined;
    await first.stop();

    const again = await startVigil({ dataDir });
    try {
      const after = await get('/api/metrics/current?window=hour', again);
      expect(after.requestRate.total).toBe(50);
      expect(after.tokens).toEqual(before.tokens);
      expect(after.totalLatency).toEqual(before.totalLatency);
    } finally {
      await again.stop();
    }
  });
});
