import { afterEach, describe, expect, it } from 'vitest';
import type { MetricSample } from '../../model/index.js';
import { scratchDirs } from '../../test/harness.js';
import { openDuckDBStore } from './index.js';

const scratch = scratchDirs();
afterEach(scratch.cleanup);

const T0 = Date.UTC(2026, 10, 1, 12);

function sample(over: Partial<MetricSample>): MetricSample {
  return {
    project: 'p',
    name: 'up',
    labels: {},
    value: 1,
    ts: T0,
    kind: 'gauge',
    source: 'collector:a',
    snapshotId: null,
    ...over,
  };
}

describe('sample store', () => {
  it('appends samples and reads them back by name, labels and range, newest first', async () => {
    const store = await openDuckDBStore({ dataDir: scratch.fresh() });
    try {
      await store.samples.append([
        sample({ labels: { b: '2', a: '1' }, value: 1, ts: T0 }),
        sample({ labels: { a: '1', b: '2' }, value: 0, ts: T0 + 60_000, snapshotId: 's2' }),
        sample({ labels: { a: 'x"y' }, value: 5, ts: T0 + 30_000 }),
        sample({ name: 'cpu', kind: 'counter', value: 9, ts: T0 }),
        sample({ project: 'other', value: 7 }),
      ]);
      const up = await store.samples.list({
        project: 'p',
        name: 'up',
        from: T0,
        to: T0 + 120_000,
        limit: 10,
      });
      expect(up.map((s) => [s.value, s.ts])).toEqual([
        [0, T0 + 60_000],
        [5, T0 + 30_000],
        [1, T0],
      ]);
      expect(up[0]).toMatchObject({ labels: { a: '1', b: '2' }, snapshotId: 's2', kind: 'gauge' });

      const quoted = await store.samples.list({
        project: 'p',
        from: T0,
        to: T0 + 120_000,
        labels: { a: 'x"y' },
        limit: 10,
      });
      expect(quoted.map((s) => s.value)).toEqual([5]);

      const series = await store.samples.series({ project: 'p', from: T0, to: T0 + 120_000 });
      expect(series.map((s) => [s.name, s.labels, s.samples, s.lastValue])).toEqual([
        ['cpu', {}, 1, 9],
        ['up', { a: '1', b: '2' }, 2, 0],
        ['up', { a: 'x"y' }, 1, 5],
      ]);
      expect(
        await store.samples.series({ project: 'p', from: T0, to: T0 + 1, namePrefix: 'cp' }),
      ).toHaveLength(1);

      expect(await store.samples.expire('p', T0 + 30_000)).toBe(2);
      expect(await store.samples.list({ project: 'other', from: 0, to: T0 + 1, limit: 10 })).toHaveLength(1);
    } finally {
      await store.close();
    }
  });
});

describe('sample rollups', () => {
  it('every append writes 1m/1h/1d deltas that merge at read time and compact to the same answer', async () => {
    const store = await openDuckDBStore({ dataDir: scratch.fresh() });
    try {
      const HOUR = 3_600_000;
      // Two appends into the same buckets: a delta row each, merged when read.
      await store.samples.append([
        sample({ labels: { v: 'a' }, value: 2, ts: T0 + 1_000 }),
        sample({ labels: { v: 'a' }, value: 4, ts: T0 + 2_000 }),
        sample({ labels: { v: 'b' }, value: 10, ts: T0 + 1_000 }),
      ]);
      await store.samples.append([
        sample({ labels: { v: 'a' }, value: 1, ts: T0 + 30_000 }),
        sample({ labels: { v: 'a' }, value: Number.NaN, ts: T0 + 40_000 }),
        sample({ labels: { v: 'a' }, value: 9, ts: T0 + 61_000 }),
        sample({ labels: { v: 'a' }, value: 5, ts: T0 + 2 * HOUR }),
      ]);
      const q = { project: 'p', name: 'up', from: T0, to: T0 + 3 * HOUR, maxSeries: 10 };
      const minutes = await store.samples.history({ ...q, bucket: 'minute' });
      expect(
        minutes.map((r) => [r.labels.v, r.bucket - T0, r.count, r.sum, r.min, r.max, r.lastValue]),
      ).toEqual([
        ['a', 0, 3, 7, 1, 4, 1],
        ['a', 60_000, 1, 9, 9, 9, 9],
        ['a', 2 * HOUR, 1, 5, 5, 5, 5],
        ['b', 0, 1, 10, 10, 10, 10],
      ]);
      const hours = await store.samples.history({ ...q, bucket: 'hour', labels: { v: 'a' } });
      expect(hours.map((r) => [r.bucket - T0, r.count, r.sum, r.lastValue])).toEqual([
        [0, 4, 16, 9],
        [2 * HOUR, 1, 5, 5],
      ]);
      const days = await store.samples.history({ ...q, from: Date.UTC(2026, 10, 1), bucket: 'day' });
      expect(days.map((r) => [r.labels.v, r.count, r.sum])).toEqual([
        ['a', 5, 21],
        ['b', 1, 10],
      ]);
      expect(await store.samples.history({ ...q, bucket: 'minute', maxSeries: 1 })).toHaveLength(3);
      // Weeks (ISO, from Monday) and calendar months merge the daily rows.
      const monday = Date.UTC(2026, 9, 26); // T0 is Sunday 2026-11-01
      const weeks = await store.samples.history({ ...q, from: monday, bucket: 'week' });
      expect(weeks.map((r) => [r.labels.v, r.bucket, r.count])).toEqual([
        ['a', monday, 5],
        ['b', monday, 1],
      ]);
      const months = await store.samples.history({ ...q, from: Date.UTC(2026, 10, 1), bucket: 'month' });
      expect(months.map((r) => [r.labels.v, r.bucket, r.sum])).toEqual([
        ['a', Date.UTC(2026, 10, 1), 21],
        ['b', Date.UTC(2026, 10, 1), 10],
      ]);

      // Compaction merges the delta rows of a key into one and changes no answer.
      const merged = await store.samples.compactRollups(0);
      expect(merged).toBeGreaterThan(0);
      expect(await store.samples.compactRollups(0)).toBe(0);
      expect(await store.samples.history({ ...q, bucket: 'minute' })).toEqual(minutes);
      expect(await store.samples.history({ ...q, bucket: 'hour', labels: { v: 'a' } })).toEqual(hours);

      // Raw samples may expire; the rollups still answer.
      await store.samples.expire('p', T0 + 10 * HOUR);
      expect(await store.samples.history({ ...q, bucket: 'minute' })).toEqual(minutes);
      expect(await store.samples.expireRollups('p', ['1m'], T0 + 10 * HOUR)).toBe(4);
      expect(await store.samples.history({ ...q, bucket: 'minute' })).toEqual([]);
      expect(await store.samples.history({ ...q, bucket: 'hour', labels: { v: 'a' } })).toEqual(hours);
    } finally {
      await store.close();
    }
  });
});

