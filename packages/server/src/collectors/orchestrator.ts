import { randomUUID } from 'node:crypto';
import { uuidv7 } from 'uuidv7';
import type { SchedulerTurn } from '../cluster/lease.js';
import type { MetricSample } from '../model/index.js';
import type { CollectorRecord, DeploymentRecord, Store } from '../store/index.js';
import { DeploymentsCollector } from './deployments.js';
import { DockerCollector } from './docker.js';
import { type Collector, type CollectorRun, runCollector } from './framework.js';
import { HttpHealthCollector } from './http-health.js';
import { PrometheusCollector } from './prometheus.js';
import { RunSink } from './run-sink.js';
import { SecretBox } from './secrets.js';
import {
  type CollectorSpec,
  type Credentials,
  parseCollectorSpec,
  publicSpec,
  type ResolvedSpec,
  resolveSpec,
  SpecError,
} from './spec.js';

/** The slice of a pino logger the orchestrator uses. */
export interface CollectorLog {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

/** prom-client's counter and histogram, as `ops/self-metrics.ts` registers them. */
export interface CollectorRunMetrics {
  collectorRuns: { inc(labels: { project: string; collector: string; result: string }): void };
  collectorRunSeconds: { observe(labels: { project: string; collector: string }, seconds: number): void };
}

export interface CollectorEntry {
  spec: ResolvedSpec;
  /** `config`: from the config file (read-only here); `api`: stored, removable. */
  origin: 'config' | 'api';
  id: string | null;
  /** Null when the collector cannot run (e.g. its credentials cannot be opened); `problem` says why. */
  collector: Collector | null;
  problem: string | null;
  nextDue: number;
}

/** The answer of one collection round. */
export interface RoundReport {
  snapshotId: string;
  startedAt: number;
  durationMs: number;
  runs: CollectorRun[];
}

export interface OrchestratorOptions {
  store: Store;
  log: CollectorLog;
  /** Collectors of the config file. */
  configured: readonly unknown[];
  /** Project of config-file collectors that name none. */
  defaultProject?: string;
  /** Key for sealing credentials at rest (VIGIL_SECRET_KEY); without it none can be stored. */
  secretKey?: string | undefined;
  /** Run collectors on their intervals (off: only on demand). */
  schedule?: boolean;
  metrics?: CollectorRunMetrics | undefined;
  /** How often sample rollup deltas are compacted. */
  maintenanceMs?: number;
  /** The time a round starts (and stamps its samples with); tests replay rounds at set times. */
  clock?: () => number;
  /** Run on schedule only while this instance holds the scheduler lease (once per cluster). */
  turn?: SchedulerTurn;
  /**
   * Read the stored collectors again this often, for those other instances sharing the store add
   * or remove (off when not given: this instance makes every change itself).
   */
  syncMs?: number;
}

export class CollectorConflict extends Error {
  override name = 'CollectorConflict';
}
export class CredentialsUnavailable extends Error {
  override name = 'CredentialsUnavailable';
}

/** Builds the collector of a spec. */
function instantiate(spec: ResolvedSpec, store: Store): Collector {
  switch (spec.type) {
    case 'prometheus':
      return new PrometheusCollector(spec);
    case 'http-health':
      return new HttpHealthCollector(spec);
    case 'docker':
      return new DockerCollector(spec);
    case 'deployments':
      return new DeploymentsCollector(spec, (project) =>
        store.collectors.deployments(project, { limit: 500 }),
      );
  }
}

/**
 * Schedules every collector on its interval and runs the due ones together as one round with
 * one `snapshot_id`, in parallel, each bounded by its own timeout. Second-phase collectors
 * (deployments) run after the round's first phase is stored. Results and failures are stored as
 * runs (log + latest) and samples; `/telemetry/status` reads them back from the store.
 */
export class CollectorOrchestrator {
  private readonly entries = new Map<string, CollectorEntry>();
  private readonly box: SecretBox | null;
  private timer: NodeJS.Timeout | null = null;
  private maintenance: NodeJS.Timeout | null = null;
  private sync: NodeJS.Timeout | null = null;
  /** Moves on every add or remove here: a stored list read before one is out of date. */
  private edits = 0;
  private stopped = true;
  private readonly inFlight = new Set<Promise<unknown>>();
  private readonly running = new Set<string>();

  constructor(private readonly options: OrchestratorOptions) {
    this.box = SecretBox.fromSecret(options.secretKey);
  }

  private key(project: string, name: string): string {
    return `${project}\u0000${name}`;
  }

