import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultConfig } from '../config/index.js';
import { addDays, dayOf, dayStart } from '../health/index.js';
import { call, startVigil, type Vigil } from '../test/harness.js';

let vigil: Vigil;
let viewer: string;
let otherViewer: string;
const today = dayOf(Date.now());
const yesterday = addDays(today, -1);
const at = (h: number) => dayStart(yesterday) + h * 3_600_000;
const code = (res: { body: unknown }) => (res.body as { error: { code: string } }).error.code;

const key = async (json: Record<string, unknown>) => {
  const res = await call(vigil, 'POST', '/api/keys', { token: vigil.adminToken, json });
  expect(res.status).toBe(201);
  return (res.body as { key: string }).key;
};
const ingest = async (events: unknown[]) => {
  const res = await call(vigil, 'POST', '/v1/events', { token: vigil.ingestKey, json: { events } });
  expect(res.status).toBe(200);
  return res.body as { accepted: number; rejected: { code: string }[] };
};

beforeAll(async () => {
  // Timers off: these tests take every snapshot themselves.
  vigil = await startVigil({ config: { health: { ...defaultConfig().health, enabled: false } } });
  viewer = await key({ role: 'viewer' });
  otherViewer = await key({ role: 'viewer', project: 'other' });
});
afterAll(async () => {
  await vigil.cleanup();
});

describe('rejection counters', () => {
  it('count every rejected event per project and receive day, also when a whole request is rejected', async () => {
    const rec = (sig: string, h: number) => ({
      type: 'decision.recommendation',
      ts: at(h),
      version: '2.0',
      props: { action: 'view', signal_id: sig, recommendation_type: 'fraud' },
    });
    const out = (sig: string, h: number) => ({
      type: 'decision.outcome',
      ts: at(h),
      version: '2.0',
      props: { signal_id: sig, outcome_status: 'confirmed' },
    });
    const llm = (h: number) => ({ type: 'llm.request', ts: at(h), version: '2.0', props: { total_ms: 12 } });
    const first = await ingest([
      rec('s1', 1),
      rec('s2', 2),
      out('s1', 3),
      out('s2', 4),
      llm(5),
      llm(6),
      { type: 'llm.request', ts: at(7), props: {} }, // missing total_ms
    ]);
    expect(first).toMatchObject({ accepted: 6, rejected: [{ code: 'missing_field' }] });
    const allBad = await ingest([{ type: '' }, { type: 'llm.request' }]);
    expect(allBad.accepted).toBe(0);
    const dup = await ingest([out('s1', 8), { ...llm(9), version: undefined }]);
    expect(dup).toMatchObject({ accepted: 1, rejected: [{ code: 'duplicate_outcome' }] });
    const counts = await vigil.server.context.store.health.rejections('default', today, today);
    expect(counts).toEqual([{ project: 'default', day: today, count: 4 }]);
  });
});

