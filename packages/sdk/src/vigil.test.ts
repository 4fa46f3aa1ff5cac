/** The SDK against a real Vigil server (DuckDB, ingestion, read API) on 127.0.0.1. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readEvents, startVigil, type Vigil } from '../../server/src/test/harness.js';
import { createClient, type VigilClient } from './client/client.js';
import type { ClientOptions, TrackedEvent } from './client/options.js';
import type { VigilError } from './errors.js';

let vigil: Vigil;
const clients: VigilClient[] = [];

function client(overrides: Partial<ClientOptions> = {}, server: Vigil = vigil): VigilClient {
  const c = createClient({
    endpoint: server.url,
    key: server.ingestKey,
    version: 'sdk-test-1',
    flushOnExit: false,
    flushIntervalMs: 60_000,
    onError: () => {},
    ...overrides,
  });
  clients.push(c);
  return c;
}

beforeAll(async () => {
  vigil = await startVigil();
}, 60_000);

afterAll(async () => {
  await Promise.all(clients.map((c) => c.shutdown({ timeoutMs: 1_000 })));
  await vigil?.cleanup();
}, 60_000);

describe('against a real Vigil server', () => {
  it('stores events with their ids, versions, timestamps and props; denied props never arrive', async () => {
    const sent: TrackedEvent[] = [];
    const c = client({
      beforeSend: (e) => {
        sent.push(e);
        return e;
      },
    });
    c.track('report.exported', {
      format: 'csv',
      rows: 1_200,
      ratio: 0.25,
      ok: true,
      nested: { region: 'eu', list: [1, 'two', { three: 3 }] },
      prompt: 'must never leave the process',
      Password: 'nor this',
    });
    c.track('report.exported', { format: 'pdf' }, { version: 'exp-2', timestamp: Date.now() - 60_000 });
    const r = c.llm.start({ user: 'u_42', space: 'sp_7', model: 'gpt-4o' });
    r.contextDone();
    r.complete({ promptTokens: 1_200, completionTokens: 180, cacheHit: true });
    c.llm.start({ user: 'u_42', model: 'gpt-4o' }).fail(Object.assign(new Error('x'), { status: 429 }));
    const shown = c.decisions.shown({
      signalId: 'sig-1',
      recommendationType: 'suspend_account',
      confidence: 0.62,
      explanationVersion: 'x3',
      adminUser: 'a_7',
    });
    shown.override();
    c.decisions.outcome({ signalId: 'sig-1', outcomeStatus: 'false_positive', resolutionTimeHours: 5.5 });
    c.admin.view({ view: 'signal_detail_open', adminUser: 'a_7', signalId: 'sig-1' });

    const report = await c.flush({ timeoutMs: 10_000 });
    expect(report).toEqual({ sent: 8, dropped: 0, failed: 0, pending: 0 });

    const stored = new Map((await readEvents(vigil)).map((e) => [e.id, e]));
    expect(sent).toHaveLength(8);
    for (const e of sent) {
      const got = stored.get(e.id);
      expect(got, `event ${e.type} ${e.id}`).toBeDefined();
      expect(got?.type).toBe(e.type);
      expect(got?.version).toBe(e.version);
      expect(got?.ts).toBe(new Date(e.ts).toISOString());
      const { prompt: _p, Password: _w, ...expected } = e.props;
      // The server prices an llm.request from its price table (gpt-4o is in the shipped one).
      const { cost_usd, prompt_cost_usd, completion_cost_usd, ...props } = got?.props ?? {};
      expect(props).toEqual(expected);
      if (e.type === 'llm.request')
        expect(cost_usd).toBeCloseTo(Number(prompt_cost_usd) + Number(completion_cost_usd), 12);
      else
        expect([cost_usd, prompt_cost_usd, completion_cost_usd]).toEqual([undefined, undefined, undefined]);
    }
    expect(sent[1]?.version).toBe('exp-2');
    const llm = sent.filter((e) => e.type === 'llm.request').map((e) => stored.get(e.id)?.props);
    expect(llm[0]).toMatchObject({
      prompt_tokens: 1_200,
      completion_tokens: 180,
      cache_hit: true,
      user: 'u_42',
    });
    expect(llm[1]).toMatchObject({ error_type: 'rate_limit' });
    expect(JSON.stringify([...stored.values()])).not.toContain('must never leave');
  }, 30_000);

  it('shutdown() delivers everything queued', async () => {
    const ids: string[] = [];
    const c = client({
      flushAt: 100_000,
      beforeSend: (e) => {
        ids.push(e.id);
        return e;
      },
    });
    for (let i = 0; i < 3_000; i++) c.track('bulk.event', { i, user: `u_${i % 7}` });
    expect(await c.shutdown({ timeoutMs: 20_000 })).toEqual({
      sent: 3_000,
      dropped: 0,
      failed: 0,
      pending: 0,
    });
    const stored = await readEvents(vigil, { type: 'bulk.event' });
    expect(stored).toHaveLength(3_000);
    expect(new Set(stored.map((e) => e.id))).toEqual(new Set(ids));
    expect(new Set(stored.map((e) => e.props.i))).toEqual(
      new Set(Array.from({ length: 3_000 }, (_, i) => i)),
    );
  }, 60_000);

  it('takes per-event rejections as final and does not resend them', async () => {
    const errors: VigilError[] = [];
    const c = client({ onError: (e) => errors.push(e) });
    c.decisions.outcome({ signalId: 'sig-dup', outcomeStatus: 'resolved' });
    c.decisions.outcome({ signalId: 'sig-dup', outcomeStatus: 'reopened' }); // one outcome per signal
    c.track('llm.request', { model: 'no-total' } as never); // total_ms is required
    c.track('ok.event');
    expect(await c.flush({ timeoutMs: 10_000 })).toEqual({ sent: 2, dropped: 0, failed: 2, pending: 0 });
    expect(c.stats().requests).toBe(1);
    await new Promise((r) => setTimeout(r, 50));
    expect(errors.find((e) => e.code === 'rejected')?.count).toBe(2);
  }, 30_000);

  it('does not retry with a wrong key, and says why', async () => {
    const errors: VigilError[] = [];
    const c = client({ key: 'not-a-real-key', onError: (e) => errors.push(e) });
    c.track('a.b');
    expect(await c.flush({ timeoutMs: 10_000 })).toEqual({ sent: 0, dropped: 0, failed: 1, pending: 0 });
    expect(c.stats().requests).toBe(1);
    await new Promise((r) => setTimeout(r, 50));
    expect(errors[0]).toMatchObject({ code: 'http', status: 401 });
  }, 30_000);

  it('splits batches the server refuses as too large (413) until they fit', async () => {
    const small = await startVigil({ config: { ingest: { maxEventsPerRequest: 40 } } });
    try {
      const c = client({ flushAt: 100_000, maxBatchEvents: 500 }, small);
      for (let i = 0; i < 300; i++) c.track('split.event', { i });
      expect(await c.flush({ timeoutMs: 20_000 })).toEqual({ sent: 300, dropped: 0, failed: 0, pending: 0 });
      expect(c.stats().requests).toBeGreaterThan(8);
      expect(await readEvents(small, { type: 'split.event' })).toHaveLength(300);
    } finally {
      await small.cleanup();
    }
  }, 60_000);
});
