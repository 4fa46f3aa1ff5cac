/**
 * Vigil's own metrics (`GET /metrics`, Prometheus text format).
 *
 * One registry per server instance, never prom-client's global one: tests start several
 * servers in one process and each must report only its own numbers. `startServer` calls
 * `createSelfMetrics()` once and puts the result on the context as `ctx.metrics`
 * (`AppContext.metrics`). Other parts get at it that way:
 *
 * - routes: `ctx.metrics.ingestEvents.inc({ outcome: 'stored' }, n)`;
 * - engines built in `server.ts` (alert evaluator, collector orchestrator) take it as an
 *   option typed `SelfMetrics` (import the type from `ops/index.js`) and increment e.g.
 *   `metrics.ruleEvaluations.inc({ result: 'ok' })`,
 *   `metrics.collectorRuns.inc({ project: 'default', collector: 'docker', result: 'ok' })`,
 *   `metrics.collectorRunSeconds.observe({ project: 'default', collector: 'docker' }, seconds)`.
 *
 * Gauges that describe live state (queue depth, in-flight, store size) read it at scrape
 * time through `observe(sources)`; until it is called they report 0.
 */
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { CommitObservation } from '../ingest/index.js';

/** Live state read when Prometheus scrapes. */
export interface SelfMetricSources {
  /** Events accepted into memory and waiting for the next commit. */
  queuedEvents(): number;
  /** Events in memory, waiting or being committed. */
  inFlightEvents(): number;
  /** Bytes of the store on disk (database file and its write-ahead log). */
  storeBytes(): number | Promise<number>;
}

/** The audit chain as /metrics shows it: its head and its last signed checkpoint. */
export interface AuditMetricSource {
  chain: string;
  headSeq(): number;
  /** The last checkpoint signed (kept in the file and/or sent to the webhook). */
  checkpoint(): { seq: number; hash: string; at: number; key: string } | null;
  /** The store's chain ended before its last checkpoint at start (batches were deleted). */
  behindCheckpoint: boolean;
}

export type SelfMetrics = ReturnType<typeof createSelfMetrics>;

