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
