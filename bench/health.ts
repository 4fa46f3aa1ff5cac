/**
 * Telemetry health on the 30 M-event bench set (30 days × 1 M events, mixed built-in types):
 * the daily snapshot, the sampling verifier and the detectors of one full day, warm (median of
 * several runs) and cold (first run). `BENCH_HEALTH_EVENTS` scales the set down for a quick look;
 * `BENCH_HEALTH_DIR` keeps the built set there and reuses it on the next run (building 30 M rows
 * through the store's append path takes minutes on 2 cores).
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_CHAIN } from '../packages/server/src/audit/index.js';
import { defaultConfig } from '../packages/server/src/config/index.js';
import { HealthMonitor, verifySample } from '../packages/server/src/health/index.js';
import { type EventRow, emptyRow } from '../packages/server/src/model/index.js';
import { openStore, type Store } from '../packages/server/src/store/index.js';

const TOTAL = Number(process.env.BENCH_HEALTH_EVENTS ?? 30_000_000);
const DAYS = 30;
const PER_DAY = Math.floor(TOTAL / DAYS);
const DAY_MS = 86_400_000;
const CHUNK = 100_000;
const RUNS = 7;

/**
 * A UUIDv7 id for `ts` as the SDK makes them (packages/sdk/src/event/uuidv7.ts): time-ordered, then
 * random bits. The tail must be random: the health sample ranks events by it (model/sampling.ts).
 */
function idFor(ts: number, rand: Buffer, k: number): string {
  const hex = ts.toString(16).padStart(12, '0');
  const r = rand.toString('hex', (k % CHUNK) * 10, (k % CHUNK) * 10 + 10);
  const variant = ((Number.parseInt(r.slice(3, 4), 16) & 0x3) | 0x8).toString(16);
  return `${hex.slice(0, 8)}-${hex.slice(8)}-7${r.slice(0, 3)}-${variant}${r.slice(4, 7)}-${r.slice(7, 19)}`;
}

