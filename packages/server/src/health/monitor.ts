import type { SchedulerTurn } from '../cluster/lease.js';
import type { HealthConfig, IngestLimits } from '../config/index.js';
import type { Store } from '../store/index.js';
import { addDays, DAY_MS, dayOf, dayStart, daysBetween } from './days.js';
import { judgeZeroActivity } from './detectors.js';
import { type HealthLog, reportSnapshot, type Severity } from './guardrails.js';
import { computeSnapshot, fromRecord, type HealthFlag, type IntegritySnapshot } from './snapshot.js';

export interface LiveActivity {
  checkedAt: string;
  zeroActivity: boolean;
  silentTypes: string[];
}

export interface HealthWindow {
  /** Days of the window that have a snapshot. */
  days: number;
  healthyDays: number;
  /** healthyDays / days × 100; null without snapshots. */
  healthyPercent: number | null;
  averageErrorRatePercent: number | null;
  averageSamplingSuccessRate: number | null;
  flaggedDays: Record<HealthFlag, number>;
}

export interface OpenFlag {
  flag: HealthFlag;
  severity: Severity;
  /** The snapshot day, or null for the live zero-activity check. */
  date: string | null;
  message: string;
}

export interface HealthSummary {
  project: string;
  generatedAt: string;
  latest: IntegritySnapshot | null;
  last7Days: HealthWindow;
  last30Days: HealthWindow;
  openFlags: OpenFlag[];
  live: LiveActivity | null;
}

export interface HealthMonitorOptions {
  store: Store;
  config: HealthConfig;
  ingest: Pick<IngestLimits, 'futureToleranceMs'>;
  log: HealthLog;
  now?: () => number;
  /** Delay of the first catch-up after start, so starting stays fast. */
  startDelayMs?: number;
  /** Run the scheduled jobs only while this instance holds the scheduler lease (once per cluster). */
  turn?: SchedulerTurn;
}

const SEVERITY: Record<HealthFlag, Severity> = {
  errorSpike: 'CRITICAL',
  versionMismatch: 'WARNING',
  zeroActivity: 'WARNING',
  volumeAnomaly: 'INFO',
};

/**
 * Telemetry health: daily integrity snapshots on a UTC schedule (catching up missed days), on
 * demand, and an hourly zero-activity check. Runs off the ingest path, one job at a time, and
 * reports through the log; nothing here can throw into or hold up ingestion.
 */
/** Today's figures so far: like a snapshot, but not stored, and the day is not over. */
export interface ProvisionalSnapshot extends IntegritySnapshot {
  provisional: true;
  asOf: string;
  /** Flags that need a complete day: always false here. */
  notJudged: HealthFlag[];
}

export class HealthMonitor {
  private readonly now: () => number;
  private readonly timers: NodeJS.Timeout[] = [];
  private tail: Promise<unknown> = Promise.resolve();
  private readonly live = new Map<string, LiveActivity>();
  /** Newest event time per type of each project, as of the last live check. */
  private readonly activity = new Map<string, { at: number; last: Map<string, number> }>();
  private stopped = false;

  constructor(private readonly o: HealthMonitorOptions) {
    this.now = o.now ?? Date.now;
  }

  /** Arms the timers (when enabled in the configuration). */
  start(): void {
    if (!this.o.config.enabled || this.timers.length > 0) return;
    const first = setTimeout(() => {
      void this.background(async () => {
        await this.catchUp();
        await this.checkActivity();
      });
      this.armDaily();
    }, this.o.startDelayMs ?? 2_000);
    first.unref();
    this.timers.push(first);
    const hourly = setInterval(
      () => void this.background(() => this.checkActivity()),
      this.o.config.zeroActivityCheckMinutes * 60_000,
    );
    hourly.unref();
    this.timers.push(hourly);
  }

  /** Disarms the timers and waits for the job that runs. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.length = 0;
    await this.tail.catch(() => undefined);
  }

  /**
   * Today so far (UTC): the snapshot's figures and flags for the current day up to now, marked
   * provisional and never stored, so a new install has health figures before its first complete day.
   */
  async today(project: string): Promise<ProvisionalSnapshot> {
    const now = this.now();
    const body = await computeSnapshot(
      this.o.store,
      { health: this.o.config, ingest: this.o.ingest },
      { project, date: dayOf(now), now, provisional: true },
    );
    return {
      ...body,
      revision: 0,
      provisional: true,
      asOf: new Date(now).toISOString(),
      notJudged: ['volumeAnomaly'],
    };
  }

  /** Snapshots `date` of `project` now and stores it as the day's next revision. */
  snapshot(project: string, date: string): Promise<IntegritySnapshot> {
    return this.serial(() => this.takeSnapshot(project, date));
  }

