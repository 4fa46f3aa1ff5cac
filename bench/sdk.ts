/**
 * SDK cost on the caller's thread: `track()` against posthog-node's `capture()` (and an OpenTelemetry
 * counter `add()`) measured the same ways in the same run, as issue 18 asks:
 * - with the host yielding to the event loop every 100 calls: per-call p50 / p99 / max;
 * - back-to-back, never yielding: mean per call over chunks of 1,000 calls timed together (so any
 *   encoding `track()` does for earlier events counts), and the longest single call of a per-call run;
 * then heap memory after a 10 M-event burst with the server down, against the queue cap. Each target
 * figure is one `sdk.target.*` line with its target and met=yes|no.
 *
 * Run: `npx tsx bench/sdk.ts` (or `npm run bench -- sdk`). Nothing leaves 127.0.0.1: the SDK talks to
 * a loopback sink (or a closed loopback port), posthog-node gets the loopback host and a local `fetch`
 * stub, so it never touches the network.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { PerformanceObserver } from 'node:perf_hooks';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import { PostHog } from 'posthog-node';
import { createClient } from '../packages/sdk/src/index.js';

const CALLS = Number(process.env.BENCH_SDK_CALLS ?? 1_000_000);
/** posthog-node does its batching work between calls (tens of µs of wall time per call here): 1 M would take minutes. */
const POSTHOG_CALLS = Number(process.env.BENCH_POSTHOG_CALLS ?? 200_000);
const BURST = Number(process.env.BENCH_SDK_BURST ?? 10_000_000);
/** Calls between yields to the event loop in the "host" runs: an app does other work between events. */
const YIELD_EVERY = 100;
/** Back-to-back calls timed together (one hrtime pair per chunk). */
const CHUNK = 1_000;

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
const heapAfterGc = () => {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
};
const yieldToLoop = () => new Promise<void>((resolve) => setImmediate(resolve));
const MB = 1024 * 1024;

const MODELS = ['gpt-4o', 'gpt-4o-mini', 'claude-sonnet', 'llama-3-70b'];
/** A realistic llm.request payload, varied per call like an app's would be. */
function props(i: number) {
  return {
    total_ms: 812.4 + (i % 300),
    context_ms: 40 + (i % 17),
    llm_ms: 772.4 + (i % 283),
    prompt_tokens: 300 + (i % 1700),
    completion_tokens: 50 + (i % 450),
    cache_hit: i % 3 === 0,
    user: `user-${i % 1000}`,
    space: `space-${i % 20}`,
    model: MODELS[i % 4]!,
  };
}

/** V8's garbage-collection pauses (ms, `performance.now()` time), as reported once the loop yields. */
const gcPauses: { start: number; duration: number }[] = [];
const gcObserver = new PerformanceObserver((list) => {
  for (const e of list.getEntries()) gcPauses.push({ start: e.startTime, duration: e.duration });
});
gcObserver.observe({ entryTypes: ['gc'] });
/** The longest GC pause that started between two `performance.now()` readings, in ns. */
async function longestGc(from: number, to: number): Promise<number> {
  await new Promise((resolve) => setTimeout(resolve, 20)); // let the observer deliver
  let longest = 0;
  for (const p of gcPauses) if (p.start >= from && p.start <= to) longest = Math.max(longest, p.duration);
  return Math.round(longest * 1e6);
}

interface Latency {
  /** Longest V8 GC pause during the timed calls, ns (a call that triggers one waits for it). */
  longestGc: number;
  median: number;
  p99: number;
  p999: number;
  max: number;
  mean: number;
  /** Wall time per call over the whole run, including the work done between calls (yields, deferred). */
  wallPerCall: number;
}

/** Calls that threw, over every measured run (the target is none). */
let threw = 0;
const guarded = (call: (i: number) => void) => (i: number) => {
  try {
    call(i);
  } catch {
    threw += 1;
  }
};

