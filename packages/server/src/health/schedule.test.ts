import { randomUUID } from 'node:crypto';
import { afterEach, expect, it, vi } from 'vitest';
import { nextLink } from '../audit/index.js';
import { defaultConfig } from '../config/index.js';
import { emptyRow } from '../model/index.js';
import { openStore, type Store } from '../store/index.js';
import { scratchDirs } from '../test/harness.js';
import { DAY_MS, dayStart, daysBetween } from './days.js';
import { HealthMonitor } from './monitor.js';

const dirs = scratchDirs();
let store: Store | null = null;
afterEach(async () => {
  vi.useRealTimers();
  await store?.close();
  store = null;
  dirs.cleanup();
});

const until = async (check: () => Promise<boolean>) => {
  for (let i = 0; i < 200; i++) {
    if (await check()) return;
    await vi.advanceTimersByTimeAsync(10);
    await new Promise((r) => setImmediate(r));
  }
  throw new Error('timed out waiting');
};

it('catches up missed days on start, then snapshots each new day after dailyAtUtc, and stops cleanly', async () => {
  store = await openStore({ dataDir: dirs.fresh() });
  const s = store;
  await s.meta.ensureProject({ id: 'default', name: 'default', strictTypes: false, createdAt: 0 });
  const first = '2026-10-01';
  const rows = daysBetween(first, '2026-10-12').flatMap((day) =>
    Array.from({ length: 20 }, (_, i) => {
      const row = emptyRow();
      row.id = randomUUID();
      row.project = 'default';
      row.type = 'page.view';
      row.version = '1';
      row.ts = dayStart(day) + i * 3_600_000;
      row.received_at = row.ts;
      return row;
    }),
  );
  await s.events.appendBatch({
    rows,
    seal: () => ({ link: nextLink(null, rows, Date.now()), scrubbed: [] }),
  });

  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval'] });
  // Down since 2026-10-05: on start at 10-13 00:10 UTC, before dailyAtUtc, 10-12 is not due yet.
  let now = dayStart('2026-10-13') + 10 * 60_000;
  const monitor = new HealthMonitor({
    store: s,
    config: { ...defaultConfig().health, dailyAtUtc: '00:15', catchUpDays: 7 },
    ingest: defaultConfig().ingest,
    log: { error: () => undefined, warn: () => undefined, info: () => undefined },
    now: () => now,
    startDelayMs: 1_000,
  });
  const dates = async () => (await s.snapshots.list('default', first, '2026-10-31')).map((r) => r.date);
  monitor.start();
  expect(await dates()).toEqual([]); // nothing before the start delay
  await vi.advanceTimersByTimeAsync(1_000);
  await until(async () => (await dates()).length === 7);
  expect(await dates()).toEqual(daysBetween('2026-10-05', '2026-10-11'));

  // 00:15 passes: the timer fires and takes 10-12.
  now += 5 * 60_000;
  await vi.advanceTimersByTimeAsync(5 * 60_000 - 1_000);
  await until(async () => (await dates()).includes('2026-10-12'));
  expect(await dates()).toHaveLength(8);
  // A day later again (no events on 10-13: the project went silent).
  now += DAY_MS;
  await vi.advanceTimersByTimeAsync(DAY_MS);
  await until(async () => (await dates()).includes('2026-10-13'));
  const [silent] = await monitor.list('default', '2026-10-13', '2026-10-13');
  expect(silent?.flags.zeroActivity).toBe(true);
  expect(monitor.lastCompleteDay()).toBe('2026-10-13');
  await monitor.stop();
  vi.useRealTimers();
});