  /**
   * Snapshots every complete day without a snapshot, oldest first, at most `catchUpDays`
   * back, for every project with events. A day is complete once `dailyAtUtc` of the next
   * day has passed (the grace for late events).
   */
  catchUp(): Promise<IntegritySnapshot[]> {
    return this.serial(async () => {
      const lastDay = this.lastCompleteDay();
      const taken: IntegritySnapshot[] = [];
      if (this.o.config.catchUpDays === 0) return taken;
      for (const project of await this.o.store.meta.listProjects()) {
        const first = await this.o.store.health.firstEventTs(project.id);
        if (first === null) continue;
        const earliest = addDays(lastDay, 1 - this.o.config.catchUpDays);
        const from = dayOf(Math.max(first, dayStart(earliest)));
        if (from > lastDay) continue;
        const done = new Set(
          (await this.o.store.snapshots.list(project.id, from, lastDay)).map((s) => s.date),
        );
        for (const day of daysBetween(from, lastDay)) {
          if (this.stopped) return taken;
          if (!done.has(day)) taken.push(await this.takeSnapshot(project.id, day));
        }
      }
      return taken;
    });
  }

  /** The live zero-activity check of every project at this moment; logs when one goes silent. */
  checkActivity(): Promise<Map<string, LiveActivity>> {
    return this.serial(async () => {
      const at = this.now();
      const cfg = this.o.config;
      const lookbackFrom = at - cfg.activityLookbackDays * DAY_MS;
      for (const project of await this.o.store.meta.listProjects()) {
        // The first check reads the whole lookback; later ones only what arrived since (with an
        // hour of slack for stragglers), folded into the newest time per type kept here.
        const known = this.activity.get(project.id);
        const since = known ? Math.max(lookbackFrom, known.at - 3_600_000) : lookbackFrom;
        const fresh = await this.o.store.health.typeStats(
          { project: project.id, from: since, to: at + 1 },
          [],
        );
        const last = new Map(known?.last ?? []);
        for (const t of fresh) last.set(t.type, Math.max(t.lastTs, last.get(t.type) ?? t.lastTs));
        for (const [type, ts] of last) if (ts < lookbackFrom) last.delete(type);
        this.activity.set(project.id, { at, last });
        const judged = judgeZeroActivity({
          at,
          types: [...last].map(([type, lastTs]) => ({ type, count: 1, lastTs })),
          silentAfterMs: cfg.silentAfterHours * 3_600_000,
          lookbackDays: cfg.activityLookbackDays,
        });
        const now: LiveActivity = {
          checkedAt: judged.at,
          zeroActivity: judged.projectSilent || judged.silentTypes.length > 0,
          silentTypes: judged.silentTypes,
        };
        const before = this.live.get(project.id);
        const newlySilent = now.silentTypes.filter((t) => !before?.silentTypes.includes(t));
        if (newlySilent.length > 0) {
          this.o.log.warn(
            {
              health: 'live',
              severity: 'WARNING',
              flag: 'zeroActivity',
              project: project.id,
              projectSilent: judged.projectSilent,
              silentTypes: newlySilent,
              lastEventAt: judged.lastEventAt,
            },
            judged.projectSilent
              ? `health: project ${project.id} has sent no events for ${cfg.silentAfterHours} h`
              : `health: event types silent for ${cfg.silentAfterHours} h in project ${project.id}: ${newlySilent.join(', ')}`,
          );
        } else if (before?.zeroActivity && !now.zeroActivity) {
          this.o.log.info(
            { health: 'live', severity: 'INFO', flag: 'zeroActivity', project: project.id },
            `health: project ${project.id} is active again`,
          );
        }
        this.live.set(project.id, now);
      }
      return new Map(this.live);
    });
  }

  async summary(project: string): Promise<HealthSummary> {
    const yesterday = addDays(dayOf(this.now()), -1);
    const records = await this.o.store.snapshots.list(project, addDays(yesterday, -29), yesterday);
    const snapshots = records.map(fromRecord);
    // The newest snapshot may be older than the window (a project silent for a month).
    const latest =
      snapshots.at(-1) ??
      (await this.o.store.snapshots.list(project, '2000-01-01', yesterday)).map(fromRecord).at(-1) ??
      null;
    const live = this.live.get(project) ?? null;
    const openFlags: OpenFlag[] = [];
    if (latest) {
      for (const flag of Object.keys(latest.flags) as HealthFlag[]) {
        if (latest.flags[flag])
          openFlags.push({
            flag,
            severity: SEVERITY[flag],
            date: latest.date,
            message: flagMessage(flag, latest),
          });
      }
    }
    if (live?.zeroActivity && !openFlags.some((f) => f.flag === 'zeroActivity')) {
      openFlags.push({
        flag: 'zeroActivity',
        severity: 'WARNING',
        date: null,
        message: `Silent now: ${live.silentTypes.join(', ')}.`,
      });
    }
    return {
      project,
      generatedAt: new Date(this.now()).toISOString(),
      latest,
      last7Days: windowOf(snapshots.filter((s) => s.date >= addDays(yesterday, -6))),
      last30Days: windowOf(snapshots),
      openFlags,
      live,
    };
  }

