import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type VigilError, warnOncePerBurst } from '../errors.js';
import { accept, closedPort, LoopbackVigil, until } from '../test/loopback-server.js';
import { createClient, type VigilClient } from './client.js';
import type { ClientOptions } from './options.js';

const V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

let server: LoopbackVigil;
const clients: VigilClient[] = [];
let errors: VigilError[] = [];

function client(overrides: Partial<ClientOptions> = {}): VigilClient {
  const c = createClient({
    endpoint: server.url,
    key: 'test-ingest-key',
    version: '1.2.3',
    flushIntervalMs: 60_000,
    flushOnExit: false,
    retry: { initialDelayMs: 20, maxDelayMs: 200 },
    onError: (e) => errors.push(e),
    ...overrides,
  });
  clients.push(c);
  return c;
}

beforeEach(async () => {
  server = await LoopbackVigil.start();
  errors = [];
});

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.shutdown({ timeoutMs: 200 })));
  await server.close();
});

describe('delivery', () => {
  it('sends once flushAt events wait, in batches of maxBatchEvents, with the key, gzip, ids, ts, version, props', async () => {
    const c = client({ flushAt: 10, maxBatchEvents: 10 });
    const before = Date.now();
    for (let i = 0; i < 9; i++) c.track('test.event', { i, label: `event number ${i}`.repeat(5) });
    await new Promise((r) => setTimeout(r, 100));
    expect(server.requests).toHaveLength(0);
    for (let i = 9; i < 25; i++) c.track('test.event', { i, label: `event number ${i}`.repeat(5) });
    expect(await until(() => server.stored.size === 20)).toBe(true);
    expect(server.requests.map((r) => r.events.length)).toEqual([10, 10]);
    const report = await c.flush();
    expect(server.requests.map((r) => r.events.length)).toEqual([10, 10, 5]);
    expect(report).toEqual({ sent: 25, dropped: 0, failed: 0, pending: 0 });
    const [first] = server.requests;
    expect(first?.path).toBe('/v1/events');
    expect(first?.headers.authorization).toBe('Bearer test-ingest-key');
    expect(first?.headers['content-type']).toBe('application/json');
    expect(first?.headers['content-encoding']).toBe('gzip');
    const events = [...server.stored.values()];
    expect(events.map((e) => e.props.i)).toEqual(Array.from({ length: 25 }, (_, i) => i));
    for (const e of events) {
      expect(e.id).toMatch(V7);
      expect(e.type).toBe('test.event');
      expect(e.version).toBe('1.2.3');
      expect(e.ts).toBeGreaterThanOrEqual(before);
      expect(e.ts).toBeLessThanOrEqual(Date.now());
    }
    expect(new Set(events.map((e) => e.id)).size).toBe(25);
  });

  it('sends what waits after flushIntervalMs without being asked', async () => {
    const c = client({ flushAt: 1_000, flushIntervalMs: 50 });
    c.track('a.b', { n: 1 });
    c.track('a.b', { n: 2 });
    expect(await until(() => server.stored.size === 2, 3_000)).toBe(true);
    expect(server.requests).toHaveLength(1);
  });

  it('takes per-call timestamp, id and version', async () => {
    const c = client();
    const id = '0190a000-0000-7000-8000-00000000abcd';
    c.track('a.b', {}, { timestamp: new Date('2025-01-02T03:04:05.000Z'), id, version: 'exp-7' });
    c.track('a.b', {}, { timestamp: 'not a date', id: 'not-a-uuid', version: '' });
    await c.flush();
    const [a, b] = [...server.stored.values()];
    expect(a).toMatchObject({ id, ts: Date.parse('2025-01-02T03:04:05.000Z'), version: 'exp-7' });
    expect(b?.id).toMatch(V7);
    expect(b?.version).toBe('1.2.3');
  });

  it('applies the deny-list before sending', async () => {
    const c = client();
    c.track('llm.request', { total_ms: 5, prompt_tokens: 3, prompt: 'the text', Email: 'a@b.c' } as never);
    await c.flush();
    expect([...server.stored.values()][0]?.props).toEqual({ total_ms: 5, prompt_tokens: 3 });
  });
});

