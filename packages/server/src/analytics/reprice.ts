/**
 * `vigil reprice`: a price changed (or was wrong) after events were priced with it. Each whole UTC
 * day of the range has its priced costs recomputed from the price table as it is now and its LLM
 * rollups rebuilt from its raw events, in one write per day. Reported costs stand; the audit chain
 * is unaffected (it hashes reported costs only).
 */

import type { EventRow } from '../model/index.js';
import { type PriceBook, pricedCost } from '../pricing/index.js';
import type { CostUpdate, Store } from '../store/index.js';
import { DeltaSet } from './aggregate.js';
import { eventsOf, keptFrom, unfoldedChain } from './rollup-check.js';

const DAY = 86_400_000;

export interface RepriceOptions {
  /** Epoch ms; widened to whole UTC days. */
  from: number;
  to: number;
  /** Only this project (default: every project). */
  project?: string;
  book: (project: string) => Promise<PriceBook>;
  /** After each day of each project: how many of all the days are done. */
  onProgress?: (done: number, total: number) => void;
}

export interface RepriceReport {
  /** The whole days repriced: [from, to). */
  from: number;
  to: number;
  projects: number;
  days: number;
  /** LLM requests read, and those whose priced cost changed. */
  requests: number;
  changed: number;
  /** Requests still without a price afterwards. */
  unpriced: number;
  /** Days left alone because retention deleted some of their raw events. */
  skipped: { project: string; before: number }[];
}

export class RepriceError extends Error {}

export async function reprice(store: Store, options: RepriceOptions): Promise<RepriceReport> {
  const from = Math.floor(options.from / DAY) * DAY;
  const to = Math.ceil(options.to / DAY) * DAY;
  const behind = await unfoldedChain(store);
  if (behind) throw new RepriceError(`${behind}, then reprice again`);
  const projects = (await store.meta.listProjects())
    .map((p) => p.id)
    .filter((id) => options.project === undefined || id === options.project);
  if (options.project !== undefined && projects.length === 0)
    throw new RepriceError(`no project '${options.project}'`);

  const report: RepriceReport = {
    from,
    to,
    projects: projects.length,
    days: 0,
    requests: 0,
    changed: 0,
    unpriced: 0,
    skipped: [],
  };
  const expiries = await store.events.chainExpiries();
  const total = projects.length * ((to - from) / DAY);
  let done = 0;
  for (const project of projects) {
    const book = await options.book(project);
    // Days before the last retention cut-off have lost raw events: their rollups are all that is left.
    const kept = (await keptFrom(store, project, expiries)) ?? to;
    const first = await store.health.firstEventTs(project);
    if (first !== null && kept > Math.max(from, Math.floor(first / DAY) * DAY))
      report.skipped.push({ project, before: Math.min(kept, to) });
    for (let day = from; day < to; day += DAY) {
      if (day >= kept) await repriceDay(store, project, day, book, report);
      options.onProgress?.(++done, total);
    }
  }
  return report;
}

async function repriceDay(
  store: Store,
  project: string,
  day: number,
  book: PriceBook,
  report: RepriceReport,
): Promise<void> {
  const rollups = new DeltaSet();
  const costs: CostUpdate[] = [];
  let requests = 0;
  for await (const page of eventsOf(store, project, day, day + DAY, ['llm.request'])) {
    for (const row of page) {
      const priced = pricedCost(row, book);
      if (priced && !sameCost(row, priced)) {
        costs.push({ id: row.id, ...priced });
        Object.assign(row, priced);
      }
      if (row.cost_usd === null) report.unpriced += 1;
      rollups.add(row);
    }
    requests += page.length;
  }
  if (requests === 0) return;
  await store.rollups.reprice({
    project,
    from: day,
    to: day + DAY,
    costs,
    rows: rollups.toRows().filter((r) => r.family === 'llm'),
  });
  report.days += 1;
  report.requests += requests;
  report.changed += costs.length;
}

const sameCost = (row: EventRow, c: ReturnType<typeof pricedCost> & object) =>
  row.cost_usd === c.cost_usd &&
  row.prompt_cost_usd === c.prompt_cost_usd &&
  row.completion_cost_usd === c.completion_cost_usd;