  /** Stored snapshots of `project` from `from` to `to` (days, inclusive). */
  async list(
    project: string,
    from: string,
    to: string,
    options: { allRevisions?: boolean } = {},
  ): Promise<IntegritySnapshot[]> {
    return (await this.o.store.snapshots.list(project, from, to, options)).map(fromRecord);
  }

  /** The newest day whose snapshot is due. */
  lastCompleteDay(): string {
    const [h, m] = this.o.config.dailyAtUtc.split(':').map(Number) as [number, number];
    const graceMs = (h * 60 + m) * 60_000;
    return addDays(dayOf(this.now() - graceMs), -1);
  }

  private async takeSnapshot(project: string, date: string): Promise<IntegritySnapshot> {
    const body = await computeSnapshot(
      this.o.store,
      { health: this.o.config, ingest: this.o.ingest },
      { project, date, now: this.now() },
    );
    const record = await this.o.store.snapshots.append({
      project,
      date,
      createdAt: Date.parse(body.createdAt),
      document: JSON.stringify(body),
    });
    reportSnapshot(this.o.log, body);
    return { ...body, revision: record.revision };
  }

  private armDaily(): void {
    if (this.stopped) return;
    const [h, m] = this.o.config.dailyAtUtc.split(':').map(Number) as [number, number];
    const now = this.now();
    let next = dayStart(dayOf(now)) + (h * 60 + m) * 60_000;
    if (next <= now) next += DAY_MS;
    const timer = setTimeout(() => {
      this.timers.splice(this.timers.indexOf(timer), 1);
      void this.background(() => this.catchUp());
      this.armDaily();
    }, next - now);
    timer.unref();
    this.timers.push(timer);
  }

  /** Jobs run one at a time, in order. */
  private serial<T>(job: () => Promise<T>): Promise<T> {
    const run = this.tail.then(job);
    this.tail = run.catch(() => undefined);
    return run;
  }

  /** A timer's job: failures are logged, never thrown. */
  private async background(job: () => Promise<unknown>): Promise<void> {
    if (this.stopped || (this.o.turn && !this.o.turn.held)) return;
    try {
      await job();
    } catch (err) {
      this.o.log.error({ err, health: 'job' }, 'health: a scheduled health job failed');
    }
  }
}

function windowOf(snapshots: readonly IntegritySnapshot[]): HealthWindow {
  const avg = (values: number[]) =>
    values.length === 0 ? null : Number((values.reduce((a, b) => a + b, 0) / values.length).toFixed(4));
  const healthy = snapshots.filter((s) => s.isHealthy).length;
  const count = (flag: HealthFlag) => snapshots.filter((s) => s.flags[flag]).length;
  return {
    days: snapshots.length,
    healthyDays: healthy,
    healthyPercent: snapshots.length === 0 ? null : Number(((healthy / snapshots.length) * 100).toFixed(2)),
    averageErrorRatePercent: avg(snapshots.map((s) => s.errorRatePercent)),
    averageSamplingSuccessRate: avg(
      snapshots.map((s) => s.samplingSuccessRate).filter((v): v is number => v !== null),
    ),
    flaggedDays: {
      volumeAnomaly: count('volumeAnomaly'),
      errorSpike: count('errorSpike'),
      versionMismatch: count('versionMismatch'),
      zeroActivity: count('zeroActivity'),
    },
  };
}

function flagMessage(flag: HealthFlag, s: IntegritySnapshot): string {
  switch (flag) {
    case 'errorSpike':
      return `${s.errorRatePercent}% of received events were rejected (threshold ${s.baselines.errorRate.thresholdPercent}%).`;
    case 'versionMismatch':
      return `${(s.versionMissingPercent + s.versionUnknownPercent).toFixed(2)}% of events lack a known version tag (threshold ${s.baselines.version.thresholdPercent}%).`;
    case 'zeroActivity':
      return s.baselines.zeroActivity.projectSilent
        ? 'No events all day from a project that was active.'
        : `Silent event types: ${s.silentTypes.join(', ')}.`;
    case 'volumeAnomaly':
      return `Volume ${s.totalEvents} deviates ${s.baselines.volume.deviationPercent}% from the same-weekday median ${s.baselines.volume.median}.`;
  }
}
