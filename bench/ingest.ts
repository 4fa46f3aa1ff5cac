/**
 * Ingest throughput: the real server (built JS, own process) on loopback, keep-alive senders
 * posting batches of 500 realistic llm.request events, 200 only after commit. In the same run,
 * the raw DuckDB appender rate for the same rows (no HTTP, no validation) as the baseline, and
 * ClickHouse's own HTTP JSONEachRow insert of the same events at batch 100, 1,000 and 10,000
 * against Vigil at the same batch size (`versusClickHouse`).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { nextLink } from '../packages/server/src/audit/index.js';
import { type EventRow, emptyRow } from '../packages/server/src/model/index.js';
import {
  type BaselineEvent,
  baselineRow,
  type InsertBaseline,
  openInsertBaseline,
  openStore,
} from '../packages/server/src/store/index.js';
import { type ClickHouseServer, startClickHouse } from '../packages/server/src/test/clickhouse.js';

export const DURATION_S = Number(process.env.BENCH_SECONDS ?? 10);
const WARMUP_S = 2;
export const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 8);
export const BATCH = 500;
const root = join(dirname(fileURLToPath(import.meta.url)), '..');

const MODELS = ['gpt-4o', 'gpt-4o-mini', 'claude-sonnet', 'llama-3-70b'];
const ERRORS = ['timeout', 'rate_limit', 'context_length', 'server_error'];
let seq = 0;
const idPrefix = () => Date.now().toString(16).padStart(12, '0');

/** A realistic llm.request event as the SDK would send it (fresh UUIDv7-shaped id each time). */
export function llmEvent(now: number): BaselineEvent {
  const n = seq++;
  const hex = idPrefix();
  const id = `${hex.slice(0, 8)}-${hex.slice(8)}-7${(n & 0xfff).toString(16).padStart(3, '0')}-8${((n >>> 12) & 0xfff).toString(16).padStart(3, '0')}-${((n * 2654435761) >>> 0).toString(16).padStart(8, '0')}${(n & 0xffff).toString(16).padStart(4, '0')}`;
  const context = 20 + (n % 97);
  const llm = 200 + ((n * 7919) % 2800);
  const failed = n % 50 === 0;
  return {
    id,
    type: 'llm.request',
    ts: now,
    version: '2.3.1',
    props: {
      total_ms: context + llm + 3,
      context_ms: context,
      llm_ms: llm,
      prompt_tokens: 300 + (n % 1700),
      completion_tokens: failed ? 0 : 50 + (n % 450),
      cache_hit: n % 3 === 0,
      ...(failed ? { error_type: ERRORS[n % 4] } : {}),
      user: `user-${n % 1000}`,
      space: `space-${n % 20}`,
      model: MODELS[n % 4],
    },
  };
}

export const eventJson = (now: number): string => JSON.stringify(llmEvent(now));

/** A `/v1/events` body of `n` fresh events. */
export function eventsBody(n = BATCH): string {
  const now = Date.now();
  const parts = new Array<string>(n);
  for (let i = 0; i < n; i++) parts[i] = eventJson(now);
  return `{"events":[${parts.join(',')}]}`;
}

export function post(
  agent: http.Agent,
  port: number,
  key: string,
  payload: string | Buffer,
  { path = '/v1/events', contentType = 'application/json' } = {},
): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        path,
        method: 'POST',
        agent,
        headers: {
          ...(key ? { authorization: `Bearer ${key}` } : {}),
          'content-type': contentType,
          'content-length': Buffer.byteLength(payload),
        },
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

export function rssMb(pid: number): { rss: number; hwm: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (name: string) => Number(new RegExp(`${name}:\\s+(\\d+)`).exec(status)?.[1] ?? 0);
  return { rss: kb('VmRSS') / 1024, hwm: kb('VmHWM') / 1024 };
}

/**
 * Waits until `pid` stays under 10% of a core for 2 s (a server done with its background work:
 * rollups catching up, ClickHouse merging the parts of the run before); returns the seconds waited.
 */
export async function settle(pid: number, limitS = 1_800): Promise<number> {
  const t0 = performance.now();
  for (;;) {
    const before = cpuMicros(pid);
    await new Promise((r) => setTimeout(r, 2_000));
    if (cpuMicros(pid) - before < 200_000) return (performance.now() - t0) / 1000;
    if (performance.now() - t0 > limitS * 1000)
      throw new Error(`process ${pid} did not fall idle in ${limitS} s`);
  }
}

