import type { FastifyBaseLogger } from 'fastify';
import type { AlertsConfig } from '../config/index.js';
import type { Store } from '../store/index.js';
import { type Delivery, Notifier } from './notify.js';
import {
  type AlertPayload,
  alertAnnotations,
  alertLabels,
  alertmanagerBody,
  fingerprint,
  webhookBody,
  ZERO_TIME,
} from './payload.js';
import { type AlertRule, buildReceivers, type Receiver } from './rule.js';
import type { RuleState } from './state.js';
import { iso } from './views.js';

/**
 * Telling receivers: who hears a rule's alerts (its own receivers and the project's defaults),
 * and the webhook and Alertmanager bodies handed to the Notifier, which delivers with retries off
 * the evaluation path.
 */
export class AlertDelivery {
  readonly notifier: Notifier;
  externalUrl: string;
  /** The project's default receivers, as last read or set. */
  private readonly receivers = new Map<string, Receiver[]>();

  constructor(
    private readonly store: Store,
    private readonly config: AlertsConfig,
    log: FastifyBaseLogger,
  ) {
    this.notifier = new Notifier(config.delivery, log);
    this.externalUrl = config.externalUrl ?? 'http://127.0.0.1:4318';
  }

  /** The rule's receivers and, when it uses them, the project's defaults; each once. */
  async receiversOf(rule: AlertRule): Promise<Receiver[]> {
    const all = [
      ...rule.receivers,
      ...(rule.useDefaultReceivers ? await this.projectReceivers(rule.project) : []),
    ];
    const seen = new Set<string>();
    return all.filter((r) => {
      const key = `${r.type} ${r.url}`;
      if (seen.has(key)) return false;
      seen.add(key);
      return true;
    });
  }

  async projectReceivers(project: string): Promise<Receiver[]> {
    let found = this.receivers.get(project);
    if (!found) {
      const settings = await this.store.alerts.settings(project);
      found = settings ? (JSON.parse(settings.receivers) as Receiver[]) : [];
      this.receivers.set(project, found);
    }
    return found;
  }

  /** Replaces the project's default receivers (a secret not given again is kept). */
  async setProjectReceivers(project: string, input: Receiver[]): Promise<Receiver[]> {
    const receivers = buildReceivers(input, await this.projectReceivers(project));
    await this.store.alerts.putReceivers(project, JSON.stringify(receivers));
    this.receivers.set(project, receivers);
    return receivers;
  }

  /**
   * Queues the alert's notification for each receiver; `sent` counts those queued, `pushed` says
   * Alertmanager was among them (it forgets alerts not re-sent).
   */
  send(
    rule: AlertRule,
    s: RuleState,
    intervalMs: number,
    receivers: Receiver[],
    status: 'firing' | 'resolved',
    now: number,
  ): { sent: number; pushed: boolean } {
    const labels = alertLabels(rule);
    const base: Omit<AlertPayload, 'endsAt'> = {
      status,
      labels,
      annotations: alertAnnotations(rule, s.value, status),
      startsAt: iso(s.firingSince ?? s.activeSince ?? now) as string,
      generatorURL: `${this.externalUrl}/api/metrics/alerts?project=${encodeURIComponent(rule.project)}`,
      fingerprint: fingerprint(labels),
    };
    const resolvedAt = iso(s.resolvedAt ?? now) as string;
    let sent = 0;
    let pushed = false;
    for (const r of receivers) {
      let delivery: Delivery;
      if (r.type === 'webhook') {
        const payload = { ...base, endsAt: status === 'resolved' ? resolvedAt : ZERO_TIME };
        const body = webhookBody(payload, {
          receiver: `vigil/${rule.project}`,
          externalURL: this.externalUrl,
        });
        delivery = { receiver: r, body: JSON.stringify(body), alertId: s.alertId ?? '', status };
      } else {
        // Like Prometheus: a firing alert ends by itself unless re-sent before endsAt.
        const ttl = 4 * Math.max(this.config.alertmanagerResendMs, intervalMs);
        const payload = { ...base, endsAt: status === 'resolved' ? resolvedAt : (iso(now + ttl) as string) };
        const url = r.url.replace(/\/+$/, '');
        delivery = {
          receiver: { ...r, url: url.endsWith('/api/v2/alerts') ? url : `${url}/api/v2/alerts` },
          body: JSON.stringify(alertmanagerBody(payload)),
          alertId: s.alertId ?? '',
          status,
        };
        pushed = true;
      }
      if (this.notifier.enqueue(delivery)) sent += 1;
    }
    return { sent, pushed };
  }
}
