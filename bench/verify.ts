/**
 * `vigil verify` on a store of `BENCH_VERIFY_EVENTS` events (default 1,000,000) in batches of
 * `BENCH_VERIFY_BATCH` (default 1,000, as ingestion's group commit writes them), with a valid
 * chain: the events checked per second by `verifyChain` (what the command runs), target ≥ 300,000
 * (issue 18: a chain must stay checkable when it holds a year). Baseline in the same run: the rows
 * read back as row objects (`readCommitted`, what the committer and the rollup maintainer read)
 * and hashed with `hashBatch`, the path verify took before it read columns.
 *
 * The set is written through the store's append path with real chain links. `BENCH_VERIFY_DIR`
 * keeps it there and reuses it on the next run.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_CHAIN, hashBatch, nextLink, verifyChain } from '../packages/server/src/audit/index.js';
import { type EventRow, emptyRow } from '../packages/server/src/model/index.js';
import { type ChainLink, openStore, type Store } from '../packages/server/src/store/index.js';

const TOTAL = Number(process.env.BENCH_VERIFY_EVENTS ?? 1_000_000);
const BATCH = Number(process.env.BENCH_VERIFY_BATCH ?? 1_000);
const RUNS = Number(process.env.BENCH_VERIFY_RUNS ?? 3);
const TARGET = 300_000;
const DAY = 86_400_000;
const MODELS = ['gpt-4o', 'gpt-4o-mini', 'claude-sonnet', 'claude-haiku', 'llama-3-70b'];

/** A UUIDv7-shaped id (time first, like the SDK's). */
function idOf(ts: number, n: number): string {
  const hex = ts.toString(16).padStart(12, '0');
  const tail = (n >>> 0).toString(16).padStart(12, '0');
  const mix = ((n * 2654435761) >>> 0).toString(16).padStart(8, '0');
  return `${hex.slice(0, 8)}-${hex.slice(8)}-7${tail.slice(0, 3)}-8${mix.slice(0, 3)}-${mix.slice(3, 8)}${tail.slice(5)}`;
}

/** Mixed built-in types with props, as stored: some strings need escaping, some are not ASCII. */
function eventOf(n: number, ts: number): EventRow {
  const r = emptyRow();
  r.id = idOf(ts, n);
  r.project = n % 10 === 0 ? 'checkout' : 'default';
  r.ts = ts;
  r.received_at = ts + (n % 7) * 113;
  r.late = n % 211 === 0;
  r.version = n % 50 === 0 ? null : '2.4.1';
  const m = n % 20;
  if (m < 14) {
    r.type = 'llm.request';
    r.context_ms = 5 + (n % 200);
    r.llm_ms = 150.25 + (n % 4000);
    r.total_ms = r.context_ms + r.llm_ms + 0.5;
    r.prompt_tokens = 100 + (n % 3000);
    r.completion_tokens = 20 + (n % 800);
    r.cache_hit = n % 3 === 0;
    r.error_type = n % 50 === 7 ? 'rate_limit' : null;
    r.user = `user-${n % 5000}`;
    r.space = `space-${n % 50}`;
    r.model = MODELS[n % MODELS.length] as string;
    if (n % 4 === 0) r.cache_read_tokens = n % 100;
    if (n % 5 === 0) r.cost_usd = (n % 1000) / 7777;
    else if (n % 5 === 1) {
      r.cost_usd = 0.0042;
      r.prompt_cost_usd = 0.003;
      r.completion_cost_usd = 0.0012;
    }
  } else if (m < 17) {
    r.type = 'decision.recommendation';
    r.action = 'view';
    r.signal_id = `sig-${n}`;
    r.recommendation_type = 'fraud';
    r.confidence = (n % 100) / 100;
  } else if (m < 18) {
    r.type = 'decision.outcome';
    r.signal_id = `sig-${n - 3}`;
    r.outcome_status = 'confirmed';
    r.resolution_time_hours = (n % 90) / 3;
  } else {
    r.type = m === 18 ? 'admin.view' : 'checkout.completed';
    if (m === 18) r.view = 'dashboard_open';
  }
  if (n % 10 < 7) {
    r.props =
      n % 97 === 0
        ? `{"note":"caf\u00e9 \\"quoted\\"\\n","route":"/chat/${n % 40}","tags":["a","b"]}`
        : `{"route":"/chat/${n % 40}","team":"t${n % 9}","region":"eu-west-${n % 3}"}`;
  }
  return r;
}