/** Times each call with hrtime; `yieldEvery` > 0 lets the event loop run between groups of calls. */
async function measure(call: (i: number) => void, n: number, yieldEvery: number): Promise<Latency> {
  const samples = new Float64Array(n);
  for (let i = 0; i < Math.min(n, 50_000); i++) call(i); // warm up the JIT
  await yieldToLoop();
  const from = performance.now();
  const started = process.hrtime.bigint();
  for (let i = 0; i < n; i++) {
    const t0 = process.hrtime.bigint();
    try {
      call(i);
    } catch {
      threw += 1;
    }
    samples[i] = Number(process.hrtime.bigint() - t0);
    if (yieldEvery > 0 && i % yieldEvery === yieldEvery - 1) await yieldToLoop();
  }
  const wall = Number(process.hrtime.bigint() - started);
  const gc = await longestGc(from, performance.now());
  let sum = 0;
  for (let i = 0; i < n; i++) sum += samples[i]!;
  samples.sort();
  const at = (q: number) => samples[Math.min(n - 1, Math.floor(q * n))]!;
  return {
    longestGc: gc,
    median: at(0.5),
    p99: at(0.99),
    p999: at(0.999),
    max: samples[n - 1]!,
    mean: sum / n,
    wallPerCall: wall / n,
  };
}

interface Chunked {
  /** Mean per call over all chunks (total time of the timed chunks / calls). */
  mean: number;
  /** Mean per call of the slowest chunk. */
  worstChunk: number;
  /** p99 over the chunks of their mean per call. */
  p99Chunk: number;
}

/**
 * Back-to-back: `n` calls without yielding to the event loop, timed in chunks of {@link CHUNK} calls
 * (one hrtime pair per chunk, so the timer's cost is spread over 1,000 calls).
 */
async function measureChunks(call: (i: number) => void, n: number): Promise<Chunked> {
  const chunks = Math.max(1, Math.floor(n / CHUNK));
  const perCall = new Float64Array(chunks);
  for (let i = 0; i < Math.min(n, 50_000); i++) call(i); // warm up the JIT
  await yieldToLoop();
  let total = 0;
  for (let c = 0; c < chunks; c++) {
    const base = c * CHUNK;
    const t0 = process.hrtime.bigint();
    for (let i = base; i < base + CHUNK; i++) call(i);
    const took = Number(process.hrtime.bigint() - t0);
    total += took;
    perCall[c] = took / CHUNK;
  }
  perCall.sort();
  return {
    mean: total / (chunks * CHUNK),
    worstChunk: perCall[chunks - 1]!,
    p99Chunk: perCall[Math.min(chunks - 1, Math.floor(0.99 * chunks))]!,
  };
}

const met = (ok: boolean) => `met=${ok ? 'yes' : 'no'}`;

const fmt = (l: Latency) =>
  `median_ns=${Math.round(l.median)} p99_ns=${Math.round(l.p99)} p999_ns=${Math.round(l.p999)} max_ns=${Math.round(l.max)} mean_ns=${Math.round(l.mean)}`;

/** A loopback Vigil stand-in that drains bodies and acknowledges them, without parsing. */
async function startSink(): Promise<{ port: number; requests: () => number; close: () => Promise<void> }> {
  let requests = 0;
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      requests += 1;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"accepted":0,"rejected":[]}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    requests: () => requests,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

