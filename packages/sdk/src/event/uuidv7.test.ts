import { describe, expect, it } from 'vitest';
import { UUID_PATTERN, Uuidv7Generator } from './uuidv7.js';

const V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

function timestampOf(id: string): number {
  return Number.parseInt(id.replace(/-/g, '').slice(0, 12), 16);
}

describe('Uuidv7Generator', () => {
  it('makes RFC 9562 version-7 ids carrying the millisecond timestamp', () => {
    const ids = new Uuidv7Generator();
    const ms = Date.UTC(2025, 0, 2, 3, 4, 5, 678);
    const id = ids.next(ms);
    expect(id).toMatch(V7);
    expect(UUID_PATTERN.test(id)).toBe(true);
    expect(timestampOf(id)).toBe(ms);
  });

  it('is unique and strictly increasing over 100,000 ids in the same millisecond, borrowing the next one when needed', () => {
    const ids = new Uuidv7Generator();
    const ms = 1_700_000_000_000;
    let previous = '';
    const seen = new Set<string>();
    for (let i = 0; i < 100_000; i++) {
      const id = ids.next(ms);
      expect(id > previous).toBe(true);
      previous = id;
      seen.add(id);
    }
    expect(seen.size).toBe(100_000);
    expect(timestampOf(previous)).toBeGreaterThan(ms);
  });

  it('never goes back in time when the clock does', () => {
    const ids = new Uuidv7Generator();
    const a = ids.next(2_000_000_000_000);
    const b = ids.next(1_000_000_000_000);
    expect(b > a).toBe(true);
    expect(timestampOf(b)).toBe(2_000_000_000_000);
  });

  it('fills the random part: two generators at the same millisecond disagree', () => {
    const ms = 1_700_000_000_000;
    const a = new Uuidv7Generator().next(ms);
    const b = new Uuidv7Generator().next(ms);
    expect(a.slice(19)).not.toBe(b.slice(19));
  });
});