describe('failures', () => {
  it('keeps ids across retries, so a retry after a lost answer is stored once', async () => {
    let calls = 0;
    // The first request is committed but its answer is lost; the SDK must resend the same ids.
    server.respond = (r) => {
      calls += 1;
      if (calls === 1) {
        for (const e of r.events) server.stored.set(e.id, e);
        return { hangUp: true };
      }
      return accept(r);
    };
    const c = client();
    for (let i = 0; i < 5; i++) c.track('a.b', { i });
    const report = await c.flush({ timeoutMs: 5_000 });
    expect(report).toMatchObject({ sent: 5, pending: 0, failed: 0 });
    expect(server.requests).toHaveLength(2);
    expect(server.requests[1]?.events.map((e) => e.id)).toEqual(server.requests[0]?.events.map((e) => e.id));
    expect(server.stored.size).toBe(5);
    expect(server.duplicates).toBe(5);
    expect(errors.map((e) => e.code)).toContain('network');
  });

  it('honours Retry-After on 429 and 503', async () => {
    let calls = 0;
    server.respond = (r) => {
      calls += 1;
      if (calls === 1)
        return {
          status: 429,
          headers: { 'retry-after': '1' },
          body: '{"error":{"code":"rate_limited","message":"slow down"}}',
        };
      if (calls === 2) return { status: 503, headers: { 'retry-after': '0.3' } };
      return accept(r);
    };
    const c = client();
    c.track('a.b');
    const report = await c.flush({ timeoutMs: 5_000 });
    expect(report.sent).toBe(1);
    const [a, b, d] = server.requests.map((r) => r.at);
    expect(b! - a!).toBeGreaterThanOrEqual(990);
    expect(d! - b!).toBeGreaterThanOrEqual(290);
    expect(c.stats().retries).toBe(2);
  });

  it('backs off exponentially on 5xx and gives up after retry.maxAttempts, counting the events failed', async () => {
    server.respond = () => ({ status: 500 });
    const c = client({ retry: { initialDelayMs: 40, maxDelayMs: 1_000, maxAttempts: 4 } });
    for (let i = 0; i < 3; i++) c.track('a.b', { i });
    const report = await c.flush({ timeoutMs: 5_000 });
    expect(report).toEqual({ sent: 0, dropped: 0, failed: 3, pending: 0 });
    expect(server.requests).toHaveLength(4);
    const gaps = server.requests.slice(1).map((r, i) => r.at - server.requests[i]!.at);
    // Equal jitter: retry k waits between 40·2^(k-1)/2 and 40·2^(k-1) ms.
    expect(gaps[0]).toBeGreaterThanOrEqual(18);
    expect(gaps[1]).toBeGreaterThanOrEqual(38);
    expect(gaps[2]).toBeGreaterThanOrEqual(78);
    await until(() => errors.some((e) => e.code === 'retries_exhausted'));
    expect(errors.find((e) => e.code === 'retries_exhausted')?.count).toBe(3);
  });

  it('does not retry a 4xx other than 408, 413 and 429', async () => {
    for (const status of [400, 401, 403, 404]) {
      server.requests.length = 0;
      server.respond = () => ({ status, body: '{"error":{"code":"nope","message":"refused"}}' });
      const c = client();
      c.track('a.b');
      c.track('a.b');
      expect(await c.flush()).toMatchObject({ sent: 0, failed: 2, pending: 0 });
      await new Promise((r) => setTimeout(r, 100));
      expect(server.requests).toHaveLength(1);
    }
    await until(() => errors.length > 0);
    expect(errors[0]).toMatchObject({ code: 'http', count: 2 });
  });

  it('never retries events the server rejected one by one', async () => {
    server.respond = (r) => ({
      status: 200,
      body: JSON.stringify({
        accepted: r.events.length - 1,
        rejected: [{ index: 1, code: 'invalid_field', message: 'no' }],
      }),
    });
    const c = client();
    for (let i = 0; i < 3; i++) c.track('a.b', { i });
    expect(await c.flush()).toEqual({ sent: 2, dropped: 0, failed: 1, pending: 0 });
    await new Promise((r) => setTimeout(r, 100));
    expect(server.requests).toHaveLength(1);
    await until(() => errors.length > 0);
    expect(errors[0]).toMatchObject({ code: 'rejected', count: 1 });
    expect(errors[0]?.message).toContain('invalid_field');
  });

  it('splits a batch on 413 until the halves fit, and fails a single event that never fits', async () => {
    server.respond = (r) => {
      if (r.events.some((e) => e.props.huge)) return { status: 413 };
      return r.events.length > 4 ? { status: 413 } : accept(r);
    };
    const c = client({ flushAt: 1_000 });
    for (let i = 0; i < 20; i++) c.track('a.b', i === 13 ? { i, huge: true } : { i });
    const report = await c.flush({ timeoutMs: 5_000 });
    expect(report).toEqual({ sent: 19, dropped: 0, failed: 1, pending: 0 });
    const storedIs = [...server.stored.values()].map((e) => e.props.i);
    expect(storedIs).toEqual(Array.from({ length: 20 }, (_, i) => i).filter((i) => i !== 13));
    for (const r of server.requests)
      if (r.events.length > 4) expect(server.stored.has(r.events[0]!.id)).toBe(true);
  });

  it('drops the oldest events past maxQueueBytes, counts them, and delivers the newest after recovery', async () => {
    await server.down();
    const c = client({ maxQueueBytes: 20_000, flushAt: 50 });
    for (let i = 0; i < 1_000; i++) c.track('a.b', { i });
    await c.flush({ timeoutMs: 200 });
    const stats = c.stats();
    expect(stats.queuedBytes).toBeLessThanOrEqual(20_000);
    expect(stats.droppedBy.queueFull).toBeGreaterThan(800);
    expect(stats.dropped + stats.pending).toBe(1_000);
    await server.up();
    const report = await c.flush({ timeoutMs: 5_000 });
    expect(report.pending).toBe(0);
    const storedIs = [...server.stored.values()].map((e) => e.props.i as number);
    expect(storedIs.length).toBe(1_000 - stats.dropped);
    expect(storedIs).toEqual(Array.from({ length: storedIs.length }, (_, k) => 1_000 - storedIs.length + k));
    await until(() => errors.some((e) => e.code === 'queue_full'));
    expect(errors.filter((e) => e.code === 'queue_full').reduce((n, e) => n + e.count, 0)).toBe(
      stats.droppedBy.queueFull,
    );
  });
});

