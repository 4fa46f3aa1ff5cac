import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { call, readEvents, removeDataDir, startVigil, tempDir } from '../test/harness.js';

const batch = (n: number, type = 'life.test') =>
  Array.from({ length: n }, () => ({ id: randomUUID(), type }));

describe('server lifecycle', () => {
  it('graceful shutdown finishes the commits of requests already in flight, then refuses new ones', async () => {
    const dataDir = tempDir();
    try {
      const vigil = await startVigil({ dataDir });
      const sent = Array.from({ length: 12 }, () => batch(300));
      // Begin shutting down at the moment the first commit is in flight.
      const committer = vigil.server.context.committer;
      const submit = committer.submit.bind(committer);
      let closing: Promise<void> | null = null;
      let inFlightAtClose = 0;
      committer.submit = (events) => {
        const result = submit(events);
        if (!closing) {
          inFlightAtClose = committer.inFlight;
          closing = vigil.stop();
        }
        return result;
      };
      const results = await Promise.all(
        sent.map((events) =>
          call(vigil, 'POST', '/v1/events', { token: vigil.ingestKey, json: { events } }).catch(() => null),
        ),
      );
      await closing;
      const acked = sent.filter((_, i) => results[i]?.status === 200).flat();
      expect(inFlightAtClose).toBeGreaterThan(0);
      expect(acked.length).toBeGreaterThanOrEqual(inFlightAtClose);
      for (const r of results) if (r) expect([200, 503]).toContain(r.status);

      const again = await startVigil({ dataDir });
      try {
        const stored = new Set((await readEvents(again, { type: 'life.test' })).map((e) => e.id));
        expect(acked.filter((e) => !stored.has(e.id))).toEqual([]);
      } finally {
        await again.stop();
      }
    } finally {
      removeDataDir(dataDir);
    }
  });

  it('sheds load with 429 and Retry-After when too much is waiting for commit, and recovers', async () => {
    const vigil = await startVigil({ config: { ingest: { maxInFlightEvents: 600 } } });
    try {
      const results = await Promise.all(
        Array.from({ length: 16 }, () =>
          call(vigil, 'POST', '/v1/events', { token: vigil.ingestKey, json: { events: batch(500) } }),
        ),
      );
      const shed = results.filter((r) => r.status === 429);
      expect(shed.length).toBeGreaterThan(0);
      for (const r of shed) {
        expect((r.body as { error: { code: string } }).error.code).toBe('overloaded');
        expect(r.headers.get('retry-after')).toBe('1');
      }
      expect(results.filter((r) => r.status === 200).length).toBeGreaterThan(0);
      expect(results.every((r) => r.status === 200 || r.status === 429)).toBe(true);
      const after = await call(vigil, 'POST', '/v1/events', {
        token: vigil.ingestKey,
        json: { events: batch(500) },
      });
      expect(after.status).toBe(200);
    } finally {
      await vigil.cleanup();
    }
  });

  it('bounds the body bytes held in flight: a request beyond the budget is shed before its body is read', async () => {
    const vigil = await startVigil({ config: { ingest: { maxInFlightBytes: 64 * 1024 } } });
    try {
      const results = await Promise.all(
        Array.from({ length: 8 }, () =>
          call(vigil, 'POST', '/v1/events', { token: vigil.ingestKey, json: { events: batch(400) } }),
        ),
      );
      const statuses = results.map((r) => r.status);
      expect(statuses).toContain(200);
      expect(statuses).toContain(429);
      expect(statuses.every((s) => s === 200 || s === 429)).toBe(true);
    } finally {
      await vigil.cleanup();
    }
  });

  it('takes any VIGIL_ADMIN_TOKEN string as an admin bearer token, and reports readiness', async () => {
    const vigil = await startVigil({ config: { adminToken: 'short' } });
    try {
      expect((await call(vigil, 'GET', '/api/keys', { token: 'short' })).status).toBe(200);
      expect((await call(vigil, 'GET', '/api/keys', { token: 'shorter' })).status).toBe(401);
      expect(await call(vigil, 'GET', '/readyz')).toMatchObject({ status: 200, body: { status: 'ready' } });
      expect(await call(vigil, 'GET', '/healthz')).toMatchObject({ status: 200, body: { status: 'ok' } });
    } finally {
      await vigil.cleanup();
    }
  });
});
