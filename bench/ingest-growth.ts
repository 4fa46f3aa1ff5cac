/**
 * Ingest as the store grows (issue 18: "flat as the store grows"): the HTTP ingest rate of the
 * real server (the `ingest` bench's senders, 500-event batches, ack after commit) on an empty store
 * and on a store already holding `BENCH_GROWTH_EVENTS` events (default 20,000,000), with UUIDv7
 * ids and with random UUIDv4 ids (the stored events carry ids of the same kind). Target: the rate
 * on the full store ≥ 0.8× the rate on the empty one, for each kind.
 *
 * The stored events are written through the store's own append path (`appendBatch`, 50,000 rows
 * a batch, real chain links) after a first start of the server made the project and its ingest
 * key. They are not folded into rollups (the rollup watermark is moved past them): the server has
 * nothing to catch up. Each server is sent one batch and left to fall idle before the measured
 * seconds (what a store does once, at its first batch, is not counted), which are ingest only.
 *
 * `BENCH_GROWTH_DIR`: keep the filled stores there (`v7/`, `v4/`) and reuse them on the next run;
 * each run measures a copy, so the kept store does not grow. `BENCH_GROWTH_KINDS` (default
 * `v7,v4`) picks the id kinds.
 */
import { randomUUID } from 'node:crypto';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_CHAIN, nextLink } from '../packages/server/src/audit/index.js';
import { type EventRow, emptyRow } from '../packages/server/src/model/index.js';
import { openStore } from '../packages/server/src/store/index.js';
import {
  BATCH,
  CONCURRENCY,
  type Drive,
  DURATION_S,
  drive,
  llmEvent,
  post,
  settle,
  startServer,
  statusText,
  stopServer,
} from './ingest.js';

const STORED = Number(process.env.BENCH_GROWTH_EVENTS ?? 20_000_000);
const KINDS = (process.env.BENCH_GROWTH_KINDS ?? 'v7,v4').split(',') as Kind[];
const KEEP = process.env.BENCH_GROWTH_DIR;
const FILL_BATCH = 50_000;
const TARGET = 0.8;
const DAY = 86_400_000;

type Kind = 'v7' | 'v4';

const load = () => loadavg()[0]?.toFixed(2);

let counter = 0;
/** A UUIDv7 of `ms` (time first, then a counter and random-looking bits), as the SDK's. */
function v7(ms: number): string {
  const n = counter++;
  const hex = ms.toString(16).padStart(12, '0');
  const mix = ((n * 2654435761) >>> 0).toString(16).padStart(8, '0');
  const tail = (n >>> 0).toString(16).padStart(8, '0');
  return `${hex.slice(0, 8)}-${hex.slice(8)}-7${mix.slice(0, 3)}-8${mix.slice(3, 6)}-${mix.slice(6)}${tail}${randomUUID().slice(0, 2)}`;
}

const idOf = (kind: Kind, ms: number) => (kind === 'v7' ? v7(ms) : randomUUID());

/** A `/v1/events` body of BATCH fresh llm.request events with ids of `kind`. */
function body(kind: Kind): string {
  const now = Date.now();
  const parts = new Array<string>(BATCH);
  for (let i = 0; i < BATCH; i++) {
    const e = llmEvent(now);
    if (kind === 'v4') e.id = randomUUID();
    parts[i] = JSON.stringify(e);
  }
  return `{"events":[${parts.join(',')}]}`;
}

