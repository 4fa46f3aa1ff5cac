import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  EVENT_FIELDS,
  type EventRow,
  emptyRow,
  eventColumnsOf,
  eventRowsOf,
  TYPED_FIELDS,
} from '../model/index.js';
import { hashBatch, hashBatchColumns, remainingHash, remainingHashColumns } from './index.js';

/** Doubles that are decimals of up to 7 places (the encoder's shortcut) and their neighbours. */
const decimal = fc
  .tuple(fc.integer({ min: -(2 ** 53) + 1, max: 2 ** 53 - 1 }), fc.integer({ min: 0, max: 7 }))
  .chain(([m, k]) => {
    const v = m / 10 ** k;
    return fc.constantFrom(v, v * (1 + Number.EPSILON), v * (1 - Number.EPSILON), v + 5e-324);
  });
const number = fc.oneof(
  fc.double(),
  decimal,
  fc.integer(),
  fc.constantFrom(-0, 0.1 + 0.2, 1e-6, 1e-7, 1e21, 2 ** 53, 2 ** 53 + 2, -(2 ** 31), 2 ** 31, 5e-324),
);
/** Any UTF-16 text: lone surrogates, controls, quotes, backslashes, a leading BOM, long runs. */
const tricky = fc.constantFrom(
  '"',
  '\\',
  '\n',
  '\u0000',
  '\u001f',
  '\u007f',
  '\u2028',
  '\ufeff',
  'é',
  '😀',
  'a',
);
const text = fc.oneof(
  { arbitrary: fc.string({ unit: 'binary' }), weight: 4 },
  { arbitrary: fc.string({ unit: tricky }), weight: 4 },
  // Longer than a pass of the escaper (4,096 bytes), and than the buffer when escaped.
  { arbitrary: fc.string({ unit: tricky, minLength: 12_000, maxLength: 14_000 }), weight: 1 },
);

const row: fc.Arbitrary<EventRow> = fc
  .record(
    Object.fromEntries(
      EVENT_FIELDS.map((f) => {
        if (f === 'id' || f === 'project' || f === 'type') return [f, text];
        if (f === 'ts' || f === 'received_at') return [f, number];
        if (f === 'late') return [f, fc.boolean()];
        if (f === 'version' || f === 'props') return [f, fc.option(text, { nil: null })];
        const kind = TYPED_FIELDS[f as keyof typeof TYPED_FIELDS].kind;
        const value = kind === 'boolean' ? fc.boolean() : kind === 'string' ? text : number;
        return [f, fc.option(value as fc.Arbitrary<unknown>, { nil: null, freq: 2 })];
      }),
    ),
  )
  .map((r) => ({ ...emptyRow(), ...r }) as EventRow);

describe('hashing rows read as columns', () => {
  it('hashes exactly as the row path does: batches and what expired batches keep', () => {
    fc.assert(
      fc.property(fc.array(row, { maxLength: 12 }), fc.nat(), fc.nat(), (rows, seq, at) => {
        const columns = eventColumnsOf(rows);
        // The rows as a store would keep them (well-formed text), and a slice in the middle.
        expect(hashBatchColumns('p', seq, at, columns, 0, rows.length)).toBe(hashBatch('p', seq, at, rows));
        const from = Math.min(1, rows.length);
        const to = Math.max(from, rows.length - 1);
        expect(remainingHashColumns('node-a', seq, columns, from, to)).toBe(
          remainingHash('node-a', seq, rows.slice(from, to)),
        );
      }),
      { numRuns: 200 },
    );
  }, 120_000);

  it('writes each number as String does', () => {
    fc.assert(
      fc.property(fc.array(number, { minLength: 1, maxLength: 50 }), (values) => {
        const rows = values.map((v) => ({ ...emptyRow(), total_ms: v, cost_usd: v, ts: v }));
        expect(hashBatchColumns('p', 1, 2, eventColumnsOf(rows), 0, rows.length)).toBe(
          hashBatch('p', 1, 2, rows),
        );
      }),
      { numRuns: 2_000 },
    );
  }, 60_000);

  it('hashes a string as the bytes stored, so an altered byte shows even where decoding would hide it', () => {
    const rows = [{ ...emptyRow(), id: 'a', props: '{"k":"\ufffd"}' }];
    const columns = eventColumnsOf(rows);
    const good = hashBatchColumns('p', 1, 2, columns, 0, 1);
    expect(good).toBe(hashBatch('p', 1, 2, rows));
    // U+FFFD (EF BF BD) replaced by a cut 4-byte sequence, which decodes to U+FFFD as well.
    const at = columns.text.indexOf(0xef);
    const altered = { ...columns, text: Uint8Array.from(columns.text) };
    altered.text.set([0xf0, 0x9f, 0x98], at);
    expect(eventRowsOf(altered)[0]?.props).toBe(rows[0]?.props);
    expect(hashBatchColumns('p', 1, 2, altered, 0, 1)).not.toBe(good);
  });
});
