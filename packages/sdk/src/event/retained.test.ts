import { describe, expect, it } from 'vitest';
import { DEFAULT_LIMITS } from './encode.js';
import { retainedBytes, STAGED_OVERHEAD_BYTES } from './retained.js';

describe('retainedBytes', () => {
  it('charges the overhead for no props, and more for longer strings and non-integer numbers', () => {
    expect(retainedBytes(undefined, DEFAULT_LIMITS)).toBe(STAGED_OVERHEAD_BYTES);
    const short = retainedBytes({ a: 'x' }, DEFAULT_LIMITS);
    expect(retainedBytes({ a: 'x'.repeat(1_000) }, DEFAULT_LIMITS)).toBeGreaterThanOrEqual(short + 2 * 999);
    expect(retainedBytes({ a: 1.5 }, DEFAULT_LIMITS)).toBeGreaterThan(
      retainedBytes({ a: 1 }, DEFAULT_LIMITS),
    );
  });

  it('counts nested values, within the limits the encoder reads', () => {
    const flat = retainedBytes({ a: 1 }, DEFAULT_LIMITS);
    const nested = retainedBytes({ a: { b: 'y'.repeat(5_000), c: [1, 2, 3] } }, DEFAULT_LIMITS);
    expect(nested).toBeGreaterThan(flat + 10_000);
    const deep: Record<string, unknown> = {};
    let at = deep;
    for (let i = 0; i < 1_000; i++) at = at.next = {} as Record<string, unknown>;
    const cyclic: Record<string, unknown> = { s: 'z' };
    cyclic.self = cyclic;
    expect(Number.isFinite(retainedBytes({ deep, cyclic }, DEFAULT_LIMITS))).toBe(true);
    expect(retainedBytes({ buffer: new Uint8Array(100_000) }, DEFAULT_LIMITS)).toBeGreaterThan(100_000);
  });

  it('never throws on hostile values, and asks for a cut above maxProps keys', () => {
    const trap = new Proxy(
      {},
      {
        ownKeys() {
          throw new Error('no');
        },
        getPrototypeOf() {
          throw new Error('no');
        },
      },
    );
    expect(retainedBytes({ trap }, DEFAULT_LIMITS)).toBeGreaterThan(STAGED_OVERHEAD_BYTES);
    expect(retainedBytes(trap, DEFAULT_LIMITS)).toBeGreaterThan(0);
    const many = Object.fromEntries(
      Array.from({ length: DEFAULT_LIMITS.maxProps + 1 }, (_, i) => [`k${i}`, i]),
    );
    expect(retainedBytes(many, DEFAULT_LIMITS)).toBe(-1);
  });
});
