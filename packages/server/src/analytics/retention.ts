import type { FastifyBaseLogger } from 'fastify';
import { DEFAULT_CHAIN, expireOffline } from '../audit/index.js';
import type { SchedulerTurn } from '../cluster/lease.js';
import type { Config } from '../config/index.js';
import type { ProjectRecord, RetentionOverrides, Store } from '../store/index.js';

const DAY = 86_400_000;

export interface Retention {
  rawDays: number;
  rollupDays: number;
  dailyRollupDays: number;
}

export interface RetentionResult {
  project: string;
  rawDeleted: number;
  rollupsDeleted: number;
  /** Metric samples (from collectors, OTLP and webhooks) and their rollups. */
  samplesDeleted: number;
  sampleRollupsDeleted: number;
  /** Raw events were kept because the rollups do not cover them yet. */
  rawDeferred: boolean;
}

/** A project's retention: its own overrides over the server's defaults. */
export function effectiveRetention(defaults: Config['retention'], overrides: RetentionOverrides): Retention {
  return {
    rawDays: overrides.rawDays ?? defaults.rawDays,
    rollupDays: overrides.rollupDays ?? defaults.rollupDays,
    dailyRollupDays: overrides.dailyRollupDays ?? defaults.dailyRollupDays,
  };
}

/** Why a retention setting cannot be, or null: rollups must outlive the raw events they summarise. */
export function retentionProblem(r: Retention): string | null {
  if (r.rollupDays < r.rawDays)
    return 'rollupDays must be at least rawDays: rollups are what remains of expired events.';
  if (r.dailyRollupDays < r.rollupDays) return 'dailyRollupDays must be at least rollupDays.';
  return null;
}

/** Deletes a project's events older than `before`, recording the deletion in the audit chain. */
export type ExpireEvents = (project: string, before: number) => Promise<{ deleted: number }>;

export interface RetentionOptions {
  now?: number;
  projects?: ProjectRecord[];
  /** Through the chain's writer (the committer) when a server runs; offline otherwise. */
  expireEvents?: ExpireEvents;
  /** The chain an offline deletion is recorded in (this instance's; default `DEFAULT_CHAIN`). */
  chain?: string;
}

/**
 * Deletes whole days past each project's retention: raw events only once the rollups cover
 * them (their batches are at or below the rollup watermark), finer rollups before daily ones;
 * metric samples and their rollups by the same days.
 */
export async function applyRetention(
  store: Store,
  defaults: Config['retention'],
  {
    now = Date.now(),
    projects,
    chain = DEFAULT_CHAIN,
    expireEvents = (project, before) => expireOffline(store.events, chain, project, before),
  }: RetentionOptions = {},
): Promise<RetentionResult[]> {
  const results: RetentionResult[] = [];
  const watermarks = new Map<string, number>();
  /** Whether every chain's batches holding the project's events before `before` are folded. */
  const folded = async (project: string, before: number) => {
    for (const [name, seq] of await store.events.lastBatchesBefore(project, before)) {
      if (!watermarks.has(name)) watermarks.set(name, (await store.rollups.watermark(name)).seq);
      if (seq > (watermarks.get(name) ?? 0)) return false;
    }
    return true;
  };
  for (const project of projects ?? (await store.meta.listProjects())) {
    const r = effectiveRetention(defaults, project.retention);
    const day = Math.floor(now / DAY) * DAY;
    const rawBefore = day - r.rawDays * DAY;
    const covered = await folded(project.id, rawBefore);
    const raw = covered ? await expireEvents(project.id, rawBefore) : { deleted: 0 };
    const fine = await store.rollups.expire(project.id, ['1m', '5m', '1h'], day - r.rollupDays * DAY);
    const daily = await store.rollups.expire(project.id, ['1d'], day - r.dailyRollupDays * DAY);
    const samples = await store.samples.expire(project.id, rawBefore);
    const sampleRollups =
      (await store.samples.expireRollups(project.id, ['1m', '1h'], day - r.rollupDays * DAY)) +
      (await store.samples.expireRollups(project.id, ['1d'], day - r.dailyRollupDays * DAY));
    results.push({
      project: project.id,
      rawDeleted: raw.deleted,
      rollupsDeleted: fine + daily,
      samplesDeleted: samples,
      sampleRollupsDeleted: sampleRollups,
      rawDeferred: !covered,
    });
  }
  return results;
}

/**
 * The one retention job: on an interval, off the ingest path, every kind of stored data past its
 * retention (events, rollups, metric samples and their rollups, the collectors' run log).
 */
export class RetentionJob {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<unknown> = Promise.resolve();

  private readonly log: FastifyBaseLogger;
  /** Told when rows were deleted (cached reads of them are stale). */
  private readonly onDeleted: () => void;
  private readonly expireEvents: ExpireEvents | undefined;
  private readonly runRetentionDays: number;
  private readonly turn: SchedulerTurn | undefined;

  constructor(
    private readonly store: Store,
    private readonly defaults: Config['retention'],
    {
      log,
      onDeleted = () => undefined,
      expireEvents,
      runRetentionDays = 7,
      turn,
    }: {
      log: FastifyBaseLogger;
      onDeleted?: () => void;
      expireEvents?: ExpireEvents;
      /** Days of the collectors' run log kept (`telemetry.runRetentionDays`). */
      runRetentionDays?: number;
      /** Run on schedule only while this instance holds the scheduler lease. */
      turn?: SchedulerTurn;
    },
  ) {
    this.turn = turn;
    this.log = log;
    this.onDeleted = onDeleted;
    this.expireEvents = expireEvents;
    this.runRetentionDays = runRetentionDays;
  }

  start(): void {
    this.timer = setInterval(() => {
      // Once per cluster: the instance holding the scheduler lease deletes.
      if (this.turn && !this.turn.held) return;
      this.running = this.run().catch((err: unknown) => this.log.error({ err }, 'retention run failed'));
    }, this.defaults.intervalMs).unref();
  }

  async run(now = Date.now()): Promise<RetentionResult[]> {
    const results = await applyRetention(this.store, this.defaults, {
      now,
      ...(this.expireEvents ? { expireEvents: this.expireEvents } : {}),
    });
    if (results.some((r) => r.rawDeleted > 0 || r.rollupsDeleted > 0)) this.onDeleted();
    for (const r of results) {
      if (r.rawDeleted + r.rollupsDeleted + r.samplesDeleted + r.sampleRollupsDeleted > 0)
        this.log.info(r, 'retention: expired data deleted');
      if (r.rawDeferred) this.log.warn(r, 'retention: raw events kept until the rollups cover them');
    }
    const runs = await this.store.collectors.expireRuns(now - this.runRetentionDays * DAY);
    if (runs > 0) this.log.info({ runs }, 'retention: collector runs deleted');
    return results;
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.running;
  }
}
