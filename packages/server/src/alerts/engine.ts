import { randomUUID } from 'node:crypto';
import type { FastifyBaseLogger } from 'fastify';
import type { RollupMaintainer } from '../analytics/index.js';
import type { SchedulerTurn } from '../cluster/lease.js';
import type { AlertsConfig } from '../config/index.js';
import type { AlertRecord, AlertStateRecord, AlertTransitionRecord, Store } from '../store/index.js';
import { defaultRules } from './defaults.js';
import { AlertDelivery } from './delivery.js';
import { type MetricSources, readMetrics } from './metrics.js';
import type { Notifier } from './notify.js';
import { alertLabels, alertMessage, fingerprint } from './payload.js';
import {
  type AlertRule,
  buildRule,
  type Receiver,
  type RuleInput,
  RuleProblem,
  type RuleTimes,
  ruleTimes,
} from './rule.js';
import { INITIAL_STATE, type RuleState, step, type Transition, verdictOf } from './state.js';
import { alertRecord, alertView, iso } from './views.js';

export interface AlertEngineOptions {
  store: Store;
  rollups: RollupMaintainer | null;
  health: MetricSources['health'];
  config: AlertsConfig;
  log: FastifyBaseLogger;
  now?: () => number;
  /** How often the scheduler looks for due rules. */
  tickMs?: number;
  /** Called after each cycle with its evaluations by result (self-monitoring). */
  onEvaluated?: (result: 'ok' | 'firing' | 'error', count: number) => void;
  /** Evaluate on schedule only while this instance holds the scheduler lease (once per cluster). */
  turn?: SchedulerTurn;
}

/** What is persisted per rule: the state machine's state and whether its firing was notified. */
interface StoredState extends RuleState {
  notified: boolean;
}

interface Entry {
  rule: AlertRule;
  times: RuleTimes;
  state: StoredState;
  /** The durable part of the state as last written (see `durableKey`). */
  persisted: string;
  nextDue: number;
  /** Last time the firing alert was pushed to Alertmanager (it expires alerts not re-sent). */
  pushedAt: number;
  last: { at: number; value: number | null; samples: number } | null;
}

/** A rule's entry as stored: its persisted state (or the initial one), due at `now`. */
function entryOf(rule: AlertRule, stored: AlertStateRecord | undefined, now: number): Entry {
  const state: StoredState = stored
    ? (JSON.parse(stored.document) as StoredState)
    : { ...INITIAL_STATE, notified: false };
  const times = ruleTimes(rule);
  return { rule, times, state, nextDue: now, pushedAt: 0, last: null, persisted: durableKey(state, times) };
}

export interface CycleReport {
  evaluated: number;
  transitions: { ruleId: string; alertId: string; from: string; to: string; value: number | null }[];
  notifications: number;
  durationMs: number;
}

/**
 * What a restart needs of a state. While an alert fires (without keepFiringFor) its violation
 * count and last violation time change on every evaluation but matter to nothing: not written.
 */
function durableKey(s: StoredState, times: RuleTimes): string {
  const quiet = s.status === 'firing' && times.keepFiringForMs === 0;
  return JSON.stringify(quiet ? { ...s, violations: 0, lastViolationAt: null } : s);
}

export class RuleNotFound extends Error {}

/** Rules are evaluated together each cycle: a bound keeps one project from starving the rest. */
export const MAX_RULES_PER_PROJECT = 10_000;

/**
 * Alert evaluation: every rule on its own interval, off the ingest path. One cycle reads the
 * metrics of every due rule (shared reads), steps each rule's state machine, persists what
 * changed in one transaction, then hands notifications to the Notifier (never waiting on them).
 * Rule changes and cycles run one at a time, so they never interleave.
 */