  /** Whether credentials can be stored (a secret key is set). */
  get canSealCredentials(): boolean {
    return this.box !== null;
  }

  /** Loads the config-file and stored collectors; starts the schedule when enabled. */
  async start(): Promise<void> {
    const project = this.options.defaultProject ?? 'default';
    this.options.configured.forEach((input, i) => {
      const spec = resolveSpec(parseCollectorSpec(input, `telemetry.collectors[${i}]`), project);
      const key = this.key(spec.project, spec.name);
      if (this.entries.has(key)) {
        throw new SpecError(
          `telemetry.collectors[${i}]: a collector named '${spec.name}' is configured twice`,
        );
      }
      this.entries.set(key, this.entry(spec, 'config', null));
    });
    for (const record of await this.options.store.collectors.listCollectors(null)) {
      const key = this.key(record.project, record.name);
      if (this.entries.has(key)) {
        this.options.log.warn(
          { collector: record.name, project: record.project },
          'a stored collector has the name of a config-file collector; the config file wins',
        );
        continue;
      }
      this.entries.set(key, this.fromRecord(record));
    }
    this.stopped = false;
    if (this.options.schedule ?? true) this.reschedule();
    const every = this.options.maintenanceMs ?? 5 * 60_000;
    this.maintenance = setInterval(() => void this.maintain(), every);
    this.maintenance.unref();
    if (this.options.syncMs !== undefined) {
      this.sync = setInterval(() => void this.syncStored(), this.options.syncMs);
      this.sync.unref();
    }
  }

  /** Takes in the stored collectors another instance added, and drops those it removed. */
  async syncStored(): Promise<void> {
    const edits = this.edits;
    let records: CollectorRecord[];
    try {
      records = await this.options.store.collectors.listCollectors(null);
    } catch (err) {
      this.options.log.warn({ err }, 'collectors: the stored list could not be read again; trying later');
      return;
    }
    if (this.stopped || edits !== this.edits) return;
    const stored = new Set<string>();
    let changed = false;
    for (const record of records) {
      const key = this.key(record.project, record.name);
      stored.add(key);
      if (this.entries.has(key)) continue;
      this.entries.set(key, this.fromRecord(record));
      changed = true;
    }
    for (const [key, entry] of this.entries) {
      if (entry.origin === 'api' && !stored.has(key)) {
        this.entries.delete(key);
        changed = true;
      }
    }
    if (changed && (this.options.schedule ?? true)) this.reschedule();
  }

  private entry(
    spec: ResolvedSpec,
    origin: 'config' | 'api',
    id: string | null,
    problem: string | null = null,
  ) {
    return {
      spec,
      origin,
      id,
      collector: problem === null ? instantiate(spec, this.options.store) : null,
      problem,
      nextDue: Date.now(),
    };
  }

  private fromRecord(record: CollectorRecord): CollectorEntry {
    let spec: ResolvedSpec;
    try {
      spec = resolveSpec(JSON.parse(record.spec) as CollectorSpec, record.project);
    } catch {
      spec = resolveSpec({ type: 'deployments', name: record.name }, record.project);
      return this.entry(
        spec,
        'api',
        record.id,
        'the stored spec is unreadable; delete and re-create the collector',
      );
    }
    if (record.secret === null) return this.entry(spec, 'api', record.id);
    if (!this.box) {
      return this.entry(
        spec,
        'api',
        record.id,
        'its credentials cannot be opened: VIGIL_SECRET_KEY is not set',
      );
    }
    try {
      const credentials = JSON.parse(this.box.open(record.secret, record.id)) as Credentials;
      return this.entry({ ...spec, credentials }, 'api', record.id);
    } catch (err) {
      return this.entry(
        spec,
        'api',
        record.id,
        `its credentials cannot be opened: ${(err as Error).message}`,
      );
    }
  }

  /** The collectors of a project (every project when null), by name. */
  list(project: string | null): CollectorEntry[] {
    return [...this.entries.values()]
      .filter((e) => project === null || e.spec.project === project)
      .sort((a, b) => a.spec.project.localeCompare(b.spec.project) || a.spec.name.localeCompare(b.spec.name));
  }

