import { get } from '../api.js';
import { h } from '../dom.js';
import * as f from '../format.js';
import type { Current, DecisionSummary, MetricPoint } from '../types.js';
import { firstEvent, grid, pageHeader, slot, stat, type View } from '../ui.js';

const DAY = 86_400_000;

/** The key-number reads of the Overview, so the page can start them before it draws the view. */
type Read = [path: string, params: Record<string, string>];

export function overviewReads(project: string): [Read, Read, Read, Read] {
  return [
    ['/api/metrics/current', { window: 'week', project }],
    ['/api/metrics/current', { window: 'month', project }],
    ['/api/decisions/summary', { window: '7d', project }],
    ['/api/decisions/summary', { window: '30d', project }],
  ];
}

/**
 * Key numbers of the last 7 and 30 days. The 7-day trend compares the week with the 30-day
 * level (per day for counts); the 30-day row carries the daily series. Numbers paint first.
 */
export const overview: View = async (root, ctx) => {
  const p = ctx.project;
  const [wk, mo, s7, s30] = overviewReads(p);
  const week = get<Current>(...wk);
  const month = get<Current>(...mo);
  const d7 = get<DecisionSummary>(...s7);
  const d30 = get<DecisionSummary>(...s30);

  const rows = slot(async () => {
    const [w, m, a, b] = await Promise.all([week, month, d7, d30]);
    const vsMonth = (x: number | null, y: number | null, perDay = false) =>
      f.change(perDay && x !== null ? x / 7 : x, perDay && y !== null ? y / 30 : y);
    const llmRow = (c: Current, key: '7d' | '30d', other?: Current) => {
      const t = (
        now: number | null,
        ref: number | null | undefined,
        better: 'up' | 'down' | 'none',
        perDay = false,
      ) =>
        other ? { change: vsMonth(now, ref ?? null, perDay), better, note: 'vs 30-day level' } : undefined;
      return [
        stat({
          label: 'LLM requests',
          value: f.count(c.requestRate.total),
          raw: c.requestRate.total,
          metric: `${key}.requests`,
          trend: t(c.requestRate.total, other?.requestRate.total, 'none', true),
        }),
        stat({
          label: 'Latency p95',
          value: f.ms(c.totalLatency.p95),
          raw: c.totalLatency.p95,
          metric: `${key}.p95`,
          trend: t(c.totalLatency.p95, other?.totalLatency.p95, 'down'),
        }),
        stat({
          label: 'Error rate',
          value: f.percent(c.errors.totalErrorRate),
          raw: c.errors.totalErrorRate,
          metric: `${key}.errorRate`,
          trend: t(c.errors.totalErrorRate, other?.errors.totalErrorRate, 'down'),
        }),
        stat({
          label: 'Tokens',
          value: f.count(c.tokens.totalTokens),
          raw: c.tokens.totalTokens,
          metric: `${key}.tokens`,
          trend: t(c.tokens.totalTokens, other?.tokens.totalTokens, 'none', true),
        }),
        stat({
          label: 'Cache hit rate',
          value: f.percent(c.cacheHitRate.overall),
          raw: c.cacheHitRate.overall,
          metric: `${key}.cacheHitRate`,
          trend: t(c.cacheHitRate.overall, other?.cacheHitRate.overall, 'up'),
        }),
      ];
    };
    const decisionRow = (d: DecisionSummary, key: '7d' | '30d', other?: DecisionSummary) => {
      const t = (now: number | null, ref: number | null | undefined, better: 'up' | 'down') =>
        other ? { change: vsMonth(now, ref ?? null), better, note: 'vs 30-day level' } : undefined;
      return [
        stat({
          label: 'Acceptance',
          value: f.percent(d.acceptanceRate),
          raw: d.acceptanceRate,
          metric: `${key}.acceptanceRate`,
          trend: t(d.acceptanceRate, other?.acceptanceRate, 'up'),
        }),
        stat({
          label: 'Overrides',
          value: f.percent(d.overrideRate),
          raw: d.overrideRate,
          metric: `${key}.overrideRate`,
          trend: t(d.overrideRate, other?.overrideRate, 'down'),
        }),
        stat({
          label: 'Decision time',
          value: f.ms(d.averageDecisionTimeMs),
          raw: d.averageDecisionTimeMs,
          metric: `${key}.decisionTime`,
          trend: t(d.averageDecisionTimeMs, other?.averageDecisionTimeMs, 'down'),
        }),
        stat({
          label: 'False positives',
          value: f.percent(d.falsePositiveRate),
          raw: d.falsePositiveRate,
          metric: `${key}.falsePositiveRate`,
          trend: t(d.falsePositiveRate, other?.falsePositiveRate, 'down'),
        }),
      ];
    };
    const empty =
      m.requestRate.total === 0 &&
      b.counts.viewed + b.counts.accepted + b.counts.ignored + b.counts.overridden === 0;
    const teach = empty
      ? firstEvent(ctx, 'events', {
          type: 'llm.request',
          props: { total_ms: 820, llm_ms: 700, prompt_tokens: 512, completion_tokens: 128, model: 'gpt-4o' },
        })
      : null;
    const out = h(
      'div',
      { 'data-ready': 'numbers' },
      teach,
      h('h3', { class: 'row-title' }, 'Last 7 days'),
      grid('stats', llmRow(w, '7d', m), decisionRow(a, '7d', b)),
      h('h3', { class: 'row-title' }, 'Last 30 days'),
      grid('stats', llmRow(m, '30d'), decisionRow(b, '30d')),
    );
    // The test reads this mark: the key numbers are in the document from here on.
    requestAnimationFrame(() => performance.mark('vigil:overview-numbers'));
    return out;
  });

  // The store reads one query at a time: the daily series wait until the key numbers are in.
  const trends = slot(async () => {
    await rows.done;
    const health = get<{ latest: { isHealthy: boolean; date: string } | null }>('/api/health/summary', {
      project: p,
    }).catch(() => null);
    const start = Math.floor(Date.now() / DAY) * DAY - 29 * DAY;
    const series = (type: string) =>
      get<MetricPoint[]>('/api/metrics/historical', { type, aggregation: 'day', start, project: p });
    const [req, tok, err] = await Promise.all([
      series('requestRate'),
      series('totalTokens'),
      series('errorRate'),
    ]);
    const requests = req.map((pt) => Number(pt.metadata.requests ?? 0));
    const sum = (xs: number[]) => xs.reduce((s, x) => s + x, 0);
    const last7 = sum(requests.slice(-7));
    const prev7 = sum(requests.slice(-14, -7));
    return grid(
      'stats',
      stat({
        label: 'Requests per day, 30 days',
        value: f.count(requests.at(-1) ?? 0),
        raw: requests.at(-1) ?? 0,
        metric: 'daily.requests',
        trend: { change: f.change(last7, prev7), better: 'none', note: 'last 7 days vs the 7 before' },
        spark: requests,
      }),
      stat({
        label: 'Tokens per day, 30 days',
        value: f.count(tok.at(-1)?.value ?? 0),
        raw: tok.at(-1)?.value ?? 0,
        metric: 'daily.tokens',
        spark: tok.map((pt) => pt.value),
      }),
      stat({
        label: 'Error rate per day, 30 days',
        value: f.percent(err.at(-1)?.value ?? null),
        raw: err.at(-1)?.value ?? null,
        metric: 'daily.errorRate',
        spark: err.map((pt) => pt.value),
      }),
      h(
        'div',
        { class: 'stat' },
        h('div', { class: 'stat-label' }, 'Telemetry health'),
        h(
          'div',
          { class: 'stat-value small', 'data-metric': 'health' },
          await health.then((s) =>
            !s?.latest
              ? 'no snapshot yet'
              : s.latest.isHealthy
                ? `healthy (${s.latest.date})`
                : `flagged (${s.latest.date})`,
          ),
        ),
        h('a', { href: '#/health', 'data-nav': 'health' }, 'Health →'),
      ),
    );
  });
  root.append(
    pageHeader(
      'Overview',
      'The last 7 and 30 days at a glance; today is the last point of each daily series.',
    ),
    rows.el,
    h('h3', { class: 'row-title' }, 'Daily trends'),
    trends.el,
  );
  await Promise.all([rows.done, trends.done]);
};
