import type { FastifyBaseLogger } from 'fastify';
import { RollupMaintainer } from '../analytics/index.js';
import { DEFAULT_CHAIN, nextLink } from '../audit/index.js';
import { bootstrap, DEFAULT_PROJECT } from '../auth/index.js';
import { type EventRow, emptyRow } from '../model/index.js';
import { mergeRollupRows, type RollupRow, rollupKeyString } from '../model/rollup.js';
import type { ChainLink, Store } from '../store/index.js';

export interface GenerateOptions {
  log: FastifyBaseLogger;
  events: number;
  days: number;
  project?: string;
  /** Seed of the pseudo-random stream: the same seed gives the same events. */
  seed?: number;
  now?: number;
  /**
   * Fold every day's events instead of folding the first day and repeating its rollup rows. Much slower; the default repeats when the project is empty and `days` whole.
   */
  noRepeat?: boolean;
  /**
   * `skip`: the repeated days get their rollup rows but not their events, which a bench then copies
   * inside the engine (`copyEventDays`); default `append`, as batches of the audit chain.
   */
  repeatedEvents?: 'append' | 'skip';
  onProgress?: (done: number, total: number) => void;
  /** Announces a step after the events are written (it shows no count). */
  onPhase?: (what: string) => void;
  /** The audit chain the batches join (the instance id; default `DEFAULT_CHAIN`). */
  chain?: string;
}

const DAY = 86_400_000;
const BATCH = 50_000;
const MODELS = ['gpt-4o', 'gpt-4o-mini', 'claude-sonnet', 'claude-haiku', 'llama-3-70b', 'mistral-large'];
const ERRORS = ['timeout', 'rate_limit', 'context_length', 'server_error', 'content_filter'];

/** xorshift32: small, fast and reproducible. */
function random(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 4_294_967_296;
  };
}

/** A UUIDv7-shaped id from the event time and its number in the run (unique per run). */
function idOf(ts: number, n: number): string {
  const hex = ts.toString(16).padStart(12, '0');
  const tail = (n >>> 0).toString(16).padStart(12, '0');
  return `${hex.slice(0, 8)}-${hex.slice(8)}-7${tail.slice(0, 3)}-8${tail.slice(3, 6)}-${tail.slice(0, 6)}${tail.slice(6)}`;
}

/** One realistic llm.request event; draws from `rnd` in a fixed order. */
function llmRequest(rnd: () => number, project: string, ts: number, n: number): EventRow {
  const r = emptyRow();
  r.id = idOf(ts, n);
  r.project = project;
  r.type = 'llm.request';
  r.ts = ts;
  r.received_at = ts;
  r.version = rnd() < 0.9 ? '2.4.0' : '2.3.1';
  const context = Math.round(5 + 200 * rnd() ** 2);
  const llm = Math.round(150 + 4000 * rnd() ** 3);
  r.context_ms = context;
  r.llm_ms = llm;
  r.total_ms = context + llm + Math.round(5 * rnd());
  r.prompt_tokens = Math.round(100 + 3000 * rnd());
  r.completion_tokens = Math.round(20 + 800 * rnd());
  r.cache_hit = rnd() < 0.35;
  r.error_type = rnd() < 0.02 ? (ERRORS[Math.floor(rnd() * ERRORS.length)] as string) : null;
  r.user = `user-${Math.floor(5000 * rnd() ** 2)}`;
  r.space = `space-${Math.floor(50 * rnd())}`;
  r.model = MODELS[Math.floor(rnd() * MODELS.length)] as string;
  return r;
}

/**
 * Writes realistic llm.request events spread over the last `days` days, for benchmarks and
 * demos, with a valid audit chain and rollups, through the store's ordinary writes only (appends
 * of batches, rollup writes with their watermark), as any engine takes them.
 *
 * Folding every event costs tens of microseconds, so by default the first day is folded and each
 * later day repeats it, shifted by whole days: the same draws with ids of their own, appended as
 * batches of the chain, and the first day's rollup rows written again one day later each (they
 * land on the same bucket boundaries), with the watermark at that day's last batch. Days then
 * differ only in time and ids. After a failure the store holds whole days: the watermark stands at
 * the last day written with its rollups, and a server folds what comes after it. `noRepeat` folds
 * every event instead.
 */
