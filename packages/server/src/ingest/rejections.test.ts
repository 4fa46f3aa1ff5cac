import { afterEach, describe, expect, it } from 'vitest';
import { defaultConfig } from '../config/index.js';
import { openStore, type RejectionCount, type Store } from '../store/index.js';
import { scratchDirs } from '../test/harness.js';
import { GroupCommitter } from './committer.js';
import { scrubPolicy } from './scrub.js';
import { isRejection, type ValidEvent, validateEvent } from './validate.js';

const config = defaultConfig();
const dirs = scratchDirs();
let store: Store | null = null;
afterEach(async () => {
  await store?.close();
  store = null;
  dirs.cleanup();
});

const valid = (n: number, receivedAt: number): ValidEvent[] =>
  Array.from({ length: n }, () => {
    const v = validateEvent(
      { type: 'c.test' },
      {
        project: 'default',
        strictTypes: false,
        receivedAt,
        limits: config.ingest,
        privacy: scrubPolicy(config.privacy),
      },
    );
    if (isRejection(v)) throw new Error(v.message);
    return v;
  });

describe('rejection counting in the group commit', () => {
  it('records rejections with the commit, also for a request whose every event was rejected', async () => {
    store = await openStore({ dataDir: dirs.fresh() });
    const s = store;
    const recorded: RejectionCount[][] = [];
    const committer = new GroupCommitter(s.events, {
      maxInFlightEvents: 1_000,
      maxCommitEvents: 1_000,
      log: { warn: () => undefined, error: () => undefined } as never,
      recordRejections: async (counts) => {
        recorded.push([...counts]);
        await s.health.addRejections(counts);
      },
    });
    await committer.start();
    const t = Date.parse('2026-11-20T10:00:00Z');
    expect(await committer.submit(valid(3, t), { project: 'default', receivedAt: t, count: 2 })).toHaveLength(
      3,
    );
    expect(await committer.submit([], { project: 'default', receivedAt: t, count: 5 })).toEqual([]);
    // Nothing rejected: no extra write at all.
    await committer.submit(valid(2, t), { project: 'default', receivedAt: t, count: 0 });
    expect(recorded).toEqual([
      [{ project: 'default', day: '2026-11-20', count: 2 }],
      [{ project: 'default', day: '2026-11-20', count: 5 }],
    ]);
    expect(await s.health.rejections('default', '2026-11-20', '2026-11-20')).toEqual([
      { project: 'default', day: '2026-11-20', count: 7 },
    ]);
    await committer.close();
  });

  it('never fails or holds back an acknowledgement when the counters cannot be written', async () => {
    store = await openStore({ dataDir: dirs.fresh() });
    const warnings: unknown[] = [];
    const committer = new GroupCommitter(store.events, {
      maxInFlightEvents: 1_000,
      maxCommitEvents: 1_000,
      log: { warn: (obj: unknown) => warnings.push(obj), error: () => undefined } as never,
      recordRejections: async () => {
        throw new Error('counter table gone');
      },
    });
    await committer.start();
    const t = Date.now();
    const outcomes = await committer.submit(valid(4, t), { project: 'default', receivedAt: t, count: 1 });
    expect(outcomes).toEqual(Array(4).fill('stored'));
    expect(await store.events.countEvents()).toBe(4);
    expect(warnings).toHaveLength(1);
    await committer.close();
  });
});
