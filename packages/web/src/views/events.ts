import { get } from '../api.js';
import { h } from '../dom.js';
import * as f from '../format.js';
import { bounds } from '../range.js';
import type { EventView } from '../types.js';
import { card, firstEvent, pageHeader, slot, type View } from '../ui.js';

const TYPES = ['llm.request', 'decision.recommendation', 'decision.outcome', 'admin.view'];

interface TypeCount {
  type: string;
  builtIn: boolean;
  count: number;
}
const PAGE = 50;

/** `user=u_1 space=sp_2` → `prop.user=u_1&prop.space=sp_2` */
export function propFilters(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of text.split(/\s+/)) {
    const eq = part.indexOf('=');
    if (eq > 0) out[`prop.${part.slice(0, eq)}`] = part.slice(eq + 1);
  }
  return out;
}

function summary(e: EventView): string {
  const p = e.props;
  const pick = (...names: string[]) =>
    names
      .filter((n) => p[n] !== undefined && p[n] !== null)
      .map((n) => `${n}=${typeof p[n] === 'object' ? JSON.stringify(p[n]) : String(p[n])}`)
      .join(' ');
  switch (e.type) {
    case 'llm.request':
      return pick('model', 'total_ms', 'prompt_tokens', 'completion_tokens', 'error_type', 'user', 'space');
    case 'decision.recommendation':
      return pick('action', 'recommendation_type', 'signal_id', 'decision_time_ms', 'explanation_version');
    case 'decision.outcome':
      return pick('signal_id', 'outcome_status', 'resolution_time_hours');
    case 'admin.view':
      return pick('view', 'admin_user', 'signal_id');
    default:
      return pick(...Object.keys(p).slice(0, 6));
  }
}