export class AlertEngine {
  private readonly delivery: AlertDelivery;
  private readonly entries = new Map<string, Entry>();
  private readonly now: () => number;
  private tail: Promise<unknown> = Promise.resolve();
  private timer: NodeJS.Timeout | null = null;
  private syncTimer: NodeJS.Timeout | null = null;
  private running = false;
  private stopped = false;
  private projectsCheckedAt = Number.NEGATIVE_INFINITY;
  /** Projects known to have had their default rules created. */
  private readonly seeded = new Set<string>();

  constructor(private readonly o: AlertEngineOptions) {
    this.now = o.now ?? Date.now;
    this.delivery = new AlertDelivery(o.store, o.config, o.log);
  }

  /** The delivery queue (tests wait on it). */
  get notifier(): Notifier {
    return this.delivery.notifier;
  }

  /** Where receivers' links point (the server's own address unless configured). */
  get externalUrl(): string {
    return this.delivery.externalUrl;
  }

  set externalUrl(url: string) {
    this.delivery.externalUrl = url;
  }

  /** Loads rules and their persisted state, creates default rules for projects that lack them. */
  async load(): Promise<void> {
    await this.serial(async () => {
      const states = new Map((await this.o.store.alerts.states()).map((s) => [s.ruleId, s]));
      const now = this.now();
      for (const r of await this.o.store.alerts.rules(null)) {
        const rule = JSON.parse(r.document) as AlertRule;
        this.entries.set(rule.id, entryOf(rule, states.get(rule.id), now));
      }
      await this.seedProjects(now);
    });
  }

  /**
   * Takes in the rules other instances created, changed or deleted in the shared store since the
   * last look (each instance changes only its own copy when the API asks it to).
   */
  private async syncRules(): Promise<void> {
    const stored = await this.o.store.alerts.rules(null);
    const ids = new Set<string>();
    let states: Map<string, AlertStateRecord> | null = null;
    for (const r of stored) {
      const rule = JSON.parse(r.document) as AlertRule;
      ids.add(rule.id);
      const e = this.entries.get(rule.id);
      if (e) {
        if (JSON.stringify(e.rule) !== JSON.stringify(rule)) {
          e.rule = rule;
          e.times = ruleTimes(rule);
        }
        continue;
      }
      states ??= new Map((await this.o.store.alerts.states()).map((s) => [s.ruleId, s]));
      this.entries.set(rule.id, entryOf(rule, states.get(rule.id), this.now()));
    }
    for (const id of [...this.entries.keys()]) if (!ids.has(id)) this.entries.delete(id);
  }

  /** Starts the scheduler (when enabled in the configuration). */
  start(): void {
    if (!this.o.config.enabled || this.timer) return;
    const tick = this.o.tickMs ?? 250;
    this.timer = setInterval(() => {
      if (this.running || this.stopped || (this.o.turn && !this.o.turn.held)) return;
      this.running = true;
      void this.evaluateOnce(this.now(), { dueOnly: true })
        .catch((err) => this.o.log.error({ err }, 'alert evaluation cycle failed'))
        .finally(() => {
          this.running = false;
        });
    }, tick);
    this.timer.unref();
    // Every instance shows and evaluates the rules any instance changed, within a second.
    this.syncTimer = setInterval(() => {
      if (this.stopped) return;
      void this.serial(() => this.syncRules()).catch((err) =>
        this.o.log.warn({ err }, 'alert rules not read from the store'),
      );
    }, 1_000);
    this.syncTimer.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    if (this.syncTimer) clearInterval(this.syncTimer);
    this.timer = null;
    await this.tail.catch(() => undefined);
    await this.notifier.stop();
  }

  private serial<T>(task: () => Promise<T>): Promise<T> {
    const next = this.tail.then(task);
    this.tail = next.catch(() => undefined);
    return next;
  }

  /**
   * One evaluation cycle at `now`: every enabled rule, or with `dueOnly` those whose interval
   * has come round. Tests call it directly with a chosen time instead of waiting on timers.
   */
  evaluateOnce(now = this.now(), { dueOnly = false }: { dueOnly?: boolean } = {}): Promise<CycleReport> {
    return this.serial(() => this.cycle(now, dueOnly));
  }

