import { api, get } from '../api.js';
import { h } from '../dom.js';
import { card, pageHeader, slot, type View } from '../ui.js';
import { listOf, recordTable, unavailable } from './generic.js';

/** Infrastructure: collector status, agents and containers, versions in use (from /telemetry/status). */
export const infrastructure: View = async (root, ctx) => {
  const status = slot(async () => {
    try {
      const body = await get<Record<string, unknown>>('/telemetry/status');
      const sections = Object.entries(body).filter(([, v]) => Array.isArray(v) && v.length > 0) as [
        string,
        Record<string, unknown>[],
      ][];
      const scalars = Object.entries(body).filter(([, v]) => v === null || typeof v !== 'object');
      return h(
        'div',
        { 'data-infra': 'status' },
        scalars.length
          ? h(
              'dl',
              { class: 'kv card' },
              scalars.map(([k, v]) => [h('dt', {}, k), h('dd', {}, String(v))]),
            )
          : null,
        sections.length === 0
          ? h(
              'p',
              { class: 'muted' },
              'No collector has reported yet. Add collectors in the config file or with POST /api/collectors.',
            )
          : null,
        sections.map(([name, rows]) => card(name, recordTable(rows, { testId: `infra-${name}` }))),
      );
    } catch (err) {
      return unavailable(err, 'Infrastructure telemetry');
    }
  });
  root.append(
    pageHeader('Infrastructure', 'Collectors, agents, containers and the versions they run.'),
    status.el,
  );
  const waits = [status.done];
  if (ctx.me.role === 'admin') {
    const note = h('span', { class: 'muted', role: 'status' });
    const collectors = slot(async () => {
      try {
        const body = await get<unknown>('/api/collectors');
        return card(
          'Collectors',
          recordTable(listOf(body, 'collectors'), {
            columns: ['name', 'type', 'url', 'intervalMs', 'timeoutMs', 'lastRun', 'status'],
            testId: 'collectors',
          }),
          h(
            'div',
            { class: 'toolbar' },
            h(
              'button',
              {
                type: 'button',
                class: 'primary',
                onclick: async () => {
                  note.textContent = 'Collecting…';
                  try {
                    await api('POST', '/telemetry/collect', {});
                    ctx.setParams({ collected: String(Date.now()) });
                  } catch (err) {
                    note.textContent = err instanceof Error ? err.message : String(err);
                  }
                },
              },
              'Collect now',
            ),
            note,
          ),
        );
      } catch (err) {
        return unavailable(err, 'The collector API');
      }
    });
    root.append(collectors.el);
    waits.push(collectors.done);
  }
  await Promise.all(waits);
};
