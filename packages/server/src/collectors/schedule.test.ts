import { afterEach, describe, expect, it } from 'vitest';
import { openStore } from '../store/index.js';
import { scratchDirs } from '../test/harness.js';
import { CollectorOrchestrator } from './orchestrator.js';
import { hang, json, serve, type TestServer } from './test-servers.js';

const scratch = scratchDirs();
const servers: TestServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
  scratch.cleanup();
});

const silent = { info: () => undefined, warn: () => undefined, error: () => undefined };

describe('collector schedule', () => {
  it('runs due collectors together on their intervals; a hanging one neither delays nor blocks the next rounds', async () => {
    const store = await openStore({ dataDir: scratch.fresh() });
    const fast = await serve(json({ status: 'ok', version: '1' }));
    const stuck = await serve(hang);
    servers.push(fast, stuck);
    const orchestrator = new CollectorOrchestrator({
      store,
      log: silent,
      configured: [
        { type: 'http-health', name: 'fast', url: `${fast.url}/h`, intervalMs: 1000, timeoutMs: 900 },
        { type: 'http-health', name: 'stuck', url: `${stuck.url}/h`, intervalMs: 1000, timeoutMs: 400 },
        {
          type: 'http-health',
          name: 'slow-cadence',
          url: `${fast.url}/h`,
          intervalMs: 60_000,
          timeoutMs: 400,
        },
        { type: 'http-health', name: 'off', url: `${fast.url}/h`, enabled: false },
      ],
    });
    try {
      const t0 = Date.now();
      await orchestrator.start();
      await new Promise((r) => setTimeout(r, 2600));
      await orchestrator.stop();
      const runs = await store.collectors.runs('default', { limit: 100 });
      const of = (name: string) => runs.filter((r) => r.collector === name).reverse();
      // Due at 0, ~1 s and ~2 s.
      expect(of('fast').length).toBeGreaterThanOrEqual(2);
      expect(of('fast').length).toBeLessThanOrEqual(4);
      expect(of('fast').every((r) => r.outcome === 'ok')).toBe(true);
      expect(of('stuck').length).toBe(of('fast').length);
      expect(of('stuck').every((r) => r.outcome === 'timeout')).toBe(true);
      // Collectors due at the same time share a round and its snapshot id; rounds differ.
      expect(of('stuck').map((r) => r.snapshotId)).toEqual(of('fast').map((r) => r.snapshotId));
      expect(new Set(of('fast').map((r) => r.snapshotId)).size).toBe(of('fast').length);
      const starts = of('fast').map((r) => r.startedAt);
      // Due times are a fixed cadence from the first; a late start does not shift the next one.
      for (let i = 1; i < starts.length; i++) {
        expect(starts[i] ?? 0).toBeGreaterThanOrEqual(t0 + i * 1000 - 25);
      }
      // The fast one answers well within the round the stuck one holds open to its timeout.
      const fastest = of('fast')
        .map((r) => r.durationMs)
        .sort((a, b) => a - b);
      expect(fastest[0]).toBeLessThan(300);
      expect(of('slow-cadence')).toHaveLength(1);
      expect(of('off')).toHaveLength(0);
      // Stopped: nothing runs any more.
      const count = (await store.collectors.runs('default', { limit: 100 })).length;
      await new Promise((r) => setTimeout(r, 1200));
      expect((await store.collectors.runs('default', { limit: 100 })).length).toBe(count);
    } finally {
      await orchestrator.stop();
      await store.close();
    }
  });
});
