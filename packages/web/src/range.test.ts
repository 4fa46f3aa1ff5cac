import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { bounds, bucketOf, PRESETS, parseRoute, routeHash, windowOf } from './range.js';

/** The URL keeps the view, the range and the view's parameters: what is shared is what is shown. */
describe('route in the URL', () => {
  const minute = fc.integer({ min: 0, max: 66_666_666 }).map((m) => m * 60_000);
  const range = fc.oneof(
    fc.constantFrom(...(Object.keys(PRESETS) as (keyof typeof PRESETS)[])).map((preset) => ({ preset })),
    fc
      .tuple(minute, minute)
      .filter(([a, b]) => a !== b)
      .map(([a, b]) => ({ preset: null, from: Math.min(a, b), to: Math.max(a, b) })),
  );
  const params = fc.dictionary(
    fc.stringMatching(/^[a-z][a-z0-9_.]{0,10}$/).filter((k) => k !== 'range'),
    fc.string({ maxLength: 20 }),
    { maxKeys: 4 },
  );

  it('parses back what it writes, for any view, range and parameters', () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[a-z]{1,12}$/), range, params, (view, r, p) => {
        const route = { view, range: r, params: new URLSearchParams(p) };
        const back = parseRoute(routeHash(route));
        expect(back.view).toBe(view);
        expect(back.range).toEqual(r);
        expect(Object.fromEntries(back.params)).toEqual(p);
      }),
    );
  });

  it('falls back to the overview over 24 h for a bare or broken URL', () => {
    expect(parseRoute('')).toMatchObject({ view: 'overview', range: { preset: '24h' } });
    expect(parseRoute('#/llm?range=2026-01-02..2026-01-01').range).toEqual({ preset: '24h' });
    expect(parseRoute('#/llm?range=nonsense').range).toEqual({ preset: '24h' });
  });

  it('maps presets to trailing windows and picks a bucket size for charts', () => {
    const now = Date.UTC(2026, 0, 31);
    expect(bounds({ preset: '7d' }, now)).toEqual({ from: now - 7 * 86_400_000, to: now });
    expect([
      windowOf({ preset: '1h' }),
      windowOf({ preset: '30d' }),
      windowOf({ preset: null, from: 0, to: 1 }),
    ]).toEqual(['hour', 'month', null]);
    expect(bucketOf({ preset: '1h' })).toBe('minute');
    expect(bucketOf({ preset: '7d' })).toBe('hour');
    expect(bucketOf({ preset: '30d' })).toBe('day');
  });
});
