import type { AlertRecord, AlertSilenceRecord } from '../store/index.js';
import { alertLabels, alertMessage, fingerprint } from './payload.js';
import type { AlertRule } from './rule.js';
import type { RuleState } from './state.js';

/** An alert as the read API shows it. */
export interface AlertView {
  alertId: string;
  ruleId: string;
  rule: string;
  project: string;
  state: string;
  metric: string;
  filters: Record<string, string>;
  operator: string;
  threshold: number;
  actualValue: number | null;
  message: string;
  severity: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  fingerprint: string;
  startedAt: string;
  triggeredAt: string | null;
  resolvedAt: string | null;
}

export const iso = (t: number | null) => (t === null ? null : new Date(t).toISOString());

/** The stored record of an alert at a transition: its view as of `now`. */
export function alertRecord(
  rule: AlertRule,
  s: RuleState,
  now: number,
): Omit<AlertRecord, 'acknowledgedAt' | 'acknowledgedBy'> {
  const labels = alertLabels(rule);
  const view: AlertView = {
    alertId: s.alertId as string,
    ruleId: rule.id,
    rule: rule.name,
    project: rule.project,
    state: s.status,
    metric: rule.metric,
    filters: rule.filters,
    operator: rule.operator,
    threshold: rule.threshold,
    actualValue: s.value,
    message: alertMessage(
      rule,
      s.value,
      s.status === 'resolved' ? 'resolved' : s.status === 'firing' ? 'firing' : 'pending',
    ),
    severity: rule.severity,
    labels,
    annotations: { ...rule.annotations },
    fingerprint: fingerprint(labels),
    startedAt: iso(s.activeSince ?? now) as string,
    triggeredAt: iso(s.firingSince),
    resolvedAt: iso(s.resolvedAt),
  };
  return {
    alertId: view.alertId,
    project: rule.project,
    ruleId: rule.id,
    state: s.status,
    startedAt: s.activeSince ?? now,
    updatedAt: now,
    document: JSON.stringify(view),
  };
}

/** What the engine knows live of a rule's current alert. */
export type LiveValue = (ruleId: string, alertId: string) => number | null;

/** An alert as the API answers it: its stored view, its state now, acknowledgement and silence. */
export function alertView(a: AlertRecord, silences: AlertSilenceRecord[], live: LiveValue) {
  const doc = JSON.parse(a.document) as AlertView;
  const active = a.state === 'pending' || a.state === 'firing';
  const silence = silences.filter((s) => s.ruleId === a.ruleId).sort((x, y) => y.endsAt - x.endsAt)[0];
  return {
    ...doc,
    state: a.state,
    currentValue: active ? live(a.ruleId, a.alertId) : null,
    acknowledgedAt: iso(a.acknowledgedAt),
    acknowledgedBy: a.acknowledgedBy,
    silencedUntil: active && silence ? iso(silence.endsAt) : null,
    silenceId: active && silence ? silence.id : null,
  };
}
