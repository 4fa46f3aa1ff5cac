import type { TypeStats } from '../store/index.js';

/**
 * The detectors: pure judgements over figures the store computed. Each returns what it was
 * judged against, so a snapshot explains its own flags.
 */

export interface BaselineDay {
  date: string;
  total: number;
  /** The day was itself flagged; flagged days never enter a baseline. */
  flagged: boolean;
}

export interface VolumeJudgement {
  method: 'median of the same weekday';
  /** The same-weekday days considered, newest first; `used` says which entered the median. */
  days: (BaselineDay & { used: boolean })[];
  median: number | null;
  deviationPercent: number | null;
  thresholdPercent: number;
  minBaselineEvents: number;
  /** False when there was no baseline or it was below the minimum: then nothing is flagged. */
  judged: boolean;
  flagged: boolean;
}

export function median(values: readonly number[]): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

/** Deviation of the day's volume from the median of the unflagged same-weekday baseline. */
export function judgeVolume({
  total,
  baseline,
  thresholdPercent,
  minBaselineEvents,
}: {
  total: number;
  baseline: readonly BaselineDay[];
  thresholdPercent: number;
  minBaselineEvents: number;
}): VolumeJudgement {
  const days = baseline.map((d) => ({ ...d, used: !d.flagged }));
  const m = median(days.filter((d) => d.used).map((d) => d.total));
  const judged = m !== null && m > 0 && m >= minBaselineEvents;
  const deviationPercent = m === null || m === 0 ? null : Number((((total - m) / m) * 100).toFixed(2));
  return {
    method: 'median of the same weekday',
    days,
    median: m,
    deviationPercent,
    thresholdPercent,
    minBaselineEvents,
    judged,
    flagged: judged && deviationPercent !== null && Math.abs(deviationPercent) > thresholdPercent,
  };
}

export function judgeErrorRate(errorRatePercent: number, thresholdPercent: number): boolean {
  return errorRatePercent > thresholdPercent;
}

/** More than the threshold share of events lack a version tag or carry an unknown one. */
export function judgeVersions({
  total,
  missing,
  unknown,
  thresholdPercent,
}: {
  total: number;
  missing: number;
  unknown: number;
  thresholdPercent: number;
}): boolean {
  return total > 0 && ((missing + unknown) / total) * 100 > thresholdPercent;
}

export interface ZeroActivityJudgement {
  /** The moment judged (epoch ms): the end of the day, or now for the live check. */
  at: string;
  silentAfterHours: number;
  lookbackDays: number;
  /** Newest event of the project in the lookback, or null when it had none (never flagged then). */
  lastEventAt: string | null;
  activeTypes: string[];
  projectSilent: boolean;
  silentTypes: string[];
}

/**
 * A project (or event type) with events in the lookback whose newest event is older than
 * `silentAfterMs` at `at` has gone silent. One with no events in the lookback was not active.
 */
export function judgeZeroActivity({
  at,
  types,
  silentAfterMs,
  lookbackDays,
}: {
  at: number;
  types: readonly Pick<TypeStats, 'type' | 'count' | 'lastTs'>[];
  silentAfterMs: number;
  lookbackDays: number;
}): ZeroActivityJudgement {
  const active = types.filter((t) => t.count > 0);
  const last = active.length === 0 ? null : Math.max(...active.map((t) => t.lastTs));
  return {
    at: new Date(at).toISOString(),
    silentAfterHours: silentAfterMs / 3_600_000,
    lookbackDays,
    lastEventAt: last === null ? null : new Date(last).toISOString(),
    activeTypes: active.map((t) => t.type).sort(),
    projectSilent: last !== null && at - last >= silentAfterMs,
    silentTypes: active
      .filter((t) => at - t.lastTs >= silentAfterMs)
      .map((t) => t.type)
      .sort(),
  };
}