  private async cycle(now: number, dueOnly: boolean): Promise<CycleReport> {
    const started = performance.now();
    if (now - this.projectsCheckedAt >= 10_000) await this.seedProjects(now);
    const due = [...this.entries.values()].filter((e) => e.rule.enabled && (!dueOnly || e.nextDue <= now));
    const report: CycleReport = { evaluated: 0, transitions: [], notifications: 0, durationMs: 0 };
    if (due.length > 0) {
      let values: Awaited<ReturnType<typeof readMetrics>>;
      try {
        values = await readMetrics(
          { store: this.o.store, rollups: this.o.rollups, health: this.o.health },
          due.map((e) => ({
            project: e.rule.project,
            metric: e.rule.metric,
            filters: e.rule.filters,
            from: now - e.times.delayMs - e.times.windowMs,
            to: now - e.times.delayMs,
          })),
        );
      } catch (err) {
        // No state changes on a failed read: the rules stay due and run again on the next tick.
        this.o.onEvaluated?.('error', due.length);
        throw err;
      }
      const states: AlertStateRecord[] = [];
      const alerts: Omit<AlertRecord, 'acknowledgedAt' | 'acknowledgedBy'>[] = [];
      const transitions: AlertTransitionRecord[] = [];
      const changed: { entry: Entry; next: StoredState; transition: Transition | null }[] = [];
      due.forEach((e, i) => {
        const v = values[i] ?? { value: null, samples: 0 };
        e.last = { at: now, value: v.value, samples: v.samples };
        e.nextDue =
          e.nextDue + e.times.intervalMs > now ? e.nextDue + e.times.intervalMs : now + e.times.intervalMs;
        const policy = { ...e.rule, keepFiringForMs: e.times.keepFiringForMs };
        const verdict = verdictOf(
          v.value === null ? { kind: 'nodata' } : { kind: 'value', value: v.value, samples: v.samples },
          policy,
        );
        const { state, transition } = step(e.state, verdict, policy, {
          now,
          value: v.value,
          newId: randomUUID,
        });
        if (state === e.state) return;
        // A new alert (new id) has not been notified yet.
        const next: StoredState = {
          ...state,
          notified: state.alertId === e.state.alertId && e.state.notified,
        };
        changed.push({ entry: e, next, transition });
        if (durableKey(next, e.times) !== e.persisted) states.push(this.stateRecord(e, next, now));
        if (transition) {
          alerts.push(alertRecord(e.rule, next, now));
          transitions.push({
            project: e.rule.project,
            alertId: next.alertId as string,
            ruleId: e.rule.id,
            from: transition.from,
            to: transition.to === 'inactive' ? 'inactive' : transition.to,
            at: now,
            value: v.value,
          });
        }
      });
      // Persist before telling anyone: a restart must find what receivers were told.
      await this.o.store.alerts.writeCycle({ states, alerts, transitions });
      for (const { entry, next, transition } of changed) {
        entry.state = next;
        entry.persisted = durableKey(next, entry.times);
        if (!transition) continue;
        report.transitions.push({
          ruleId: entry.rule.id,
          alertId: next.alertId as string,
          from: transition.from,
          to: transition.to,
          value: next.value,
        });
        this.logTransition(entry.rule, next, transition);
      }
      report.evaluated = due.length;
      const firing = due.filter((e) => e.state.status === 'firing').length;
      this.o.onEvaluated?.('firing', firing);
      this.o.onEvaluated?.('ok', due.length - firing);
    }
    report.notifications = await this.notify(now);
    report.durationMs = performance.now() - started;
    return report;
  }

