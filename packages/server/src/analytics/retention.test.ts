import { afterEach, describe, expect, it } from 'vitest';
import { verifyChain } from '../audit/index.js';
import { call, readEvents, scratchDirs, startVigil, type Vigil } from '../test/harness.js';

const scratch = scratchDirs();
afterEach(scratch.cleanup);
const DAY = 86_400_000;

async function seed(vigil: Vigil, daysAgo: number, n: number) {
  const day = Math.floor(Date.now() / DAY) * DAY - daysAgo * DAY;
  const events = Array.from({ length: n }, (_, i) => ({
    type: 'llm.request',
    ts: day + 3_600_000 + i * 1000,
    props: {
      total_ms: 100 + i,
      context_ms: 5,
      llm_ms: 90,
      prompt_tokens: i,
      completion_tokens: 2,
      user: `u${i % 4}`,
      space: `s${i % 2}`,
    },
  }));
  expect(
    (await call(vigil, 'POST', '/v1/events', { token: vigil.ingestKey, json: { events } })).body,
  ).toMatchObject({ accepted: n });
  return day;
}

const metricsOf = async (vigil: Vigil, day: number) => {
  const q = (type: string) =>
    call(
      vigil,
      'GET',
      `/api/metrics/historical?type=${type}&aggregation=hour&start=${day}&end=${day + DAY}`,
      { token: vigil.adminToken },
    );
  return Promise.all(
    ['requestRate', 'totalLatency', 'totalTokens', 'cacheHitRate'].map(async (t) => (await q(t)).body),
  );
};

describe('retention', () => {
  it('expires raw events past retention while the metrics for their range stay identical', async () => {
    const vigil = await startVigil({ dataDir: scratch.fresh() });
    try {
      const old = await seed(vigil, 10, 120);
      await seed(vigil, 1, 30);
      await vigil.server.context.rollups.flushNow();
      const before = await metricsOf(vigil, old);
      expect(await readEvents(vigil)).toHaveLength(150);

      const results = await vigil.server.context.retention.run();
      expect(results.find((r) => r.project === 'default')).toMatchObject({
        rawDeleted: 120,
        rawDeferred: false,
      });
      expect(await readEvents(vigil)).toHaveLength(30);
      expect(await metricsOf(vigil, old)).toEqual(before);

      const report = await verifyChain(vigil.server.context.store.events);
      expect(report.ok).toBe(true);
      expect(report.expiredBatches).toBeGreaterThan(0);
    } finally {
      await vigil.stop();
    }
  });

  it('keeps raw events that the rollups do not cover yet', async () => {
    const vigil = await startVigil({ dataDir: scratch.fresh() });
    try {
      const maintainer = vigil.server.context.rollups as unknown as { timers: NodeJS.Timeout[] };
      for (const t of maintainer.timers) clearInterval(t);
      await seed(vigil, 10, 20);
      const [result] = await vigil.server.context.retention.run();
      expect(result).toMatchObject({ rawDeleted: 0, rawDeferred: true });
      expect(await readEvents(vigil)).toHaveLength(20);
    } finally {
      await vigil.stop();
    }
  });

  it('takes per-project settings and refuses rollups that would not outlive raw events', async () => {
    const vigil = await startVigil({ dataDir: scratch.fresh() });
    try {
      const patch = (retention: unknown) =>
        call(vigil, 'PATCH', '/api/projects/default', { token: vigil.adminToken, json: { retention } });
      const ok = await patch({ rawDays: 3 });
      expect(ok.status).toBe(200);
      expect((ok.body as { retention: unknown }).retention).toEqual({
        rawDays: 3,
        rollupDays: 30,
        dailyRollupDays: 400,
      });
      const bad = await patch({ rawDays: 40 });
      expect(bad.status).toBe(400);
      expect((bad.body as { error: { code: string; message: string } }).error.message).toMatch(
        /rollupDays must be at least rawDays/,
      );
      await seed(vigil, 4, 10);
      await vigil.server.context.rollups.flushNow();
      const [result] = await vigil.server.context.retention.run();
      expect(result?.rawDeleted).toBe(10);
    } finally {
      await vigil.stop();
    }
  });
});