export async function generateEvents(
  store: Store,
  options: GenerateOptions,
): Promise<{ events: number; batches: number }> {
  const {
    days,
    project = DEFAULT_PROJECT,
    seed = 42,
    now = Date.now(),
    chain = DEFAULT_CHAIN,
    onProgress,
    onPhase,
    log,
  } = options;
  await bootstrap(store.meta, undefined);
  await store.meta.ensureProject({ id: project, name: project, strictTypes: false, createdAt: now });
  const repeat =
    !options.noRepeat &&
    Number.isInteger(days) &&
    days >= 2 &&
    (await store.events.countEvents(project)) === 0;
  const start = now - days * DAY;
  // Events folded: all of them, or one day's worth to repeat.
  const perRun = repeat ? Math.round(options.events / days) : options.events;
  const total = repeat ? perRun * days : perRun;
  const step = ((repeat ? 1 : days) * DAY) / perRun;
  const tsOf = (i: number) => Math.floor(start + i * step);

  let head: ChainLink | null = await store.events.chainHead(chain);
  let batches = 0;
  /** Appends one day's draws (`day` days after the first) as batches of the chain. */
  const appendDay = async (day: number, onBatch: (link: ChainLink, rows: EventRow[]) => Promise<void>) => {
    const rnd = random(seed);
    for (let n = 0; n < perRun; ) {
      const rows: EventRow[] = [];
      for (const end = Math.min(perRun, n + BATCH); n < end; n++)
        rows.push(llmRequest(rnd, project, tsOf(n) + day * DAY, day * perRun + n));
      const link = nextLink(head, rows, Date.now(), chain);
      await store.events.appendBatch({ rows, seal: () => ({ link, scrubbed: [] }) });
      head = link;
      batches += 1;
      await onBatch(link, rows);
      onProgress?.(day * perRun + n, total);
    }
  };

  // Flushes only when the pending cells are many, and compacts once at the end: compaction
  // scans whole tables, which every 30 s would cost more and more as a backfill grows.
  const firstDay: RollupRow[] = [];
  const maintainer = new RollupMaintainer(store, {
    chain,
    log,
    flushIntervalMs: 3_600_000,
    compactIntervalMs: 3_600_000,
    maxPendingCells: 50_000,
    ...(repeat ? { onWritten: (rows: readonly RollupRow[]) => void firstDay.push(...rows) } : {}),
  });
  await maintainer.start(head?.seq ?? 0);
  await appendDay(0, async (link, rows) => {
    maintainer.onCommitted(link, rows);
    await maintainer.settled();
  });
  await maintainer.stop();
  // The maintainer wrote the first day as deltas over several flushes: one row per key to repeat.
  const repeated = mergedByKey(firstDay.splice(0));
  for (let day = 1; repeat && day < days; day++) {
    if (options.repeatedEvents !== 'skip') await appendDay(day, async () => undefined);
    const shift = day * DAY;
    const at = head as ChainLink;
    await store.rollups.write(
      repeated.map((r) => ({ ...r, bucket: r.bucket + shift })),
      [],
      { chain, seq: at.seq, rows: 0 },
    );
  }
  onPhase?.('compacting rollups');
  await maintainer.compactAll();
  return { events: repeat && options.repeatedEvents === 'skip' ? perRun : total, batches };
}

/** Rows merged per rollup key, as a read of them would merge them. */
function mergedByKey(rows: readonly RollupRow[]): RollupRow[] {
  const byKey = new Map<string, RollupRow[]>();
  for (const r of rows) {
    const k = rollupKeyString(r);
    const list = byKey.get(k);
    if (list) list.push(r);
    else byKey.set(k, [r]);
  }
  return [...byKey.values()].map(mergeRollupRows);
}
