import { get, query } from '../api.js';
import { bars, timeChart } from '../chart.js';
import { h } from '../dom.js';
import * as f from '../format.js';
import { bounds, bucketOf } from '../range.js';
import type { DecisionSummary } from '../types.js';
import { grid, pageHeader, slot, stat, type View } from '../ui.js';
import { outcomeBars } from './decisions.js';
import { eventLog } from './events.js';

const outcomeLog = eventLog({
  title: 'Recent outcomes',
  subtitle: 'decision.outcome events in the range, newest first.',
  fixedType: 'decision.outcome',
  emptyWhat: 'outcomes',
  example: {
    type: 'decision.outcome',
    props: { signal_id: 'sig_1', outcome_status: 'confirmed', resolution_time_hours: 3.5 },
  },
});

/** Signal outcomes: the distribution over 7 and 30 days, resolution time and outcomes over the range. */
export const outcomes: View = async (root, ctx) => {
  const project = ctx.project;
  const { from, to } = bounds(ctx.range);
  const bucket = bucketOf(ctx.range);
  const numbers = slot(async () => {
    const [a, b, byStatus, avg, p50, p95] = await Promise.all([
      get<DecisionSummary>('/api/decisions/summary', { window: '7d', project }),
      get<DecisionSummary>('/api/decisions/summary', { window: '30d', project }),
      query({ project, type: 'decision.outcome', aggregate: 'count', from, to, groupBy: ['outcome_status'] }),
      query({
        project,
        type: 'decision.outcome',
        field: 'resolution_time_hours',
        aggregate: 'avg',
        from,
        to,
      }),
      query({
        project,
        type: 'decision.outcome',
        field: 'resolution_time_hours',
        aggregate: 'p50',
        from,
        to,
      }),
      query({
        project,
        type: 'decision.outcome',
        field: 'resolution_time_hours',
        aggregate: 'p95',
        from,
        to,
      }),
    ]);
    const value = (r: typeof avg) => r.series[0]?.points[0]?.value ?? null;
    const inRange = byStatus.series.map((s) => ({
      label: s.group.outcome_status ?? '(none)',
      value: s.points[0]?.value ?? 0,
    }));
    const total = inRange.reduce((s, r) => s + r.value, 0);
    return h(
      'div',
      {},
      grid(
        'stats',
        stat({ label: 'Outcomes in range', value: f.count(total), raw: total, metric: 'outcomes.total' }),
        stat({
          label: 'Avg resolution',
          value: f.hours(value(avg)),
          raw: value(avg),
          metric: 'outcomes.avgResolution',
        }),
        stat({
          label: 'Median resolution',
          value: f.hours(value(p50)),
          raw: value(p50),
          metric: 'outcomes.p50Resolution',
        }),
        stat({
          label: 'p95 resolution',
          value: f.hours(value(p95)),
          raw: value(p95),
          metric: 'outcomes.p95Resolution',
        }),
        stat({
          label: 'False positives, 30 d',
          value: f.percent(b.falsePositiveRate),
          raw: b.falsePositiveRate,
          metric: 'outcomes.falsePositiveRate',
        }),
      ),
      grid(
        'thirds',
        bars({
          title: 'Outcomes in the range',
          testId: 'outcomesRange',
          rows: inRange.sort((x, y) => y.value - x.value).map((r) => ({ ...r, display: f.count(r.value) })),
          empty: 'No outcomes in this range.',
        }),
        outcomeBars('Last 7 days', a, 'outcomes7d'),
        outcomeBars('Last 30 days', b, 'outcomes30d'),
      ),
    );
  });
  const chart = slot(async () => {
    const r = await query({
      project,
      type: 'decision.outcome',
      aggregate: 'count',
      from,
      to,
      bucket,
      groupBy: ['outcome_status'],
    });
    const x = (r.series[0]?.points ?? []).map((p) => Date.parse(p.timestamp));
    return timeChart({
      title: `Outcomes per ${bucket}, by status`,
      testId: 'outcomesOverTime',
      x,
      lines: r.series.map((s) => ({
        label: s.group.outcome_status ?? '(none)',
        values: s.points.map((p) => p.value),
      })),
      format: f.count,
    });
  });
  root.append(
    pageHeader(
      'Outcomes',
      'What became of the signals: confirmed, false positives and the rest, and how long resolution took.',
    ),
    numbers.el,
    chart.el,
  );
  const log = h('div', {});
  root.append(log);
  await Promise.all([numbers.done, chart.done, outcomeLog(log, ctx)]);
};