/** CPU time (user + system, all threads) the process has used so far, in microseconds. */
export function cpuMicros(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // utime and stime, in clock ticks of 1/100 s.
  return (Number(fields[11]) + Number(fields[12])) * 10_000;
}

/**
 * A Vigil server (built JS, own process) on a free loopback port. `config` adds to the bench's
 * configuration; `key`: an ingest key made before (a second instance on a shared store prints none).
 */
export async function startServer(
  dataDir: string,
  { config = {}, key: knownKey }: { config?: Record<string, unknown>; key?: string } = {},
): Promise<{ child: ChildProcess; port: number; key: string }> {
  mkdirSync(dataDir, { recursive: true });
  const file = join(dataDir, 'bench.config.json');
  writeFileSync(
    file,
    JSON.stringify({ logLevel: 'warn', rateLimits: { ingest: { ratePerSec: 1e9, burst: 1e9 } }, ...config }),
  );
  const child = spawn(
    process.execPath,
    [
      // e.g. BENCH_SERVER_NODE_ARGS='--cpu-prof --cpu-prof-dir=/tmp/prof' to profile the server.
      ...(process.env.BENCH_SERVER_NODE_ARGS?.split(' ').filter(Boolean) ?? []),
      join(root, 'packages/server/dist/cli/main.js'),
      'serve',
      '--port',
      '0',
      '--data',
      join(dataDir, 'data'),
      '--config',
      file,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  let out = '';
  return new Promise((resolve, reject) => {
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      const url = /running at http:\/\/[^:]+:(\d+)/.exec(out);
      const key = knownKey ?? /ingest key:\s+(vgl_\S+)/.exec(out)?.[1];
      if (url && key) resolve({ child, port: Number(url[1]), key });
    });
    child.on('exit', (code) => reject(new Error(`server exited ${code}: ${out}`)));
  });
}

/** Stops a server `startServer` started and waits for its exit. */
export async function stopServer(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await exited;
}

/** What a run of keep-alive senders measured against the servers. */
export interface Drive {
  /** Items per second acknowledged with a 200 over the measured seconds. */
  rate: number;
  /** CPU time of the server processes (all threads) per acknowledged item. */
  cpuPerItemUs: number;
  /** CPU time of the senders (this process) per acknowledged item. */
  senderCpuPerItemUs: number;
  /** The largest server's memory. */
  rss: { rss: number; hwm: number };
  statuses: Map<number, number>;
}

export interface DriveOptions {
  makeBody?: () => string | Buffer;
  /** Items in each body. */
  perBody?: number;
  path?: string;
  contentType?: string;
}

/** A server to send to: its port and process (for its CPU and memory); no `key`: no authorization. */
export interface Target {
  port: number;
  pid: number;
  key?: string;
}

/**
 * CONCURRENCY keep-alive senders in this process posting `makeBody()` for the warm-up and then the
 * measured seconds, sender i to server i mod n (several servers: a load balancer's round robin);
 * the rate counts items (`perBody` each) acknowledged with a 200.
 */
