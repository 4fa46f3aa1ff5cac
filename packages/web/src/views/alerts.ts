import { api, get } from '../api.js';
import { h } from '../dom.js';
import * as f from '../format.js';
import { card, pageHeader, slot, type View } from '../ui.js';
import { listOf, unavailable } from './generic.js';

interface Alert {
  alertId: string;
  rule: string;
  state: string;
  metric: string;
  operator: string;
  threshold: number;
  actualValue: number | null;
  message: string;
  severity: string;
  startedAt: string;
  triggeredAt: string | null;
  resolvedAt: string | null;
  acknowledgedAt: string | null;
  acknowledgedBy: string | null;
  silencedUntil: string | null;
}

interface Rule {
  id: string;
  name: string;
  metric: string;
  operator: string;
  threshold: number;
  window?: string;
  consecutive?: number;
  interval?: string | number;
  severity?: string;
  status?: {
    status: string;
    violations: number;
    lastEvaluation: { at: string; value: number | null } | null;
  } | null;
  [key: string]: unknown;
}

const OPERATORS = ['>', '>=', '<', '<=', '==', '!='];
const METRICS = [
  'errorRate',
  'totalLatency.p95',
  'totalLatency.p99',
  'requestRate',
  'totalTokens',
  'cacheHitRate',
  'acceptanceRate',
  'overrideRate',
  'falsePositiveRate',
];

/** The fields of a rule this editor does not show, as the rules API takes them back. */
function kept(rule: Rule): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of [
    'filters',
    'evaluationDelay',
    'minSamples',
    'noData',
    'keepFiringFor',
    'labels',
    'annotations',
    'useDefaultReceivers',
    'enabled',
  ]) {
    if (rule[k] !== undefined && rule[k] !== null) out[k] = rule[k];
  }
  // Secrets are never returned; a receiver sent back without one keeps its stored secret.
  if (Array.isArray(rule.receivers)) {
    out.receivers = (rule.receivers as { type: string; url: string }[]).map((r) => ({
      type: r.type,
      url: r.url,
    }));
  }
  return out;
}

function ruleForm(rule: Rule | null, onSaved: () => void): HTMLElement {
  const field = (name: string, label: string, value: unknown, attrs: Record<string, string | number> = {}) =>
    h('label', {}, label, h('input', { name, value: value === undefined ? '' : String(value), ...attrs }));
  const note = h('span', { class: 'muted', role: 'status' });
  const metric = h('input', {
    name: 'metric',
    list: 'alert-metrics',
    required: true,
    value: rule?.metric ?? 'errorRate',
  });
  const operator = h(
    'select',
    { name: 'operator' },
    OPERATORS.map((o) => h('option', { value: o, selected: o === (rule?.operator ?? '>') }, o)),
  );
  const severity = h(
    'select',
    { name: 'severity' },
    ['critical', 'warning', 'info'].map((s) =>
      h('option', { value: s, selected: s === (rule?.severity ?? 'warning') }, s),
    ),
  );
  return h(
    'form',
    {
      class: 'card rule-editor',
      'data-rule-editor': rule?.id ?? 'new',
      onsubmit: async (ev: Event) => {
        ev.preventDefault();
        const form = ev.currentTarget as HTMLFormElement;
        const val = (n: string) => (form.elements.namedItem(n) as HTMLInputElement).value.trim();
        const body: Record<string, unknown> = {
          // A PUT replaces the rule: what this form does not edit goes back as it was.
          ...(rule ? kept(rule) : {}),
          name: val('name'),
          metric: metric.value.trim(),
          operator: operator.value,
          threshold: Number(val('threshold')),
          severity: severity.value,
        };
        if (val('window')) body.window = val('window');
        if (val('consecutive')) body.consecutive = Number(val('consecutive'));
        if (val('interval')) body.interval = val('interval');
        try {
          await api(
            rule ? 'PUT' : 'POST',
            rule ? `/api/alerts/rules/${encodeURIComponent(rule.id)}` : '/api/alerts/rules',
            body,
          );
          note.textContent = 'Saved.';
          onSaved();
        } catch (err) {
          note.textContent = err instanceof Error ? err.message : String(err);
        }
      },
    },
    h('h3', {}, rule ? `Edit rule ${rule.name}` : 'New rule'),
    h(
      'datalist',
      { id: 'alert-metrics' },
      METRICS.map((m) => h('option', { value: m })),
    ),
    h(
      'div',
      { class: 'form-grid' },
      field('name', 'Name', rule?.name, { required: 'required', maxlength: 200 }),
      h('label', {}, 'Metric', metric),
      h('label', {}, 'Operator', operator),
      field('threshold', 'Threshold', rule?.threshold, { type: 'number', step: 'any', required: 'required' }),
      field('window', 'Window', rule?.window ?? '5m', { placeholder: '5m' }),
      field('consecutive', 'Consecutive violations', rule?.consecutive ?? 1, { type: 'number', min: 1 }),
      field('interval', 'Interval', rule?.interval ?? '30s', { placeholder: '30s' }),
      h('label', {}, 'Severity', severity),
    ),
    h(
      'div',
      { class: 'toolbar' },
      h('button', { type: 'submit', class: 'primary' }, rule ? 'Save rule' : 'Create rule'),
      note,
    ),
  );
}

