import type { FastifyBaseLogger } from 'fastify';
import { RollupMaintainer } from '../analytics/index.js';
import { nextLink } from '../audit/index.js';
import { bootstrap, DEFAULT_PROJECT } from '../auth/index.js';
import { type EventRow, emptyRow } from '../model/index.js';
import type { ChainLink, Store } from '../store/index.js';

export interface GenerateOptions {
  log: FastifyBaseLogger;
  events: number;
  days: number;
  project?: string;
  /** Seed of the pseudo-random stream: the same seed gives the same events. */
  seed?: number;
  now?: number;
  onProgress?: (done: number, total: number) => void;
  /** Announces a step after the events are written (it shows no count). */
  onPhase?: (what: string) => void;
}

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

/**
 * Writes `events` realistic llm.request events spread over the last `days` days through the
 * real write path (audit chain, batches, rollups), for benchmarks and demos.
 */
export async function generateEvents(
  store: Store,
  options: GenerateOptions,
): Promise<{ events: number; batches: number }> {
  const {
    events,
    days,
    project = DEFAULT_PROJECT,
    seed = 42,
    now = Date.now(),
    onProgress,
    onPhase,
    log,
  } = options;
  await bootstrap(store.meta, undefined);
  await store.meta.ensureProject({ id: project, name: project, strictTypes: false, createdAt: now });
  const rnd = random(seed);
  // Flushes only when the pending cells are many, and compacts once at the end: compaction
  // scans whole tables, which every 30 s would cost more and more as the backfill grows.
  const maintainer = new RollupMaintainer(store, {
    log,
    flushIntervalMs: 3_600_000,
    compactIntervalMs: 3_600_000,
    maxPendingCells: 50_000,
  });
  let head: ChainLink | null = await store.events.chainHead();
  await maintainer.start(head?.seq ?? 0);
  const start = now - days * 86_400_000;
  const step = (days * 86_400_000) / events;
  const BATCH = 50_000;
  let n = 0;
  let batches = 0;
  while (n < events) {
    const size = Math.min(BATCH, events - n);
    const rows: EventRow[] = new Array(size);
    for (let i = 0; i < size; i++, n++) {
      const ts = Math.floor(start + n * step);
      const hex = ts.toString(16).padStart(12, '0');
      const tail = (n >>> 0).toString(16).padStart(12, '0');
      const r = emptyRow();
      r.id = `${hex.slice(0, 8)}-${hex.slice(8)}-7${tail.slice(0, 3)}-8${tail.slice(3, 6)}-${tail.slice(0, 6)}${tail.slice(6)}`;
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
      rows[i] = r;
    }
    const link = nextLink(head, rows, Date.now());
    await store.events.appendBatch({ link, rows, scrubbed: [] });
    head = link;
    batches += 1;
    maintainer.onCommitted(link, rows);
    await maintainer.settled();
    onProgress?.(n, events);
  }
  await maintainer.stop();
  onPhase?.('compacting rollups');
  await maintainer.compactAll();
  return { events: n, batches };
}