async function build(store: Store): Promise<number> {
  const start = Date.now() - 30 * DAY;
  const step = (29 * DAY) / TOTAL;
  let head: ChainLink | null = null;
  let batches = 0;
  for (let n = 0; n < TOTAL; ) {
    const rows: EventRow[] = [];
    for (const end = Math.min(TOTAL, n + BATCH); n < end; n++)
      rows.push(eventOf(n, start + Math.floor(n * step)));
    const link = nextLink(head, rows, Date.now(), DEFAULT_CHAIN);
    await store.events.appendBatch({ rows, seal: () => ({ link, scrubbed: [] }) });
    head = link;
    batches += 1;
  }
  return batches;
}

/** The path before: each batch's rows as row objects, hashed. */
async function rowObjectPass(store: Store): Promise<number> {
  let prev: ChainLink | null = null;
  let after = 0;
  let events = 0;
  for (;;) {
    const { batches, throughSeq } = await store.events.readCommitted(DEFAULT_CHAIN, after, 50_000);
    if (batches.length === 0) break;
    for (const b of batches) {
      const link = await store.events.chainLink(DEFAULT_CHAIN, b.seq);
      if (!link || hashBatch(prev?.hash ?? '0'.repeat(64), b.seq, link.committedAt, b.rows) !== link.hash)
        throw new Error(`batch ${b.seq} does not verify`);
      prev = link;
      events += b.rows.length;
    }
    after = throughSeq;
  }
  return events;
}

/** CPU seconds of this process's JS thread (Linux; null elsewhere): the part no other core can take. */
function jsThreadCpu(): number | null {
  try {
    const fields = (readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8').split(') ')[1] ?? '').split(
      ' ',
    );
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return null;
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

const keep = process.env.BENCH_VERIFY_DIR
  ? join(process.env.BENCH_VERIFY_DIR, `set-${TOTAL}-${BATCH}`)
  : null;
const dir = keep ?? mkdtempSync(join(tmpdir(), 'vigil-bench-verify-'));
try {
  const reuse = keep !== null && existsSync(join(dir, 'built'));
  if (keep && !reuse) rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const store = await openStore({ dataDir: dir });
  try {
    const t0 = performance.now();
    const batches = reuse ? (await store.events.chainHead(DEFAULT_CHAIN))?.seq : await build(store);
    if (keep) mkdirSync(join(dir, 'built'), { recursive: true });
    console.log(
      `verify.set events=${TOTAL} batch=${BATCH} batches=${batches} build_s=${((performance.now() - t0) / 1000).toFixed(1)}${reuse ? ' (reused)' : ''}`,
    );
    const rates: number[] = [];
    // CPU per event as well: on a machine shared with other work the rate follows the load, the
    // CPU spent much less (all threads: the engine's and the garbage collector's too).
    const cpu0 = process.cpuUsage();
    const js0 = jsThreadCpu();
    for (let i = 0; i < RUNS; i++) {
      const t = performance.now();
      const report = await verifyChain(store.events);
      const s = (performance.now() - t) / 1000;
      if (!report.ok || report.events !== TOTAL) throw new Error(`verify: ${JSON.stringify(report)}`);
      rates.push(TOTAL / s);
    }
    const cpu = process.cpuUsage(cpu0);
    const js1 = jsThreadCpu();
    const perEvent = (seconds: number) => ((seconds * 1e6) / (TOTAL * RUNS)).toFixed(2);
    const cpuLine = ` cpu_us_per_event=${perEvent((cpu.user + cpu.system) / 1e6)}${js0 !== null && js1 !== null ? ` js_thread_cpu_us_per_event=${perEvent(js1 - js0)}` : ''}`;
    const t = performance.now();
    if ((await rowObjectPass(store)) !== TOTAL) throw new Error('row-object pass: wrong count');
    const baseline = TOTAL / ((performance.now() - t) / 1000);
    const rate = median(rates);
    console.log(
      `verify.events_per_s events=${TOTAL} batch=${BATCH} value=${Math.round(rate)} runs=${rates.map(Math.round).join(',')} target>=${TARGET} met=${rate >= TARGET ? 'yes' : 'no'} baseline_row_objects=${Math.round(baseline)} ratio_to_baseline=${(rate / baseline).toFixed(2)}${cpuLine}`,
    );
  } finally {
    await store.close();
  }
} finally {
  if (!keep) rmSync(dir, { recursive: true, force: true });
}