  private logTransition(rule: AlertRule, s: RuleState, t: Transition): void {
    const fields = {
      alertId: s.alertId,
      ruleId: rule.id,
      rule: rule.name,
      project: rule.project,
      from: t.from,
      to: t.to,
      metric: rule.metric,
      value: s.value,
      threshold: rule.threshold,
      severity: rule.severity,
    };
    const msg = `alert ${t.to}: ${alertMessage(rule, s.value, t.to === 'resolved' ? 'resolved' : 'firing')}`;
    if (t.to === 'firing') this.o.log.warn(fields, msg);
    else this.o.log.info(fields, msg);
  }

  /**
   * Hands out what receivers must hear: firing alerts not yet notified (new, or a silence that
   * ended), resolved alerts whose firing was notified, and Alertmanager re-sends. Whether a firing
   * or a resolution was notified is stored before it is handed out: an instance killed in between
   * leaves that notification unsent rather than sent twice (the instance that takes the lease over
   * reads the stored state, and a webhook hears each transition once).
   */
  private async notify(now: number): Promise<number> {
    const wants = [...this.entries.values()].filter(
      (e) =>
        (e.state.status === 'firing' && (!e.state.notified || this.pushDue(e, now))) ||
        (e.state.status === 'resolved' && e.state.notified),
    );
    if (wants.length === 0) return 0;
    const silences = await this.o.store.alerts.silences(null, now);
    const silenced = (ruleId: string) => silences.some((s) => s.ruleId === ruleId && s.endsAt > now);
    const persist: AlertStateRecord[] = [];
    const touched: Entry[] = [];
    const sends: (() => number)[] = [];
    for (const e of wants) {
      const receivers = await this.delivery.receiversOf(e.rule);
      if (e.state.status === 'resolved') {
        const notifiedState = e.state;
        sends.push(() => this.deliver(e, receivers, 'resolved', now, notifiedState));
        e.state = { ...e.state, notified: false };
        persist.push(this.stateRecord(e, e.state, now));
        touched.push(e);
      } else if (!e.state.notified) {
        if (silenced(e.rule.id)) continue;
        const firingState = e.state;
        sends.push(() => this.deliver(e, receivers, 'firing', now, firingState));
        e.state = { ...e.state, notified: true };
        persist.push(this.stateRecord(e, e.state, now));
        touched.push(e);
      } else {
        // Alertmanager forgets alerts that are not re-sent; webhooks hear each transition once.
        e.pushedAt = now;
        if (!silenced(e.rule.id)) {
          sends.push(() =>
            this.deliver(
              e,
              receivers.filter((r) => r.type === 'alertmanager'),
              'firing',
              now,
            ),
          );
        }
      }
    }
    await this.o.store.alerts.writeCycle({ states: persist, alerts: [], transitions: [] });
    for (const e of touched) e.persisted = durableKey(e.state, e.times);
    let sent = 0;
    for (const send of sends) sent += send();
    return sent;
  }

  private pushDue(e: Entry, now: number): boolean {
    return now - e.pushedAt >= this.o.config.alertmanagerResendMs;
  }

  private deliver(
    e: Entry,
    receivers: Receiver[],
    status: 'firing' | 'resolved',
    now: number,
    state: Entry['state'] = e.state,
  ): number {
    const { sent, pushed } = this.delivery.send(e.rule, state, e.times.intervalMs, receivers, status, now);
    if (pushed) e.pushedAt = now;
    return sent;
  }

  private stateRecord(e: Entry, s: StoredState, now: number): AlertStateRecord {
    return { ruleId: e.rule.id, project: e.rule.project, updatedAt: now, document: JSON.stringify(s) };
  }

  // ---- rules -------------------------------------------------------------------------------

  private defaultsOf() {
    return {
      intervalMs: this.o.config.defaultIntervalMs,
      evaluationDelayMs: this.o.config.evaluationDelayMs,
    };
  }

  /** Creates the default rules of every project that never had them. */
  private async seedProjects(now: number): Promise<void> {
    this.projectsCheckedAt = now;
    for (const p of await this.o.store.meta.listProjects()) await this.seed(p.id, now);
  }

