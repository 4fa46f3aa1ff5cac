/**
 * Acknowledgement latency and memory (issue 18): the capacity is measured first (keep-alive senders
 * as fast as the server acknowledges, `httpIngest` of ingest.ts), then a fresh server gets half that
 * rate open-loop — batches sent on a fixed schedule whether or not earlier ones were answered, each
 * latency counted from its scheduled time, so a stall is not hidden by senders that wait. Then the
 * server's memory after it has been idle for a while.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BATCH, DURATION_S, eventsBody, httpIngest, post, rssMb, startServer } from './ingest.js';

const WARMUP_S = 2;
/** Seconds without requests before the idle memory is read. */
const IDLE_S = Number(process.env.BENCH_IDLE_SECONDS ?? 15);

const percentile = (sorted: readonly number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;

const dir = mkdtempSync(join(tmpdir(), 'vigil-bench-latency-'));
try {
  for (const d of ['capacity', 'paced']) mkdirSync(join(dir, d));
  const capacity = (await httpIngest(join(dir, 'capacity'))).rate;
  const rate = capacity / 2;
  const { child, port, key } = await startServer(join(dir, 'paced'));
  const pid = child.pid as number;
  try {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
    const everyMs = (BATCH / rate) * 1000;
    const latencies: number[] = [];
    const statuses = new Map<number, number>();
    let peak = 0;
    const sampler = setInterval(() => {
      peak = Math.max(peak, rssMb(pid).rss);
    }, 250);
    const start = performance.now();
    const end = start + (WARMUP_S + DURATION_S) * 1000;
    const inFlight: Promise<void>[] = [];
    for (let n = 0; ; n++) {
      const due = start + n * everyMs;
      if (due >= end) break;
      const wait = due - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      const payload = eventsBody();
      inFlight.push(
        post(agent, port, key, payload).then(
          (status) => {
            statuses.set(status, (statuses.get(status) ?? 0) + 1);
            if (due >= start + WARMUP_S * 1000) latencies.push(performance.now() - due);
          },
          () => void statuses.set(-1, (statuses.get(-1) ?? 0) + 1),
        ),
      );
    }
    await Promise.all(inFlight);
    clearInterval(sampler);
    agent.destroy();
    const hwm = rssMb(pid).hwm;
    await new Promise((r) => setTimeout(r, IDLE_S * 1000));
    const idle = rssMb(pid).rss;
    latencies.sort((a, b) => a - b);
    const p99 = percentile(latencies, 99);
    const codes = [...statuses].map(([s, c]) => `${s}:${c}`).join(',');
    console.log(
      `ingest.ack_latency_ms p50=${percentile(latencies, 50).toFixed(1)} p99=${p99.toFixed(1)} max=${(latencies.at(-1) ?? Number.NaN).toFixed(1)} at_events_per_s=${Math.round(rate)} (half of the capacity ${Math.round(capacity)} measured first) batch=${BATCH} requests=${latencies.length} statuses=${codes} target_p99<=100 met=${p99 <= 100 ? 'yes' : 'no'}`,
    );
    console.log(
      `ingest.idle_rss_mb after_${IDLE_S}s=${Math.round(idle)} peak_during_half_load=${Math.round(peak)} vm_hwm=${Math.round(hwm)} target<=150 met=${idle <= 150 ? 'yes' : 'no'}`,
    );
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.on('exit', r));
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
