/**
 * A failing commit at every step of the write: the engine-neutral fault wrapper fails the n-th
 * store call of a commit, before or after the engine ran it, for every n the commit makes. Each
 * time the submission is all or nothing, acknowledged events are stored, a retry stores the rest
 * exactly once, the next fresh batch commits, and the audit chain verifies.
 */
import { rmSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { verifyChain } from '../audit/index.js';
import type { EventRow } from '../model/index.js';
import { type FaultTiming, FaultyStore, openStore, type Store } from '../store/index.js';
import { validEvents } from '../test/events.js';
import { tempDir } from '../test/harness.js';
import { GroupCommitter } from './committer.js';
import type { ValidEvent } from './validate.js';

const log = { error: () => undefined, warn: () => undefined } as never;
let signal = 0;

/** Plain events, one decision.outcome (its signal index is written too) and one scrubbed prop. */
function batch(): ValidEvent[] {
  const raw = [
    ...Array.from({ length: 8 }, (_, i) => ({ type: 'c.test', props: { i } })),
    { type: 'decision.outcome', props: { signal_id: `sig-${++signal}`, outcome_status: 'confirmed' } },
    { type: 'c.test', props: { email: 'someone@example.com' } },
  ];
  return validEvents(raw);
}

async function storedIds(store: Store): Promise<string[]> {
  const rows: EventRow[] = await store.events.listEvents({ project: 'default', limit: 100_000 });
  return rows.map((r) => r.id);
}

let dir = '';
let store: Store | null = null;
afterEach(async () => {
  await store?.close();
  store = null;
  rmSync(dir, { recursive: true, force: true });
});

describe('a failing commit at every step of the write', () => {
  for (const timing of ['before', 'after'] as FaultTiming[]) {
    it(`is all or nothing when the n-th store call fails ${timing} the engine ran it`, async () => {
      dir = tempDir();
      store = await openStore({ dataDir: dir });
      const faulty = new FaultyStore(store);
      const committer = new GroupCommitter(faulty.store.events, {
        maxInFlightEvents: 1000,
        maxCommitEvents: 1000,
        log,
        recordRejections: (counts) => faulty.store.health.addRejections(counts),
      });
      await committer.start();
      const acked = new Set<string>();
      let steps = 0;
      for (let n = 1; ; n++) {
        const events = batch();
        const ids = events.map((e) => e.row.id);
        faulty.arm({ nth: n, timing });
        const before = faulty.injected;
        const outcome = await committer.submit(events).then(
          () => 'acked' as const,
          (err: { code?: string; status?: number }) => err,
        );
        faulty.disarm();
        if (faulty.injected === before) {
          // n is past the last call of a commit: every step has had its fault.
          expect(outcome).toBe('acked');
          for (const id of ids) acked.add(id);
          steps = n - 1;
          break;
        }
        const stored = new Set(await storedIds(store));
        const present = ids.filter((id) => stored.has(id)).length;
        expect([0, ids.length], `step ${n}: ${present} of ${ids.length} stored`).toContain(present);
        if (outcome === 'acked') {
          expect(present).toBe(ids.length);
        } else {
          expect(outcome).toMatchObject({ status: 503 });
        }
        // The client retries the same events: each is stored once.
        const retried = await committer.submit(events);
        expect(retried.every((o) => o === 'stored' || o === 'duplicate')).toBe(true);
        for (const id of ids) acked.add(id);
        // A fresh batch commits after the fault (the chain head is the store's again).
        const fresh = batch();
        expect(await committer.submit(fresh)).toEqual(Array(fresh.length).fill('stored'));
        for (const e of fresh) acked.add(e.row.id);
      }
      // At least the append (idempotency is part of it: one call does the check and the write).
      expect(steps).toBeGreaterThanOrEqual(1);
      const stored = await storedIds(store);
      expect(stored.length).toBe(new Set(stored).size);
      expect(new Set(stored)).toEqual(acked);
      const report = await verifyChain(store.events);
      expect(report).toMatchObject({ ok: true, events: acked.size });
      await committer.close();
    });
  }
});