  /** Validates, stores (credentials sealed) and schedules a collector. */
  async add(input: unknown, project: string): Promise<CollectorEntry> {
    const parsed = parseCollectorSpec(input);
    if (parsed.project !== undefined && parsed.project !== project) {
      throw new SpecError(`collector.project must be '${project}' (the project of this key), or left out`);
    }
    const spec = resolveSpec(parsed, project);
    if (spec.credentials !== undefined && !this.box) {
      throw new CredentialsUnavailable(
        'this server has no VIGIL_SECRET_KEY, so it cannot store credentials encrypted; set it (16+ characters, 32 random bytes recommended) and restart, or leave credentials out',
      );
    }
    const key = this.key(spec.project, spec.name);
    if (this.entries.has(key)) throw new CollectorConflict(`a collector named '${spec.name}' already exists`);
    const id = randomUUID();
    const { credentials, ...clear } = spec;
    const now = Date.now();
    const record: CollectorRecord = {
      id,
      project: spec.project,
      name: spec.name,
      type: spec.type,
      spec: JSON.stringify(clear),
      secret: credentials === undefined || !this.box ? null : this.box.seal(JSON.stringify(credentials), id),
      createdAt: now,
      updatedAt: now,
    };
    if (!(await this.options.store.collectors.insertCollector(record))) {
      throw new CollectorConflict(`a collector named '${spec.name}' already exists`);
    }
    const entry = this.entry(spec, 'api', id);
    this.edits += 1;
    this.entries.set(key, entry);
    if (!this.stopped && (this.options.schedule ?? true)) this.reschedule();
    return entry;
  }

  /** Deletes a stored collector; config-file ones are refused. Returns false when there is none. */
  async remove(project: string, name: string): Promise<boolean> {
    const key = this.key(project, name);
    const entry = this.entries.get(key);
    if (!entry) return false;
    if (entry.origin === 'config') {
      throw new CollectorConflict(`'${name}' comes from the config file; remove it there`);
    }
    this.edits += 1;
    await this.options.store.collectors.deleteCollector(project, name);
    await this.options.store.collectors.forgetLatest(project, name);
    this.entries.delete(key);
    this.edits += 1;
    return true;
  }

  /** Runs the collectors of a project (every project when null) now, as one round. */
  collect(project: string | null): Promise<RoundReport> {
    const due = this.list(project).filter((e) => e.spec.enabled !== false);
    return this.track(this.round(due));
  }

  private track<T>(p: Promise<T>): Promise<T> {
    this.inFlight.add(p);
    void p.finally(() => this.inFlight.delete(p)).catch(() => undefined);
    return p;
  }

  private async round(
    entries: readonly CollectorEntry[],
    onRunDone: (entry: CollectorEntry) => void = () => undefined,
  ): Promise<RoundReport> {
    const snapshotId = uuidv7();
    const startedAt = this.options.clock?.() ?? Date.now();
    const t0 = performance.now();
    const latest = (project: string) => this.options.store.collectors.latest(project);
    const context = { snapshotId, now: startedAt, latest };
    const runs: CollectorRun[] = [];
    for (const phase of [1, 2] as const) {
      const here = entries.filter((e) => (e.collector?.phase ?? 1) === phase);
      if (here.length === 0) continue;
      // Results are stored as they arrive, so storing the fast ones overlaps the wait for the
      // slowest; the phase ends when the last result is stored.
      const sink = new RunSink((batch) => this.persist(batch), here.length);
      const done = await Promise.all(
        here.map(async (e) => {
          const run = e.collector ? await runCollector(e.collector, context) : this.brokenRun(e, context);
          sink.push(run);
          onRunDone(e);
          return run;
        }),
      );
      await sink.drain();
      runs.push(...done);
    }
    return { snapshotId, startedAt, durationMs: performance.now() - t0, runs };
  }

  private brokenRun(entry: CollectorEntry, round: { snapshotId: string; now: number }): CollectorRun {
    const { spec } = entry;
    const sample = (name: string, value: number): MetricSample => ({
      project: spec.project,
      name,
      labels: { collector: spec.name, type: spec.type },
      value,
      ts: round.now,
      kind: 'gauge',
      source: `collector:${spec.name}`,
      snapshotId: round.snapshotId,
    });
    return {
      snapshotId: round.snapshotId,
      project: spec.project,
      collector: spec.name,
      type: spec.type,
      startedAt: round.now,
      durationMs: 0,
      outcome: 'error',
      error: entry.problem ?? 'cannot run',
      result: null,
      samples: [sample('vigil_collector_up', 0), sample('vigil_collector_duration_seconds', 0)],
    };
  }