/** Writes the set through the store's append path (chain links are placeholders: nothing verifies them here). */
async function build(store: Store, firstDay: number): Promise<void> {
  let seq = 0;
  let k = 0;
  for (let d = 0; d < DAYS; d++) {
    for (let start = 0; start < PER_DAY; start += CHUNK) {
      const rand = randomBytes(CHUNK * 10);
      const rows: EventRow[] = [];
      for (let i = start; i < Math.min(PER_DAY, start + CHUNK); i++, k++) {
        const row = emptyRow();
        const ts = firstDay + d * DAY_MS + Math.floor((i * DAY_MS) / PER_DAY);
        row.id = idFor(ts, rand, k);
        row.project = 'default';
        row.ts = ts;
        row.received_at = ts + 500;
        row.version = k % 500 === 0 ? null : '2.3.1';
        const m = k % 20;
        if (m < 14) {
          row.type = 'llm.request';
          row.total_ms = 200 + (k % 3000);
          row.prompt_tokens = k % 2000;
          row.model = 'gpt-4o';
          row.user = `user-${k % 1000}`;
        } else if (m < 17) {
          row.type = 'decision.recommendation';
          row.action = 'view';
          row.signal_id = `sig-${k}`;
          row.recommendation_type = 'fraud';
        } else if (m < 18) {
          row.type = 'decision.outcome';
          row.signal_id = `sig-${k - 3}`; // the recommendation three events back
          row.outcome_status = 'confirmed';
        } else {
          row.type = 'admin.view';
          row.view = 'dashboard_open';
        }
        rows.push(row);
      }
      seq += 1;
      const link = {
        chain: DEFAULT_CHAIN,
        seq,
        prevHash: '',
        hash: '',
        rowCount: rows.length,
        committedAt: Date.now(),
      };
      await store.events.appendBatch({ rows, seal: () => ({ link, scrubbed: [] }) });
    }
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

async function time<T>(fn: () => Promise<T>): Promise<{ cold: number; warm: number; last: T }> {
  const runs: number[] = [];
  let last: T | undefined;
  for (let i = 0; i < RUNS; i++) {
    const t = performance.now();
    last = await fn();
    runs.push(performance.now() - t);
  }
  return { cold: runs[0] as number, warm: median(runs.slice(1)), last: last as T };
}

const keep = process.env.BENCH_HEALTH_DIR ? join(process.env.BENCH_HEALTH_DIR, `set-${TOTAL}-v2`) : null;
const dir = keep ?? mkdtempSync(join(tmpdir(), 'vigil-bench-health-'));
try {
  const reuse = keep !== null && existsSync(join(dir, 'built'));
  if (keep && !reuse) rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const store = await openStore({ dataDir: dir, duckdb: { memoryLimit: '1GB' } });
  await store.meta.ensureProject({ id: 'default', name: 'default', strictTypes: false, createdAt: 0 });
  // The set is laid out relative to the day it was built; a reused set keeps its own days.
  const today = reuse
    ? Math.floor(((await store.health.firstEventTs('default')) ?? 0) / DAY_MS) * DAY_MS + DAYS * DAY_MS
    : Math.floor(Date.now() / DAY_MS) * DAY_MS;
  const firstDay = today - DAYS * DAY_MS;
  const t0 = performance.now();
  if (!reuse) await build(store, firstDay);
  if (keep) mkdirSync(join(dir, 'built'), { recursive: true });
  const buildS = (performance.now() - t0) / 1000;
  console.log(
    `health.set events=${PER_DAY * DAYS} days=${DAYS} per_day=${PER_DAY} build_s=${buildS.toFixed(1)}${reuse ? ' (reused)' : ''}`,
  );

  const config = defaultConfig();
  const day = new Date(today - 2 * DAY_MS).toISOString().slice(0, 10);
  const now = today + 3_600_000;
  const monitor = new HealthMonitor({
    store,
    config: { ...config.health, catchUpDays: DAYS },
    ingest: config.ingest,
    log: { error: () => undefined, warn: () => undefined, info: () => undefined },
    now: () => now,
  });
  const window = { project: 'default', from: Date.parse(`${day}T00:00:00Z`), to: 0 };
  window.to = window.from + DAY_MS;

  // Steady state: the days before already have their snapshots (the daily run and catch-up made them).
  const c0 = performance.now();
  const caught = await monitor.catchUp();
  if (caught.length > 0) {
    const per = (performance.now() - c0) / caught.length;
    console.log(
      `health.catch_up days=${caught.length} ms_per_day=${per.toFixed(1)} (cold, each day's first snapshot)`,
    );
  }

  // The lookback days' newest revisions come from this build (a reused set may hold older ones).
  for (let back = 6; back >= 1; back--) {
    await monitor.snapshot('default', new Date(today - (2 + back) * DAY_MS).toISOString().slice(0, 10));
  }

  const sampling = await time(() =>
    verifySample(store, {
      window,
      seed: day,
      size: 100,
      knownVersions: [],
      futureToleranceMs: 300_000,
      population: PER_DAY,
    }),
  );
  const detectorRuns: number[] = [];
  const snapshot = await time(async () => {
    const s = await monitor.snapshot('default', day);
    detectorRuns.push(s.timingsMs.detectors);
    return s;
  });
  const detectors = median(detectorRuns.slice(1));
  const live = await time(() => monitor.checkActivity());
  const line = (name: string, ms: number, target: number, extra = '') =>
    console.log(
      `health.${name} ms=${ms.toFixed(1)} target<=${target} ratio_to_target=${(ms / target).toFixed(2)} met=${ms <= target ? 'yes' : 'no'}${extra}`,
    );
  line(
    'snapshot_warm',
    snapshot.warm,
    500,
    ` cold_ms=${snapshot.cold.toFixed(1)} day_events=${snapshot.last.totalEvents}`,
  );
  line(
    'sampling_verifier_warm',
    sampling.warm,
    100,
    ` cold_ms=${sampling.cold.toFixed(1)} sampled=${sampling.last.ids.length} success=${sampling.last.successRate}%`,
  );
  line('detectors', detectors, 50, ' (baseline lookup + judgements inside a snapshot)');
  line('zero_activity_live_check_warm', live.warm, 50, ` cold_ms=${live.cold.toFixed(1)} lookback_days=7`);
  await store.close();
} finally {
  if (!keep) rmSync(dir, { recursive: true, force: true });
}
