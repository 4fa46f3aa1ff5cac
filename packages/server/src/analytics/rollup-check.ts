/**
 * `vigil verify --rollups`: the rollups are not in the audit chain (they are derived data, merged
 * and compacted in place), so an edited rollup row would change every dashboard and alert without
 * `verify` noticing. Where raw events are still kept, the rollups are recomputed from them and
 * compared key by key.
 */

import { DEFAULT_CHAIN } from '../audit/checkpoint.js';
import type { EventRow } from '../model/index.js';
import {
  mergeRollupRows,
  RESOLUTIONS,
  ROLLUP_COUNTERS,
  type RollupFamily,
  type RollupRow,
  rollupKeyString,
} from '../model/rollup.js';
import { decodeSketch } from '../model/sketch.js';
import type { Store } from '../store/index.js';
import { DeltaSet } from './aggregate.js';

const DAY = 86_400_000;

/**
 * The groups compared. An outcome's recommendation_type and explanation_version groups are left
 * out: they take the signal's recommendation as known when the outcome was folded, which a
 * recommendation arriving later does not change.
 */
const GROUPS: Record<RollupFamily, readonly string[]> = {
  llm: ['all', 'space', 'model', 'error_type', 'user'],
  decision: ['all', 'recommendation_type', 'explanation_version'],
  outcome: ['all', 'status'],
};

export interface RollupCheckReport {
  ok: boolean;
  /** False when the rollups could not be compared (the reason says why). */
  checked: boolean;
  /** Rollup rows compared (after merging the stored deltas of each key). */
  rows: number;
  days: number;
  /** The first rows that differ (at most 10), or why nothing was compared. */
  mismatches: { project: string; key: string; reason: string }[];
  reason?: string;
}

/** Same within float rounding: sums of the same values added in another order. */
const close = (a: number, b: number) =>
  a === b || Math.abs(a - b) <= 1e-9 * Math.max(Math.abs(a), Math.abs(b));

function difference(expected: RollupRow | undefined, stored: RollupRow | undefined): string | null {
  if (!expected) return 'stored, but no kept raw event makes it';
  if (!stored) return 'missing: kept raw events make it';
  for (const c of ROLLUP_COUNTERS)
    if (expected.counters[c] !== stored.counters[c])
      return `${c} is ${stored.counters[c]}, the raw events give ${expected.counters[c]}`;
  for (const [name, e] of Object.entries(expected.fields)) {
    const s = stored.fields[name as keyof RollupRow['fields']];
    if (!e || !s) return `${name} ${s ? 'is stored but has no raw values' : 'is missing'}`;
    if (e.n !== s.n || !close(e.sum, s.sum) || e.min !== s.min || e.max !== s.max)
      return `${name} is n=${s.n} sum=${s.sum} min=${s.min} max=${s.max}, the raw events give n=${e.n} sum=${e.sum} min=${e.min} max=${e.max}`;
    if ((e.sketch === null) !== (s.sketch === null)) return `${name}'s sketch differs`;
    if (e.sketch && s.sketch) {
      const [a, b] = [decodeSketch(e.sketch), decodeSketch(s.sketch)];
      if (
        !close(a.count, b.count) ||
        [0.5, 0.9, 0.99].some((q) => !close(a.getValueAtQuantile(q), b.getValueAtQuantile(q)))
      )
        return `${name}'s sketch differs`;
    }
  }
  for (const name of Object.keys(stored.fields))
    if (!(name in expected.fields)) return `${name} is stored but no raw event has it`;
  return null;
}

/** Where each project's raw events are complete: after its last retention cut-off. */
export async function keptFrom(
  store: Store,
  project: string,
  expiries: Awaited<ReturnType<Store['events']['chainExpiries']>>,
) {
  const first = await store.health.firstEventTs(project);
  if (first === null) return null;
  let from = Math.floor(first / DAY) * DAY;
  for (const { expiry } of expiries) {
    if (!expiry) continue;
    if (expiry.project === project && expiry.before !== null) from = Math.max(from, expiry.before);
    // An expiry of an earlier release names no cut-off: the first whole day after the oldest event.
    if (expiry.project === null) from = Math.max(from, Math.ceil(first / DAY) * DAY);
  }
  return from;
}

