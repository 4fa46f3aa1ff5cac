import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { emptyRow, FIRST_TYPED_FIELDS } from '../model/index.js';
import { GENESIS_HASH, hashBatch } from './index.js';

describe('hashBatch', () => {
  it('hashes exactly the JSON array encoding of each row (the documented canonical form)', () => {
    const fields = [
      'id',
      'project',
      'type',
      'ts',
      'received_at',
      'late',
      'version',
      ...FIRST_TYPED_FIELDS,
      'props',
    ] as const;
    fc.assert(
      fc.property(
        fc.string(),
        fc.oneof(fc.constant(null), fc.string()),
        fc.double({ noNaN: true, noDefaultInfinity: true }),
        fc.integer(),
        fc.boolean(),
        fc.option(fc.nat(), { nil: null }),
        fc.option(fc.double({ min: 0, max: 100, noNaN: true }), { nil: null }),
        fc.boolean(),
        (id, version, total, tokens, late, cached, cost, pricedByVigil) => {
          const row = {
            ...emptyRow(),
            id,
            version,
            total_ms: total,
            prompt_tokens: tokens,
            late,
            ts: 1,
            received_at: 2,
            cache_read_tokens: cached,
            cost_usd: cost,
            // A cost Vigil priced carries its split; a reported one does not.
            prompt_cost_usd: cost !== null && pricedByVigil ? cost / 2 : null,
          };
          // Fields added later follow as name, value pairs when set; a priced cost is not hashed.
          const added = [
            ...(cached !== null ? ['cache_read_tokens', cached] : []),
            ...(cost !== null && !pricedByVigil ? ['cost_usd', cost] : []),
          ];
          const encoded = JSON.stringify([...fields.map((f) => row[f]), ...added]);
          const expected = createHash('sha256')
            .update(`${GENESIS_HASH}\n1\n5\n1\n${encoded}\n`)
            .digest('hex');
          expect(hashBatch(GENESIS_HASH, 1, 5, [row])).toBe(expected);
        },
      ),
    );
  });
});

describe('the canonical encoding', () => {
  it('is total: a row hashes as the well-formed text any store keeps of it (lone surrogates as U+FFFD)', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), fc.string({ unit: 'binary' }), (user, props) => {
        const row = { ...emptyRow(), user, props };
        const stored = { ...row, user: user.toWellFormed(), props: props.toWellFormed() };
        expect(hashBatch(GENESIS_HASH, 1, 5, [row])).toBe(hashBatch(GENESIS_HASH, 1, 5, [stored]));
      }),
    );
  });
});
