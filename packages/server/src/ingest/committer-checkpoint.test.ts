import { afterEach, describe, expect, it } from 'vitest';
import { verifyChain } from '../audit/index.js';
import { defaultConfig } from '../config/index.js';
import type { AppendBatch, EventStore, Store } from '../store/index.js';
import { openStore } from '../store/index.js';
import { scratchDirs } from '../test/harness.js';
import { GroupCommitter } from './committer.js';
import { scrubPolicy } from './scrub.js';
import { isRejection, type ValidEvent, validateEvent } from './validate.js';

const silent = { error: () => undefined, warn: () => undefined } as never;
const config = defaultConfig();
const scratch = scratchDirs();
let store: Store | null = null;
afterEach(async () => {
  await store?.close();
  store = null;
  scratch.cleanup();
});

const events = (n: number): ValidEvent[] =>
  Array.from({ length: n }, () => {
    const v = validateEvent(
      { type: 'c.test' },
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

describe('a chain continued after its checkpoint', () => {
  it('keeps its numbers after the checkpoint, also when a commit fails and the head is read again', async () => {
    store = await openStore({ dataDir: scratch.fresh() });
    // The store holds batch 1; a checkpoint records batch 3 (2 and 3 were deleted from the store).
    const first = new GroupCommitter(store.events, {
      maxInFlightEvents: 1000,
      maxCommitEvents: 1000,
      log: silent,
    });
    await first.start();
    await first.submit(events(2));
    await first.close();
    const checkpoint = { seq: 3, hash: 'f'.repeat(64), committedAt: Date.now() };

    let failNext = true;
    const failing: EventStore = Object.create(store.events);
    failing.appendBatch = async (batch: AppendBatch) => {
      if (failNext) {
        failNext = false;
        throw new Error('disk on fire');
      }
      return (store as Store).events.appendBatch(batch);
    };
    const committer = new GroupCommitter(failing, {
      maxInFlightEvents: 1000,
      maxCommitEvents: 1000,
      log: silent,
    });
    expect(await committer.start(checkpoint)).toEqual({ behindCheckpoint: true, storeHeadSeq: 1 });
    await expect(committer.submit(events(1))).rejects.toThrow();
    await committer.submit(events(1));
    expect(committer.headSeq).toBe(4);
    expect((await store.events.chainHead('default'))?.prevHash).toBe(checkpoint.hash);
    // The gap stays visible.
    expect((await verifyChain(store.events)).firstBad).toMatchObject({ seq: 4 });
    await committer.close();
  });
});
