import { afterEach, describe, expect, it } from 'vitest';
import { defaultConfig } from '../config/index.js';
import { GroupCommitter, isRejection, scrubPolicy, validateEvent } from '../ingest/index.js';
import { interceptStore, openStore, type RollupStore, type Store } from '../store/index.js';
import { validEvents } from '../test/events.js';
import { scratchDirs } from '../test/harness.js';
import { RollupMaintainer } from './maintainer.js';
import { llmSnapshot } from './query.js';

const silent = { error: () => undefined, debug: () => undefined } as never;
const config = defaultConfig();
const scratch = scratchDirs();
let store: Store | null = null;
afterEach(async () => {
  await store?.close();
  store = null;
  scratch.cleanup();
});

describe('RollupMaintainer', () => {
  it('flushes a batch too large for memory in parts and, after a crash between parts, folds each row once', async () => {
    store = await openStore({ dataDir: scratch.fresh() });
    const s = store;
    const committer = new GroupCommitter(s.events, {
      maxInFlightEvents: 10_000,
      maxCommitEvents: 10_000,
      log: silent,
    });
    await committer.start();
    // 3,000 events, each in a minute of its own over the last days: far more cells than the cap.
    const base = Math.floor(Date.now() / 60_000) * 60_000 - 3_000 * 60_000;
    const ctx = {
      project: 'default',
      strictTypes: false,
      receivedAt: Date.now(),
      limits: config.ingest,
      privacy: scrubPolicy(config.privacy),
    };
    const events = Array.from({ length: 3_000 }, (_, i) => {
      const v = validateEvent(
        { type: 'llm.request', ts: base + i * 60_000, props: { total_ms: 10, prompt_tokens: 1 } },
        ctx,
      );
      if (isRejection(v)) throw new Error(v.message);
      return v;
    });
    await committer.submit(events);

    // The first maintainer writes the first part, then "crashes": its second write never lands.
    let writes = 0;
    const crashing: Store = Object.create(s);
    const rollups: RollupStore = Object.create(s.rollups);
    rollups.write = async (...args) => {
      writes += 1;
      if (writes > 1) throw new Error('crash');
      return s.rollups.write(...args);
    };
    Object.defineProperty(crashing, 'rollups', { value: rollups });
    const first = new RollupMaintainer(crashing, {
      log: silent,
      maxPendingCells: 100,
      flushIntervalMs: 3_600_000,
    });
    await first.start(0);
    first.onCommitted(
      { chain: 'default', seq: 1, prevHash: '', hash: '', rowCount: 3_000, committedAt: Date.now() },
      events.map((e) => e.row),
    );
    await Promise.race([first.settled(), new Promise((r) => setTimeout(r, 2_000))]);
    await first.stop();
    expect(writes).toBeGreaterThan(1);
    const mark = await s.rollups.watermark('default');
    expect(mark).toEqual({ chain: 'default', seq: 0, rows: 2_000 });

    // A new maintainer resumes inside the batch: exactly 3,000 requests, none twice.
    const second = new RollupMaintainer(s, { log: silent, maxPendingCells: 100, flushIntervalMs: 3_600_000 });
    await second.start(committer.headSeq);
    await second.flushNow();
    expect(await s.rollups.watermark('default')).toEqual({ chain: 'default', seq: 1, rows: 0 });
    const snap = await llmSnapshot(s, null, 'default', base, base + 3_000 * 60_000);
    expect(snap.requestRate.total).toBe(3_000);
    expect(snap.tokens.promptTokens).toBe(3_000);
    await second.stop();
  });

  it('a read across a flush sees each delta once (its stored rows read before the write, its pending after)', async () => {
    store = await openStore({ dataDir: scratch.fresh() });
    const real = store;
    // Reads of stored rollups run at once but their answers are held while `hold` is set.
    let hold: Promise<void> | null = null;
    let readStarted: (value?: unknown) => void = () => undefined;
    const started = new Promise((resolve) => {
      readStarted = resolve;
    });
    const wrapped = interceptStore(
      () => real,
      (call) => {
        if (call.part !== 'rollups' || call.method !== 'read' || !hold) return call.invoke();
        const gate = hold;
        return (async () => {
          const answer = await call.invoke();
          readStarted();
          await gate;
          return answer;
        })();
      },
    );
    const m = new RollupMaintainer(wrapped, { log: silent, flushIntervalMs: 3_600_000 });
    const committer = new GroupCommitter(wrapped.events, {
      maxInFlightEvents: 1_000,
      maxCommitEvents: 1_000,
      log: silent,
      onCommitted: (link, rows) => m.onCommitted(link, rows),
    });
    try {
      await committer.start();
      await m.start(committer.headSeq);
      const now = Date.now();
      const events = validEvents(
        Array.from({ length: 10 }, (_, i) => ({
          type: 'llm.request',
          ts: now - i * 1000,
          props: { total_ms: 5 },
        })),
      );
      await committer.submit(events);
      await m.settled();
      let release: () => void = () => undefined;
      hold = new Promise<void>((resolve) => {
        release = resolve;
      });
      // The stored rows are read (none yet), then the flush writes all ten before the read goes on.
      const reading = llmSnapshot(wrapped, m, 'default', now - 3_600_000, now + 1);
      await started;
      await m.flushNow();
      hold = null;
      release();
      expect((await reading).requestRate.total).toBe(10);
      expect((await llmSnapshot(wrapped, m, 'default', now - 3_600_000, now + 1)).requestRate.total).toBe(10);
    } finally {
      await m.stop();
    }
  });
});
