import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type Batch, EventQueue } from './event-queue.js';

describe('EventQueue', () => {
  it('drops the oldest events when a new one does not fit, and counts them', () => {
    const q = new EventQueue(300);
    for (let i = 1; i <= 3; i++) expect(q.push(`e${i}`, 100)).toBe(0);
    expect(q.push('e4', 100)).toBe(1);
    expect(q.push('e5', 150)).toBe(2);
    expect(q.take(10, 10_000)?.events).toEqual(['e4', 'e5']);
  });

  it('keeps in-flight events charged and refuses a newcomer that cannot fit next to them', () => {
    const q = new EventQueue(300);
    q.push('a', 100);
    q.push('b', 100);
    const batch = q.take(2, 10_000)!;
    expect(q.queuedBytes + q.inFlightBytes).toBe(200);
    expect(q.push('c', 100)).toBe(0);
    expect(q.push('d', 250)).toBe(2); // drops c, then cannot fit d next to the 200 in flight
    expect(q.count).toBe(0);
    q.settle(batch);
    expect(q.inFlightBytes).toBe(0);
  });

  it('puts a retried batch back in front of newer events, with its sequence numbers', () => {
    const q = new EventQueue(10_000);
    for (const e of ['a', 'b', 'c']) q.push(e, 10);
    const batch = q.take(2, 10_000)!;
    q.push('d', 10);
    q.putBack(batch);
    expect(q.headSeq).toBe(1);
    expect(q.take(10, 10_000)?.events).toEqual(['a', 'b', 'c', 'd']);
  });

  it('stops a batch at maxBytes but always takes at least one event', () => {
    const q = new EventQueue(10_000);
    q.push('big', 500);
    q.push('x', 10);
    expect(q.take(10, 100)?.events).toEqual(['big']);
    expect(q.take(10, 100)?.events).toEqual(['x']);
    expect(q.take(10, 100)).toBeNull();
  });

  it('keeps FIFO order and sequence numbers across its storage blocks, with retries put back over a boundary', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.oneof(
            fc.record({ push: fc.integer({ min: 1, max: 2_500 }) }),
            fc.record({ take: fc.integer({ min: 1, max: 1_500 }), retry: fc.boolean() }),
            fc.record({ drop: fc.integer({ min: 1, max: 1_500 }) }),
          ),
          { maxLength: 25 },
        ),
        (ops) => {
          const q = new EventQueue(Number.MAX_SAFE_INTEGER);
          const model: number[] = [];
          let next = 0;
          for (const o of ops) {
            if ('push' in o) {
              for (let k = 0; k < o.push; k++) {
                q.push(`e${next}`, 1);
                model.push(++next);
              }
            } else if ('take' in o) {
              const batch = q.take(o.take, Number.MAX_SAFE_INTEGER);
              const expected = model.slice(0, o.take);
              expect(batch?.seqs ?? []).toEqual(expected);
              if (!batch) continue;
              if (o.retry) q.putBack(batch);
              else {
                q.settle(batch);
                model.splice(0, batch.events.length);
              }
            } else {
              for (let k = 0; k < o.drop; k++) expect(q.dropOldest()).toBe(model.shift() !== undefined);
            }
            expect(q.count).toBe(model.length);
            expect(q.queuedBytes).toBe(model.length);
            expect(q.inFlightBytes).toBe(0);
            expect(q.headSeq).toBe(model[0] ?? Number.POSITIVE_INFINITY);
          }
          const rest = q.take(Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER);
          expect(rest?.events ?? []).toEqual(model.map((seq) => `e${seq - 1}`));
        },
      ),
      { numRuns: 40 },
    );
  });

  it('holds, under any sequence of operations, the byte cap, FIFO order and exact accounting', () => {
    type Op =
      | { kind: 'push'; size: number }
      | { kind: 'take'; n: number }
      | { kind: 'settle' }
      | { kind: 'retry' };
    const op: fc.Arbitrary<Op> = fc.oneof(
      fc.record({ kind: fc.constant('push' as const), size: fc.integer({ min: 1, max: 400 }) }),
      fc.record({ kind: fc.constant('take' as const), n: fc.integer({ min: 1, max: 20 }) }),
      fc.constant({ kind: 'settle' as const }),
      fc.constant({ kind: 'retry' as const }),
    );
    fc.assert(
      fc.property(fc.integer({ min: 100, max: 5_000 }), fc.array(op, { maxLength: 300 }), (cap, ops) => {
        const q = new EventQueue(cap);
        let next = 0;
        let inFlight: Batch | null = null;
        let dropped = 0;
        let settled = 0;
        for (const o of ops) {
          if (o.kind === 'push') dropped += q.push(`e${next++}`, o.size);
          else if (o.kind === 'take' && !inFlight) inFlight = q.take(o.n, 2_000);
          else if (o.kind === 'settle' && inFlight) {
            settled += inFlight.events.length;
            q.settle(inFlight);
            inFlight = null;
          } else if (o.kind === 'retry' && inFlight) {
            q.putBack(inFlight);
            inFlight = null;
          }
          expect(q.queuedBytes + q.inFlightBytes).toBeLessThanOrEqual(cap);
        }
        if (inFlight) q.putBack(inFlight);
        const rest = q.take(Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER);
        const ids = (rest?.events ?? []).map((e) => Number(e.slice(1)));
        expect(ids).toEqual([...ids].sort((a, b) => a - b));
        expect(settled + dropped + ids.length).toBe(next);
      }),
      { numRuns: 300 },
    );
  });
});