  private async seed(project: string, now: number): Promise<void> {
    if (this.seeded.has(project)) return;
    const settings = await this.o.store.alerts.settings(project);
    if (settings?.defaultsCreatedAt != null) {
      this.seeded.add(project);
      return;
    }
    const rules = defaultRules(this.o.config).map((input, i) =>
      buildRule(
        input,
        { id: randomUUID(), project, createdAt: now + i, now, builtin: true },
        this.defaultsOf(),
      ),
    );
    const records = rules.map((r, i) => ({
      id: r.id,
      project,
      createdAt: now + i,
      updatedAt: now,
      document: JSON.stringify(r),
    }));
    const created = await this.o.store.alerts.createDefaults(project, records, now);
    this.seeded.add(project);
    if (!created) return;
    for (const rule of rules) this.add(rule, now);
    this.o.log.info({ project, rules: rules.length }, 'default alert rules created');
  }

  /** Makes sure a project has its default rules (once; deleting them later is respected). */
  ensureDefaults(project: string): Promise<void> {
    return this.serial(() => this.seed(project, this.now()));
  }

  private add(rule: AlertRule, now: number): void {
    this.entries.set(rule.id, {
      rule,
      times: ruleTimes(rule),
      state: { ...INITIAL_STATE, notified: false },
      nextDue: now,
      pushedAt: 0,
      last: null,
      persisted: '',
    });
  }

  rules(project: string | null): AlertRule[] {
    return [...this.entries.values()]
      .map((e) => e.rule)
      .filter((r) => project === null || r.project === project)
      .sort((a, b) =>
        a.createdAt < b.createdAt ? -1 : a.createdAt > b.createdAt ? 1 : a.id < b.id ? -1 : 1,
      );
  }

  rule(id: string): AlertRule | null {
    return this.entries.get(id)?.rule ?? null;
  }

  /** The rule's live state: status, violations in a row, last evaluation. */
  ruleStatus(id: string) {
    const e = this.entries.get(id);
    if (!e) return null;
    return {
      status: e.state.status,
      violations: e.state.violations,
      alertId: e.state.alertId,
      lastEvaluation: e.last ? { at: iso(e.last.at), value: e.last.value, samples: e.last.samples } : null,
    };
  }

  createRule(project: string, input: RuleInput): Promise<AlertRule> {
    return this.serial(async () => {
      const now = this.now();
      if (this.rules(project).length >= MAX_RULES_PER_PROJECT)
        throw new RuleProblem(
          'body',
          `a project holds at most ${MAX_RULES_PER_PROJECT} rules; delete some first`,
        );
      const rule = buildRule(
        input,
        { id: randomUUID(), project, createdAt: now, now, builtin: false },
        this.defaultsOf(),
      );
      await this.o.store.alerts.putRule({
        id: rule.id,
        project,
        createdAt: now,
        updatedAt: now,
        document: JSON.stringify(rule),
      });
      this.add(rule, now);
      this.o.log.info({ ruleId: rule.id, project, name: rule.name }, 'alert rule created');
      return rule;
    });
  }

  /**
   * Replaces a rule. Its state carries over (a pending count keeps counting against the new
   * condition) unless the alert's identity (its labels) changed or the rule was disabled: then
   * an active alert is resolved first.
   */
  updateRule(id: string, input: RuleInput): Promise<AlertRule> {
    return this.serial(async () => {
      const e = this.entries.get(id);
      if (!e) throw new RuleNotFound(id);
      const now = this.now();
      const createdAt = Date.parse(e.rule.createdAt);
      const rule = buildRule(
        input,
        { id, project: e.rule.project, createdAt, now, builtin: e.rule.builtin, previous: e.rule },
        this.defaultsOf(),
      );
      const identityChanged = fingerprint(alertLabels(rule)) !== fingerprint(alertLabels(e.rule));
      if (identityChanged || !rule.enabled) await this.retire(e, now, 'rule changed');
      await this.o.store.alerts.putRule({
        id,
        project: rule.project,
        createdAt,
        updatedAt: now,
        document: JSON.stringify(rule),
      });
      e.rule = rule;
      e.times = ruleTimes(rule);
      e.nextDue = Math.min(e.nextDue, now + e.times.intervalMs);
      this.o.log.info({ ruleId: id, project: rule.project, name: rule.name }, 'alert rule updated');
      return rule;
    });
  }