/** Every raw event of the project in [from, to) (of these types), read newest first in pages. */
export async function* eventsOf(
  store: Store,
  project: string,
  from: number,
  to: number,
  types?: readonly string[],
): AsyncIterable<EventRow[]> {
  let before: { ts: number; id: string } | undefined;
  for (;;) {
    const page = await store.events.listEvents({
      project,
      from,
      to,
      limit: 10_000,
      ...(types ? { types } : {}),
      ...(before ? { before } : {}),
    });
    if (page.length === 0) return;
    yield page;
    const last = page.at(-1) as EventRow;
    before = { ts: last.ts, id: last.id };
  }
}

/**
 * Recomputes, day by day, the rollups of every project over the days whose raw events are all kept
 * and compares them with the stored rows. The rollups must cover the whole chain (the server folds
 * everything before it stops); when they do not, nothing is compared and the report says why.
 */
/**
 * Why the stored rollups do not cover every committed batch of every chain (the first chain found
 * behind), or null when they do.
 */
export async function unfoldedChain(store: Store): Promise<string | null> {
  for (const head of await store.events.chains()) {
    const mark = await store.rollups.watermark(head.chain);
    if (mark.seq < head.seq || mark.rows > 0) {
      const of = head.chain === DEFAULT_CHAIN ? '' : ` of chain '${head.chain}'`;
      return `the rollups cover batches up to ${mark.seq} of ${head.seq}${of}: start the server${of ? ` with that instance id` : ''} and stop it (it folds the rest)`;
    }
  }
  return null;
}

export async function checkRollups(
  store: Store,
  { now = Date.now(), onDay }: { now?: number; onDay?: (day: number) => void } = {},
): Promise<RollupCheckReport> {
  const report: RollupCheckReport = { ok: true, checked: true, rows: 0, days: 0, mismatches: [] };
  const behind = await unfoldedChain(store);
  if (behind) {
    return {
      ...report,
      ok: false,
      checked: false,
      reason: `${behind}, then verify again`,
    };
  }
  const expiries = await store.events.chainExpiries();
  for (const project of await store.meta.listProjects()) {
    const from = await keptFrom(store, project.id, expiries);
    if (from === null) continue;
    for (let day = from; day < now; day += DAY) {
      const expected = new DeltaSet();
      const signals = new Map<string, { recommendation_type: string; explanation_version: string } | null>();
      for await (const page of eventsOf(store, project.id, day, day + DAY)) {
        const missing = page
          .filter((r) => r.type === 'decision.outcome' && r.signal_id !== null && !signals.has(r.signal_id))
          .map((r) => r.signal_id as string);
        if (missing.length > 0) {
          const found = new Map(
            (await store.rollups.signals(project.id, missing)).map((s) => [s.signal_id, s]),
          );
          for (const id of missing) signals.set(id, found.get(id) ?? null);
        }
        for (const r of page)
          expected.add(r, r.signal_id === null ? undefined : (signals.get(r.signal_id) ?? undefined));
      }
      const want = new Map<string, RollupRow>();
      for (const row of expected.toRows())
        if (GROUPS[row.family].includes(row.grp)) want.set(rollupKeyString(row), row);
      const have = new Map<string, RollupRow[]>();
      for (const family of Object.keys(GROUPS) as RollupFamily[]) {
        const rows = await store.rollups.readGroups({
          project: project.id,
          family,
          groups: GROUPS[family].map((grp) => ({ grp })),
          tiles: RESOLUTIONS.map((res) => ({ res, from: day, to: day + DAY })),
        });
        for (const row of rows) {
          const k = rollupKeyString(row);
          const list = have.get(k) ?? [];
          if (list.length === 0) have.set(k, list);
          list.push(row);
        }
      }
      for (const k of new Set([...want.keys(), ...have.keys()])) {
        const stored = have.get(k);
        const reason = difference(want.get(k), stored ? mergeRollupRows(stored) : undefined);
        report.rows += 1;
        if (reason) {
          report.ok = false;
          if (report.mismatches.length < 10)
            report.mismatches.push({ project: project.id, key: k.replaceAll('\u001f', ' '), reason });
        }
      }
      report.days += 1;
      onDay?.(day);
    }
  }
  return report;
}
