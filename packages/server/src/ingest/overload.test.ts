/**
 * Overload fault test: a real `vigil serve` process is sent three times the ingest rate it was
 * just measured to sustain. It must shed with 429 + Retry-After (never a 5xx, never hang), keep
 * its memory bounded, accept again once the load stops, and have stored every event it
 * acknowledged. Bounds are generous (behaviour, not speed: that lives in `npm run bench`).
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { openStore } from '../store/index.js';
import { scratchDirs } from '../test/harness.js';
import { spawnServer, stopSpawned } from '../test/process.js';

const scratch = scratchDirs();
afterEach(async () => {
  await stopSpawned();
  scratch.cleanup();
});

const BATCH = 500;
const SENDERS = 64;
const OVERLOAD_MS = 8_000;
/**
 * Bounded means: shedding keeps the server near what it holds at full load (an unbounded queue at
 * three times capacity would add hundreds of MB within seconds), and under a generous ceiling
 * (the server runs from source here, tsx compiling in memory; the design target for a built
 * server under full load is 300 MB).
 */
const RSS_GROWTH = 1.5;
/**
 * Growth allowed on a small server, above the median of its memory over the capacity phase. 256 MB
 * (the bound before 2026-12-03) failed 1 run of 3 with the median too (peak 743 MB over a median of
 * ~413 MB at load ~8): the server may hold up to `ingest.maxInFlightBytes` (256 MB) of bodies
 * besides, so it stays at 384 MB until that memory is cut (the absolute ceiling is unchanged).
 */
const RSS_HEADROOM = 384 * 1024 * 1024;
const RSS_CEILING = 1024 * 1024 * 1024;

function batch(): { ids: string[]; body: string } {
  const events = Array.from({ length: BATCH }, (_, i) => ({
    id: randomUUID(),
    type: 'llm.request',
    props: { total_ms: 100 + i, prompt_tokens: 10, completion_tokens: 5, model: 'm', user: 'u' },
  }));
  return { ids: events.map((e) => e.id), body: JSON.stringify({ events }) };
}

/** The server's resident memory, from /proc (the test runs where the server is a child). */
function rssOf(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : 0;
}

interface Outcome {
  status: number;
  retryAfter: string | null;
  code: string | null;
}

