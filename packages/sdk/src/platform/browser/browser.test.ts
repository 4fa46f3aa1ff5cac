/**
 * The browser platform, run under Node (which has the same fetch, AbortController and
 * CompressionStream) against a loopback server.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { buildClient } from '../../client/client.js';
import { LoopbackVigil, until } from '../../test/loopback-server.js';
import { onPageHidden, platform } from './index.js';
import { FetchTransport } from './transport.js';

let server: LoopbackVigil;
beforeEach(async () => {
  server = await LoopbackVigil.start();
});
afterEach(async () => {
  await server.close();
});

const body = (n: number) =>
  JSON.stringify({
    events: Array.from({ length: n }, (_, i) => ({
      id: `0190a000-0000-7000-8000-${String(i).padStart(12, '0')}`,
      type: 'a.b',
      ts: 1,
      version: 'v',
      props: { i },
    })),
  });

function transport(timeoutMs = 5_000) {
  return new FetchTransport({
    url: `${server.url}/v1/events`,
    key: 'k',
    timeoutMs,
    compress: true,
    userAgent: 'test',
  });
}

/** A window and a document the page-lifecycle code can listen on. */
function fakePage() {
  const win = new EventTarget();
  const doc = Object.assign(new EventTarget(), { visibilityState: 'visible' });
  return {
    win,
    doc,
    hide: () => win.dispatchEvent(new Event('pagehide')),
    setVisibility: (state: string) => {
      doc.visibilityState = state;
      doc.dispatchEvent(new Event('visibilitychange'));
    },
  };
}

describe('FetchTransport', () => {
  it('posts gzip through CompressionStream with the bearer key, and reads the answer', async () => {
    const result = await transport().send({ body: body(50), urgent: false });
    expect(result).toMatchObject({ kind: 'response', status: 200 });
    const [request] = server.requests;
    expect(request?.headers['content-encoding']).toBe('gzip');
    expect(request?.headers.authorization).toBe('Bearer k');
    expect(request?.bytes).toBeLessThan(body(50).length / 2);
    expect(request?.events).toHaveLength(50);
  });

  it('sends urgent bodies uncompressed, so the request starts before the page is gone', async () => {
    await transport().send({ body: body(50), urgent: true });
    expect(server.requests[0]?.headers['content-encoding']).toBeUndefined();
    expect(server.requests[0]?.events).toHaveLength(50);
  });

  it('gives up at the timeout, and reports an abort by close() as such', async () => {
    server.respond = () => ({ status: 200, body: '{}', delayMs: 3_000 });
    expect(await transport(100).send({ body: body(1), urgent: false })).toMatchObject({
      kind: 'failure',
      reason: 'timeout',
    });
    const t = transport();
    const pending = t.send({ body: body(1), urgent: false });
    await until(() => server.requests.length === 2);
    t.close();
    expect(await pending).toMatchObject({ kind: 'failure', reason: 'aborted' });
  });

  it('reports a refused connection as a network failure', async () => {
    await server.down();
    expect(await transport().send({ body: body(1), urgent: false })).toMatchObject({
      kind: 'failure',
      reason: 'network',
    });
  });
});

describe('onPageHidden', () => {
  it('fires on pagehide and on visibilitychange to hidden, not to visible, until unsubscribed', () => {
    const page = fakePage();
    let calls = 0;
    const off = onPageHidden(() => calls++, page.win, page.doc);
    page.hide();
    page.setVisibility('visible');
    page.setVisibility('hidden');
    expect(calls).toBe(2);
    off();
    page.hide();
    page.setVisibility('hidden');
    expect(calls).toBe(2);
  });

  it('does nothing where there is no window or document (workers, SSR)', () => {
    expect(() => onPageHidden(() => {}, undefined, undefined)()).not.toThrow();
  });
});

describe('a client on the browser platform', () => {
  it('batches and delivers with fetch', async () => {
    const client = buildClient(
      { endpoint: server.url, key: 'k', version: 'web-1', flushOnExit: false },
      platform,
    );
    for (let i = 0; i < 30; i++) client.track('page.viewed', { i });
    expect(await client.shutdown()).toEqual({ sent: 30, dropped: 0, failed: 0, pending: 0 });
    expect([...server.stored.values()].map((e) => e.version)).toEqual(Array(30).fill('web-1'));
  });

  it('sends at once, uncompressed, when the page is hidden', async () => {
    const page = fakePage();
    const client = buildClient(
      { endpoint: server.url, key: 'k', version: 'web-1', flushAt: 1_000, flushIntervalMs: 60_000 },
      { ...platform, onTerminate: (callback) => onPageHidden(() => callback(true), page.win, page.doc) },
    );
    for (let i = 0; i < 40; i++) client.track('page.viewed', { i, path: `/reports/${i}/details` });
    page.setVisibility('hidden');
    expect(await until(() => server.stored.size === 40, 2_000)).toBe(true);
    expect(server.requests).toHaveLength(1);
    expect(server.requests[0]?.headers['content-encoding']).toBeUndefined();
    await client.shutdown();
  });
});