describe('collector store', () => {
  it('keeps configs unique per project, the run log, the latest run with streaks, deployments and the public switch', async () => {
    const store = await openDuckDBStore({ dataDir: scratch.fresh() });
    try {
      const c = store.collectors;
      const rec = {
        id: 'c1',
        project: 'p',
        name: 'agent-1',
        type: 'http-health',
        spec: '{"url":"http://127.0.0.1:1/health"}',
        secret: 'v1:sealed',
        createdAt: T0,
        updatedAt: T0,
      };
      expect(await c.insertCollector(rec)).toBe(true);
      expect(await c.insertCollector({ ...rec, id: 'c2' })).toBe(false);
      expect(await c.insertCollector({ ...rec, id: 'c3', project: 'q' })).toBe(true);
      expect((await c.listCollectors('p')).map((r) => [r.id, r.secret])).toEqual([['c1', 'v1:sealed']]);
      expect(await c.listCollectors(null)).toHaveLength(2);

      const run = (at: number, outcome: 'ok' | 'error' | 'timeout') => ({
        snapshotId: `s${at}`,
        project: 'p',
        collector: 'agent-1',
        type: 'http-health',
        startedAt: T0 + at,
        durationMs: 12.5,
        outcome,
        error: outcome === 'ok' ? null : 'boom',
        samples: outcome === 'ok' ? 3 : 0,
        result: outcome === 'ok' ? '{"status":"up"}' : null,
      });
      await c.recordRuns([run(1, 'ok')]);
      await c.recordRuns([run(2, 'error')]);
      await c.recordRuns([run(3, 'timeout')]);
      let [latest] = await c.latest('p');
      expect(latest).toMatchObject({ lastOkAt: T0 + 1, consecutiveFailures: 2, run: { snapshotId: 's3' } });
      await c.recordRuns([run(4, 'ok')]);
      [latest] = await c.latest('p');
      expect(latest).toMatchObject({ lastOkAt: T0 + 4, consecutiveFailures: 0 });
      expect(JSON.parse(latest?.run.result ?? 'null')).toEqual({ status: 'up' });
      expect((await c.runs('p', { limit: 10 })).map((r) => r.snapshotId)).toEqual(['s4', 's3', 's2', 's1']);
      expect(await c.expireRuns(T0 + 3)).toBe(2);
      await c.forgetLatest('p', 'agent-1');
      expect(await c.latest('p')).toEqual([]);
      expect(await c.deleteCollector('p', 'agent-1')).toBe(true);
      expect(await c.deleteCollector('p', 'agent-1')).toBe(false);

      await c.insertDeployment({
        id: 'd1',
        project: 'p',
        service: 'api',
        version: '1.2.0',
        status: 'succeeded',
        startedAt: T0,
        finishedAt: T0 + 5_000,
        receivedAt: T0 + 6_000,
        source: 'webhook',
      });
      await c.insertDeployment({
        id: 'd2',
        project: 'p',
        service: 'api',
        version: '1.3.0',
        status: 'started',
        startedAt: T0 + 60_000,
        finishedAt: null,
        receivedAt: T0 + 60_000,
        source: 'webhook',
      });
      const deployments = await c.deployments('p', { limit: 10 });
      expect(deployments.map((d) => [d.id, d.finishedAt])).toEqual([
        ['d2', null],
        ['d1', T0 + 5_000],
      ]);

      expect(await c.publicEnabled('p')).toBe(true);
      await c.setPublicEnabled('p', false);
      expect(await c.publicEnabled('p')).toBe(false);
      expect(await c.publicEnabled('q')).toBe(true);
    } finally {
      await store.close();
    }
  });
});
