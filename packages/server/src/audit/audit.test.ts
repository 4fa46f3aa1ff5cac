import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { emptyRow, TYPED_FIELD_NAMES } from '../model/index.js';
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
      ...TYPED_FIELD_NAMES,
      'props',
    ] as const;
    fc.assert(
      fc.property(
        fc.string(),
        fc.oneof(fc.constant(null), fc.string()),
        fc.double({ noNaN: true, noDefaultInfinity: true }),
        fc.integer(),
        fc.boolean(),
        (id, version, total, tokens, late) => {
          const row = {
            ...emptyRow(),
            id,
            version,
            total_ms: total,
            prompt_tokens: tokens,
            late,
            ts: 1,
            received_at: 2,
          };
          const expected = createHash('sha256')
            .update(`${GENESIS_HASH}\n1\n5\n1\n${JSON.stringify(fields.map((f) => row[f]))}\n`)
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
