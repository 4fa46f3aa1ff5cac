import { get, query } from '../api.js';
import { bars, timeChart } from '../chart.js';
import { h } from '../dom.js';
import * as f from '../format.js';
import { bounds, bucketOf } from '../range.js';
import type { DecisionStats, DecisionSummary } from '../types.js';
import { card, firstEvent, grid, pageHeader, slot, stat, table, type View } from '../ui.js';

function statRow(d: DecisionStats, key: string) {
  return grid(
    'stats',
    stat({
      label: 'Acceptance rate',
      value: f.percent(d.acceptanceRate),
      raw: d.acceptanceRate,
      metric: `${key}.acceptanceRate`,
    }),
    stat({
      label: 'Override rate',
      value: f.percent(d.overrideRate),
      raw: d.overrideRate,
      metric: `${key}.overrideRate`,
    }),
    stat({
      label: 'Avg decision time',
      value: f.ms(d.averageDecisionTimeMs),
      raw: d.averageDecisionTimeMs,
      metric: `${key}.decisionTime`,
    }),
    stat({
      label: 'False-positive rate',
      value: f.percent(d.falsePositiveRate),
      raw: d.falsePositiveRate,
      metric: `${key}.falsePositiveRate`,
    }),
    stat({
      label: 'Acted on',
      value: f.count(d.counts.accepted + d.counts.overridden + d.counts.ignored),
      raw: d.counts.accepted + d.counts.overridden + d.counts.ignored,
      metric: `${key}.actedOn`,
    }),
    stat({
      label: 'Outcomes',
      value: f.count(d.counts.outcomes),
      raw: d.counts.outcomes,
      metric: `${key}.outcomes`,
    }),
  );
}

export function outcomeBars(title: string, d: DecisionStats, testId: string) {
  const total = Object.values(d.outcomeDistribution).reduce((s, v) => s + v, 0);
  return bars({
    title,
    testId,
    rows: Object.entries(d.outcomeDistribution)
      .sort((a, b) => b[1] - a[1])
      .map(([label, value]) => ({
        label,
        value,
        display: `${f.count(value)} (${f.percent(total ? (value / total) * 100 : null)})`,
      })),
    empty: 'No outcomes in this window.',
  });
}

function comparison(summary: DecisionSummary, dimension: string) {
  const rows = Object.entries(summary.groups ?? {});
  return card(
    `By ${dimension.replace('_', ' ')} (${summary.window})`,
    rows.length === 0
      ? h('p', { class: 'muted' }, 'No decisions in this window.')
      : table(
          [
            dimension.replace('_', ' '),
            'acted on',
            'acceptance',
            'override',
            'decision time',
            'false positives',
            'outcomes',
          ],
          rows.map(([name, g]) => [
            name,
            f.count(g.counts.accepted + g.counts.overridden + g.counts.ignored),
            f.percent(g.acceptanceRate),
            f.percent(g.overrideRate),
            f.ms(g.averageDecisionTimeMs),
            f.percent(g.falsePositiveRate),
            f.count(g.counts.outcomes),
          ]),
          { 'data-table': dimension },
        ),
  );
}

/**
 * Decision telemetry: acceptance, overrides, decision time, false positives and outcomes over 7
 * and 30 days, compared by recommendation type and by explanation version (algorithm versions).
 */
export const decisions: View = async (root, ctx) => {
  const project = ctx.project;
  const window =
    ctx.params.get('window') === '7d'
      ? '7d'
      : ctx.params.get('window') === '30d'
        ? '30d'
        : ctx.range.preset === '30d'
          ? '30d'
          : '7d';
  const s7 = get<DecisionSummary>('/api/decisions/summary', { window: '7d', project });
  const s30 = get<DecisionSummary>('/api/decisions/summary', { window: '30d', project });
  const byType = get<DecisionSummary>('/api/decisions/summary', {
    window,
    groupBy: 'recommendation_type',
    project,
  });
  const byVersion = get<DecisionSummary>('/api/decisions/summary', {
    window,
    groupBy: 'explanation_version',
    project,
  });

  const top = slot(async () => {
    const [a, b] = await Promise.all([s7, s30]);
    if (
      b.counts.viewed + b.counts.accepted + b.counts.overridden + b.counts.ignored + b.counts.outcomes ===
      0
    ) {
      return firstEvent(ctx, 'decisions', {
        type: 'decision.recommendation',
        props: {
          action: 'accept',
          signal_id: 'sig_1',
          recommendation_type: 'suspend_account',
          confidence: 0.82,
          decision_time_ms: 5400,
          admin_user: 'adm_1',
          explanation_version: 'v2',
        },
      });
    }
    return h(
      'div',
      {},
      h('h3', { class: 'row-title' }, 'Last 7 days'),
      statRow(a, '7d'),
      h('h3', { class: 'row-title' }, 'Last 30 days'),
      statRow(b, '30d'),
      grid(
        'halves',
        outcomeBars('Outcomes, last 7 days', a, 'outcomes7d'),
        outcomeBars('Outcomes, last 30 days', b, 'outcomes30d'),
      ),
    );
  });

  const compare = slot(async () => {
    const [t, v] = await Promise.all([byType, byVersion]);
    const pick = (w: '7d' | '30d') =>
      h(
        'button',
        {
          type: 'button',
          class: w === window ? 'chip active' : 'chip',
          onclick: () => ctx.setParams({ window: w }),
        },
        w,
      );
    return h(
      'div',
      {},
      h('div', { class: 'toolbar' }, h('span', { class: 'muted' }, 'Compare over'), pick('7d'), pick('30d')),
      comparison(t, 'recommendation_type'),
      comparison(v, 'explanation_version'),
    );
  });

  const { from, to } = bounds(ctx.range);
  const bucket = bucketOf(ctx.range);
  const trend = slot(async () => {
    const [n, avg, p95] = await Promise.all([
      query({ project, type: 'decision.recommendation', aggregate: 'count', from, to, bucket }),
      query({
        project,
        type: 'decision.recommendation',
        field: 'decision_time_ms',
        aggregate: 'avg',
        from,
        to,
        bucket,
      }),
      query({
        project,
        type: 'decision.recommendation',
        field: 'decision_time_ms',
        aggregate: 'p95',
        from,
        to,
        bucket,
      }),
    ]);
    const pts = n.series[0]?.points ?? [];
    const x = pts.map((p) => Date.parse(p.timestamp));
    return grid(
      'halves',
      timeChart({
        title: `Recommendation events per ${bucket}`,
        testId: 'decisionCount',
        x,
        lines: [{ label: 'events', values: pts.map((p) => p.value) }],
        format: f.count,
      }),
      timeChart({
        title: 'Decision time',
        testId: 'decisionTime',
        x,
        lines: [
          { label: 'avg', values: (avg.series[0]?.points ?? []).map((p) => p.value) },
          { label: 'p95', values: (p95.series[0]?.points ?? []).map((p) => p.value) },
        ],
        format: f.ms,
      }),
    );
  });

  root.append(
    pageHeader(
      'Decisions',
      'How admins act on recommendations, and how the algorithm versions compare. Views are not actions: rates are over accept + override + ignore.',
    ),
    top.el,
    compare.el,
    h('h3', { class: 'row-title' }, `Over the selected range`),
    trend.el,
  );
  await Promise.all([top.done, compare.done, trend.done]);
};
