import { afterEach, describe, expect, it } from 'vitest';
import { defaultConfig } from '../config/index.js';
import { GroupCommitter, isRejection, scrubPolicy, validateEvent } from '../ingest/index.js';
import { openStore, type RollupStore, type Store } from '../store/index.js';
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
      { seq: 1, prevHash: '', hash: '', rowCount: 3_000, committedAt: Date.now() },
      events.map((e) => e.row),
    );
    await Promise.race([first.settled(), new Promise((r) => setTimeout(r, 2_000))]);
    await first.stop();
    expect(writes).toBeGreaterThan(1);
    const mark = await s.rollups.watermark();
    expect(mark).toEqual({ seq: 0, rows: 2_000 });

    // A new maintainer resumes inside the batch: exactly 3,000 requests, none twice.
    const second = new RollupMaintainer(s, { log: silent, maxPendingCells: 100, flushIntervalMs: 3_600_000 });
    await second.start(committer.headSeq);
    await second.flushNow();
    expect(await s.rollups.watermark()).toEqual({ seq: 1, rows: 0 });
    const snap = await llmSnapshot(s, null, 'default', base, base + 3_000 * 60_000);
    expect(snap.requestRate.total).toBe(3_000);
    expect(snap.tokens.promptTokens).toBe(3_000);
    await second.stop();
  });
});