export async function drive(
  servers: Target | readonly Target[],
  {
    makeBody = eventsBody,
    perBody = BATCH,
    path = '/v1/events',
    contentType = 'application/json',
  }: DriveOptions = {},
): Promise<Drive> {
  const targets = Array.isArray(servers) ? servers : [servers as Target];
  const pids = targets.map((t) => t.pid);
  const serverCpu = () => pids.reduce((sum, pid) => sum + cpuMicros(pid), 0);
  const agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY });
  let counting = false;
  let acked = 0;
  let stop = false;
  let peakRss = { rss: 0, hwm: 0 };
  const statuses = new Map<number, number>();
  const sender = async (i: number) => {
    const { port, key = '' } = targets[i % targets.length] as Target;
    while (!stop) {
      const status = await post(agent, port, key, makeBody(), { path, contentType });
      statuses.set(status, (statuses.get(status) ?? 0) + 1);
      if (status === 200 && counting) acked += perBody;
      else if (status === 429) await new Promise((r) => setTimeout(r, 50));
    }
  };
  const senders = Array.from({ length: CONCURRENCY }, (_, i) => sender(i));
  await new Promise((r) => setTimeout(r, WARMUP_S * 1000));
  counting = true;
  const t0 = performance.now();
  const cpu0 = serverCpu();
  const own0 = process.cpuUsage();
  const sampler = setInterval(() => {
    for (const pid of pids) {
      const m = rssMb(pid);
      if (m.rss > peakRss.rss) peakRss = m;
    }
  }, 250);
  await new Promise((r) => setTimeout(r, DURATION_S * 1000));
  const elapsed = (performance.now() - t0) / 1000;
  counting = false;
  const counted = acked;
  const cpu = serverCpu() - cpu0;
  const own = process.cpuUsage(own0);
  stop = true;
  clearInterval(sampler);
  await Promise.all(senders);
  agent.destroy();
  peakRss.hwm = Math.max(...pids.map((pid) => rssMb(pid).hwm));
  const per = Math.max(1, counted);
  return {
    rate: counted / elapsed,
    cpuPerItemUs: cpu / per,
    senderCpuPerItemUs: (own.user + own.system) / per,
    rss: peakRss,
    statuses,
  };
}

/** `drive` against a fresh Vigil server on `dataDir` (stopped afterwards, also on error). */
export async function httpIngest(dataDir: string, options: DriveOptions = {}): Promise<Drive> {
  const { child, port, key } = await startServer(dataDir);
  try {
    return await drive({ port, key, pid: child.pid as number }, options);
  } finally {
    await stopServer(child);
  }
}

/** The same rows straight into DuckDB through the store's appender, in group-commit-sized batches. */
async function rawAppender(dataDir: string, rows: number, batch: number): Promise<number> {
  const store = await openStore({ dataDir: join(dataDir, 'raw') });
  const now = Date.now();
  const make = (): EventRow[] =>
    Array.from({ length: batch }, () => {
      const e = llmEvent(now);
      const row = emptyRow();
      Object.assign(row, e.props);
      row.id = e.id;
      row.project = 'default';
      row.type = 'llm.request';
      row.ts = now;
      row.received_at = now;
      row.version = e.version ?? null;
      return row;
    });
  const batches = Array.from({ length: Math.ceil(rows / batch) }, make);
  let head = null;
  const t0 = performance.now();
  for (const b of batches) {
    const link = nextLink(head, b, Date.now());
    await store.events.appendBatch({ rows: b, seal: () => ({ link, scrubbed: [] }) });
    head = link;
  }
  const rate = (batches.length * batch) / ((performance.now() - t0) / 1000);
  await store.close();
  return rate;
}

let peerBatches = 0;

/** The same kind of fresh events as `eventsBody`, as the peer's JSONEachRow rows (one a line). */
export function rowsBody(n: number): string {
  const now = Date.now();
  const batchSeq = peerBatches++;
  const lines = new Array<string>(n);
  for (let i = 0; i < n; i++)
    lines[i] = JSON.stringify(
      baselineRow(llmEvent(now), { receivedAt: now, chain: 'bench', batchSeq, batchRow: i }),
    );
  return lines.join('\n');
}

/** `drive` of ClickHouse's own insert (the peer) at `batch` rows a body, into an emptied table. */
export async function driveInsertBaseline(
  server: { httpPort: number; pid: number },
  peer: InsertBaseline,
  batch: number,
): Promise<Drive> {
  await peer.reset();
  await settle(server.pid, 300);
  const run = await drive(
    { port: server.httpPort, pid: server.pid },
    { makeBody: () => rowsBody(batch), perBody: batch, path: peer.insertPath, contentType: 'text/plain' },
  );
  // Every 200 stored its rows, no more and no fewer: the peer's rate counts stored rows.
  const acknowledged = (run.statuses.get(200) ?? 0) * batch;
  const stored = await peer.count();
  if (stored !== acknowledged)
    throw new Error(`ClickHouse acknowledged ${acknowledged} rows but holds ${stored}`);
  return run;
}

export const statusText = (statuses: Map<number, number>): string =>
  [...statuses].map(([s, n]) => `${s}:${n}`).join(',');

const load = () => loadavg()[0]?.toFixed(2);