/** A fresh registry with every Vigil metric registered on it. */
export function createSelfMetrics(options: { defaultMetrics?: boolean } = {}) {
  const registry = new Registry();
  let sources: SelfMetricSources | null = null;
  let audit: AuditMetricSource | null = null;
  const registers = [registry];

  const metrics = {
    registry,
    /** Events of ingest requests by outcome: `stored`, `duplicate` (idempotent replay), `rejected`. */
    ingestEvents: new Counter({
      name: 'vigil_ingest_events_total',
      help: 'Events received on the ingest routes, by outcome (stored, duplicate, rejected).',
      labelNames: ['outcome'] as const,
      registers,
    }),
    /** Request body bytes as sent (before decompression). */
    ingestBytes: new Counter({
      name: 'vigil_ingest_bytes_total',
      help: 'Body bytes received on the ingest routes, as sent (compressed when gzip).',
      registers,
    }),
    /** Rejections by stable code: per event (inside a 200) and per request (4xx/5xx). */
    ingestRejects: new Counter({
      name: 'vigil_ingest_rejects_total',
      help: 'Ingest rejections by code; scope=event for events refused inside a 200, scope=request for refused requests.',
      labelNames: ['code', 'scope'] as const,
      registers,
    }),
    scrubbedFields: new Counter({
      name: 'vigil_scrubbed_fields_total',
      help: 'Properties dropped before storage by the privacy scrubber, by reason (once per stored event and reason).',
      labelNames: ['reason'] as const,
      registers,
    }),
    commitSeconds: new Histogram({
      name: 'vigil_commit_duration_seconds',
      help: 'Time of one group commit (dedup, append, chain link), from start to durable.',
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    }),
    commitEvents: new Counter({
      name: 'vigil_committed_events_total',
      help: 'Events durably committed to the store.',
      registers,
    }),
    commits: new Counter({
      name: 'vigil_commits_total',
      help: 'Group commits, by result (ok, error).',
      labelNames: ['result'] as const,
      registers,
    }),
    /** Alert rule evaluations, by `result`: `ok`, `firing`, `error` (the alerting part decides). */
    ruleEvaluations: new Counter({
      name: 'vigil_rule_evaluations_total',
      help: 'Alert rule evaluations, by result.',
      labelNames: ['result'] as const,
      registers,
    }),
    /** Collector runs, by `project`, `collector` name and `result`: `ok`, `error`, `timeout`. */
    collectorRuns: new Counter({
      name: 'vigil_collector_runs_total',
      help: 'Collector runs, by project, collector and result.',
      labelNames: ['project', 'collector', 'result'] as const,
      registers,
    }),
    collectorRunSeconds: new Histogram({
      name: 'vigil_collector_run_seconds',
      help: 'Duration of one collector run.',
      labelNames: ['project', 'collector'] as const,
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    }),
    /** Checkpoints of the audit chain that could not be kept, by target (`file`, `webhook`). */
    checkpointFailures: new Counter({
      name: 'vigil_audit_checkpoint_failures_total',
      help: 'Audit chain checkpoints not written to their file or not delivered to the webhook.',
      labelNames: ['target'] as const,
      registers,
    }),
    /** Feed the scrape-time gauges from live state. */
    observe(next: SelfMetricSources): void {
      sources = next;
    },
    /** Feed the audit chain gauges. */
    observeAudit(next: AuditMetricSource): void {
      audit = next;
    },
  };

  new Gauge({
    name: 'vigil_audit_chain_head_seq',
    help: 'Sequence number of the newest batch of the audit chain.',
    labelNames: ['chain'] as const,
    registers,
    collect() {
      this.reset();
      if (audit) this.set({ chain: audit.chain }, audit.headSeq());
    },
  });
  new Gauge({
    name: 'vigil_audit_checkpoint_seq',
    help: 'Sequence number of the batch the last signed checkpoint records.',
    labelNames: ['chain'] as const,
    registers,
    collect() {
      this.reset();
      const c = audit?.checkpoint();
      if (audit && c) this.set({ chain: audit.chain }, c.seq);
    },
  });
  new Gauge({
    name: 'vigil_audit_checkpoint_timestamp_seconds',
    help: 'When the last checkpoint was signed (Unix seconds).',
    labelNames: ['chain'] as const,
    registers,
    collect() {
      this.reset();
      const c = audit?.checkpoint();
      if (audit && c) this.set({ chain: audit.chain }, c.at / 1000);
    },
  });
  // The head hash on /metrics: a scraper that stores it keeps one more copy outside the store.
  new Gauge({
    name: 'vigil_audit_checkpoint_info',
    help: 'The last signed checkpoint: its batch, hash and signing key (raw Ed25519, base64url); value 1.',
    labelNames: ['chain', 'seq', 'hash', 'key'] as const,
    registers,
    collect() {
      this.reset();
      const c = audit?.checkpoint();
      if (audit && c) this.set({ chain: audit.chain, seq: String(c.seq), hash: c.hash, key: c.key }, 1);
    },
  });
  new Gauge({
    name: 'vigil_audit_chain_behind_checkpoint',
    help: "1 when the store's audit chain ended before its last checkpoint at start (batches were deleted).",
    labelNames: ['chain'] as const,
    registers,
    collect() {
      this.reset();
      if (audit) this.set({ chain: audit.chain }, audit.behindCheckpoint ? 1 : 0);
    },
  });

  new Gauge({
    name: 'vigil_ingest_queue_events',
    help: 'Events accepted into memory and waiting for the next group commit.',
    registers,
    collect() {
      this.set(sources?.queuedEvents() ?? 0);
    },
  });
  new Gauge({
    name: 'vigil_ingest_in_flight_events',
    help: 'Events in memory, waiting for or inside a commit (not yet acknowledged).',
    registers,
    collect() {
      this.set(sources?.inFlightEvents() ?? 0);
    },
  });
  new Gauge({
    name: 'vigil_store_bytes',
    help: 'Size of the store on disk (database file and write-ahead log).',
    registers,
    async collect() {
      this.set(sources ? await sources.storeBytes() : 0);
    },
  });
  if (options.defaultMetrics ?? true) {
    collectDefaultMetrics({ register: registry });
    // prom-client names these gauges `…_total`, which Prometheus reserves for counters (promtool
    // check metrics fails on them); the per-type gauges without the suffix carry the same counts.
    for (const name of GAUGES_NAMED_LIKE_COUNTERS) registry.removeSingleMetric(name);
  }
  return metrics;
}

const GAUGES_NAMED_LIKE_COUNTERS = [
  'nodejs_active_handles_total',
  'nodejs_active_requests_total',
  'nodejs_active_resources_total',
];

/** Feeds a group commit into the metrics (wired as the committer's `observeCommit`). */
export function observeCommit(metrics: SelfMetrics, commit: CommitObservation): void {
  metrics.commitSeconds.observe(commit.seconds);
  metrics.commits.inc({ result: commit.ok ? 'ok' : 'error' });
  if (!commit.ok) return;
  if (commit.stored > 0) {
    metrics.commitEvents.inc(commit.stored);
    metrics.ingestEvents.inc({ outcome: 'stored' }, commit.stored);
  }
  if (commit.duplicates > 0) metrics.ingestEvents.inc({ outcome: 'duplicate' }, commit.duplicates);
  for (const s of commit.scrubbed) metrics.scrubbedFields.inc({ reason: s.reason }, s.count);
}