async function closedPort(): Promise<number> {
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

const sink = await startSink();
const results: string[] = [];
const emit = (line: string) => {
  results.push(line);
  console.log(line);
};

// Timer overhead: what every figure below includes.
const empty = await measure(() => {}, CALLS, 0);
emit(
  `sdk.timer_overhead median_ns=${Math.round(empty.median)} p99_ns=${Math.round(empty.p99)} max_ns=${Math.round(empty.max)} (hrtime pair, included in all per-call figures; its max is what an empty call shows of the machine's own stalls: preemption, GC)`,
);

// --- Vigil SDK -------------------------------------------------------------------------------------
const vigil = createClient({
  endpoint: `http://127.0.0.1:${sink.port}`,
  key: 'bench',
  version: '2.3.1',
  onError: () => {},
});
const vigilTrack = guarded((i) => vigil.track('llm.request', props(i)));
const vigilHost = await measure(vigilTrack, CALLS, YIELD_EVERY);
await vigil.flush({ timeoutMs: 60_000 });
const chunkStart = process.hrtime.bigint();
const vigilChunks = await measureChunks(vigilTrack, CALLS);
await vigil.flush({ timeoutMs: 60_000 });
const chunkFullPerCall = Number(process.hrtime.bigint() - chunkStart) / CALLS;
const vigilTight = await measure(vigilTrack, CALLS, 0);
const vigilReport = await vigil.shutdown({ timeoutMs: 60_000 });
emit(
  `sdk.track ${fmt(vigilHost)} calls=${CALLS} yield_every=${YIELD_EVERY} target_median<=1000 target_p99<=20000 met=${vigilHost.median <= 1000 && vigilHost.p99 <= 20_000 ? 'yes' : 'no'}`,
);
emit(
  `sdk.track_tight ${fmt(vigilTight)} calls=${CALLS} yield_every=none (back-to-back, each call timed) met=${vigilTight.median <= 1000 && vigilTight.p99 <= 20_000 ? 'yes' : 'no'}`,
);
emit(
  `sdk.track_chunks mean_ns_per_call=${Math.round(vigilChunks.mean)} p99_chunk_ns_per_call=${Math.round(vigilChunks.p99Chunk)} worst_chunk_ns_per_call=${Math.round(vigilChunks.worstChunk)} calls=${CALLS} chunk=${CHUNK} yield_every=none (back-to-back, chunks timed together)`,
);
emit(
  `sdk.track_full_cost ns_per_event_host=${Math.round(vigilHost.wallPerCall)} ns_per_event_tight=${Math.round(chunkFullPerCall)} (track + encode + send, wall clock until flushed, incl. the loopback sink in-process) sent=${vigilReport.sent} dropped_at_cap=${vigilReport.dropped} pending=${vigilReport.pending} requests=${sink.requests()}`,
);

// --- posthog-node capture() ------------------------------------------------------------------------
let posthogFetches = 0;
const newPosthog = () => {
  const client = new PostHog('phc_bench_key', {
    host: `http://127.0.0.1:${sink.port}`,
    // Never the network: posthog-node sends everything through this.
    fetch: async () => {
      posthogFetches += 1;
      return {
        status: 200,
        text: async () => '{}',
        json: async () => ({}),
        headers: { get: () => null },
      } as never;
    },
    featureFlagsPollingInterval: null,
    enableLocalEvaluation: false,
    preloadFeatureFlags: false,
    disableRemoteConfig: true,
    disableGeoip: true,
    enableExceptionAutocapture: false,
  });
  client.on('error', () => {});
  return client;
};
let posthog = newPosthog();
const posthogCapture = guarded((i) =>
  posthog.capture({ distinctId: `user-${i % 1000}`, event: 'llm.request', properties: props(i) }),
);
const posthogHost = await measure(posthogCapture, POSTHOG_CALLS, YIELD_EVERY);
await posthog.shutdown(10_000);
posthog = newPosthog();
const posthogChunks = await measureChunks(posthogCapture, POSTHOG_CALLS);
await posthog.shutdown(30_000);
posthog = newPosthog();
const posthogTight = await measure(posthogCapture, POSTHOG_CALLS, 0);
await posthog.shutdown(30_000);
emit(
  `posthog.capture ${fmt(posthogHost)} calls=${POSTHOG_CALLS} yield_every=${YIELD_EVERY} full_cost_ns_per_event=${Math.round(posthogHost.wallPerCall)} fetches=${posthogFetches} (local fetch stub)`,
);
emit(
  `posthog.capture_tight ${fmt(posthogTight)} calls=${POSTHOG_CALLS} yield_every=none (back-to-back, each call timed)`,
);
emit(
  `posthog.capture_chunks mean_ns_per_call=${Math.round(posthogChunks.mean)} p99_chunk_ns_per_call=${Math.round(posthogChunks.p99Chunk)} worst_chunk_ns_per_call=${Math.round(posthogChunks.worstChunk)} calls=${POSTHOG_CALLS} chunk=${CHUNK} yield_every=none (back-to-back, chunks timed together)`,
);

// --- OpenTelemetry counter add() -------------------------------------------------------------------
const meterProvider = new MeterProvider();
const counter = meterProvider.getMeter('bench').createCounter('llm.requests');
const otel = await measure(
  (i) => counter.add(1, { model: MODELS[i % 4]!, space: `space-${i % 20}` }),
  CALLS,
  YIELD_EVERY,
);
await meterProvider.shutdown();
emit(`otel.counter_add ${fmt(otel)} calls=${CALLS} yield_every=${YIELD_EVERY}`);

const ratioMedian = vigilHost.median / posthogHost.median;
const ratioMean = vigilHost.wallPerCall / posthogHost.wallPerCall;
emit(
  `sdk.ratio_vs_posthog median=${ratioMedian.toFixed(3)} p99=${(vigilHost.p99 / posthogHost.p99).toFixed(3)} chunk_mean=${(vigilChunks.mean / posthogChunks.mean).toFixed(3)} full_cost=${ratioMean.toFixed(3)} target<=0.3 met=${ratioMedian <= 0.3 && vigilChunks.mean / posthogChunks.mean <= 0.3 ? 'yes' : 'no'}`,
);
// Issue 18's SDK targets, one figure a line.
const hostRatio = vigilHost.median / posthogHost.median;
const chunkRatio = vigilChunks.mean / posthogChunks.mean;
emit(
  `sdk.target.host_p50 ns=${Math.round(vigilHost.median)} target<=1000 ${met(vigilHost.median <= 1000)} (yield every ${YIELD_EVERY} calls)`,
);
emit(
  `sdk.target.host_p50_vs_posthog ratio=${hostRatio.toFixed(3)} sdk_ns=${Math.round(vigilHost.median)} posthog_ns=${Math.round(posthogHost.median)} target<=0.3 ${met(hostRatio <= 0.3)}`,
);
emit(`sdk.target.host_p99 ns=${Math.round(vigilHost.p99)} target<=20000 ${met(vigilHost.p99 <= 20_000)}`);
emit(
  `sdk.target.host_max ns=${Math.round(vigilHost.max)} target<=1000000 ${met(vigilHost.max <= 1_000_000)} (longest GC pause in the run ${vigilHost.longestGc} ns; empty call max_ns=${Math.round(empty.max)}; posthog max_ns=${Math.round(posthogHost.max)})`,
);
emit(
  `sdk.target.tight_mean ns_per_call=${Math.round(vigilChunks.mean)} target<=1000 ${met(vigilChunks.mean <= 1000)} (chunks of ${CHUNK} back-to-back, never yielding)`,
);
emit(
  `sdk.target.tight_mean_vs_posthog ratio=${chunkRatio.toFixed(3)} sdk_ns=${Math.round(vigilChunks.mean)} posthog_ns=${Math.round(posthogChunks.mean)} target<=0.3 ${met(chunkRatio <= 0.3)}`,
);
emit(
  `sdk.target.tight_p99 ns=${Math.round(vigilTight.p99)} target<=20000 ${met(vigilTight.p99 <= 20_000)} (each call timed, back-to-back)`,
);
emit(
  `sdk.target.tight_max ns=${Math.round(vigilTight.max)} target<=1000000 ${met(vigilTight.max <= 1_000_000)} (longest single call, back-to-back; longest GC pause in the run ${vigilTight.longestGc} ns; empty call max_ns=${Math.round(empty.max)}; posthog max_ns=${Math.round(posthogTight.max)})`,
);
emit(
  `sdk.target.never_throws threw=${threw} target=0 ${met(threw === 0)} (every measured call of track() and capture())`,
);
emit(
  `sdk.ratio_vs_otel_counter median=${(vigilHost.median / otel.median).toFixed(2)} p99=${(vigilHost.p99 / otel.p99).toFixed(2)} (a counter increment does far less than recording an event)`,
);
await sink.close();

// --- 10 M-event burst with the server down ---------------------------------------------------------
const cap = 50 * MB;
const down = createClient({
  endpoint: `http://127.0.0.1:${await closedPort()}`,
  key: 'bench',
  version: '2.3.1',
  maxQueueBytes: cap,
  flushOnExit: false,
  onError: () => {},
});
const before = heapAfterGc();
const rssBefore = process.memoryUsage().rss;
let peakHeap = 0;
const burstStart = process.hrtime.bigint();
for (let i = 0; i < BURST; i++) {
  down.track('llm.request', props(i));
  if (i % 1_000_000 === 999_999) peakHeap = Math.max(peakHeap, process.memoryUsage().heapUsed - before);
}
const burstNs = Number(process.hrtime.bigint() - burstStart);
const stats = down.stats();
const after = heapAfterGc() - before;
const rssAfter = process.memoryUsage().rss;
emit(
  `sdk.burst_memory heap_growth_mb=${(after / MB).toFixed(1)} cap_mb=${cap / MB} queued_bytes_mb=${(stats.queuedBytes / MB).toFixed(1)} queued_events=${stats.queuedEvents} pending_events=${stats.pending} dropped=${stats.droppedBy.queueFull} events=${BURST} ns_per_event=${Math.round(burstNs / BURST)} peak_heap_growth_before_gc_mb=${(peakHeap / MB).toFixed(0)} rss_growth_mb=${((rssAfter - rssBefore) / MB).toFixed(0)} target<=cap met=${after <= cap ? 'yes' : 'no'}`,
);
await down.shutdown({ timeoutMs: 100 });
gcObserver.disconnect();