describe('health API', () => {
  it('POST /api/health/snapshots stores a snapshot; a re-run is a new revision that keeps the old', async () => {
    const first = await call(vigil, 'POST', '/api/health/snapshots', {
      token: vigil.adminToken,
      json: { date: yesterday },
    });
    expect(first.status).toBe(201);
    expect(first.body).toMatchObject({
      project: 'default',
      date: yesterday,
      revision: 1,
      totalEvents: 7,
      eventsByType: { 'decision.recommendation': 2, 'decision.outcome': 2, 'llm.request': 3 },
      sampledEvents: 7,
      samplingSuccessRate: expect.closeTo(85.7143, 3), // the one event without a version tag
      versionMissingPercent: expect.closeTo(14.2857, 3),
      flags: { versionMismatch: true, errorSpike: false },
      isHealthy: false,
    });
    const again = await call(vigil, 'POST', '/api/health/snapshots', {
      token: vigil.adminToken,
      json: { date: yesterday },
    });
    expect(again.status).toBe(201);
    expect(again.body).toMatchObject({ revision: 2, totalEvents: 7 });
    expect((again.body as { sampleDigest: string }).sampleDigest).toBe(
      (first.body as { sampleDigest: string }).sampleDigest,
    );

    const latest = await call(vigil, 'GET', `/api/health/snapshots?from=${yesterday}&to=${yesterday}`, {
      token: viewer,
    });
    expect(latest.status).toBe(200);
    expect((latest.body as { snapshots: { revision: number }[] }).snapshots.map((s) => s.revision)).toEqual([
      2,
    ]);
    const all = await call(
      vigil,
      'GET',
      `/api/health/snapshots?from=${yesterday}&to=${yesterday}&revisions=all`,
      {
        token: viewer,
      },
    );
    expect((all.body as { snapshots: { revision: number }[] }).snapshots.map((s) => s.revision)).toEqual([
      1, 2,
    ]);
    const byDefault = await call(vigil, 'GET', '/api/health/snapshots', { token: viewer });
    expect(byDefault.body).toMatchObject({
      from: addDays(yesterday, -29),
      to: yesterday,
      snapshots: [{ revision: 2 }],
    });
  });

  it('GET /api/health/summary: latest snapshot, 7- and 30-day health, open flags', async () => {
    const res = await call(vigil, 'GET', '/api/health/summary', { token: viewer });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      project: 'default',
      latest: { date: yesterday, revision: 2 },
      last7Days: { days: 1, healthyDays: 0, healthyPercent: 0, flaggedDays: { versionMismatch: 1 } },
      last30Days: { days: 1 },
      openFlags: [{ flag: 'versionMismatch', severity: 'WARNING', date: yesterday }],
    });
    const other = await call(vigil, 'GET', '/api/health/summary', { token: otherViewer });
    expect(other.body).toMatchObject({
      project: 'other',
      latest: null,
      openFlags: [],
      last7Days: { days: 0 },
    });
  });

  it('GET /api/health/today: the figures of today so far, provisional and never stored', async () => {
    const ingestKey = await key({ role: 'ingest', project: 'newcomer' });
    const reader = await key({ role: 'viewer', project: 'newcomer' });
    const now = Date.now();
    const events = [
      ...Array.from({ length: 8 }, (_, i) => ({
        type: 'llm.request',
        ts: now - i * 1000,
        version: '1.0.0',
        props: { total_ms: 5 },
      })),
      { type: 'signup', ts: now - 5000 }, // no version tag: 1 of 9 is over the 1% threshold
      { type: 'llm.request', ts: now, props: { total_ms: -1 } }, // rejected
    ];
    const sent = await call(vigil, 'POST', '/v1/events', { token: ingestKey, json: { events } });
    expect(sent.body).toMatchObject({ accepted: 9, rejected: [{ index: 9 }] });
    const res = await call(vigil, 'GET', '/api/health/today', { token: reader });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      project: 'newcomer',
      date: today,
      provisional: true,
      notJudged: ['volumeAnomaly'],
      totalEvents: 9,
      acceptedEvents: 9,
      rejectedEvents: 1,
      errorRatePercent: 10,
      eventsByType: { 'llm.request': 8, signup: 1 },
      flags: { volumeAnomaly: false, errorSpike: true, versionMismatch: true, zeroActivity: false },
      isHealthy: false,
    });
    // Never stored: the project still has no snapshot.
    const summary = await call(vigil, 'GET', '/api/health/summary', { token: reader });
    expect(summary.body).toMatchObject({ project: 'newcomer', latest: null });
    expect((await call(vigil, 'GET', '/api/health/today', { token: ingestKey })).status).toBe(403);
  });

  it('refuses bad days, incomplete days, and anyone without the role', async () => {
    for (const date of [today, addDays(today, 3), '2026-02-30', 'yesterday']) {
      const res = await call(vigil, 'POST', '/api/health/snapshots', {
        token: vigil.adminToken,
        json: { date },
      });
      expect(res.status, date).toBe(400);
      expect(code(res)).toBe('invalid_body');
    }
    const bad = await call(vigil, 'GET', '/api/health/snapshots?from=2026-01-10&to=2026-01-01', {
      token: viewer,
    });
    expect(code(bad)).toBe('invalid_query');
    const long = await call(vigil, 'GET', '/api/health/snapshots?from=2024-01-01&to=2026-01-01', {
      token: viewer,
    });
    expect(code(long)).toBe('invalid_query');
    const asViewer = await call(vigil, 'POST', '/api/health/snapshots', {
      token: viewer,
      json: { date: yesterday },
    });
    expect(asViewer.status).toBe(403);
    const asIngest = await call(vigil, 'GET', '/api/health/summary', { token: vigil.ingestKey });
    expect(asIngest.status).toBe(403);
    expect((await call(vigil, 'GET', '/api/health/summary')).status).toBe(401);
    const crossProject = await call(vigil, 'GET', '/api/health/snapshots?project=default', {
      token: otherViewer,
    });
    expect(crossProject.status).toBe(403);
    const missing = await call(vigil, 'GET', '/api/health/summary?project=nope', { token: vigil.adminToken });
    expect(missing.status).toBe(404);
  });
});
