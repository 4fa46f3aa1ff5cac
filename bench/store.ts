/**
 * The store's engine-neutral semantics, measured on the embedded engine through the Store
 * interface: idempotent appends (the duplicate check inside the append), and the reproducible health
 * sample over one day of events. `BENCH_STORE_EVENTS` events (default 200,000) in one day.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { nextLink } from '../packages/server/src/audit/index.js';
import { type EventRow, emptyRow } from '../packages/server/src/model/index.js';
import { type ChainLink, openStore } from '../packages/server/src/store/index.js';

const EVENTS = Number(process.env.BENCH_STORE_EVENTS ?? 200_000);
const BATCH = 5_000;
const DAY = 86_400_000;
const day0 = Math.floor(Date.now() / DAY) * DAY - DAY;

let n = 0;
function row(ts: number): EventRow {
  const hex = ts.toString(16).padStart(12, '0');
  const tail = (n++).toString(16).padStart(12, '0');
  return {
    ...emptyRow(),
    id: `${hex.slice(0, 8)}-${hex.slice(8)}-7${tail.slice(0, 3)}-8${tail.slice(3, 6)}-${tail.slice(0, 6)}${((n * 2654435761) >>> 0).toString(16).padStart(8, '0').slice(0, 6)}`,
    project: 'default',
    type: 'llm.request',
    ts,
    received_at: ts,
    version: '1.0.0',
    total_ms: n % 997,
    model: `m${n % 4}`,
  };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;

const dir = mkdtempSync(join(tmpdir(), 'vigil-bench-store-'));
const store = await openStore({ dataDir: dir });
try {
  let head: ChainLink | null = null;
  const append = async (rows: EventRow[]) => {
    // What ingestion does per batch: one append, which leaves out the ids already stored. The
    // duplicate check alone is timed apart (a read of the same ids) for the note on its cost.
    const t0 = performance.now();
    await store.events.findExistingIds(rows.map((r) => r.id));
    const t1 = performance.now();
    const result = await store.events.appendBatch({
      rows,
      seal: (kept) => ({ link: nextLink(head, kept, Date.now()), scrubbed: [] }),
    });
    head = result.link ?? head;
    const t2 = performance.now();
    return { check: t1 - t0, total: t2 - t1, duplicates: result.duplicates.size };
  };
  const step = DAY / EVENTS;
  const fill: number[] = [];
  const checks: number[] = [];
  for (let i = 0; i < EVENTS; i += BATCH) {
    const rows = Array.from({ length: Math.min(BATCH, EVENTS - i) }, (_, k) =>
      row(day0 + Math.floor((i + k) * step)),
    );
    const r = await append(rows);
    fill.push(r.total);
    checks.push(r.check);
  }
  // A retried batch: every id already stored.
  const retried = (await store.events.listEvents({ project: 'default', limit: BATCH })).map((r) => ({
    ...r,
  }));
  const retry = await append(retried);
  console.log(
    `store.append batch=${BATCH} stored=${EVENTS} ms_per_batch_median=${median(fill).toFixed(1)} duplicate_check_ms_median=${median(checks).toFixed(1)} rows_per_s=${Math.round((BATCH * 1000) / median(fill))}`,
  );
  console.log(
    `store.append_retry batch=${BATCH} duplicates=${retry.duplicates} ms=${retry.total.toFixed(1)}`,
  );

  const window = { project: 'default', from: day0, to: day0 + DAY };
  for (const population of [undefined, EVENTS]) {
    const times: number[] = [];
    for (let k = 0; k < 5; k++) {
      const t0 = performance.now();
      const s = await store.health.sample(window, `2026-11-0${k + 1}`, 100, population);
      times.push(performance.now() - t0);
      if (s.length !== 100) throw new Error(`sample of ${s.length}`);
    }
    console.log(
      `store.sample events=${EVENTS} size=100 population_hint=${population !== undefined} ms_median=${median(times).toFixed(1)} target<=100 met=${median(times) <= 100 ? 'yes' : 'no'}`,
    );
  }
} finally {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
}
