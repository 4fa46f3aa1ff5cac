import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type StagedEvent, StagedEvents } from './staged-events.js';

const slot = (): StagedEvent => ({ type: undefined, props: undefined, ts: 0, options: undefined, size: 0 });

describe('StagedEvents', () => {
  it('gives events back oldest first across many blocks, with their bytes', () => {
    const staged = new StagedEvents();
    for (let i = 0; i < 5_000; i++) staged.push(`t${i}`, { i }, i, undefined, 10 + (i % 7));
    expect(staged.count).toBe(5_000);
    const out = slot();
    let bytes = staged.bytes;
    for (let i = 0; i < 5_000; i++) {
      expect(staged.shift(out)).toBe(true);
      expect(out).toEqual({ type: `t${i}`, props: { i }, ts: i, options: undefined, size: 10 + (i % 7) });
      bytes -= out.size;
      expect(staged.bytes).toBe(bytes);
    }
    expect(staged.shift(out)).toBe(false);
    expect(staged.bytes).toBe(0);
  });

  it('behaves as a FIFO for any interleaving of pushes and shifts (model check)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof(fc.integer({ min: 1, max: 3_000 }), fc.constant(-1)), { maxLength: 60 }),
        (ops) => {
          const staged = new StagedEvents();
          const model: number[] = [];
          let next = 0;
          const out = slot();
          for (const op of ops) {
            if (op > 0) {
              for (let k = 0; k < op; k++) {
                staged.push('t', next, next, undefined, 1);
                model.push(next++);
              }
            } else {
              for (let k = 0; k < 1_500; k++) {
                const expected = model.shift();
                expect(staged.shift(out)).toBe(expected !== undefined);
                if (expected !== undefined) expect(out.props).toBe(expected);
              }
            }
            expect(staged.count).toBe(model.length);
            expect(staged.bytes).toBe(model.length);
          }
        },
      ),
      { numRuns: 40 },
    );
  });
});
