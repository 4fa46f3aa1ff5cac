/**
 * The scheduler lease across real processes: servers sharing one PostgreSQL (each with a data
 * directory of its own for events) agree on one holder of the scheduled work; when the holder is
 * killed, another takes the lease over within 30 s, and a holder that stops frees it at once.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { openPostgresStore } from '../store/postgres/index.js';
import { scratchDirs } from '../test/harness.js';
import { usePostgres } from '../test/postgres.js';
import { spawnServer, stopSpawned } from '../test/process.js';

const postgres = usePostgres();
const scratch = scratchDirs();
afterEach(async () => {
  await stopSpawned();
  scratch.cleanup();
});

const env = (instance: string) => ({
  VIGIL_ADMIN_TOKEN: 'lease-test-admin-token-0123456789',
  VIGIL_INSTANCE_ID: instance,
});

describe('the scheduler lease', () => {
  it('one instance holds it; a killed holder is replaced within 30 s, a stopped one at once', async () => {
    const url = await postgres.fresh();
    const meta = await openPostgresStore({ url });
    const holder = async () => (await meta.leases.get('scheduler'))?.holder.split('/')[0] ?? null;
    /** Waits until the holder is `instance`, failing after `limitMs`. */
    const until = async (instance: string, limitMs: number) => {
      const started = Date.now();
      while ((await holder()) !== instance) {
        if (Date.now() - started > limitMs)
          throw new Error(`the lease is held by ${await holder()}, not ${instance}, after ${limitMs} ms`);
        await new Promise((r) => setTimeout(r, 250));
      }
    };
    try {
      const a = await spawnServer(scratch.fresh(), env('node-a'), ['--postgres', url]);
      await until('node-a', 10_000);
      const b = await spawnServer(scratch.fresh(), env('node-b'), ['--postgres', url]);
      const c = await spawnServer(scratch.fresh(), env('node-c'), ['--postgres', url]);
      // The others try every few seconds and stay out while the holder renews.
      await new Promise((r) => setTimeout(r, 6_000));
      expect(await holder()).toBe('node-a');
      const term = (await meta.leases.get('scheduler'))?.term ?? 0;

      // Killed: nothing releases the lease; it runs out and one of the others takes it.
      a.child.kill('SIGKILL');
      await a.exited;
      const started = Date.now();
      while (!['node-b', 'node-c'].includes((await holder()) ?? '')) {
        if (Date.now() - started > 30_000) throw new Error('no instance took the lease over within 30 s');
        await new Promise((r) => setTimeout(r, 250));
      }
      const taken = await meta.leases.get('scheduler');
      expect(taken?.term).toBe(term + 1);

      // Stopped: the holder frees it on its way out and the last one takes it at its next try.
      const [next, last] = taken?.holder.startsWith('node-b/') ? [b, 'node-c'] : [c, 'node-b'];
      next.child.kill('SIGTERM');
      expect(await next.exited).toBe(0);
      await until(last, 10_000);
    } finally {
      await meta.close();
    }
  }, 120_000);
});