/** Appends `total` llm.request events with ids of `kind` (time-ordered over the last 30 days) to the store in `dataDir`. */
async function fill(dataDir: string, kind: Kind, total: number): Promise<void> {
  const store = await openStore({ dataDir });
  try {
    let head = await store.events.chainHead(DEFAULT_CHAIN);
    const start = Date.now() - 30 * DAY;
    const step = (30 * DAY) / total;
    const t0 = performance.now();
    for (let done = 0; done < total; ) {
      const n = Math.min(FILL_BATCH, total - done);
      const rows: EventRow[] = new Array(n);
      for (let i = 0; i < n; i++) {
        const ts = Math.floor(start + (done + i) * step);
        const e = llmEvent(ts);
        const row = emptyRow();
        Object.assign(row, e.props);
        row.id = idOf(kind, ts);
        row.project = 'default';
        row.type = 'llm.request';
        row.ts = ts;
        row.received_at = ts;
        row.version = e.version ?? null;
        rows[i] = row;
      }
      const link = nextLink(head, rows, Date.now());
      const appended = await store.events.appendBatch({ rows, seal: () => ({ link, scrubbed: [] }) });
      if (appended.duplicates.size > 0) throw new Error(`fill: ${appended.duplicates.size} duplicate ids`);
      head = link;
      done += n;
      if (done % 1_000_000 === 0 || done === total)
        console.error(
          `# fill ${kind}: ${done} events, ${Math.round(done / ((performance.now() - t0) / 1000))}/s load1=${load()}`,
        );
    }
    // Not folded into rollups: the watermark moves past them, so the server has nothing to catch up.
    if (head) await store.rollups.write([], [], { chain: head.chain, seq: head.seq, rows: 0 });
  } finally {
    await store.close();
  }
}

/** A store in `dir` holding `total` events of `kind` and the ingest key of its project. */
async function filledStore(dir: string, kind: Kind, total: number): Promise<string> {
  const first = await startServer(dir);
  await stopServer(first.child);
  if (total > 0) await fill(join(dir, 'data'), kind, total);
  writeFileSync(join(dir, 'key'), first.key);
  writeFileSync(join(dir, 'events'), String(total));
  return first.key;
}

/** The server on the store in `dir` (key `key`), settled, driven with bodies of `kind`. */
async function measure(dir: string, key: string, kind: Kind): Promise<Drive & { settled: number }> {
  const { child, port } = await startServer(dir, { key });
  try {
    // One batch first: work a store does at its first batch (the DuckDB id filter's build from
    // the stored ids) is done before the measured seconds, as on a server that has been running.
    const agent = new http.Agent({ keepAlive: false });
    const status = await post(agent, port, key, body(kind));
    agent.destroy();
    if (status !== 200) throw new Error(`the first batch was answered ${status}`);
    const settled = await settle(child.pid as number);
    const run = await drive({ port, key, pid: child.pid as number }, { makeBody: () => body(kind) });
    return { ...run, settled };
  } finally {
    await stopServer(child);
  }
}

const dir = mkdtempSync(join(tmpdir(), 'vigil-bench-growth-'));
try {
  for (const kind of KINDS) {
    const emptyDir = join(dir, `empty-${kind}`);
    const emptyKey = await filledStore(emptyDir, kind, 0);
    const empty = await measure(emptyDir, emptyKey, kind);
    const storedDir = join(dir, `stored-${kind}`);
    let storedKey: string;
    const kept = KEEP ? join(KEEP, kind) : undefined;
    if (
      kept &&
      existsSync(join(kept, 'key')) &&
      Number(readFileSync(join(kept, 'events'), 'utf8')) === STORED
    ) {
      cpSync(kept, storedDir, { recursive: true });
      storedKey = readFileSync(join(kept, 'key'), 'utf8');
    } else {
      storedKey = await filledStore(storedDir, kind, STORED);
      if (kept) {
        rmSync(kept, { recursive: true, force: true });
        cpSync(storedDir, kept, { recursive: true });
      }
    }
    const stored = await measure(storedDir, storedKey, kind);
    const ratio = stored.rate / empty.rate;
    console.log(
      `ingest.growth ids=${kind} stored_events=${STORED} batch=${BATCH} senders=${CONCURRENCY} seconds=${DURATION_S} empty_events_per_s=${Math.round(empty.rate)} stored_events_per_s=${Math.round(stored.rate)} ratio=${ratio.toFixed(2)} target>=${TARGET} met=${ratio >= TARGET ? 'yes' : 'no'} server_cpu_us_per_event=${empty.cpuPerItemUs.toFixed(1)}/${stored.cpuPerItemUs.toFixed(1)} server_rss_mb=${Math.round(empty.rss.rss)}/${Math.round(stored.rss.rss)} target<=300 server_hwm_mb=${Math.round(empty.rss.hwm)}/${Math.round(stored.rss.hwm)} settle_s=${Math.round(stored.settled)} statuses=${statusText(empty.statuses)}/${statusText(stored.statuses)} load1=${load()}`,
    );
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
