import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { closedPort } from '../test/loopback-server.js';
import { createClient } from './client.js';

/** Values built to hurt: cycles, throwing getters and traps, BigInt, symbols, huge and odd strings. */
function hostile(): fc.Arbitrary<unknown> {
  const cyclic = fc.anything().map((v) => {
    const o: Record<string, unknown> = { v };
    o.self = o;
    o.list = [o, { back: o }];
    return o;
  });
  const throwingGetter = fc.string().map((k) =>
    Object.defineProperty({ ok: 1 }, k || 'x', {
      enumerable: true,
      get() {
        throw new Error('getter');
      },
    }),
  );
  const throwingProxy = fc.constant(
    new Proxy(
      {},
      {
        get() {
          throw new Error('get trap');
        },
        ownKeys() {
          throw new Error('ownKeys trap');
        },
        getPrototypeOf() {
          throw new Error('getPrototypeOf trap');
        },
      },
    ),
  );
  const huge = fc.constantFrom('x'.repeat(1_000_000), '😀'.repeat(100_000), '\ud800'.repeat(10_000));
  const odd = fc.constantFrom(
    Symbol('s'),
    10n ** 30n,
    () => 1,
    Object.create(null),
    Object.freeze({ a: [1, 2] }),
    new Date(Number.NaN),
    new Map([[{}, 1]]),
    new Uint8Array(1_000_000),
    Array.from({ length: 100_000 }, (_, i) => i),
    Object.fromEntries(Array.from({ length: 10_000 }, (_, i) => [`k${i}`, i])),
    { toJSON: () => ({ toJSON: 1 }) },
  );
  const base = fc.oneof(
    fc.anything({ withBigInt: true, withDate: true, withMap: true, withSet: true }),
    huge,
    odd,
  );
  return fc.oneof(
    base,
    cyclic,
    throwingGetter,
    throwingProxy,
    fc.dictionary(fc.string(), fc.oneof(base, cyclic, throwingGetter, throwingProxy), { maxKeys: 6 }),
  );
}

describe('track()', async () => {
  const onErrorCalls: unknown[] = [];
  const client = createClient({
    endpoint: `http://127.0.0.1:${await closedPort()}`,
    key: 'k',
    version: 'v',
    maxQueueBytes: 1024 * 1024,
    flushIntervalMs: 60_000,
    flushOnExit: false,
    onError: (e) => onErrorCalls.push(e),
  });
  afterAll(async () => {
    await client.shutdown({ timeoutMs: 100 });
  });

  it('never throws, returns nothing, and returns in bounded time, whatever it is given', () => {
    let calls = 0;
    let slowest = 0;
    fc.assert(
      fc.property(
        fc.oneof(fc.string(), fc.constantFrom('llm.request', 'a.b', ''), hostile()),
        hostile(),
        fc.oneof(
          fc.constant(undefined),
          hostile(),
          fc.record({ timestamp: hostile(), id: hostile(), version: hostile() }),
        ),
        fc.constantFrom(1, 1, 1, 5, 600),
        (type, props, options, repeat) => {
          // Repeats fill the 1 MB cap, so some calls also drop the oldest staged or queued events.
          for (let i = 0; i < repeat; i++) {
            const t0 = performance.now();
            const result: unknown = client.track(type as string, props as never, options as never);
            const took = performance.now() - t0;
            slowest = Math.max(slowest, took);
            expect(result).toBeUndefined();
            calls += 1;
          }
        },
      ),
      { numRuns: 200 },
    );
    // track() never encodes: its work is one copy and a size estimate bounded by `limits` (plus the
    // drops the cap asks for); the bound leaves room for GC pauses on a loaded machine.
    expect(slowest).toBeLessThan(250);
    expect(client.stats().tracked).toBe(calls);
  });

  it('accounts for every event it took: sent, dropped, failed or pending', async () => {
    await client.flush({ timeoutMs: 50 });
    const s = client.stats();
    expect(s.sampledOut + s.filtered + s.dropped + s.failed + s.sent + s.pending).toBe(s.tracked);
    expect(s.queuedBytes).toBeLessThanOrEqual(1024 * 1024);
  });
});