async function send(url: string, key: string, body: string): Promise<Outcome> {
  try {
    const res = await fetch(`${url}/v1/events`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body,
    });
    const text = await res.text();
    let code: string | null = null;
    if (res.status !== 200) {
      try {
        code = (JSON.parse(text) as { error: { code: string } }).error.code;
      } catch {
        code = `unreadable: ${text.slice(0, 100)}`;
      }
    }
    return { status: res.status, retryAfter: res.headers.get('retry-after'), code };
  } catch (err) {
    return { status: -1, retryAfter: null, code: String((err as Error).cause ?? err) };
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('ingest under overload', () => {
  it('sheds three times its measured capacity with 429 + Retry-After, stays within its memory, recovers and loses nothing acknowledged', async () => {
    const dataDir = scratch.fresh();
    const server = await spawnServer(dataDir, { VIGIL_ADMIN_TOKEN: 'overload-admin-token' });
    const key = (/ingest key:\s+(\S+)/.exec(server.stdout()) as RegExpExecArray)[1] as string;
    const pid = server.child.pid as number;
    const acked: string[] = [];
    const outcomes: Outcome[] = [];
    const record = (ids: string[], o: Outcome) => {
      outcomes.push(o);
      if (o.status === 200) acked.push(...ids);
    };

    // Capacity: closed loop, after a warm-up, with enough senders that group commits are as large
    // as they get (throughput grows with concurrency up to there).
    const closedLoop = async (ms: number) => {
      const until = Date.now() + ms;
      let stored = 0;
      await Promise.all(
        Array.from({ length: SENDERS }, async () => {
          while (Date.now() < until) {
            const b = batch();
            const o = await send(server.url, key, b.body);
            record(b.ids, o);
            if (o.status === 200) stored += BATCH;
          }
        }),
      );
      return stored / (ms / 1000);
    };
    await closedLoop(2_000);
    // Memory at capacity: the median of samples over the measured phase (one sample caught the
    // server between a checkpoint or GC and its next, anywhere within 100 MB).
    const samples: number[] = [];
    const sampler = setInterval(() => samples.push(rssOf(pid)), 100);
    let capacity: number;
    try {
      capacity = await closedLoop(4_000); // events per second
    } finally {
      clearInterval(sampler);
    }
    samples.push(rssOf(pid));
    samples.sort((a, b) => a - b);
    const rssAtCapacity = samples[Math.floor(samples.length / 2)] as number;
    expect(capacity).toBeGreaterThan(0);

    // Overload: open loop at three times that, whatever the answers. The bodies are made first,
    // so that making them never slows the sending.
    const perSecond = (3 * capacity) / BATCH;
    const bodies = Array.from({ length: Math.ceil((perSecond * OVERLOAD_MS) / 1000) + 1 }, batch);
    const pending = new Set<Promise<void>>();
    let peakRss = rssOf(pid);
    const overloadStarted = Date.now();
    let sent = 0;
    while (Date.now() - overloadStarted < OVERLOAD_MS) {
      const due = Math.floor(((Date.now() - overloadStarted) / 1000) * perSecond) + 1;
      // The client caps what it holds open far above the server's own limit (128 requests).
      while (sent < due && sent < bodies.length && pending.size < 1_000) {
        const b = bodies[sent] as { ids: string[]; body: string };
        const p = send(server.url, key, b.body).then((o) => {
          record(b.ids, o);
          pending.delete(p);
        });
        pending.add(p);
        sent += 1;
      }
      peakRss = Math.max(peakRss, rssOf(pid));
      await sleep(20);
    }
    while (pending.size > 0) {
      peakRss = Math.max(peakRss, rssOf(pid));
      await Promise.race([Promise.all(pending), sleep(100)]);
    }

    const during = outcomes.slice(-sent);
    const shed = during.filter((o) => o.status === 429);
    // Shed, each with a catalog code and a Retry-After; nothing else but acceptance.
    expect(shed.length).toBeGreaterThan(0);
    for (const o of shed) {
      expect(['overloaded', 'rate_limited']).toContain(o.code);
      expect(Number(o.retryAfter)).toBeGreaterThanOrEqual(1);
    }
    expect(during.filter((o) => o.status !== 200 && o.status !== 429)).toEqual([]);
    expect(during.some((o) => o.status === 200)).toBe(true);
    expect(peakRss).toBeLessThan(Math.max(RSS_GROWTH * rssAtCapacity, rssAtCapacity + RSS_HEADROOM));
    expect(peakRss).toBeLessThan(RSS_CEILING);

    // Recovery: once the load stops, a batch is accepted again (within a generous minute).
    let recovered: Outcome | null = null;
    for (let i = 0; i < 120 && recovered?.status !== 200; i++) {
      if (i > 0) await sleep(500);
      const b = batch();
      recovered = await send(server.url, key, b.body);
      record(b.ids, recovered);
    }
    expect(recovered?.status).toBe(200);

    // Nothing acknowledged is lost: after a graceful stop, every acked id is in the store.
    server.child.kill('SIGTERM');
    await server.exited;
    const store = await openStore({ dataDir, migrate: false });
    try {
      let found = 0;
      for (let i = 0; i < acked.length; i += 5_000)
        found += (await store.events.findExistingIds(acked.slice(i, i + 5_000))).size;
      expect(found).toBe(acked.length);
    } finally {
      await store.close();
    }
    console.log(
      `overload: capacity ${Math.round(capacity)} events/s, sent ${sent} requests at 3x, shed ${shed.length}, acked ${acked.length} events, RSS ${Math.round(rssAtCapacity / 1024 / 1024)} MB at capacity, peak ${Math.round(peakRss / 1024 / 1024)} MB under overload`,
    );
  }, 300_000);
});
