import { type NoDataPolicy, type Operator, violates } from './rule.js';

/** inactive → pending → firing → resolved; a resolved rule starts a new alert on its next violation. */
export type AlertStatus = 'inactive' | 'pending' | 'firing' | 'resolved';

/** The evaluation state of one rule; persisted whenever it changes. */
export interface RuleState {
  status: AlertStatus;
  /** Violating evaluations in a row (evaluations without data under `keep` neither add nor reset). */
  violations: number;
  /** The current alert (pending or firing), or the last one once resolved. */
  alertId: string | null;
  /** When the current alert began (its first violation). */
  activeSince: number | null;
  firingSince: number | null;
  lastViolationAt: number | null;
  resolvedAt: number | null;
  /** The value that led to the last transition. */
  value: number | null;
}

export const INITIAL_STATE: RuleState = {
  status: 'inactive',
  violations: 0,
  alertId: null,
  activeSince: null,
  firingSince: null,
  lastViolationAt: null,
  resolvedAt: null,
  value: null,
};

/** What one evaluation saw. */
export type Observation =
  | { kind: 'value'; value: number; samples: number }
  /** No value at all (nothing to compute a rate from, no snapshot yet…). */
  | { kind: 'nodata' };

/** What an evaluation means for the state: a violation, a pass, or nothing (hold). */
export type Verdict = 'violate' | 'pass' | 'hold';

export interface StepPolicy {
  operator: Operator;
  threshold: number;
  consecutive: number;
  minSamples: number;
  noData: NoDataPolicy;
  keepFiringForMs: number;
}

/**
 * The verdict of one observation. Too few samples is treated like no data, except that it never
 * raises an alert (`minSamples` exists to keep small numbers from alerting).
 */
export function verdictOf(obs: Observation, p: StepPolicy): Verdict {
  if (obs.kind === 'nodata') return p.noData === 'ok' ? 'pass' : p.noData === 'alert' ? 'violate' : 'hold';
  if (obs.samples < p.minSamples) return p.noData === 'ok' ? 'pass' : 'hold';
  return violates(obs.value, p.operator, p.threshold) ? 'violate' : 'pass';
}

export interface Transition {
  from: AlertStatus;
  to: AlertStatus;
}

/**
 * One evaluation of the state machine: a pure function of the previous state, the verdict and
 * the time. `consecutive` violations in a row fire; any pass resets the count; a firing alert
 * resolves on a pass once `keepFiringForMs` has gone by since its last violation.
 */
export function step(
  prev: RuleState,
  verdict: Verdict,
  p: Pick<StepPolicy, 'consecutive' | 'keepFiringForMs'>,
  at: { now: number; value: number | null; newId: () => string },
): { state: RuleState; transition: Transition | null } {
  const { now, value } = at;
  if (verdict === 'hold') return { state: prev, transition: null };
  if (verdict === 'violate') {
    const violations = prev.violations + 1;
    if (prev.status === 'firing') {
      return { state: { ...prev, violations, lastViolationAt: now }, transition: null };
    }
    const fresh = prev.status === 'inactive' || prev.status === 'resolved';
    const base: RuleState = fresh
      ? {
          ...INITIAL_STATE,
          alertId: at.newId(),
          activeSince: now,
        }
      : prev;
    const fires = violations >= p.consecutive;
    const status: AlertStatus = fires ? 'firing' : 'pending';
    const state: RuleState = {
      ...base,
      status,
      violations,
      lastViolationAt: now,
      firingSince: fires ? now : null,
      value: fires || fresh ? value : base.value,
    };
    return { state, transition: status !== prev.status ? { from: prev.status, to: status } : null };
  }
  // pass
  if (prev.status === 'pending') {
    return {
      state: { ...prev, status: 'inactive', violations: 0, value },
      transition: { from: 'pending', to: 'inactive' },
    };
  }
  if (prev.status === 'firing') {
    if (prev.lastViolationAt !== null && now - prev.lastViolationAt < p.keepFiringForMs) {
      return { state: prev.violations === 0 ? prev : { ...prev, violations: 0 }, transition: null };
    }
    return {
      state: { ...prev, status: 'resolved', violations: 0, resolvedAt: now, value },
      transition: { from: 'firing', to: 'resolved' },
    };
  }
  return { state: prev.violations === 0 ? prev : { ...prev, violations: 0 }, transition: null };
}
