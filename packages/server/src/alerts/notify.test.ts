import { createServer as createHttpServer } from 'node:http';
import { createServer } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { type DeliverySettings, Notifier } from './notify.js';
import { SIGNATURE_HEADER, sign, TIMESTAMP_HEADER } from './payload.js';
import { webhookReceiver } from './testing.js';

const settings: DeliverySettings = {
  maxQueue: 100,
  concurrency: 2,
  timeoutMs: 2_000,
  maxAttempts: 4,
  retryBaseMs: 10,
  retryMaxMs: 50,
};
const quiet = { info: () => undefined, warn: () => undefined, error: () => undefined };
const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of closers.splice(0)) await c();
});

async function receiver(status: (n: number) => number) {
  const r = await webhookReceiver(status);
  closers.push(r.close);
  return r;
}

describe('Notifier (real HTTP receivers on loopback)', () => {
  it('does not retry a 4xx answer', async () => {
    const hook = await receiver(() => 400);
    const n = new Notifier(settings, quiet);
    n.enqueue({ receiver: { type: 'webhook', url: hook.url }, body: '{}', alertId: 'a', status: 'firing' });
    await n.idle();
    expect(hook.received).toHaveLength(1);
    expect(n.snapshot()).toMatchObject({ delivered: 0, failed: 1, retried: 0 });
  });

  it('retries a 5xx answer with backoff until it is accepted', async () => {
    const hook = await receiver((i) => (i <= 2 ? 503 : 200));
    const n = new Notifier(settings, quiet);
    n.enqueue({
      receiver: { type: 'webhook', url: hook.url, secret: 'k' },
      body: '{"x":1}',
      alertId: 'a',
      status: 'firing',
    });
    await n.idle();
    expect(hook.received).toHaveLength(3);
    expect(n.snapshot()).toMatchObject({ delivered: 1, failed: 0, retried: 2 });
    // Every attempt is signed over its own timestamp and the same body.
    for (const r of hook.received) {
      expect(r.body).toBe('{"x":1}');
      expect(r.headers[SIGNATURE_HEADER]).toBe(sign('k', r.headers[TIMESTAMP_HEADER] as string, r.body));
    }
    // Backoff: the gaps grow (10 ms base, doubled, with jitter between half and full).
    const [a, b, c] = hook.received.map((r) => r.at) as [number, number, number];
    expect(b - a).toBeGreaterThanOrEqual(4);
    expect(c - b).toBeGreaterThanOrEqual(9);
  });

  it('gives up on a 5xx after maxAttempts', async () => {
    const hook = await receiver(() => 500);
    const n = new Notifier(settings, quiet);
    n.enqueue({ receiver: { type: 'webhook', url: hook.url }, body: '{}', alertId: 'a', status: 'firing' });
    await n.idle();
    expect(hook.received).toHaveLength(settings.maxAttempts);
    expect(n.snapshot()).toMatchObject({ delivered: 0, failed: 1, retried: settings.maxAttempts - 1 });
  });

  it('retries network errors (connection refused)', async () => {
    // A port that was free a moment ago: nothing listens there.
    const probe = createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    const port = (probe.address() as { port: number }).port;
    await new Promise<void>((r) => probe.close(() => r()));
    const n = new Notifier(settings, quiet);
    n.enqueue({
      receiver: { type: 'webhook', url: `http://127.0.0.1:${port}/hook` },
      body: '{}',
      alertId: 'a',
      status: 'firing',
    });
    await n.idle();
    expect(n.snapshot()).toMatchObject({ delivered: 0, failed: 1, retried: settings.maxAttempts - 1 });
  });

  it('stop() does not wait out a receiver that never answers', async () => {
    const hanging = createHttpServer(() => undefined);
    await new Promise<void>((r) => hanging.listen(0, '127.0.0.1', r));
    closers.push(
      () =>
        new Promise<void>((r) => {
          hanging.closeAllConnections();
          hanging.close(() => r());
        }),
    );
    const port = (hanging.address() as { port: number }).port;
    const n = new Notifier({ ...settings, timeoutMs: 60_000 }, quiet);
    n.enqueue({
      receiver: { type: 'webhook', url: `http://127.0.0.1:${port}/` },
      body: '{}',
      alertId: 'a',
      status: 'firing',
    });
    await new Promise((r) => setTimeout(r, 100));
    expect(n.snapshot().inFlight).toBe(1);
    const started = Date.now();
    await n.stop();
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(n.snapshot()).toMatchObject({ inFlight: 0, delivered: 0 });
  });

  it('bounds its queue: deliveries beyond maxQueue are dropped and counted, never block the caller', async () => {
    const hook = await receiver(() => 200);
    const n = new Notifier({ ...settings, maxQueue: 5, concurrency: 1 }, quiet);
    const accepted = Array.from({ length: 20 }, () =>
      n.enqueue({ receiver: { type: 'webhook', url: hook.url }, body: '{}', alertId: 'a', status: 'firing' }),
    );
    expect(accepted.filter(Boolean)).toHaveLength(5);
    await n.idle();
    expect(hook.received).toHaveLength(5);
    expect(n.snapshot()).toMatchObject({ delivered: 5, dropped: 15 });
  });
});
