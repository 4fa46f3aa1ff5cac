import type { HealthConfig, IngestLimits } from '../config/index.js';
import type { SnapshotRecord, Store, TypeStats } from '../store/index.js';
import { addDays, DAY_MS, dayStart, daysBetween } from './days.js';
import {
  judgeErrorRate,
  judgeVersions,
  judgeVolume,
  judgeZeroActivity,
  type VolumeJudgement,
  type ZeroActivityJudgement,
} from './detectors.js';
import { type SamplingFailure, verifySample } from './verifier.js';

export type HealthFlag = 'volumeAnomaly' | 'errorSpike' | 'versionMismatch' | 'zeroActivity';

/**
 * The integrity of one project's telemetry on one UTC day. Immutable once stored: a re-run of
 * the day is stored as the next `revision` and the earlier ones are kept.
 */
export interface IntegritySnapshot {
  project: string;
  /** UTC day, `YYYY-MM-DD`. */
  date: string;
  revision: number;
  createdAt: string;
  /** Events whose `ts` falls on the day. */
  totalEvents: number;
  /** Events received (stored) on the day, by receive time. */
  acceptedEvents: number;
  /** Events refused at ingestion on the day, by receive time. */
  rejectedEvents: number;
  /** rejected / (accepted + rejected) × 100. */
  errorRatePercent: number;
  /** Share of the sampled events that passed every check, 0–100; null when the day has no events. */
  samplingSuccessRate: number | null;
  sampledEvents: number;
  /** SHA-256 of the sampled ids in sample order: equal digests mean the same sample. */
  sampleDigest: string;
  samplingFailures: SamplingFailure[];
  versionMissingPercent: number;
  versionUnknownPercent: number;
  eventsByType: Record<string, number>;
  /** Newest event time of each type on the day (feeds the next days' zero-activity lookback). */
  lastEventByType: Record<string, string>;
  flags: Record<HealthFlag, boolean>;
  /** Event types active in the lookback that went silent. */
  silentTypes: string[];
  /** What each flag was judged against. */
  baselines: {
    volume: VolumeJudgement;
    errorRate: { thresholdPercent: number };
    version: { thresholdPercent: number; knownVersions: string[] };
    zeroActivity: ZeroActivityJudgement;
    sampling: { targetPercent: number; size: number };
  };
  isHealthy: boolean;
  timingsMs: { total: number; sampling: number; detectors: number };
}

export interface SnapshotSettings {
  health: HealthConfig;
  ingest: Pick<IngestLimits, 'futureToleranceMs'>;
}

const round = (v: number, digits = 4) => Number(v.toFixed(digits));
const percent = (part: number, whole: number) => (whole === 0 ? 0 : round((part / whole) * 100));

/** Per-type activity of the day merged with the days before (each type's newest event time). */
function mergeActivity(
  day: readonly TypeStats[],
  before: readonly Record<string, string>[],
): Pick<TypeStats, 'type' | 'count' | 'lastTs'>[] {
  const last = new Map<string, number>();
  const seen = (type: string, ts: number) => last.set(type, Math.max(ts, last.get(type) ?? ts));
  for (const t of day) seen(t.type, t.lastTs);
  for (const snapshot of before)
    for (const [type, at] of Object.entries(snapshot)) seen(type, Date.parse(at));
  return [...last].map(([type, lastTs]) => ({ type, count: 1, lastTs }));
}

/** Reads a stored snapshot back (the revision lives in the record, not the document). */
export function fromRecord(record: SnapshotRecord): IntegritySnapshot {
  return { ...(JSON.parse(record.document) as IntegritySnapshot), revision: record.revision };
}

/**
 * Computes (does not store) the snapshot of `date` for `project`. `provisional`: the day is not
 * over (today so far): silence is judged as of `now`, and volume is not judged at all (a part of
 * a day against whole baseline days would always look low).
 */
