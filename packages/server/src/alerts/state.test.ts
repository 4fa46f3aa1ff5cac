import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { OPERATORS, type Operator, violates } from './rule.js';
import { INITIAL_STATE, type RuleState, type StepPolicy, step, type Verdict, verdictOf } from './state.js';

let ids = 0;
const newId = () => `a${++ids}`;

/** Runs a series of observations through the state machine; the status after each, and where it fired. */
function run(
  values: (number | null)[],
  policy: StepPolicy,
  { start = 0, every = 1000 }: { start?: number; every?: number } = {},
) {
  let state: RuleState = INITIAL_STATE;
  const statuses: string[] = [];
  const fired: number[] = [];
  const resolved: number[] = [];
  values.forEach((value, i) => {
    const obs =
      value === null ? ({ kind: 'nodata' } as const) : { kind: 'value' as const, value, samples: 1_000 };
    const out = step(state, verdictOf(obs, policy), policy, { now: start + i * every, value, newId });
    state = out.state;
    statuses.push(state.status);
    if (out.transition?.to === 'firing') fired.push(i);
    if (out.transition?.to === 'resolved') resolved.push(i);
  });
  return { statuses, fired, resolved, state };
}

const series = fc.array(fc.oneof(fc.integer({ min: 0, max: 100 }), fc.constant(50)), { maxLength: 60 });
const rule = fc.record({
  operator: fc.constantFrom(...OPERATORS),
  threshold: fc.integer({ min: 0, max: 100 }),
  consecutive: fc.integer({ min: 1, max: 6 }),
});

describe('alert state machine', () => {
  it('fires exactly when the threshold is crossed on `consecutive` evaluations in a row, never otherwise', () => {
    fc.assert(
      fc.property(series, rule, (values, r) => {
        const policy: StepPolicy = { ...r, minSamples: 0, noData: 'keep', keepFiringForMs: 0 };
        const { statuses, fired } = run(values, policy);
        // The oracle: the length of the run of crossings ending at each evaluation.
        let streak = 0;
        const expectedFired: number[] = [];
        values.forEach((v, i) => {
          streak = violates(v as number, r.operator as Operator, r.threshold) ? streak + 1 : 0;
          if (streak === r.consecutive) expectedFired.push(i);
          const want = streak >= r.consecutive ? 'firing' : streak > 0 ? 'pending' : null;
          if (want) expect(statuses[i]).toBe(want);
          else expect(['inactive', 'resolved']).toContain(statuses[i]);
        });
        expect(fired).toEqual(expectedFired);
      }),
      { numRuns: 500 },
    );
  });

  it('noData keep: gaps neither count nor reset, so violations around a gap add up', () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof(fc.boolean(), fc.constant(null)), { maxLength: 60 }),
        fc.integer({ min: 1, max: 5 }),
        (pattern, consecutive) => {
          const values = pattern.map((p) => (p === null ? null : p ? 100 : 0));
          const policy: StepPolicy = {
            operator: '>',
            threshold: 50,
            consecutive,
            minSamples: 0,
            noData: 'keep',
            keepFiringForMs: 0,
          };
          const { fired } = run(values, policy);
          let streak = 0;
          const expected: number[] = [];
          pattern.forEach((p, i) => {
            if (p === null) return;
            streak = p ? streak + 1 : 0;
            if (streak === consecutive) expected.push(i);
          });
          expect(fired).toEqual(expected);
        },
      ),
    );
  });

  it('noData ok resets the count and resolves; noData alert counts a gap as a violation', () => {
    const base = { operator: '>' as const, threshold: 50, consecutive: 2, minSamples: 0, keepFiringForMs: 0 };
    expect(run([100, null, 100], { ...base, noData: 'ok' }).fired).toEqual([]);
    expect(run([100, 100, null], { ...base, noData: 'ok' }).resolved).toEqual([2]);
    expect(run([100, null], { ...base, noData: 'alert' }).fired).toEqual([1]);
    expect(run([null, null], { ...base, noData: 'alert' }).fired).toEqual([1]);
    expect(run([100, null, 100], { ...base, noData: 'keep' }).fired).toEqual([2]);
  });

  it('minSamples: too few samples never alert, even under noData alert', () => {
    const policy: StepPolicy = {
      operator: '>',
      threshold: 10,
      consecutive: 1,
      minSamples: 20,
      noData: 'alert',
      keepFiringForMs: 0,
    };
    const verdicts: Verdict[] = [3, 19, 20].map((samples) =>
      verdictOf({ kind: 'value', value: 100, samples }, policy),
    );
    expect(verdicts).toEqual(['hold', 'hold', 'violate']);
    expect(verdictOf({ kind: 'value', value: 100, samples: 3 }, { ...policy, noData: 'ok' })).toBe('pass');
  });

  it('keepFiringFor holds a firing alert after it clears, then resolves', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 10 }),
        fc.integer({ min: 1, max: 10 }),
        (keepEvaluations, passes) => {
          const policy: StepPolicy = {
            operator: '>',
            threshold: 50,
            consecutive: 1,
            minSamples: 0,
            noData: 'keep',
            keepFiringForMs: keepEvaluations * 1000,
          };
          const values = [100, ...Array.from({ length: passes }, () => 0)];
          const { resolved, statuses } = run(values, policy);
          // Evaluation i (1-based after the violation) is i s after it: still firing while i < keep.
          const expectedAt = keepEvaluations <= passes ? [keepEvaluations] : [];
          expect(resolved).toEqual(expectedAt);
          for (let i = 1; i < Math.min(keepEvaluations, passes + 1); i++) expect(statuses[i]).toBe('firing');
        },
      ),
    );
  });

  it('a resolved rule starts a new alert (new id) on its next violation', () => {
    const policy: StepPolicy = {
      operator: '>',
      threshold: 0,
      consecutive: 1,
      minSamples: 0,
      noData: 'keep',
      keepFiringForMs: 0,
    };
    let s = step(INITIAL_STATE, 'violate', policy, { now: 1, value: 1, newId }).state;
    const first = s.alertId;
    s = step(s, 'pass', policy, { now: 2, value: 0, newId }).state;
    expect(s.status).toBe('resolved');
    expect(s.alertId).toBe(first);
    s = step(s, 'violate', policy, { now: 3, value: 1, newId }).state;
    expect(s.status).toBe('firing');
    expect(s.alertId).not.toBe(first);
  });
});