  /** Stores the runs' samples and records; a store failure is logged, never thrown at the schedule. */
  private async persist(runs: readonly CollectorRun[]): Promise<void> {
    for (const run of runs) {
      const labels = { project: run.project, collector: run.collector };
      this.options.metrics?.collectorRuns.inc({ ...labels, result: run.outcome });
      this.options.metrics?.collectorRunSeconds.observe(labels, run.durationMs / 1000);
      if (run.outcome !== 'ok') {
        this.options.log.warn(
          { collector: run.collector, project: run.project, outcome: run.outcome, error: run.error },
          'collector run failed',
        );
      }
    }
    try {
      // Samples go through the writer's connection, runs through the metadata one: in parallel.
      const samples = this.options.store.samples.append(runs.flatMap((r) => r.samples));
      const records = this.options.store.collectors.recordRuns(
        runs.map((r) => ({
          snapshotId: r.snapshotId,
          project: r.project,
          collector: r.collector,
          type: r.type,
          startedAt: r.startedAt,
          durationMs: r.durationMs,
          outcome: r.outcome,
          error: r.error,
          samples: r.samples.length,
          result: r.result === null ? null : JSON.stringify(r.result),
        })),
      );
      const [a, b] = await Promise.allSettled([samples, records]);
      if (a.status === 'rejected') throw a.reason;
      if (b.status === 'rejected') throw b.reason;
    } catch (err) {
      this.options.log.error({ err: (err as Error).message }, 'storing collector runs failed');
    }
  }

  private reschedule(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.stopped) return;
    let next = Number.POSITIVE_INFINITY;
    for (const e of this.entries.values()) {
      if (e.spec.enabled === false || this.running.has(this.key(e.spec.project, e.spec.name))) continue;
      next = Math.min(next, e.nextDue);
    }
    if (!Number.isFinite(next)) return;
    this.timer = setTimeout(() => this.tick(), Math.max(0, next - Date.now()));
    this.timer.unref();
  }

  private tick(): void {
    if (this.stopped) return;
    const now = Date.now();
    const due: CollectorEntry[] = [];
    // Another instance holding the lease runs this round: the cadence goes on, nothing runs here.
    const mine = this.options.turn?.held ?? true;
    for (const e of this.entries.values()) {
      const key = this.key(e.spec.project, e.spec.name);
      if (e.spec.enabled === false || this.running.has(key) || e.nextDue > now + 25) continue;
      // Keep the cadence; after a long stall, start again from now instead of catching up.
      e.nextDue =
        e.nextDue + e.spec.intervalMs <= now ? now + e.spec.intervalMs : e.nextDue + e.spec.intervalMs;
      if (!mine) continue;
      this.running.add(key);
      due.push(e);
    }
    if (due.length > 0) {
      // Each collector is free for its next run as soon as its own run is over, so one that
      // hangs to its timeout never holds back the cadence of the others.
      const release = (e: CollectorEntry) => {
        if (this.running.delete(this.key(e.spec.project, e.spec.name))) this.reschedule();
      };
      void this.track(this.round(due, release))
        .catch((err: unknown) =>
          this.options.log.error({ err: (err as Error).message }, 'collection round failed'),
        )
        .finally(() => {
          for (const e of due) release(e);
        });
    }
    this.reschedule();
  }

  /** Compacts the sample rollup deltas of the last two days (retention is the retention job's). */
  async maintain(now = Date.now()): Promise<void> {
    if (this.options.turn && !this.options.turn.held) return;
    const DAY = 86_400_000;
    try {
      await this.options.store.samples.compactRollups(now - 2 * DAY);
    } catch (err) {
      this.options.log.error({ err: (err as Error).message }, 'telemetry maintenance failed');
    }
  }

  /** Records a deployment (webhook) and its sample. */
  async recordDeployment(d: Omit<DeploymentRecord, 'id' | 'receivedAt'>): Promise<DeploymentRecord> {
    const record: DeploymentRecord = { ...d, id: uuidv7(), receivedAt: Date.now() };
    await this.options.store.collectors.insertDeployment(record);
    await this.options.store.samples.append([
      {
        project: d.project,
        name: 'vigil_deployment',
        labels: { service: d.service, version: d.version, status: d.status },
        value: 1,
        ts: d.finishedAt ?? d.startedAt,
        kind: 'counter',
        source: 'webhook:deployments',
        snapshotId: null,
      },
    ]);
    return record;
  }

  /** Stops the schedule and waits for rounds under way (each bounded by its timeouts). */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.maintenance) clearInterval(this.maintenance);
    if (this.sync) clearInterval(this.sync);
    this.timer = null;
    this.maintenance = null;
    await Promise.allSettled([...this.inFlight]);
  }
}

/** A collector as the API shows it: no credentials, only whether it has some. */
export function describeEntry(entry: CollectorEntry) {
  return {
    ...publicSpec(entry.spec),
    id: entry.id,
    origin: entry.origin,
    problem: entry.problem,
  };
}
