import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type FieldSummary, mergeRollupRows, ROLLUP_COUNTERS, type RollupRow } from './rollup.js';
import { decodeSketch, encodeSketch, newSketch } from './sketch.js';

const zero = Object.fromEntries(ROLLUP_COUNTERS.map((c) => [c, 0])) as RollupRow['counters'];

/** A row holding these values of total_ms (with a sketch) and of user-less cost (without). */
function row(values: number[], sketched: boolean): RollupRow {
  const summary = (withSketch: boolean): FieldSummary => {
    const sketch = newSketch();
    for (const v of values) sketch.accept(v);
    return {
      n: values.length,
      sum: values.reduce((a, b) => a + b, 0),
      min: Math.min(...values),
      max: Math.max(...values),
      sketch: withSketch ? encodeSketch(sketch) : null,
    };
  };
  return {
    project: 'p',
    family: 'llm',
    res: '1m',
    bucket: 0,
    grp: 'all',
    dim: '',
    counters: { ...zero, n: values.length, errors: values.filter((v) => v > 100).length },
    fields: { total_ms: summary(sketched), cost_usd: summary(false) },
  };
}

describe('mergeRollupRows', () => {
  it('merging the rows of parts gives the row of the whole (counters, n, sum, min, max, quantiles)', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.array(fc.double({ min: 0.001, max: 1e6, noNaN: true }), { minLength: 1, maxLength: 30 }),
          {
            minLength: 1,
            maxLength: 8,
          },
        ),
        (parts) => {
          const whole = row(parts.flat(), true);
          const merged = mergeRollupRows(parts.map((p) => row(p, true)));
          expect(merged.counters).toEqual(whole.counters);
          for (const name of ['total_ms', 'cost_usd'] as const) {
            const [m, w] = [merged.fields[name], whole.fields[name]] as [FieldSummary, FieldSummary];
            expect([m.n, m.min, m.max]).toEqual([w.n, w.min, w.max]);
            expect(m.sum).toBeCloseTo(w.sum, 6);
          }
          expect(merged.fields.cost_usd?.sketch).toBeNull();
          const [a, b] = [merged.fields.total_ms?.sketch, whole.fields.total_ms?.sketch].map((s) =>
            decodeSketch(s as Uint8Array),
          ) as [ReturnType<typeof decodeSketch>, ReturnType<typeof decodeSketch>];
          expect(a.count).toBe(b.count);
          for (const q of [0.5, 0.9, 0.99]) expect(a.getValueAtQuantile(q)).toBe(b.getValueAtQuantile(q));
        },
      ),
      { seed: 15, numRuns: 200 },
    );
  });
});
