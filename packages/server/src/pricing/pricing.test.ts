import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { emptyRow } from '../model/index.js';
import { configuredPrices, priceRequest } from './catalog.js';
import { costOf, defaultPrices, PriceBook, PriceError, parsePriceList } from './table.js';

const DAY = 86_400_000;
const T = Date.parse('2026-06-01T00:00:00Z');

function llmRow(p: {
  model: string | null;
  ts: number;
  prompt?: number;
  completion?: number;
  cached?: number;
  cost?: number;
}) {
  const row = emptyRow();
  row.type = 'llm.request';
  row.ts = p.ts;
  row.model = p.model;
  row.prompt_tokens = p.prompt ?? null;
  row.completion_tokens = p.completion ?? null;
  row.cache_read_tokens = p.cached ?? null;
  row.cost_usd = p.cost ?? null;
  return row;
}

describe('price table', () => {
  it('ships a default table whose every entry names its source and date', () => {
    const prices = defaultPrices();
    expect(prices.length).toBeGreaterThan(10);
    for (const p of prices) {
      expect(p.source).toBe('default');
      expect(p.reference?.url).toMatch(/^https:\/\//);
      expect(p.reference?.date).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    }
    // A known price change: o3 from 2025-06-10 on.
    const book = new PriceBook([prices]);
    expect(book.priceAt('o3', Date.parse('2025-05-01'))?.inputPerMillion).toBe(10);
    expect(book.priceAt('o3', Date.parse('2025-07-01'))?.inputPerMillion).toBe(2);
  });

  it('prefers an exact name over a pattern, a longer pattern over a shorter one, a project over defaults', () => {
    const defaults = parsePriceList(
      [
        { model: 'gpt-4o-*', inputPerMillion: 1, outputPerMillion: 1 },
        { model: 'gpt-4o-2024-*', inputPerMillion: 2, outputPerMillion: 2 },
        { model: 'gpt-4o-2024-08-06', inputPerMillion: 3, outputPerMillion: 3 },
      ],
      'default',
    );
    const project = parsePriceList(
      [{ model: 'gpt-4o-*', inputPerMillion: 9, outputPerMillion: 9 }],
      'project',
    );
    const book = new PriceBook([[], defaults]);
    expect(book.priceAt('gpt-4o-2024-08-06', T)?.inputPerMillion).toBe(3);
    expect(book.priceAt('gpt-4o-2024-11-20', T)?.inputPerMillion).toBe(2);
    expect(book.priceAt('gpt-4o-mini', T)?.inputPerMillion).toBe(1);
    expect(book.priceAt('gpt-4', T)).toBeNull();
    // Patterns are anchored: a name that only contains the pattern does not match.
    expect(book.priceAt('my-gpt-4o-x', T)).toBeNull();
    const withProject = new PriceBook([project, defaults]);
    expect(withProject.priceAt('gpt-4o-2024-08-06', T)?.source).toBe('project');
    expect(withProject.priceAt('gpt-4o-2024-08-06', T)?.inputPerMillion).toBe(9);
  });

  it('refuses bad lists with the place of the problem', () => {
    const bad: [unknown, RegExp][] = [
      [{ prices: [{ model: 'x', inputPerMillion: -1, outputPerMillion: 1 }] }, /prices\.0\.inputPerMillion/],
      [{ prices: [{ model: 'x', outputPerMillion: 1 }] }, /prices\.0\.inputPerMillion|inputPerMillion/],
      [
        { prices: [{ model: 'x*', match: 'exact', inputPerMillion: 1, outputPerMillion: 1 }] },
        /set "match":"pattern"/,
      ],
      [
        { prices: [{ model: 'x', match: 'pattern', inputPerMillion: 1, outputPerMillion: 1 }] },
        /has no '\*'/,
      ],
      [
        { prices: [{ model: 'x', inputPerMillion: 1, outputPerMillion: 1, effectiveFrom: 'yesterday' }] },
        /prices\.0\.effectiveFrom/,
      ],
      [
        {
          prices: [
            { model: 'x', inputPerMillion: 1, outputPerMillion: 1, effectiveFrom: '2026-01-01' },
            { model: 'x', inputPerMillion: 2, outputPerMillion: 2, effectiveFrom: '2026-01-01' },
          ],
        },
        /prices\.1: 'x' has two prices/,
      ],
      [{ prices: [{ model: 'x', inputPerMillion: 1, outputPerMillion: 1, extra: 1 }] }, /prices\.0/],
      [{ nope: [] }, /prices/],
    ];
    for (const [body, message] of bad) {
      expect(() => parsePriceList(body, 'project'), JSON.stringify(body)).toThrow(PriceError);
      expect(() => parsePriceList(body, 'project')).toThrow(message);
    }
    expect(() =>
      configuredPrices([{ model: 'x', inputPerMillion: 1, outputPerMillion: 1, project: 3 }]),
    ).toThrow(/llm\.prices\.0\.project/);
  });

  it('prices tokens per million, cached prompt tokens at the cache-read price (input price without one)', () => {
    const [withCache, withoutCache] = parsePriceList(
      [
        { model: 'a', inputPerMillion: 2, outputPerMillion: 8, cacheReadPerMillion: 0.5 },
        { model: 'b', inputPerMillion: 2, outputPerMillion: 8 },
      ],
      'default',
    ) as [never, never];
    const tokens = { prompt: 1_000_000, completion: 500_000, cacheRead: 400_000 };
    expect(costOf(withCache, tokens)).toEqual({
      total: 600_000 * 2e-6 + 400_000 * 0.5e-6 + 4,
      prompt: 1.4,
      completion: 4,
    });
    expect(costOf(withoutCache, tokens).total).toBeCloseTo(2 + 4, 12);
  });
});

describe('pricing a request (properties)', () => {
  const prices = parsePriceList(
    [
      {
        model: 'priced',
        inputPerMillion: 3,
        outputPerMillion: 15,
        cacheReadPerMillion: 0.3,
        effectiveFrom: '2026-01-01',
      },
      {
        model: 'priced',
        inputPerMillion: 1,
        outputPerMillion: 5,
        cacheReadPerMillion: 0.1,
        effectiveFrom: '2026-06-01',
      },
    ],
    'project',
  );
  const book = new PriceBook([prices]);
  const tokens = fc.integer({ min: 0, max: 2_000_000 });
  const at = fc.integer({ min: Date.parse('2026-01-01'), max: Date.parse('2026-12-31') });

  it('a reported cost wins over the price table', () => {
    fc.assert(
      fc.property(tokens, tokens, at, fc.double({ min: 0, max: 1000, noNaN: true }), (p, c, ts, reported) => {
        const row = llmRow({ model: 'priced', ts, prompt: p, completion: c, cost: reported });
        priceRequest(row, book);
        expect(row.cost_usd).toBe(reported);
        expect(row.prompt_cost_usd).toBeNull();
        expect(row.completion_cost_usd).toBeNull();
      }),
    );
  });

  it('a model without a price stays unpriced (null), never 0', () => {
    fc.assert(
      fc.property(
        fc.option(fc.string({ minLength: 1 }), { nil: null }),
        tokens,
        tokens,
        at,
        (model, p, c, ts) => {
          fc.pre(model !== 'priced');
          const row = llmRow({ model, ts, prompt: p, completion: c });
          priceRequest(row, book);
          expect(row.cost_usd).toBeNull();
          expect(row.prompt_cost_usd).toBeNull();
        },
      ),
    );
  });

  it('a price change at T prices events before T with the old entry, from T on with the new one', () => {
    fc.assert(
      fc.property(
        tokens,
        tokens,
        fc.integer({ min: 0, max: 120 * DAY }),
        fc.boolean(),
        (p, c, shift, before) => {
          const ts = before ? T - 1 - shift : T + shift;
          const row = llmRow({ model: 'priced', ts, prompt: p, completion: c });
          priceRequest(row, book);
          const [input, output] = before ? [3, 15] : [1, 5];
          expect(row.cost_usd).toBeCloseTo((p * input + c * output) / 1e6, 9);
          expect((row.prompt_cost_usd ?? 0) + (row.completion_cost_usd ?? 0)).toBeCloseTo(
            row.cost_usd ?? -1,
            9,
          );
        },
      ),
    );
  });

  it('before the first entry of a model there is no price', () => {
    const row = llmRow({
      model: 'priced',
      ts: Date.parse('2025-12-31T23:59:59Z'),
      prompt: 10,
      completion: 10,
    });
    priceRequest(row, book);
    expect(row.cost_usd).toBeNull();
  });
});
