import { Type } from '@sinclair/typebox';
import { describe, expect, it } from 'vitest';
import { type Collector, redact, runCollector } from './framework.js';
import { type ResolvedSpec, resolveSpec } from './spec.js';

const spec = (name: string, timeoutMs: number, credentials?: ResolvedSpec['credentials']): ResolvedSpec =>
  resolveSpec(
    { type: 'deployments', name, timeoutMs, intervalMs: 60_000, ...(credentials ? { credentials } : {}) },
    'p',
  );

function collector(name: string, timeoutMs: number, collect: Collector['collect']): Collector {
  return { spec: spec(name, timeoutMs), resultSchema: Type.Object({ n: Type.Number() }), phase: 1, collect };
}

const round = { snapshotId: 'snap-1', now: Date.UTC(2026, 10, 1), latest: async () => [] };

describe('collector framework', () => {
  it('isolates failures: a hanging, a throwing and a malformed collector never hold up or break a good one', async () => {
    let aborted = false;
    const collectors = [
      collector('good', 1000, async () => ({
        result: { n: 1 },
        samples: [{ name: 'x', labels: {}, value: 1, kind: 'gauge' }],
      })),
      // Ignores its abort signal and never settles: abandoned at its timeout.
      collector('hangs', 300, (ctx) => {
        ctx.signal.addEventListener('abort', () => {
          aborted = true;
        });
        return new Promise(() => undefined);
      }),
      collector('throws', 1000, () => {
        throw new Error('boom');
      }),
      collector('rejects-late', 1000, async () => {
        await new Promise((r) => setTimeout(r, 20));
        throw new TypeError('late failure');
      }),
      collector('malformed', 1000, async () => ({ result: { n: 'not a number' }, samples: [] })),
    ];
    const finished: Record<string, number> = {};
    const t0 = performance.now();
    const runs = await Promise.all(
      collectors.map(async (c) => {
        const run = await runCollector(c, round);
        finished[c.spec.name] = performance.now() - t0;
        return run;
      }),
    );
    const byName = Object.fromEntries(runs.map((r) => [r.collector, r]));
    expect(byName.good).toMatchObject({ outcome: 'ok', error: null, result: { n: 1 }, snapshotId: 'snap-1' });
    expect(byName.hangs).toMatchObject({
      outcome: 'timeout',
      error: 'no answer within 300 ms',
      result: null,
    });
    expect(aborted).toBe(true);
    expect(byName.throws).toMatchObject({ outcome: 'error', error: 'boom' });
    expect(byName['rejects-late']).toMatchObject({ outcome: 'error', error: 'late failure' });
    expect(byName.malformed?.outcome).toBe('error');
    expect(byName.malformed?.error).toMatch(/does not match the deployments schema \(\/n: /);
    // The good one finished long before the hanging one was given up on.
    expect(finished.good).toBeLessThan(250);
    expect(finished.hangs).toBeGreaterThanOrEqual(295);

    // Every run is data: samples of the collector itself, with the round's snapshot and time.
    expect(byName.good?.samples.map((s) => [s.name, s.value])).toEqual([
      ['x', 1],
      ['vigil_collector_up', 1],
      ['vigil_collector_duration_seconds', expect.any(Number)],
    ]);
    expect(byName.hangs?.samples.map((s) => [s.name, s.value, s.ts, s.snapshotId, s.source])).toEqual([
      ['vigil_collector_up', 0, round.now, 'snap-1', 'collector:hangs'],
      ['vigil_collector_duration_seconds', expect.any(Number), round.now, 'snap-1', 'collector:hangs'],
    ]);
  });

  it('keeps credentials out of error messages', async () => {
    const leaky: Collector = {
      spec: spec('leaky', 1000, { token: 'sekret-token-123', headers: { 'x-api-key': 'header-secret-456' } }),
      resultSchema: Type.Object({}),
      phase: 1,
      collect: async () => {
        throw new Error('auth failed for sekret-token-123 with header-secret-456');
      },
    };
    const run = await runCollector(leaky, round);
    expect(run.error).toBe('auth failed for [redacted] with [redacted]');
    expect(redact('x'.repeat(600), undefined)).toHaveLength(500);
  });
});
