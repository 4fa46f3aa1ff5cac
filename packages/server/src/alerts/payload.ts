import { createHmac } from 'node:crypto';
import type { AlertRule } from './rule.js';

/** The zero time Alertmanager uses for "not ended". */
export const ZERO_TIME = '0001-01-01T00:00:00Z';

/**
 * Prometheus' label-set fingerprint (FNV-1a 64 over sorted names and values, each followed by
 * 0xff), as 16 hex digits: the same one Alertmanager shows for the same labels.
 */
export function fingerprint(labels: Record<string, string>): string {
  const prime = 1_099_511_628_211n;
  const mask = 0xffff_ffff_ffff_ffffn;
  let h = 14_695_981_039_346_656_037n;
  const add = (bytes: Uint8Array) => {
    for (const b of bytes) h = ((h ^ BigInt(b)) * prime) & mask;
  };
  const enc = new TextEncoder();
  const names = Object.keys(labels).sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
  for (const name of names) {
    add(enc.encode(name));
    add(Uint8Array.of(0xff));
    add(enc.encode(labels[name] as string));
    add(Uint8Array.of(0xff));
  }
  return h.toString(16).padStart(16, '0');
}

/** Labels of a rule's alert: identity first, then the rule's filters and own labels. */
export function alertLabels(rule: AlertRule): Record<string, string> {
  return {
    ...rule.filters,
    ...rule.labels,
    alertname: rule.name,
    severity: rule.severity,
    project: rule.project,
    rule_id: rule.id,
    metric: rule.metric,
  };
}

const fmt = (v: number | null) =>
  v === null ? 'no data' : Number.isInteger(v) ? String(v) : String(Math.round(v * 1000) / 1000);

/** One line a person can read: what was measured against what. */
export function alertMessage(
  rule: AlertRule,
  value: number | null,
  status: 'firing' | 'resolved' | 'pending',
) {
  const filters = Object.entries(rule.filters)
    .map(([k, v]) => `${k}=${v}`)
    .join(', ');
  const what = `${rule.metric}${filters ? ` (${filters})` : ''} over ${rule.window}`;
  if (status === 'resolved') return `${rule.name} resolved: ${what} is ${fmt(value)}`;
  return `${rule.name}: ${what} is ${fmt(value)}, ${rule.operator} ${fmt(rule.threshold)}${
    rule.consecutive > 1 ? ` for ${rule.consecutive} evaluations in a row` : ''
  }`;
}

export function alertAnnotations(rule: AlertRule, value: number | null, status: 'firing' | 'resolved') {
  return {
    summary: alertMessage(rule, value, status),
    value: fmt(value),
    threshold: fmt(rule.threshold),
    ...rule.annotations,
  };
}

/** An alert as both Alertmanager formats carry it. */
export interface AlertPayload {
  status: 'firing' | 'resolved';
  labels: Record<string, string>;
  annotations: Record<string, string>;
  startsAt: string;
  endsAt: string;
  generatorURL: string;
  fingerprint: string;
}

/** Alertmanager's webhook body, version 4, for one alert (its own group). */
export function webhookBody(alert: AlertPayload, options: { receiver: string; externalURL: string }) {
  const groupLabels = {
    alertname: alert.labels.alertname as string,
    project: alert.labels.project as string,
    rule_id: alert.labels.rule_id as string,
  };
  const key = Object.entries(groupLabels)
    .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
    .join(', ');
  return {
    version: '4',
    groupKey: `{}:{${key}}`,
    truncatedAlerts: 0,
    status: alert.status,
    receiver: options.receiver,
    groupLabels,
    commonLabels: alert.labels,
    commonAnnotations: alert.annotations,
    externalURL: options.externalURL,
    alerts: [alert],
  };
}

/** Alertmanager's `POST /api/v2/alerts` body. */
export function alertmanagerBody(alert: AlertPayload) {
  return [
    {
      labels: alert.labels,
      annotations: alert.annotations,
      startsAt: alert.startsAt,
      endsAt: alert.endsAt,
      generatorURL: alert.generatorURL,
    },
  ];
}

export const SIGNATURE_HEADER = 'x-vigil-signature';
export const TIMESTAMP_HEADER = 'x-vigil-timestamp';

/**
 * The webhook signature: `sha256=` + hex HMAC-SHA256 with the receiver's secret over
 * `<X-Vigil-Timestamp>.<raw body>` (the timestamp in Unix seconds guards against replays).
 */
export function sign(secret: string, timestamp: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}
