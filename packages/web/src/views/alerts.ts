import { api, get } from '../api.js';
import { h } from '../dom.js';
import * as f from '../format.js';
import type { AlertAnswer, AlertMetricInfo, ReceiverAnswer, RuleAnswer } from '../types.js';
import { card, pageHeader, slot, type View } from '../ui.js';
import { listOf, unavailable } from './generic.js';

type Alert = AlertAnswer;
type Receiver = ReceiverAnswer;
type Rule = RuleAnswer;

/** A metric a rule can watch, as `GET /api/alerts/metrics` lists it. */
type MetricInfo = AlertMetricInfo;

const OPERATORS = ['>', '>=', '<', '<=', '==', '!='];

/**
 * The message after a rule was saved, shown by the redraws of the next few seconds (a live redraw
 * may follow at once) and not kept in the URL; the next action on the page clears it.
 */
let flash: { text: string; until: number } | null = null;

/** Who acted, as a person reads it: `user:ana` is Ana's account, not an internal principal. */
export function actor(subject: string | null): string {
  if (!subject) return 'someone';
  if (subject.startsWith('user:')) return subject.slice(5);
  if (subject.startsWith('key:')) return `API key ${subject.slice(4, 12)}`;
  if (subject === 'admin-token') return 'the admin token';
  return subject;
}

/** `errorRate{model="gpt-4o"} > 5` */
function condition(x: {
  metric: string;
  operator: string;
  threshold: number;
  filters?: Record<string, string>;
}) {
  const filters = Object.entries(x.filters ?? {});
  const where = filters.length ? `{${filters.map(([k, v]) => `${k}="${v}"`).join(', ')}}` : '';
  return `${x.metric}${where} ${x.operator} ${x.threshold}`;
}

/** The fields of a rule this editor does not show, as the rules API takes them back. */
function kept(rule: Rule): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of [
    'evaluationDelay',
    'minSamples',
    'noData',
    'keepFiringFor',
    'labels',
    'annotations',
    'enabled',
  ] as const) {
    if (rule[k] !== undefined && rule[k] !== null) out[k] = rule[k];
  }
  return out;
}

/** Rows of inputs that grow with an "add" button; each row has a remove button. */
function rows(options: {
  testId: string;
  add: string;
  row: (values?: unknown) => HTMLElement[];
  initial: unknown[];
}) {
  const list = h('div', { class: 'rows', 'data-rows': options.testId });
  const addRow = (values?: unknown) => {
    const row: HTMLElement = h(
      'div',
      { class: 'row' },
      ...options.row(values),
      h(
        'button',
        { type: 'button', class: 'link', 'aria-label': 'Remove', onclick: () => row.remove() },
        'remove',
      ),
    );
    list.append(row);
  };
  for (const v of options.initial) addRow(v);
  return {
    el: h(
      'div',
      {},
      list,
      h('button', { type: 'button', 'data-add': options.testId, onclick: () => addRow() }, options.add),
    ),
    rows: () => [...list.querySelectorAll<HTMLElement>('.row')],
  };
}

