import { afterEach, describe, expect, it, vi } from 'vitest';
import { collectWhenQuiet } from './idle-memory.js';

afterEach(() => {
  vi.useRealTimers();
});

describe('collectWhenQuiet', () => {
  it('collects once per quiet spell after work, never while the work goes on, never when idle from the start', () => {
    vi.useFakeTimers();
    let commits = 0;
    let collections = 0;
    const stop = collectWhenQuiet({ activity: () => commits, quietMs: 1_000, collect: () => collections++ });
    try {
      vi.advanceTimersByTime(5_000);
      expect(collections).toBe(0); // nothing happened: nothing to give back
      for (let s = 0; s < 5; s++) {
        commits += 10;
        vi.advanceTimersByTime(1_000);
      }
      expect(collections).toBe(0); // busy every second
      vi.advanceTimersByTime(1_000);
      expect(collections).toBe(1); // one quiet second
      vi.advanceTimersByTime(10_000);
      expect(collections).toBe(1); // once per spell
      commits += 1;
      vi.advanceTimersByTime(2_000);
      expect(collections).toBe(2);
    } finally {
      stop();
    }
  });

  it('has V8 collect for real by default (the flag set at run time)', () => {
    const before = process.memoryUsage().heapUsed;
    let garbage: number[][] | null = Array.from({ length: 200 }, () =>
      Array.from({ length: 5_000 }, (_, i) => i),
    );
    expect(garbage.length).toBe(200);
    garbage = null;
    vi.useFakeTimers();
    let commits = 1;
    const stop = collectWhenQuiet({ activity: () => commits, quietMs: 10 });
    try {
      commits = 2;
      vi.advanceTimersByTime(10);
      vi.advanceTimersByTime(10);
      // 200 arrays of 5,000 numbers (~8 MB) were garbage: the collection took them.
      expect(process.memoryUsage().heapUsed).toBeLessThan(before + 4 * 1024 * 1024);
    } finally {
      stop();
    }
  });
});