/**
 * Vigil's HTTP ingest (DuckDB) against ClickHouse's own HTTP JSONEachRow insert of the same events
 * (issue 18), at each batch size. Fair by construction: the same senders (this process, one
 * thread, CONCURRENCY keep-alive connections, the same `post`), the same batch size and events
 * (fresh ids, built per body in both runs: object → JSON text, the peer's mapped to columns
 * first), both servers on loopback of this machine starting from an empty table, one after the
 * other, interleaved per batch size so a change of the machine's load hits both. Nothing is
 * pinned: the senders' process and the server under test share the 2 cores as the OS schedules
 * them; each line prints the CPU both took per event, so a sender that costs more on one side shows.
 * ClickHouse answers 200 once the block is written as a part (no fsync: 18.16's default); Vigil
 * after its DuckDB commit. Each run starts once the ClickHouse server has fallen idle (its merges of
 * the run before done). The ClickHouse server is started here and stopped by its pid.
 */
async function versusClickHouse(dir: string): Promise<void> {
  let server: ClickHouseServer;
  try {
    server = await startClickHouse({ storage: 'disk' });
  } catch (err) {
    const reason = (err instanceof Error ? err.message : String(err)).split('\n')[0];
    console.log(`ingest.vs_clickhouse not measured: clickhouse-server did not start (${reason})`);
    return;
  }
  try {
    const peer = await openInsertBaseline(server.url);
    try {
      for (const batch of [100, 1_000, 10_000]) {
        // ClickHouse merges the small parts of a run for a while after it: each side is measured
        // once that is done, not beside it.
        await settle(server.pid, 300);
        const vigil = await httpIngest(join(dir, `vs-clickhouse-${batch}`), {
          makeBody: () => eventsBody(batch),
          perBody: batch,
        });
        const clickhouse = await driveInsertBaseline(server, peer, batch);
        const ratio = vigil.rate / clickhouse.rate;
        console.log(
          `ingest.vs_clickhouse batch=${batch} senders=${CONCURRENCY} seconds=${DURATION_S} vigil_events_per_s=${Math.round(vigil.rate)} clickhouse_rows_per_s=${Math.round(clickhouse.rate)} ratio=${ratio.toFixed(2)} target>=1.0 met=${ratio >= 1 ? 'yes' : 'no'} server_cpu_us_per_event=${vigil.cpuPerItemUs.toFixed(1)}/${clickhouse.cpuPerItemUs.toFixed(1)} sender_cpu_us_per_event=${vigil.senderCpuPerItemUs.toFixed(1)}/${clickhouse.senderCpuPerItemUs.toFixed(1)} statuses=${statusText(vigil.statuses)}/${statusText(clickhouse.statuses)} load1=${load()}`,
        );
      }
    } finally {
      await peer.close();
    }
  } finally {
    await server.stop();
  }
}

// Run as a suite, not when another suite imports the helpers above.
const isMain = process.argv[1] === fileURLToPath(import.meta.url);
if (isMain) {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-bench-'));
  try {
    const http = await httpIngest(dir);
    const raw = await rawAppender(dir, 500_000, 5_000);
    const codes = statusText(http.statuses);
    console.log(
      `ingest.http events_per_s=${Math.round(http.rate)} concurrency=${CONCURRENCY} batch=${BATCH} seconds=${DURATION_S} statuses=${codes} target>=250000 met=${http.rate >= 250_000 ? 'yes' : 'no'}`,
    );
    console.log(
      `ingest.server_cpu us_per_event=${http.cpuPerItemUs.toFixed(1)} (server process, all threads, over the measured seconds; less sensitive to a busy machine than the rate)`,
    );
    console.log(
      `ingest.raw_appender rows_per_s=${Math.round(raw)} batch=5000 (same rows, no HTTP/validation/dedupe)`,
    );
    console.log(
      `ingest.ratio http_over_raw=${(http.rate / raw).toFixed(2)} target>=0.5 met=${http.rate / raw >= 0.5 ? 'yes' : 'no'}`,
    );
    console.log(
      `ingest.server_rss_mb peak_sampled=${Math.round(http.rss.rss)} vm_hwm=${Math.round(http.rss.hwm)} target<=300 met=${http.rss.hwm <= 300 ? 'yes' : 'no'}`,
    );
    await versusClickHouse(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