describe('tracking back to back', () => {
  it('encodes nothing inside track(); what a tight loop tracked is all sent once the host yields', async () => {
    let encoded = 0;
    const c = client({
      flushAt: 100,
      maxBatchEvents: 500,
      beforeSend: (e) => {
        encoded += 1;
        return e;
      },
    });
    for (let i = 0; i < 5_000; i++) c.track('a.b', { i, label: `event ${i}` });
    expect(encoded).toBe(0);
    expect(c.stats().pending).toBe(5_000);
    expect(server.requests).toHaveLength(0);
    // No flush(): the background slices encode and send everything by themselves.
    expect(await until(() => server.stored.size === 5_000, 20_000)).toBe(true);
    expect(encoded).toBe(5_000);
    const storedIs = [...server.stored.values()].map((e) => e.props.i);
    expect(storedIs).toEqual(Array.from({ length: 5_000 }, (_, i) => i));
    // The server stored the last batch before the client read its answer: wait for the answer.
    expect(await until(() => c.stats().sent === 5_000, 20_000)).toBe(true);
    expect(c.stats()).toMatchObject({ sent: 5_000, pending: 0, dropped: 0 });
  });

  it('encodes in slices that let the host run in between', async () => {
    let encoded = 0;
    const c = client({
      flushAt: 1_000_000,
      beforeSend: (e) => {
        encoded += 1;
        return e;
      },
    });
    for (let i = 0; i < 20_000; i++) c.track('a.b', { i, label: `event ${i}` });
    const seenByHost = await new Promise<number>((resolve) => setImmediate(() => resolve(encoded)));
    expect(seenByHost).toBeGreaterThan(0);
    expect(seenByHost).toBeLessThan(20_000);
    expect(await until(() => encoded === 20_000, 20_000)).toBe(true);
  });

  it('holds the cap while nothing is encoded yet: the oldest are dropped and counted at once', async () => {
    await server.down();
    const c = client({ maxQueueBytes: 30_000, flushAt: 50 });
    for (let i = 0; i < 2_000; i++) c.track('a.b', { i, label: `event number ${i}` });
    const now = c.stats();
    expect(now.queuedBytes).toBeLessThanOrEqual(30_000);
    expect(now.droppedBy.queueFull).toBeGreaterThan(1_500);
    expect(now.droppedBy.queueFull + now.pending).toBe(2_000);
    await server.up();
    const report = await c.flush({ timeoutMs: 5_000 });
    expect(report.pending).toBe(0);
    const storedIs = [...server.stored.values()].map((e) => e.props.i as number);
    expect(storedIs.length).toBe(2_000 - report.dropped);
    expect(storedIs).toEqual(Array.from({ length: storedIs.length }, (_, k) => 2_000 - storedIs.length + k));
    await until(() => errors.some((e) => e.code === 'queue_full'));
    expect(errors.filter((e) => e.code === 'queue_full').reduce((n, e) => n + e.count, 0)).toBe(
      c.stats().droppedBy.queueFull,
    );
  });

  it('refuses a bad type at once, without taking room in the queue', () => {
    const c = client({ maxQueueBytes: 10_000 });
    for (let i = 0; i < 1_000; i++) c.track('1 bad type', { i });
    const s = c.stats();
    expect(s.droppedBy.invalid).toBe(1_000);
    expect(s.droppedBy.queueFull).toBe(0);
    expect(s.queuedBytes).toBe(0);
  });
});

