import { rmSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { verifyChain } from '../audit/index.js';
import { defaultConfig } from '../config/index.js';
import type { AppendBatch, EventStore, Store } from '../store/index.js';
import { openStore } from '../store/index.js';
import { tempDir } from '../test/harness.js';
import { GroupCommitter } from './committer.js';
import { scrubPolicy } from './scrub.js';
import { isRejection, type ValidEvent, validateEvent } from './validate.js';

const silent = { error: () => undefined } as never;
const config = defaultConfig();
const events = (n: number, type = 'c.test'): ValidEvent[] =>
  Array.from({ length: n }, () => {
    const v = validateEvent(
      { type },
      {
        project: 'default',
        strictTypes: false,
        receivedAt: Date.now(),
        limits: config.ingest,
        privacy: scrubPolicy(config.privacy),
      },
    );
    if (isRejection(v)) throw new Error(v.message);
    return v;
  });

let store: Store | null = null;
let dir = '';
afterEach(async () => {
  await store?.close();
  store = null;
  rmSync(dir, { recursive: true, force: true });
});

/** The real DuckDB event store, with each append held until the test releases it. */
function gated(inner: EventStore) {
  const waiting: (() => void)[] = [];
  const appended: number[] = [];
  // A release given before the append arrives is kept for it (a loaded machine is slow to get there).
  let permits = 0;
  const events: EventStore = Object.create(inner);
  events.appendBatch = async (batch: AppendBatch) => {
    if (permits > 0) permits -= 1;
    else await new Promise<void>((r) => waiting.push(r));
    appended.push(batch.rows.length);
    return inner.appendBatch(batch);
  };
  return {
    events,
    appended,
    release: () => {
      const held = waiting.splice(0);
      if (held.length === 0) permits += 1;
      for (const r of held) r();
    },
  };
}

describe('GroupCommitter', () => {
  it('groups submissions that arrive during a commit into one append, and sheds beyond its bound', async () => {
    dir = tempDir();
    store = await openStore({ dataDir: dir });
    const gate = gated(store.events);
    const committer = new GroupCommitter(gate.events, {
      maxInFlightEvents: 100,
      maxCommitEvents: 1000,
      log: silent,
    });
    await committer.start();

    const first = committer.submit(events(10));
    await new Promise((r) => setTimeout(r, 20)); // first commit is now held at the gate
    const queued = [committer.submit(events(30)), committer.submit(events(30)), committer.submit(events(29))];
    expect(committer.inFlight).toBe(99);
    await expect(committer.submit(events(2))).rejects.toMatchObject({ code: 'overloaded', retryAfter: 1 });

    gate.release();
    expect(await first).toHaveLength(10);
    await new Promise((r) => setTimeout(r, 20));
    const released = Date.now();
    gate.release();
    const outcomes = await Promise.all(queued);
    // The second batch was sealed ahead, while the first committed (before its own append was let
    // through), and its link holds.
    expect((await store.events.chainHead('default'))?.committedAt).toBeLessThan(released);
    expect(await verifyChain(store.events)).toEqual({ ok: true, batches: 2, events: 99 });
    expect(outcomes.map((o) => o.length)).toEqual([30, 30, 29]);
    expect(outcomes.flat().every((o) => o === 'stored')).toBe(true);
    expect(gate.appended).toEqual([10, 89]);
    expect(committer.inFlight).toBe(0);
    expect(await store.events.countEvents()).toBe(99);

    await committer.close();
    await expect(committer.submit(events(1))).rejects.toMatchObject({ code: 'shutting_down' });
  });

  it('acknowledges nothing of a batch whose commit fails, and keeps the chain intact for the next', async () => {
    dir = tempDir();
    store = await openStore({ dataDir: dir });
    const inner = store.events;
    let fail = true;
    const flaky: EventStore = Object.create(inner);
    flaky.appendBatch = async (batch) => {
      if (fail) throw new Error('disk full');
      return inner.appendBatch(batch);
    };
    const committer = new GroupCommitter(flaky, {
      maxInFlightEvents: 100,
      maxCommitEvents: 100,
      log: silent,
    });
    await committer.start();
    const batch = events(5);
    await expect(committer.submit(batch)).rejects.toMatchObject({ code: 'commit_failed', status: 503 });
    fail = false;
    expect(await committer.submit(batch)).toEqual(Array(5).fill('stored'));
    expect((await inner.chainHead('default'))?.seq).toBe(1);
  });

  it('seals a batch readied during a commit that then fails again, on the head the store holds', async () => {
    dir = tempDir();
    store = await openStore({ dataDir: dir });
    const inner = store.events;
    let fail = true;
    const flaky: EventStore = Object.create(inner);
    flaky.appendBatch = async (batch) => {
      if (!fail) return inner.appendBatch(batch);
      fail = false;
      // Fails after sealing, once the next batch has been readied on the link it will never have.
      batch.seal(batch.rows);
      await new Promise((r) => setTimeout(r, 20));
      throw new Error('disk full');
    };
    const committer = new GroupCommitter(flaky, {
      maxInFlightEvents: 100,
      maxCommitEvents: 100,
      log: silent,
    });
    await committer.start();
    const failed = committer.submit(events(5));
    const next = committer.submit(events(7));
    await expect(failed).rejects.toMatchObject({ code: 'commit_failed' });
    expect(await next).toEqual(Array(7).fill('stored'));
    expect(await verifyChain(inner)).toEqual({ ok: true, batches: 1, events: 7 });
  });
});