  deleteRule(id: string): Promise<AlertRule> {
    return this.serial(async () => {
      const e = this.entries.get(id);
      if (!e) throw new RuleNotFound(id);
      await this.retire(e, this.now(), 'rule deleted');
      await this.o.store.alerts.deleteRule(id);
      this.entries.delete(id);
      this.o.log.info({ ruleId: id, project: e.rule.project, name: e.rule.name }, 'alert rule deleted');
      return e.rule;
    });
  }

  /** Ends the rule's active alert (resolved, receivers told if they heard it fire) and resets its state. */
  private async retire(e: Entry, now: number, reason: string): Promise<void> {
    const s = e.state;
    if (s.status !== 'pending' && s.status !== 'firing') return;
    const to = s.status === 'firing' ? 'resolved' : 'inactive';
    const ended: StoredState = {
      ...s,
      status: to,
      violations: 0,
      resolvedAt: to === 'resolved' ? now : null,
    };
    await this.o.store.alerts.writeCycle({
      states: [this.stateRecord(e, { ...INITIAL_STATE, notified: false }, now)],
      alerts: [alertRecord(e.rule, ended, now)],
      transitions: [
        {
          project: e.rule.project,
          alertId: s.alertId as string,
          ruleId: e.rule.id,
          from: s.status,
          to,
          at: now,
          value: s.value,
        },
      ],
    });
    this.logTransition(e.rule, ended, { from: s.status, to });
    this.o.log.info({ ruleId: e.rule.id, alertId: s.alertId, reason }, 'alert ended with its rule');
    if (ended.notified)
      this.deliver({ ...e, state: ended }, await this.delivery.receiversOf(e.rule), 'resolved', now);
    e.state = { ...INITIAL_STATE, notified: false };
    e.persisted = durableKey(e.state, e.times);
  }

  // ---- receivers ---------------------------------------------------------------------------

  defaultReceivers(project: string): Promise<Receiver[]> {
    return this.delivery.projectReceivers(project);
  }

  setDefaultReceivers(project: string, input: Receiver[]): Promise<Receiver[]> {
    return this.serial(() => this.delivery.setProjectReceivers(project, input));
  }

  // ---- alerts ------------------------------------------------------------------------------

  /** Active alerts (pending, firing) and the history of the project, newest first. */
  async alerts(project: string, options: { limit: number; from?: number }) {
    const [active, history, silences] = await Promise.all([
      this.o.store.alerts.alerts({ project, states: ['pending', 'firing'], limit: 1000 }),
      this.o.store.alerts.alerts({
        project,
        limit: options.limit,
        ...(options.from !== undefined ? { from: options.from } : {}),
      }),
      this.o.store.alerts.silences(project, this.now()),
    ]);
    return {
      active: active.map((a) => alertView(a, silences, this.live)),
      history: history.map((a) => alertView(a, silences, this.live)),
    };
  }

  async alert(alertId: string) {
    const a = await this.o.store.alerts.alert(alertId);
    if (!a) return null;
    const [silences, transitions] = await Promise.all([
      this.o.store.alerts.silences(a.project, this.now()),
      this.o.store.alerts.transitions(alertId),
    ]);
    return {
      ...alertView(a, silences, this.live),
      transitions: transitions.map((t) => ({ from: t.from, to: t.to, at: iso(t.at), value: t.value })),
    };
  }

  /** The last evaluated value of a rule while `alertId` is its current alert. */
  private readonly live = (ruleId: string, alertId: string): number | null => {
    const entry = this.entries.get(ruleId);
    return entry?.state.alertId === alertId ? (entry.last?.value ?? null) : null;
  };
}