describe('flush and shutdown', () => {
  it('shutdown() delivers everything queued, then refuses new events as dropped', async () => {
    const c = client({ flushAt: 7 });
    for (let i = 0; i < 100; i++) c.track('a.b', { i });
    expect(await c.shutdown()).toEqual({ sent: 100, dropped: 0, failed: 0, pending: 0 });
    expect(server.stored.size).toBe(100);
    c.track('a.b');
    expect(c.stats().droppedBy.closed).toBe(1);
    expect(await c.shutdown()).toMatchObject({ sent: 100, dropped: 1 });
  });

  it('shutdown() resolves by its timeout when the server is down or slow, reporting what is pending', async () => {
    const down = createClient({
      endpoint: `http://127.0.0.1:${await closedPort()}`,
      key: 'k',
      version: 'v',
      flushOnExit: false,
      onError: () => {},
    });
    for (let i = 0; i < 10; i++) down.track('a.b');
    let t = Date.now();
    expect(await down.shutdown({ timeoutMs: 300 })).toEqual({ sent: 0, dropped: 0, failed: 0, pending: 10 });
    expect(Date.now() - t).toBeLessThan(1_500);

    server.respond = (r) => ({ ...accept(r), status: 200, delayMs: 5_000 });
    const slow = client();
    for (let i = 0; i < 10; i++) slow.track('a.b');
    t = Date.now();
    expect(await slow.shutdown({ timeoutMs: 300 })).toMatchObject({ sent: 0, pending: 10 });
    expect(Date.now() - t).toBeLessThan(1_500);
  });

  it('flush() resolves once what was tracked before it is settled, even while more is tracked', async () => {
    const c = client({ flushAt: 1_000 });
    for (let i = 0; i < 300; i++) c.track('a.b', { i });
    const flushed = c.flush();
    for (let i = 300; i < 400; i++) c.track('a.b', { i });
    const report = await flushed;
    expect(report.sent).toBeGreaterThanOrEqual(300);
    expect([...server.stored.values()].slice(0, 300).map((e) => e.props.i)).toEqual(
      Array.from({ length: 300 }, (_, i) => i),
    );
  });
});

