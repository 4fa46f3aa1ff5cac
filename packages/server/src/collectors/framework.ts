import type { TSchema } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import type { MetricSample, SampleKind } from '../model/index.js';
import type { CollectorLatest } from '../store/index.js';
import { describeError } from './http.js';
import type { Credentials, ResolvedSpec } from './spec.js';

/** A value a collector read; the framework adds project, source, snapshot and (default) time. */
export interface CollectedSample {
  name: string;
  labels: Record<string, string>;
  value: number;
  kind: SampleKind;
  /** Epoch ms; the round's start when absent, so one snapshot's samples share a time. */
  ts?: number;
}

export interface CollectorOutput<R> {
  result: R;
  samples: CollectedSample[];
}

export interface CollectContext {
  /** Aborted at the collector's timeout: requests should pass it on. */
  signal: AbortSignal;
  snapshotId: string;
  /** The round's start, epoch ms. */
  now: number;
  /** For second-phase collectors: the latest run of every collector of the project. */
  latest(): Promise<CollectorLatest[]>;
}

/**
 * One configured collector. `collect` may throw or hang: the framework bounds it by the spec's
 * timeout, records the failure as data and never lets it hold up another collector.
 */
export interface Collector<R = unknown> {
  readonly spec: ResolvedSpec;
  /** The typed shape of `result`; a result that does not match counts as a failed run. */
  readonly resultSchema: TSchema;
  /** 1: reads a target. 2: derives from the phase-1 results of the same round (deployments). */
  readonly phase: 1 | 2;
  collect(ctx: CollectContext): Promise<CollectorOutput<R>>;
  /** Samples that say the target is down, written when a run fails or times out. */
  failureSamples?(error: string): CollectedSample[];
}

export type RunOutcome = 'ok' | 'error' | 'timeout';

/** What one collector's run in one round produced: data, even when it failed. */
export interface CollectorRun {
  snapshotId: string;
  project: string;
  collector: string;
  type: string;
  startedAt: number;
  durationMs: number;
  outcome: RunOutcome;
  error: string | null;
  result: unknown;
  samples: MetricSample[];
}

/** Removes every credential value from a message, so none reaches a log or the store. */
export function redact(message: string, credentials: Credentials | undefined): string {
  let out = message;
  const secrets = [credentials?.token, ...Object.values(credentials?.headers ?? {})].filter(
    (s): s is string => typeof s === 'string' && s.length >= 4,
  );
  for (const s of secrets) out = out.split(s).join('[redacted]');
  return out.length > 500 ? `${out.slice(0, 497)}...` : out;
}

/**
 * Runs one collector with its timeout. Never rejects: a throw, a timeout or a result that does
 * not match the collector's schema become a run with outcome `error`/`timeout` and the
 * collector's failure samples, plus `vigil_collector_up` and `vigil_collector_duration_seconds`.
 */
export async function runCollector(
  collector: Collector,
  round: { snapshotId: string; now: number; latest: (project: string) => Promise<CollectorLatest[]> },
): Promise<CollectorRun> {
  const { spec } = collector;
  const controller = new AbortController();
  const startedAt = round.now;
  const t0 = performance.now();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => {
      controller.abort(new Error(`timed out after ${spec.timeoutMs} ms`));
      resolve('timeout');
    }, spec.timeoutMs);
  });
  let outcome: RunOutcome = 'ok';
  let error: string | null = null;
  let output: CollectorOutput<unknown> | null = null;
  try {
    // A collector that throws synchronously still becomes a rejected promise here.
    const work = Promise.resolve().then(() =>
      collector.collect({
        signal: controller.signal,
        snapshotId: round.snapshotId,
        now: round.now,
        latest: () => round.latest(spec.project),
      }),
    );
    work.catch(() => undefined); // a late rejection of an abandoned run is not an unhandled one
    const settled = await Promise.race([work, timeout]);
    if (settled === 'timeout') {
      outcome = 'timeout';
      error = `no answer within ${spec.timeoutMs} ms`;
    } else if (!Value.Check(collector.resultSchema, settled.result)) {
      const first = [...Value.Errors(collector.resultSchema, settled.result)][0];
      outcome = 'error';
      error = `result does not match the ${spec.type} schema${first ? ` (${first.path || '/'}: ${first.message})` : ''}`;
    } else {
      output = settled;
    }
  } catch (err) {
    outcome = 'error';
    error = redact(describeError(err), spec.credentials);
  } finally {
    clearTimeout(timer);
    if (!controller.signal.aborted) controller.abort(new Error('run finished'));
  }
  const durationMs = performance.now() - t0;
  const ok = outcome === 'ok';
  const collected: CollectedSample[] = ok
    ? (output?.samples ?? [])
    : safeFailureSamples(collector, error ?? 'failed');
  collected.push(
    {
      name: 'vigil_collector_up',
      labels: { collector: spec.name, type: spec.type },
      value: ok ? 1 : 0,
      kind: 'gauge',
    },
    {
      name: 'vigil_collector_duration_seconds',
      labels: { collector: spec.name, type: spec.type },
      value: durationMs / 1000,
      kind: 'gauge',
    },
  );
  const source = `collector:${spec.name}`;
  return {
    snapshotId: round.snapshotId,
    project: spec.project,
    collector: spec.name,
    type: spec.type,
    startedAt,
    durationMs,
    outcome,
    error,
    result: ok ? (output?.result ?? null) : null,
    samples: collected.map((s) => ({
      project: spec.project,
      name: s.name,
      labels: s.labels,
      value: s.value,
      ts: s.ts ?? round.now,
      kind: s.kind,
      source,
      snapshotId: round.snapshotId,
    })),
  };
}

function safeFailureSamples(collector: Collector, error: string): CollectedSample[] {
  try {
    return collector.failureSamples?.(error) ?? [];
  } catch {
    return [];
  }
}
