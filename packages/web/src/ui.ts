import { api, type Me } from './api.js';
import { type Child, h } from './dom.js';
import type { Range } from './range.js';

/** What every view gets: the range, the caller, its URL parameters and a way to change them. */
export interface ViewContext {
  range: Range;
  me: Me;
  project: string;
  params: URLSearchParams;
  /** Changes view parameters in the URL (null removes one); the view is drawn again. */
  setParams(changes: Record<string, string | null>): void;
}

export type View = (root: HTMLElement, ctx: ViewContext) => Promise<void>;

/** One key number. `metric` names it for tests; `raw` is the API's value behind the text. */
export function stat(options: {
  label: string;
  value: string;
  metric: string;
  raw: number | null | undefined;
  trend?: { change: number | null; better: 'up' | 'down' | 'none'; note: string } | undefined;
  spark?: (number | null)[] | undefined;
}): HTMLElement {
  const { trend } = options;
  let trendEl: Child = null;
  if (trend && trend.change !== null) {
    const up = trend.change > 0;
    const good =
      trend.better === 'none' || Math.abs(trend.change) < 0.5
        ? 'flat'
        : up === (trend.better === 'up')
          ? 'good'
          : 'bad';
    trendEl = h(
      'span',
      { class: `trend ${good}`, title: trend.note },
      `${up ? '▲' : trend.change < 0 ? '▼' : '■'} ${Math.abs(trend.change).toFixed(1)}% `,
      h('span', { class: 'muted' }, trend.note),
    );
  }
  return h(
    'div',
    { class: 'stat', 'data-metric': options.metric, 'data-raw': options.raw ?? '' },
    h('div', { class: 'stat-label' }, options.label),
    h('div', { class: options.value.length > 12 ? 'stat-value small' : 'stat-value' }, options.value),
    trendEl,
    options.spark ? sparkline(options.spark) : null,
  );
}

function sparkline(values: (number | null)[]): SVGElement {
  const ns = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(ns, 'svg');
  svg.setAttribute('class', 'spark');
  svg.setAttribute('viewBox', '0 0 100 24');
  svg.setAttribute('preserveAspectRatio', 'none');
  const nums = values.map((v) => v ?? 0);
  const max = Math.max(...nums, 0);
  if (nums.length > 1 && max > 0) {
    const path = document.createElementNS(ns, 'polyline');
    path.setAttribute(
      'points',
      nums
        .map((v, i) => `${((i / (nums.length - 1)) * 100).toFixed(1)},${(22 - (v / max) * 20).toFixed(1)}`)
        .join(' '),
    );
    svg.append(path);
  }
  return svg;
}

export function card(title: string, ...children: Child[]): HTMLElement {
  return h('section', { class: 'card' }, h('h3', {}, title), ...children);
}

export function grid(cls: string, ...children: Child[]): HTMLElement {
  return h('div', { class: `grid ${cls}` }, ...children);
}

export function pageHeader(title: string, subtitle: string): HTMLElement {
  return h('header', { class: 'page-header' }, h('h2', {}, title), h('p', { class: 'muted' }, subtitle));
}

export function failure(err: unknown): HTMLElement {
  const message = err instanceof Error ? err.message : String(err);
  return h('div', { class: 'notice error', role: 'alert' }, message);
}

/** A section that shows "loading" until its data arrives, then its content (or the error). */
export function slot(build: () => Promise<Child>, cls = ''): { el: HTMLElement; done: Promise<void> } {
  const el = h(
    'div',
    { class: `slot ${cls}`, 'aria-busy': 'true' },
    h('div', { class: 'loading' }, 'Loading…'),
  );
  const done = build().then(
    (content) => {
      el.replaceChildren();
      if (content !== null && content !== undefined && content !== false) {
        if (Array.isArray(content)) for (const c of content) if (c instanceof Node) el.append(c);
        if (content instanceof Node) el.append(content);
        else if (typeof content === 'string') el.append(content);
      }
      el.removeAttribute('aria-busy');
    },
    (err: unknown) => {
      el.replaceChildren(failure(err));
      el.removeAttribute('aria-busy');
    },
  );
  return { el, done };
}

export function table(headers: string[], rows: Child[][], attrs: Record<string, string> = {}): HTMLElement {
  return h(
    'table',
    { class: 'data', ...attrs },
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        headers.map((t) => h('th', {}, t)),
      ),
    ),
    h(
      'tbody',
      {},
      rows.map((r) =>
        h(
          'tr',
          {},
          r.map((c) => h('td', {}, c)),
        ),
      ),
    ),
  );
}

/**
 * The empty state that teaches: how to send the first event to this server, with curl and with
 * the SDK. An admin can create an ingest key right here; it is shown once, inside the snippets.
 */
export function firstEvent(
  ctx: ViewContext,
  what: string,
  example: { type: string; props: Record<string, unknown> },
): HTMLElement {
  const endpoint = location.origin;
  const keyText = (key: string) => key;
  const curl = (key: string) =>
    `curl -X POST ${endpoint}/v1/events \\\n  -H 'Authorization: Bearer ${keyText(key)}' -H 'Content-Type: application/json' \\\n  -d '${JSON.stringify({ events: [{ type: example.type, version: '1.0.0', props: example.props }] })}'`;
  const sdk = (key: string) =>
    `import { createClient } from '@vigil/sdk';\n\nconst vigil = createClient({ endpoint: '${endpoint}', key: '${keyText(key)}', version: '1.0.0' });\nvigil.track('${example.type}', ${JSON.stringify(example.props)});`;
  const curlPre = h('pre', { class: 'snippet', 'data-snippet': 'curl' }, curl('<ingest key>'));
  const sdkPre = h('pre', { class: 'snippet', 'data-snippet': 'sdk' }, sdk('<ingest key>'));
  const keyNote = h('p', { class: 'muted' });
  let action: Child = h('p', { class: 'muted' }, 'Ask an admin for an ingest key (Settings → API keys).');
  if (ctx.me.role === 'admin') {
    const button = h(
      'button',
      {
        class: 'primary',
        type: 'button',
        onclick: async () => {
          button.setAttribute('disabled', '');
          try {
            const created = await api<{ key: string }>('POST', '/api/keys', {
              role: 'ingest',
              name: 'first events',
              project: ctx.project,
            });
            curlPre.textContent = curl(created.key);
            sdkPre.textContent = sdk(created.key);
            keyNote.textContent = 'A new ingest key is in the snippets above. It is shown only now: copy it.';
            button.remove();
          } catch (err) {
            keyNote.textContent = err instanceof Error ? err.message : String(err);
            button.removeAttribute('disabled');
          }
        },
      },
      'Create an ingest key for these snippets',
    );
    action = button;
  }
  return h(
    'section',
    { class: 'card empty', 'data-empty': what },
    h('h3', {}, `No ${what} yet`),
    h('p', {}, `Send a first ${example.type} event to ${endpoint} and it shows up here within a second.`),
    h('h4', {}, 'With curl'),
    curlPre,
    h('h4', {}, 'With the SDK (Node or browser)'),
    sdkPre,
    action,
    keyNote,
  );
}