/** Alerts: what fires now, what fired before, and (admin) the rules with their editor. */
export const alerts: View = async (root, ctx) => {
  const project = ctx.project;
  const state = slot(async () => {
    let body: { active: Alert[]; history: Alert[] };
    try {
      body = await get<{ active: Alert[]; history: Alert[] }>('/api/metrics/alerts', { project });
    } catch (err) {
      return unavailable(err, 'Alerting');
    }
    const act = async (path: string, payload?: unknown) => {
      await api('POST', path, payload);
      ctx.setParams({ acted: String(Date.now()) });
    };
    const row = (a: Alert, actions: boolean) =>
      h(
        'tr',
        { 'data-alert': a.alertId, class: `state-${a.state}` },
        h(
          'td',
          {},
          h(
            'span',
            { class: `badge ${a.state === 'firing' ? 'bad' : a.state === 'resolved' ? 'ok' : ''}` },
            a.state,
          ),
        ),
        h('td', {}, a.rule),
        h('td', {}, h('code', {}, `${a.metric} ${a.operator} ${a.threshold}`)),
        h('td', { class: 'num' }, a.actualValue === null ? '—' : f.decimal(a.actualValue)),
        h('td', {}, a.severity),
        h(
          'td',
          { class: 'nowrap' },
          a.triggeredAt ? f.dateTime(a.triggeredAt) : `pending since ${f.dateTime(a.startedAt)}`,
        ),
        h('td', {}, a.resolvedAt ? f.dateTime(a.resolvedAt) : '—'),
        h('td', {}, a.message),
        actions
          ? h(
              'td',
              { class: 'nowrap' },
              a.acknowledgedAt
                ? h('span', { class: 'muted' }, `acked by ${a.acknowledgedBy ?? '?'}`)
                : h(
                    'button',
                    {
                      type: 'button',
                      onclick: () => act(`/api/metrics/alerts/${encodeURIComponent(a.alertId)}/ack`),
                    },
                    'Acknowledge',
                  ),
              ' ',
              a.silencedUntil
                ? h('span', { class: 'muted' }, `silenced until ${f.dateTime(a.silencedUntil)}`)
                : h(
                    'button',
                    {
                      type: 'button',
                      onclick: () =>
                        act(`/api/metrics/alerts/${encodeURIComponent(a.alertId)}/silence`, {
                          duration: '1h',
                        }),
                    },
                    'Silence 1 h',
                  ),
            )
          : null,
      );
    const admin = ctx.me.role === 'admin';
    const head = (actions: boolean) =>
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          [
            'state',
            'rule',
            'condition',
            'value',
            'severity',
            'triggered',
            'resolved',
            'message',
            ...(actions ? [''] : []),
          ].map((t) => h('th', {}, t)),
        ),
      );
    return h(
      'div',
      {},
      card(
        `Active (${body.active.length})`,
        body.active.length
          ? h(
              'table',
              { class: 'data', 'data-table': 'activeAlerts' },
              head(admin),
              h(
                'tbody',
                {},
                body.active.map((a) => row(a, admin)),
              ),
            )
          : h('p', { class: 'muted', 'data-table': 'activeAlerts' }, 'Nothing is firing.'),
      ),
      card(
        'History',
        body.history.length
          ? h(
              'table',
              { class: 'data', 'data-table': 'alertHistory' },
              head(false),
              h(
                'tbody',
                {},
                body.history.map((a) => row(a, false)),
              ),
            )
          : h('p', { class: 'muted' }, 'No alert has fired yet.'),
      ),
    );
  });
  root.append(
    pageHeader(
      'Alerts',
      'Rules are evaluated off the ingest path; a rule fires after its number of consecutive violations.',
    ),
    state.el,
  );
  const waits = [state.done];
  if (ctx.me.role === 'admin') {
    const selected = ctx.params.get('rule');
    const rules = slot(async () => {
      {
        let body: unknown;
        try {
          body = await get<unknown>('/api/alerts/rules', { project });
        } catch (err) {
          return unavailable(err, 'The alert rule API');
        }
        const list = listOf(body, 'rules') as Rule[];
        const editing = list.find((r) => r.id === selected) ?? null;
        return h(
          'div',
          {},
          card(
            `Rules (${list.length})`,
            h(
              'table',
              { class: 'data', 'data-table': 'rules' },
              h(
                'thead',
                {},
                h(
                  'tr',
                  {},
                  ['name', 'condition', 'window', 'consecutive', 'severity', 'status', 'last value', ''].map(
                    (t) => h('th', {}, t),
                  ),
                ),
              ),
              h(
                'tbody',
                {},
                list.map((r) =>
                  h(
                    'tr',
                    { 'data-rule': r.name },
                    h('td', {}, r.name),
                    h('td', {}, h('code', {}, `${r.metric} ${r.operator} ${r.threshold}`)),
                    h('td', {}, String(r.window ?? '—')),
                    h('td', {}, String(r.consecutive ?? '—')),
                    h('td', {}, String(r.severity ?? '—')),
                    h(
                      'td',
                      {},
                      r.status
                        ? `${r.status.status}${r.status.violations ? ` (${r.status.violations} in a row)` : ''}`
                        : '—',
                    ),
                    h(
                      'td',
                      { class: 'num' },
                      r.status?.lastEvaluation?.value == null
                        ? '—'
                        : f.decimal(r.status.lastEvaluation.value),
                    ),
                    h(
                      'td',
                      {},
                      h('button', { type: 'button', onclick: () => ctx.setParams({ rule: r.id }) }, 'Edit'),
                      ' ',
                      h(
                        'button',
                        {
                          type: 'button',
                          class: 'danger',
                          onclick: async () => {
                            if (!confirm(`Delete rule ${r.name}?`)) return;
                            await api('DELETE', `/api/alerts/rules/${encodeURIComponent(r.id)}`);
                            ctx.setParams({ rule: null });
                          },
                        },
                        'Delete',
                      ),
                    ),
                  ),
                ),
              ),
            ),
          ),
          ruleForm(editing, () => ctx.setParams({ rule: null, saved: String(Date.now()) })),
        );
      }
    });
    root.append(rules.el);
    waits.push(rules.done);
  }
  await Promise.all(waits);
};