export async function computeSnapshot(
  store: Store,
  settings: SnapshotSettings,
  {
    project,
    date,
    now,
    provisional = false,
  }: { project: string; date: string; now: number; provisional?: boolean },
): Promise<Omit<IntegritySnapshot, 'revision'>> {
  const started = performance.now();
  const cfg = settings.health;
  const from = dayStart(date);
  const window = { project, from, to: from + DAY_MS };
  const lookback = { project, from: window.to - cfg.activityLookbackDays * DAY_MS, to: window.to };

  const baselineDays = Array.from({ length: cfg.baselineWeeks }, (_, i) => addDays(date, -7 * (i + 1)));
  const lookbackDays = daysBetween(addDays(date, 1 - cfg.activityLookbackDays), addDays(date, -1));
  const oldest = [baselineDays.at(-1) ?? date, lookbackDays[0] ?? date].sort()[0] as string;
  const [dayTypes, accepted, rejections, priorSnapshots] = await Promise.all([
    store.health.typeStats(window, cfg.knownVersions),
    store.health.countReceived(window),
    store.health.rejections(project, date, date),
    store.snapshots.list(project, oldest, addDays(date, -1)),
  ]);
  const totalEvents = dayTypes.reduce((n, t) => n + t.count, 0);

  const samplingStarted = performance.now();
  const sampling = await verifySample(store, {
    window,
    seed: date,
    size: cfg.sampleSize,
    knownVersions: cfg.knownVersions,
    futureToleranceMs: settings.ingest.futureToleranceMs,
    population: totalEvents,
  });
  const samplingMs = performance.now() - samplingStarted;

  const detectorsStarted = performance.now();
  // Baseline days come from their snapshots (so flagged days can be left out); days without one
  // are counted from the raw events.
  const snapshotOf = new Map(priorSnapshots.map((r) => [r.date, fromRecord(r)]));
  // Activity in the lookback: from the day itself plus the snapshots of the days before, or from
  // the raw events when one of those days has no snapshot.
  const prior = lookbackDays.map((d) => snapshotOf.get(d)?.lastEventByType);
  const lookbackTypes = prior.every((p) => p !== undefined)
    ? mergeActivity(dayTypes, prior as Record<string, string>[])
    : await store.health.typeStats(lookback, []);
  const unsnapshotted = baselineDays.filter((d) => !snapshotOf.has(d));
  // Days before the oldest stored event (before the project began, or expired) are no baseline.
  const [rawTotals, firstTs] =
    unsnapshotted.length === 0
      ? [new Map<string, number>(), null]
      : await Promise.all([
          store.health.dailyTotals(project, unsnapshotted),
          store.health.firstEventTs(project),
        ]);
  const firstDay = firstTs === null ? null : dayStart(new Date(firstTs).toISOString().slice(0, 10));
  const baseline = baselineDays
    .filter((d) => snapshotOf.has(d) || (firstDay !== null && dayStart(d) >= firstDay))
    .map((d) => {
      const s = snapshotOf.get(d);
      return s
        ? {
            date: d,
            total: s.totalEvents,
            flagged: s.flags.volumeAnomaly || s.baselines.zeroActivity.projectSilent,
          }
        : { date: d, total: rawTotals.get(d) ?? 0, flagged: false };
    });

  const missing = dayTypes.reduce((n, t) => n + t.versionMissing, 0);
  const unknown = dayTypes.reduce((n, t) => n + t.versionUnknown, 0);
  const rejectedEvents = rejections.reduce((n, r) => n + r.count, 0);
  const errorRatePercent = percent(rejectedEvents, accepted + rejectedEvents);

  const volume = judgeVolume({
    total: totalEvents,
    baseline,
    thresholdPercent: cfg.volumeDeviationPercent,
    minBaselineEvents: cfg.minBaselineEvents,
  });
  const errorSpike = judgeErrorRate(errorRatePercent, cfg.errorRatePercent);
  const versionMismatch = judgeVersions({
    total: totalEvents,
    missing,
    unknown,
    thresholdPercent: cfg.versionMismatchPercent,
  });
  const zero = judgeZeroActivity({
    at: provisional ? Math.min(now, window.to) : window.to,
    types: lookbackTypes,
    silentAfterMs: cfg.silentAfterHours * 3_600_000,
    lookbackDays: cfg.activityLookbackDays,
  });
  const detectorsMs = performance.now() - detectorsStarted;

  const flags: Record<HealthFlag, boolean> = {
    volumeAnomaly: !provisional && volume.flagged,
    errorSpike,
    versionMismatch,
    zeroActivity: zero.projectSilent || zero.silentTypes.length > 0,
  };
  const samplingOk = sampling.successRate === null || sampling.successRate >= cfg.samplingTargetPercent;
  return {
    project,
    date,
    createdAt: new Date(now).toISOString(),
    totalEvents,
    acceptedEvents: accepted,
    rejectedEvents,
    errorRatePercent,
    samplingSuccessRate: sampling.successRate,
    sampledEvents: sampling.ids.length,
    sampleDigest: sampling.digest,
    samplingFailures: sampling.failures,
    versionMissingPercent: percent(missing, totalEvents),
    versionUnknownPercent: percent(unknown, totalEvents),
    eventsByType: Object.fromEntries(dayTypes.map((t) => [t.type, t.count])),
    lastEventByType: Object.fromEntries(dayTypes.map((t) => [t.type, new Date(t.lastTs).toISOString()])),
    flags,
    silentTypes: zero.silentTypes,
    baselines: {
      volume: volume,
      errorRate: { thresholdPercent: cfg.errorRatePercent },
      version: { thresholdPercent: cfg.versionMismatchPercent, knownVersions: [...cfg.knownVersions] },
      zeroActivity: zero,
      sampling: { targetPercent: cfg.samplingTargetPercent, size: cfg.sampleSize },
    },
    isHealthy: !Object.values(flags).some(Boolean) && samplingOk,
    timingsMs: {
      total: round(performance.now() - started, 2),
      sampling: round(samplingMs, 2),
      detectors: round(detectorsMs, 2),
    },
  };
}
