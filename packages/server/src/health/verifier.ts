import { createHash } from 'node:crypto';
import { BUILTIN_TYPES, type EventRow, isBuiltinType } from '../model/index.js';
import type { EventWindow, Store } from '../store/index.js';

export type SamplingReasonCode =
  | 'missing_field'
  | 'missing_version'
  | 'unknown_version'
  | 'ts_outside_day'
  | 'ts_after_receipt'
  | 'orphan_outcome';

export interface SamplingReason {
  code: SamplingReasonCode;
  message: string;
}

export interface SamplingFailure {
  id: string;
  type: string;
  reasons: SamplingReason[];
}

export interface SampleResult {
  /** The sampled ids in sample order. */
  ids: string[];
  digest: string;
  /** 0–100, or null when there was nothing to sample. */
  successRate: number | null;
  failures: SamplingFailure[];
}

export interface SampleChecks {
  window: EventWindow;
  knownVersions: readonly string[];
  futureToleranceMs: number;
  /** Signals of the project that have a decision.recommendation. */
  recommended: ReadonlySet<string>;
}

/** Why one stored event is not trustworthy (empty when it is). */
export function checkEvent(row: EventRow, checks: SampleChecks): SamplingReason[] {
  const reasons: SamplingReason[] = [];
  if (isBuiltinType(row.type)) {
    for (const field of BUILTIN_TYPES[row.type].required) {
      if (row[field] === null)
        reasons.push({ code: 'missing_field', message: `'${field}' is required for ${row.type}.` });
    }
  }
  if (row.version === null) reasons.push({ code: 'missing_version', message: 'No version tag.' });
  else if (checks.knownVersions.length > 0 && !checks.knownVersions.includes(row.version))
    reasons.push({ code: 'unknown_version', message: `Version '${row.version}' is not a known version.` });
  if (row.ts < checks.window.from || row.ts >= checks.window.to)
    reasons.push({ code: 'ts_outside_day', message: 'ts is not within the sampled day.' });
  if (row.ts > row.received_at + checks.futureToleranceMs)
    reasons.push({
      code: 'ts_after_receipt',
      message: `ts is ${row.ts - row.received_at} ms after the event was received.`,
    });
  if (row.type === 'decision.outcome' && row.signal_id !== null && !checks.recommended.has(row.signal_id))
    reasons.push({
      code: 'orphan_outcome',
      message: `No decision.recommendation for signal_id '${row.signal_id}'.`,
    });
  return reasons;
}

/**
 * The sampling verifier: a reproducible sample of the day's events (ranked by their ids and the
 * day, model/sampling.ts, so the same day always gives the same sample on every engine), each checked for its type's required fields,
 * a version tag, a sane timestamp and that the entities it refers to exist.
 */
export async function verifySample(
  store: Store,
  options: {
    window: EventWindow;
    seed: string;
    size: number;
    knownVersions: readonly string[];
    futureToleranceMs: number;
    /** The window's event count, when known (a faster sample, the same result). */
    population?: number;
  },
): Promise<SampleResult> {
  const { window } = options;
  const sample = await store.health.sample(window, options.seed, options.size, options.population);
  const signals = [
    ...new Set(
      sample.filter((r) => r.type === 'decision.outcome' && r.signal_id !== null).map((r) => r.signal_id),
    ),
  ] as string[];
  const recommended = await store.health.recommendedSignals(window.project, signals, window.to);
  // Raw events expire (retention); the signal index of the rollups remembers older recommendations.
  const unseen = signals.filter((id) => !recommended.has(id));
  if (unseen.length > 0) {
    for (const s of await store.rollups.signals(window.project, unseen)) recommended.add(s.signal_id);
  }
  const checks: SampleChecks = {
    window,
    knownVersions: options.knownVersions,
    futureToleranceMs: options.futureToleranceMs,
    recommended,
  };
  const failures: SamplingFailure[] = [];
  for (const row of sample) {
    const reasons = checkEvent(row, checks);
    if (reasons.length > 0) failures.push({ id: row.id, type: row.type, reasons });
  }
  const ids = sample.map((r) => r.id);
  return {
    ids,
    digest: createHash('sha256').update(ids.join('\n')).digest('hex'),
    successRate:
      sample.length === 0
        ? null
        : Number((((sample.length - failures.length) / sample.length) * 100).toFixed(4)),
    failures,
  };
}
