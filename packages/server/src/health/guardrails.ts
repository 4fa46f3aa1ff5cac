import type { IntegritySnapshot } from './snapshot.js';

/** The logger the guardrails write to (the app's pino logger fits). */
export interface HealthLog {
  error(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
}

export type Severity = 'CRITICAL' | 'WARNING' | 'INFO';

/**
 * The silent guardrails: a snapshot's flags become log lines (error spike → CRITICAL, version
 * mismatch and zero activity → WARNING, volume deviation → INFO). Logging never throws.
 */
export function reportSnapshot(log: HealthLog, s: Omit<IntegritySnapshot, 'revision'>): void {
  const base = { project: s.project, date: s.date, health: 'snapshot' };
  try {
    if (s.flags.errorSpike)
      log.error(
        {
          ...base,
          severity: 'CRITICAL',
          flag: 'errorSpike',
          errorRatePercent: s.errorRatePercent,
          thresholdPercent: s.baselines.errorRate.thresholdPercent,
          rejectedEvents: s.rejectedEvents,
        },
        `health: error spike in project ${s.project} on ${s.date}: ${s.errorRatePercent}% of received events rejected`,
      );
    if (s.flags.versionMismatch)
      log.warn(
        {
          ...base,
          severity: 'WARNING',
          flag: 'versionMismatch',
          versionMissingPercent: s.versionMissingPercent,
          versionUnknownPercent: s.versionUnknownPercent,
          thresholdPercent: s.baselines.version.thresholdPercent,
        },
        `health: version tags missing or unknown on ${(s.versionMissingPercent + s.versionUnknownPercent).toFixed(2)}% of events in project ${s.project} on ${s.date}`,
      );
    if (s.flags.zeroActivity)
      log.warn(
        {
          ...base,
          severity: 'WARNING',
          flag: 'zeroActivity',
          projectSilent: s.baselines.zeroActivity.projectSilent,
          silentTypes: s.silentTypes,
        },
        s.baselines.zeroActivity.projectSilent
          ? `health: project ${s.project} went silent (no events on ${s.date})`
          : `health: event types went silent in project ${s.project} on ${s.date}: ${s.silentTypes.join(', ')}`,
      );
    if (s.flags.volumeAnomaly)
      log.info(
        {
          ...base,
          severity: 'INFO',
          flag: 'volumeAnomaly',
          totalEvents: s.totalEvents,
          baselineMedian: s.baselines.volume.median,
          deviationPercent: s.baselines.volume.deviationPercent,
        },
        `health: volume in project ${s.project} on ${s.date} deviates ${s.baselines.volume.deviationPercent}% from the same-weekday median`,
      );
  } catch {
    // A broken logger must not break the snapshot run.
  }
}