function ruleForm(rule: Rule | null, catalog: MetricInfo[], onSaved: (name: string) => void): HTMLElement {
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

  // Filters: the names the chosen metric takes are suggested and listed under the rows.
  const filterKeys = h('datalist', { id: `alert-filter-keys-${rule?.id ?? 'new'}` });
  const filterHint = h('p', { class: 'muted hint', 'data-filter-hint': '' });
  const showFilters = () => {
    const info = catalog.find((m) => m.name === metric.value.trim());
    filterKeys.replaceChildren(...(info?.filters ?? []).map((k) => h('option', { value: k })));
    filterHint.textContent = !info
      ? catalog.length
        ? 'Pick a metric from the list to see its filters.'
        : ''
      : info.filters.length === 0
        ? `${info.name} takes no filters.`
        : info.name === 'events.count'
          ? 'events.count needs type (the event type to count); other names are field equalities.'
          : `${info.name} can be filtered by one of ${info.filters.join(', ')}.`;
  };
  metric.addEventListener('input', showFilters);
  showFilters();
  const filters = rows({
    testId: 'filters',
    add: 'Add filter',
    initial: Object.entries(rule?.filters ?? {}),
    row: (v) => {
      const [key, value] = (v as [string, string] | undefined) ?? ['', ''];
      return [
        h('input', {
          name: 'filter-key',
          list: filterKeys.id,
          value: key,
          placeholder: 'space',
          'aria-label': 'Filter name',
        }),
        h('span', {}, '='),
        h('input', { name: 'filter-value', value, placeholder: 'support', 'aria-label': 'Filter value' }),
      ];
    },
  });

  // Receivers of this rule; the project's defaults (Settings) apply too unless unticked.
  const receivers = rows({
    testId: 'receivers',
    add: 'Add receiver',
    initial: rule?.receivers ?? [],
    row: (v) => {
      const r = v as Receiver | undefined;
      return [
        h(
          'select',
          { name: 'receiver-type', 'aria-label': 'Receiver type' },
          ['webhook', 'alertmanager'].map((t) =>
            h('option', { value: t, selected: t === (r?.type ?? 'webhook') }, t),
          ),
        ),
        h('input', {
          name: 'receiver-url',
          type: 'url',
          value: r?.url ?? '',
          placeholder: 'https://hooks.example.com/vigil',
          'aria-label': 'Receiver URL',
          size: 36,
        }),
        h('input', {
          name: 'receiver-secret',
          type: 'password',
          autocomplete: 'off',
          placeholder: r?.secretSet ? 'secret set (kept)' : 'signing secret (webhook, optional)',
          'aria-label': 'Receiver secret',
        }),
      ];
    },
  });
  const useDefaults = h('input', {
    type: 'checkbox',
    name: 'useDefaultReceivers',
    checked: rule?.useDefaultReceivers ?? true,
  });

  return h(
    'form',
    {
      class: 'card rule-editor',
      'data-rule-editor': rule?.id ?? 'new',
      onsubmit: async (ev: Event) => {
        ev.preventDefault();
        // An earlier rule's saved message is not about this one.
        flash = null;
        document.querySelector('[data-saved]')?.remove();
        const form = ev.currentTarget as HTMLFormElement;
        const val = (n: string) => (form.elements.namedItem(n) as HTMLInputElement).value.trim();
        const input = (row: HTMLElement, n: string) =>
          (row.querySelector(`[name="${n}"]`) as HTMLInputElement | HTMLSelectElement).value.trim();
        const body: Record<string, unknown> = {
          // A PUT replaces the rule: what this form does not edit goes back as it was.
          ...(rule ? kept(rule) : {}),
          name: val('name'),
          metric: metric.value.trim(),
          operator: operator.value,
          threshold: Number(val('threshold')),
          severity: severity.value,
          filters: Object.fromEntries(
            filters
              .rows()
              .map((row) => [input(row, 'filter-key'), input(row, 'filter-value')])
              .filter(([k]) => k),
          ),
          // A receiver sent back without its secret keeps the stored one.
          receivers: receivers
            .rows()
            .map((row) => ({
              type: input(row, 'receiver-type'),
              url: input(row, 'receiver-url'),
              secret: input(row, 'receiver-secret'),
            }))
            .filter((r) => r.url)
            .map(({ secret, ...r }) => (secret ? { ...r, secret } : r)),
          useDefaultReceivers: useDefaults.checked,
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
          onSaved(String(body.name));
        } catch (err) {
          note.textContent = err instanceof Error ? err.message : String(err);
          note.classList.add('error');
        }
      },
    },
    h('h3', {}, rule ? `Edit rule ${rule.name}` : 'New rule'),
    h(
      'datalist',
      { id: 'alert-metrics' },
      catalog.map((m) => h('option', { value: m.name }, m.group)),
    ),
    filterKeys,
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
    h('h4', {}, 'Filters'),
    filters.el,
    filterHint,
    h('h4', {}, 'Receivers'),
    receivers.el,
    h(
      'label',
      { class: 'check' },
      useDefaults,
      " Also notify the project's default receivers (PUT /api/alerts/receivers)",
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
      flash = null;
      await api('POST', path, payload);
      ctx.setParams({}); // drawn again with the new state; the URL stays as it was
    };
    // Active alerts have no resolved time (the column would be empty); past ones no actions.
    const row = (a: Alert, actions: boolean, active: boolean) =>
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
        h('td', {}, h('code', {}, condition(a))),
        h('td', { class: 'num' }, a.actualValue === null ? '—' : f.decimal(a.actualValue)),
        h('td', {}, a.severity),
        h(
          'td',
          {},
          a.triggeredAt
            ? f.dateTime(a.triggeredAt)
            : `${active ? 'pending since' : 'never fired; pending from'} ${f.dateTime(a.startedAt)}`,
        ),
        active ? null : h('td', {}, a.resolvedAt ? f.dateTime(a.resolvedAt) : '—'),
        h('td', {}, a.message),
        actions
          ? h(
              'td',
              { class: 'alert-actions' },
              a.acknowledgedAt
                ? h(
                    'span',
                    { class: 'muted', 'data-acked-by': actor(a.acknowledgedBy) },
                    `acknowledged by ${actor(a.acknowledgedBy)}, ${f.dateTime(a.acknowledgedAt)}`,
                  )
                : h(
                    'button',
                    {
                      type: 'button',
                      onclick: () => act(`/api/metrics/alerts/${encodeURIComponent(a.alertId)}/ack`),
                    },
                    'Acknowledge',
                  ),
              a.silencedUntil
                ? h(
                    'span',
                    { class: 'muted', 'data-silenced': '' },
                    `silenced until ${f.dateTime(a.silencedUntil)}`,
                  )
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
    // History is what is over: the active alerts are listed above, not twice.
    const activeIds = new Set(body.active.map((a) => a.alertId));
    const past = body.history.filter((a) => !activeIds.has(a.alertId));
    const head = (actions: boolean, active: boolean) =>
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
            ...(active ? [] : ['resolved']),
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
              'div',
              { class: 'table-scroll' },
              h(
                'table',
                { class: 'data', 'data-table': 'activeAlerts' },
                head(admin, true),
                h(
                  'tbody',
                  {},
                  body.active.map((a) => row(a, admin, true)),
                ),
              ),
            )
          : h('p', { class: 'muted', 'data-table': 'activeAlerts' }, 'Nothing is firing.'),
      ),
      card(
        `History (${past.length})`,
        past.length
          ? h(
              'div',
              { class: 'table-scroll' },
              h(
                'table',
                { class: 'data', 'data-table': 'alertHistory' },
                head(false, false),
                h(
                  'tbody',
                  {},
                  past.map((a) => row(a, false, false)),
                ),
              ),
            )
          : h(
              'p',
              { class: 'muted', 'data-table': 'alertHistory' },
              body.active.length ? 'No earlier alerts.' : 'No alert has fired yet.',
            ),
      ),
    );
  });
  const saved = flash && Date.now() < flash.until ? flash.text : null;
  root.append(
    pageHeader(
      'Alerts',
      'Rules are evaluated off the ingest path; a rule fires after its number of consecutive violations.',
    ),
    ...(saved ? [h('div', { class: 'notice ok', role: 'status', 'data-saved': '' }, saved)] : []),
    state.el,
  );
  const waits = [state.done];
  if (ctx.me.role === 'admin') {
    const selected = ctx.params.get('rule');
    const rules = slot(async () => {
      {
        let body: unknown;
        let catalog: MetricInfo[];
        try {
          [body, catalog] = await Promise.all([
            get<unknown>('/api/alerts/rules', { project }),
            get<{ metrics: MetricInfo[] }>('/api/alerts/metrics').then((r) => r.metrics),
          ]);
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
                  [
                    'name',
                    'condition',
                    'window',
                    'consecutive',
                    'severity',
                    'receivers',
                    'status',
                    'last value',
                    '',
                  ].map((t) => h('th', {}, t)),
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
                    h('td', {}, h('code', {}, condition(r))),
                    h('td', {}, String(r.window ?? '—')),
                    h('td', {}, String(r.consecutive ?? '—')),
                    h('td', {}, String(r.severity ?? '—')),
                    h(
                      'td',
                      {},
                      [
                        ...(r.receivers ?? []).map((x) => `${x.type} ${new URL(x.url).host}`),
                        ...(r.useDefaultReceivers === false ? [] : ['project defaults']),
                      ].join(', ') || '—',
                    ),
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
                      h(
                        'button',
                        {
                          type: 'button',
                          onclick: () => {
                            flash = null;
                            ctx.setParams({ rule: r.id });
                          },
                        },
                        'Edit',
                      ),
                      ' ',
                      h(
                        'button',
                        {
                          type: 'button',
                          class: 'danger',
                          onclick: async () => {
                            if (!confirm(`Delete rule ${r.name}?`)) return;
                            flash = null;
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
          ruleForm(editing, catalog, (name) => {
            flash = { text: `Saved rule “${name}”.`, until: Date.now() + 10_000 };
            ctx.setParams({ rule: null });
          }),
        );
      }
    });
    root.append(rules.el);
    waits.push(rules.done);
  }
  await Promise.all(waits);
};
