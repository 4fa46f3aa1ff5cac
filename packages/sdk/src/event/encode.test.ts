import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DEFAULT_LIMITS, EVENT_OVERHEAD_BYTES, EventEncoder, queuedSize, truncate } from './encode.js';
import { DEFAULT_DENY_PROPS, PropDenyList } from './privacy.js';

const envelope = {
  id: '01900000-0000-7000-8000-000000000000',
  type: 'test.event',
  ts: 1_700_000_000_000,
  version: 'v1',
};
const encoder = (limits = DEFAULT_LIMITS, deny = DEFAULT_DENY_PROPS) =>
  new EventEncoder(limits, new PropDenyList(deny));
const propsOf = (value: unknown, e = encoder()) =>
  (JSON.parse(e.encode(envelope, value) ?? 'null') as { props: Record<string, unknown> }).props;

describe('EventEncoder', () => {
  it('writes the envelope and props as one JSON object', () => {
    const json = encoder().encode(envelope, { plan: 'team', seats: 12, ok: true, none: null });
    expect(JSON.parse(json ?? '')).toEqual({
      ...envelope,
      props: { plan: 'team', seats: 12, ok: true, none: null },
    });
  });

  it('drops denied names case-insensitively at every depth, and keeps look-alikes', () => {
    const props = propsOf({
      prompt: 'secret',
      Prompt: 'secret',
      EMAIL: 'a@b.c',
      prompt_tokens: 12,
      tokens: 3,
      nested: { password: 'x', Token: 'y', keep: 1, list: [{ message: 'hi', n: 2 }] },
    });
    expect(props).toEqual({ prompt_tokens: 12, tokens: 3, nested: { keep: 1, list: [{ n: 2 }] } });
  });

  it('applies a custom deny-list instead of the default', () => {
    expect(propsOf({ prompt: 'p', ssn: '1' }, encoder(DEFAULT_LIMITS, ['SSN']))).toEqual({ prompt: 'p' });
  });

  it('turns values JSON cannot hold into ones it can', () => {
    const props = propsOf({
      big: 12n,
      huge: 2n ** 80n,
      nan: Number.NaN,
      inf: Number.POSITIVE_INFINITY,
      fn: () => 1,
      sym: Symbol('s'),
      undef: undefined,
      date: new Date(Date.UTC(2025, 0, 1)),
      badDate: new Date(Number.NaN),
      err: new TypeError('the message must not leak'),
      map: new Map<unknown, unknown>([
        ['a', 1],
        [2, 'b'],
        [{}, 'dropped'],
      ]),
      set: new Set([1, 2]),
      bytes: new Uint8Array(10),
      url: new URL('https://example.com/x'),
      arr: [1, undefined, () => 2],
    });
    expect(props).toEqual({
      big: 12,
      huge: (2n ** 80n).toString(),
      nan: null,
      inf: null,
      date: '2025-01-01T00:00:00.000Z',
      badDate: null,
      err: 'TypeError',
      map: { a: 1, 2: 'b' },
      set: [1, 2],
      url: 'https://example.com/x',
      arr: [1, null, null],
    });
  });

  it('leaves out cycles, values nested deeper than maxDepth and props beyond maxProps', () => {
    const cyclic: Record<string, unknown> = { a: 1 };
    cyclic.self = cyclic;
    cyclic.list = [cyclic, 2];
    expect(propsOf({ cyclic })).toEqual({ cyclic: { a: 1, list: [null, 2] } });

    // props is level 1, like the server: l2..l5 are kept, l6 is not.
    const deep = { l2: { l3: { l4: { l5: { l6: { x: 1 } }, y: 2 } } } };
    expect(propsOf(deep)).toEqual({ l2: { l3: { l4: { l5: {}, y: 2 } } } });

    const wide = Object.fromEntries(Array.from({ length: 500 }, (_, i) => [`k${i}`, i]));
    expect(Object.keys(propsOf(wide))).toHaveLength(200);
    expect(propsOf({ list: Array.from({ length: 1000 }, (_, i) => i) }).list).toHaveLength(199);
  });

  it('cuts long strings to maxStringLength without splitting a surrogate pair', () => {
    const limits = { ...DEFAULT_LIMITS, maxStringLength: 16 };
    expect(propsOf({ s: 'x'.repeat(100) }, encoder(limits)).s).toBe('x'.repeat(16));
    expect(truncate(`${'a'.repeat(15)}😀`, 16)).toBe('a'.repeat(15));
    expect(propsOf({ ['k'.repeat(17)]: 1, ok: 2 }, encoder(limits))).toEqual({ ok: 2 });
  });

  it('survives throwing getters and toJSON, keeping the rest', () => {
    const hostile = {
      get boom(): number {
        throw new Error('getter');
      },
      fine: 1,
      odd: new (class {
        toJSON() {
          throw new Error('toJSON');
        }
      })(),
    };
    expect(propsOf({ nested: hostile, top: 2 })).toEqual({ nested: { fine: 1 }, top: 2 });
  });

  it('gives up, before serializing, on props with more string characters than maxEventBytes', () => {
    const e = encoder({ ...DEFAULT_LIMITS, maxEventBytes: 1_000 });
    expect(e.encode(envelope, { a: 'x'.repeat(600), b: 'y'.repeat(600) })).toBeNull();
    expect(e.encode(envelope, { nested: { a: 'x'.repeat(600), b: ['y'.repeat(600)] } })).toBeNull();
    expect(e.encode(envelope, { a: 'x'.repeat(600) })).not.toBeNull();
  });

  it('gives props that are not an object an empty object', () => {
    for (const value of [undefined, null, 'str', 12, [1, 2]]) expect(propsOf(value)).toEqual({});
  });

  it('charges a queued event its characters (two bytes each beyond Latin-1) plus a fixed overhead', () => {
    expect(queuedSize('abcé')).toBe(4 + EVENT_OVERHEAD_BYTES);
    expect(queuedSize('ab€')).toBe(6 + EVENT_OVERHEAD_BYTES);
  });

  it('always produces parseable JSON whose props contain no denied name, for any input', () => {
    const e = encoder({ ...DEFAULT_LIMITS, maxStringLength: 64 });
    const denied = fc.constantFrom(...DEFAULT_DENY_PROPS, 'Prompt', 'EMAIL');
    const key = fc.oneof(fc.string({ maxLength: 12 }), denied);
    const value = fc.letrec((tie) => ({
      any: fc.oneof(
        { depthSize: 'small' },
        fc.anything(),
        fc.bigInt(),
        fc.double(),
        fc.string({ unit: 'binary', maxLength: 100 }),
        fc.dictionary(key, tie('any'), { maxKeys: 5 }),
        fc.array(tie('any'), { maxLength: 5 }),
      ),
    })).any;
    fc.assert(
      fc.property(fc.dictionary(key, value, { maxKeys: 8 }), (props) => {
        const parsed = JSON.parse(e.encode(envelope, props) ?? '{"props":{}}') as { props: unknown };
        // `depth` is the level of the container holding v (props itself is level 1, as on the server).
        const walk = (v: unknown, depth: number): void => {
          if (typeof v === 'object' && v !== null) expect(depth).toBeLessThanOrEqual(5);
          if (Array.isArray(v)) for (const x of v) walk(x, depth + 1);
          else if (typeof v === 'object' && v !== null) {
            for (const [k, x] of Object.entries(v)) {
              expect(DEFAULT_DENY_PROPS).not.toContain(k.toLowerCase());
              walk(x, depth + 1);
            }
          } else if (typeof v === 'string') expect(v.length).toBeLessThanOrEqual(64);
        };
        walk(parsed.props, 1);
      }),
      { numRuns: 500 },
    );
  });
});