describe('hooks and options', () => {
  it('beforeSend rewrites or drops events; a throwing one costs only its event', async () => {
    const c = client({
      beforeSend: (e) => {
        if (e.type === 'x.drop') return null;
        if (e.type === 'x.throw') throw new Error('bad hook');
        return { ...e, props: { ...e.props, region: 'eu', secret: undefined }, version: 'rewritten' };
      },
    });
    c.track('x.keep', { a: 1, secret: 's' });
    c.track('x.drop', { a: 2 });
    c.track('x.throw', { a: 3 });
    expect(await c.flush()).toEqual({ sent: 1, dropped: 1, failed: 0, pending: 0 });
    expect([...server.stored.values()]).toEqual([
      expect.objectContaining({ type: 'x.keep', version: 'rewritten', props: { a: 1, region: 'eu' } }),
    ]);
    expect(c.stats()).toMatchObject({ filtered: 1, droppedBy: { invalid: 1 } });
    await until(() => errors.length > 0);
    expect(errors.map((e) => e.code)).toEqual(['before_send']);
  });

  it('keeps about sampleRate of the events', async () => {
    const c = client({ sampleRate: 0.25, flushAt: 10_000 });
    for (let i = 0; i < 4_000; i++) c.track('a.b');
    const { sampledOut, tracked, pending } = c.stats();
    expect(tracked).toBe(4_000);
    expect(sampledOut + pending).toBe(4_000);
    expect(pending).toBeGreaterThan(800);
    expect(pending).toBeLessThan(1_200);
  });

  it('reports failures to onError after the track() call returns, coalesced by code', async () => {
    let inTrack = false;
    const seen: { code: string; count: number; duringTrack: boolean }[] = [];
    const c = client({
      maxQueueBytes: 2_000,
      onError: (e) => seen.push({ code: e.code, count: e.count, duringTrack: inTrack }),
    });
    for (let i = 0; i < 2_000; i++) {
      inTrack = true;
      c.track('a.b', { i });
      c.track('1 bad type');
      inTrack = false;
    }
    await until(() => seen.length >= 2);
    await new Promise((r) => setTimeout(r, 50));
    expect(seen.every((s) => !s.duringTrack)).toBe(true);
    expect(seen.find((s) => s.code === 'invalid_event')?.count).toBe(2_000);
    expect(seen.length).toBeLessThan(20);
  });

  it('turns unusable options into a disabled client and one invalid_config error, never a throw', async () => {
    const seen: VigilError[] = [];
    const c = createClient({ endpoint: 'not a url', key: '', version: '', onError: (e) => seen.push(e) });
    expect(c.enabled).toBe(false);
    c.track('a.b');
    expect(await c.flush()).toEqual({ sent: 0, dropped: 0, failed: 0, pending: 0 });
    await until(() => seen.length > 0);
    expect(seen).toHaveLength(1);
    expect(seen[0]?.code).toBe('invalid_config');
    expect(seen[0]?.message).toContain('endpoint');

    const disabled = client({ enabled: false });
    disabled.track('a.b');
    await disabled.flush();
    expect(server.requests).toHaveLength(0);
  });
});

describe('warnOncePerBurst', () => {
  it('warns on the first error of a burst and says how many it held back at the next', () => {
    let now = 0;
    const warnings: string[] = [];
    const onError = warnOncePerBurst({ quietMs: 1_000, warn: (m) => warnings.push(m), now: () => now });
    const err = { code: 'network', message: 'ECONNREFUSED' } as VigilError;
    onError(err);
    now = 500;
    onError(err);
    onError(err);
    expect(warnings).toEqual(['[vigil] network: ECONNREFUSED']);
    now = 1_600;
    onError(err);
    expect(warnings[1]).toBe('[vigil] network: ECONNREFUSED (2 more SDK errors since the last warning)');
  });
});
