import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeSketch, encodeSketch, newSketch } from './sketch.js';

describe('sketch encoding', () => {
  it('decodes to a sketch with the same quantiles and merges, for any values', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.oneof(
            fc.double({ min: -1e6, max: 1e6, noNaN: true }),
            fc.constant(0),
            fc.integer({ min: 0, max: 100_000 }),
          ),
          { minLength: 1, maxLength: 400 },
        ),
        fc.array(fc.double({ min: 0, max: 1e5, noNaN: true }), { maxLength: 50 }),
        (values, more) => {
          const s = newSketch();
          for (const v of values) s.accept(v);
          const d = decodeSketch(encodeSketch(s));
          expect(d.count).toBe(s.count);
          for (const q of [0, 0.01, 0.25, 0.5, 0.9, 0.95, 0.99, 1])
            expect(d.getValueAtQuantile(q)).toBe(s.getValueAtQuantile(q));
          const other = newSketch();
          for (const v of more) other.accept(v);
          const a = newSketch();
          a.merge(s);
          a.merge(other);
          const b = decodeSketch(encodeSketch(s));
          b.merge(decodeSketch(encodeSketch(other)));
          for (const q of [0.5, 0.95, 0.99]) expect(b.getValueAtQuantile(q)).toBe(a.getValueAtQuantile(q));
        },
      ),
    );
  });

  it('refuses bytes it did not write', () => {
    expect(() => decodeSketch(new Uint8Array(new Float64Array([9, 0.01, 0, 0, 0]).buffer))).toThrow(
      /unknown sketch encoding/,
    );
  });
});