/** The event log: newest first, filtered by type, props and the range; cursor pages; one event's detail. */
export function eventLog(options: {
  title: string;
  subtitle: string;
  fixedType?: string;
  emptyWhat: string;
  example: { type: string; props: Record<string, unknown> };
}): View {
  return async (root, ctx) => {
    const { from, to } = bounds(ctx.range);
    const type = options.fixedType ?? ctx.params.get('type') ?? '';
    const props = ctx.params.get('props') ?? '';
    const cursor = ctx.params.get('cursor') ?? '';
    const back = (ctx.params.get('back') ?? '').split(',').filter(Boolean);
    const selected = ctx.params.get('event');

    const typeInput = h('input', {
      name: 'type',
      list: 'event-types',
      placeholder: 'any type',
      value: type,
      'aria-label': 'Event type',
    });
    // The type suggestions: the built-in types and the project's own, from the server (the
    // built-in ones alone if it cannot say).
    const suggestions = h('datalist', { id: 'event-types' });
    const typesRead = options.fixedType
      ? Promise.resolve()
      : get<{ types: TypeCount[] }>('/api/events/types', { project: ctx.project, from, to }).then(
          (r) => {
            suggestions.replaceChildren(
              ...r.types.map((t) =>
                h(
                  'option',
                  { value: t.type },
                  `${t.builtIn ? 'built-in' : 'custom'} · ${f.count(t.count)} events`,
                ),
              ),
            );
            suggestions.dataset.loaded = 'server';
          },
          () => {
            suggestions.replaceChildren(...TYPES.map((t) => h('option', { value: t })));
            suggestions.dataset.loaded = 'built-in';
          },
        );
    const propInput = h('input', {
      name: 'props',
      placeholder: 'prop=value …',
      value: props,
      'aria-label': 'Property filters',
      size: 28,
    });
    const form = h(
      'form',
      {
        class: 'toolbar filters',
        onsubmit: (ev: Event) => {
          ev.preventDefault();
          ctx.setParams({
            type: options.fixedType ? null : typeInput.value.trim() || null,
            props: propInput.value.trim() || null,
            cursor: null,
            back: null,
            event: null,
          });
        },
      },
      options.fixedType ? null : h('label', {}, 'Type ', typeInput),
      suggestions,
      h('label', {}, 'Props ', propInput),
      h('button', { type: 'submit', class: 'primary' }, 'Filter'),
      h('span', { class: 'muted' }, 'Times in UTC; the range picker bounds the log.'),
    );

    const list = slot(async () => {
      const page = await get<{ events: EventView[]; nextCursor: string | null }>('/api/events', {
        project: ctx.project,
        limit: PAGE,
        from,
        to,
        ...(type ? { type } : {}),
        ...propFilters(props),
        ...(cursor ? { cursor } : {}),
      });
      if (page.events.length === 0 && !cursor && !type && !props)
        return firstEvent(ctx, options.emptyWhat, options.example);
      const detail = page.events.find((e) => e.id === selected);
      return h(
        'div',
        { class: detail ? 'split' : '' },
        h(
          'div',
          {},
          h(
            'table',
            { class: 'data events', 'data-table': 'events' },
            h(
              'thead',
              {},
              h(
                'tr',
                {},
                ['time (UTC)', 'type', 'version', 'summary'].map((t) => h('th', {}, t)),
              ),
            ),
            h(
              'tbody',
              {},
              page.events.length === 0
                ? h('tr', {}, h('td', { colspan: 4, class: 'muted' }, 'No events match.'))
                : null,
              page.events.map((e) =>
                h(
                  'tr',
                  {
                    class: e.id === selected ? 'selected clickable' : 'clickable',
                    'data-event': e.id,
                    tabindex: 0,
                    onclick: () => ctx.setParams({ event: e.id === selected ? null : e.id }),
                  },
                  h('td', { class: 'nowrap' }, f.dateTime(e.ts)),
                  h('td', {}, e.type),
                  h('td', {}, e.version ?? h('span', { class: 'muted' }, 'none')),
                  h('td', { class: 'summary' }, summary(e)),
                ),
              ),
            ),
          ),
          h(
            'div',
            { class: 'toolbar pager' },
            h(
              'button',
              {
                type: 'button',
                disabled: back.length === 0 && !cursor,
                onclick: () =>
                  ctx.setParams({
                    cursor: back.at(-1) || null,
                    back: back.slice(0, -1).join(',') || null,
                    event: null,
                  }),
              },
              '← Newer',
            ),
            h(
              'span',
              { class: 'muted', 'data-page': back.length + (cursor ? 1 : 0) + 1 },
              `Page ${back.length + (cursor ? 1 : 0) + 1} · ${page.events.length} events`,
            ),
            h(
              'button',
              {
                type: 'button',
                disabled: !page.nextCursor,
                onclick: () =>
                  ctx.setParams({
                    cursor: page.nextCursor,
                    back: cursor ? [...back, cursor].join(',') : back.join(',') || null,
                    event: null,
                  }),
              },
              'Older →',
            ),
          ),
        ),
        detail
          ? card(
              'Event',
              h(
                'dl',
                { class: 'kv' },
                [
                  ['id', detail.id],
                  ['type', detail.type],
                  ['time', f.dateTime(detail.ts)],
                  ['received', detail.receivedAt ? f.dateTime(detail.receivedAt) : '—'],
                  ['version', detail.version ?? 'none'],
                  ['late', String(detail.late ?? false)],
                ].map(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]),
              ),
              h('pre', { class: 'snippet', 'data-detail': detail.id }, JSON.stringify(detail.props, null, 2)),
            )
          : null,
      );
    });

    root.append(pageHeader(options.title, options.subtitle), form, list.el);
    await Promise.all([list.done, typesRead]);
  };
}

export const events = eventLog({
  title: 'Event log',
  subtitle: 'Every stored event, newest first. Click a row for its detail.',
  emptyWhat: 'events',
  example: { type: 'app.started', props: { region: 'eu-west-1' } },
});
