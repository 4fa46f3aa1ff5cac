import { query } from '../api.js';
import { bars, timeChart } from '../chart.js';
import { h } from '../dom.js';
import * as f from '../format.js';
import { bounds, bucketOf } from '../range.js';
import { grid, pageHeader, slot, type View } from '../ui.js';
import { eventLog } from './events.js';

const activityLog = eventLog({
  title: 'Recent admin activity',
  subtitle: 'admin.view events in the range, newest first.',
  fixedType: 'admin.view',
  emptyWhat: 'admin activity',
  example: { type: 'admin.view', props: { view: 'dashboard_open', admin_user: 'adm_1' } },
});

/** What admins do in the decision tool: dashboards opened, signal details, explanations, notes. */
export const activity: View = async (root, ctx) => {
  const project = ctx.project;
  const { from, to } = bounds(ctx.range);
  const bucket = bucketOf(ctx.range);
  const summary = slot(async () => {
    const [byView, byUser, overTime] = await Promise.all([
      query({ project, type: 'admin.view', aggregate: 'count', from, to, groupBy: ['view'] }),
      query({ project, type: 'admin.view', aggregate: 'count', from, to, groupBy: ['admin_user'] }),
      query({ project, type: 'admin.view', aggregate: 'count', from, to, bucket, groupBy: ['view'] }),
    ]);
    const rows = (r: typeof byView, key: string) =>
      r.series
        .map((s) => ({ label: s.group[key] ?? '(none)', value: s.points[0]?.value ?? 0 }))
        .sort((a, b) => b.value - a.value)
        .slice(0, 15)
        .map((x) => ({ ...x, display: f.count(x.value) }));
    const x = (overTime.series[0]?.points ?? []).map((p) => Date.parse(p.timestamp));
    return h(
      'div',
      {},
      grid(
        'halves',
        bars({ title: 'By view', testId: 'activityByView', rows: rows(byView, 'view') }),
        bars({ title: 'Most active admins', testId: 'activityByUser', rows: rows(byUser, 'admin_user') }),
      ),
      timeChart({
        title: `Admin views per ${bucket}`,
        testId: 'activityOverTime',
        x,
        lines: overTime.series.map((s) => ({
          label: s.group.view ?? '(none)',
          values: s.points.map((p) => p.value),
        })),
        format: f.count,
      }),
    );
  });
  root.append(
    pageHeader(
      'Admin activity',
      'admin.view events: dashboard opened, signal detail opened, explanation expanded, admin note created. Raw events answer these, so they reach back as far as raw retention.',
    ),
    summary.el,
  );
  const log = h('div', {});
  root.append(log);
  await Promise.all([summary.done, activityLog(log, ctx)]);
};
