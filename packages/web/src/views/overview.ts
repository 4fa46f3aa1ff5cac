import { get } from '../api.js';
import { h } from '../dom.js';
import * as f from '../format.js';
import type { Current, DecisionSummary, MetricPoint } from '../types.js';
import { firstEvent, grid, pageHeader, slot, stat, type View } from '../ui.js';

const DAY = 86_400_000;
/** Fewer days of data than this and growth figures would compare a partial past with a full week. */
const MIN_HISTORY_DAYS = 14;

/** Days from the first day with requests to today, both counted (0 without any). */
export function historyDays(daily: readonly MetricPoint[]): number {
  const first = daily.findIndex((pt) => Number(pt.metadata.requests ?? 0) > 0);
  return first < 0 ? 0 : daily.length - first;
}

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
  const today = Math.floor(Date.now() / DAY) * DAY;
  // Requests per day over 30 days: how much history there is to compare with (a young project has
  // less than the 30 days its "30-day level" would divide by).
  const daily = get<MetricPoint[]>('/api/metrics/historical', {
    type: 'requestRate',
    aggregation: 'day',
    start: today - 29 * DAY,
    project: p,
  });

  const rows = slot(async () => {
    const [w, m, a, b, days] = await Promise.all([week, month, d7, d30, daily]);
    const history = historyDays(days);
    // Like with like: per-day counts against the days the 30-day window really holds, and only
    // with two weeks of history; rates only when there is data older than the 7 days.
    const llmOlder = m.requestRate.total > w.requestRate.total;
    const vsMonth = (x: number | null, y: number | null, perDay = false) =>
      perDay
        ? history < MIN_HISTORY_DAYS
          ? null
          : f.change(x !== null ? x / 7 : x, y !== null ? y / Math.min(30, history) : y)
        : llmOlder
          ? f.change(x, y)
          : null;
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
        stat({
          // Unpriced requests are named, never folded into the sum as $0.
          label: c.cost.unpricedRequests
            ? `LLM cost (${f.count(c.cost.unpricedRequests)} unpriced)`
            : 'LLM cost',
          value: f.usd(c.cost.totalUsd),
          raw: c.cost.totalUsd,
          metric: `${key}.cost`,
          trend: t(c.cost.totalUsd, other?.cost.totalUsd, 'down', true),
        }),
      ];
    };
    const acted = (d: DecisionSummary) =>
      d.counts.viewed + d.counts.accepted + d.counts.ignored + d.counts.overridden;
    const decisionsOlder = acted(b) > acted(a);
    const decisionRow = (d: DecisionSummary, key: '7d' | '30d', other?: DecisionSummary) => {
      const t = (now: number | null, ref: number | null | undefined, better: 'up' | 'down') =>
        other && decisionsOlder
          ? { change: f.change(now, ref ?? null), better, note: 'vs 30-day level' }
          : undefined;
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
    const noBuiltin = m.requestRate.total === 0 && acted(b) === 0;
    // Any stored event ends the "no events" state; custom types are in the Event log.
    const latest = noBuiltin
      ? (await get<{ events: { type: string }[] }>('/api/events', { limit: '1', project: p })).events[0]
      : undefined;
    const teach = !noBuiltin
      ? null
      : latest === undefined
        ? firstEvent(ctx, 'events', {
            type: 'llm.request',
            props: {
              total_ms: 820,
              llm_ms: 700,
              prompt_tokens: 512,
              completion_tokens: 128,
              model: 'gpt-4o',
            },
          })
        : h(
            'section',
            { class: 'card', 'data-note': 'custom-only' },
            h('p', {}, 'Events are arriving (the latest: ', h('code', {}, latest.type), '). '),
            h(
              'p',
              { class: 'muted' },
              'The numbers below come from the built-in types llm.request and decision.* (see docs/events.md); ',
              'every event, of any type, is in the ',
              h('a', { href: '#/events', 'data-nav': 'events' }, 'Event log →'),
            ),
          );
    const historyNote =
      history > 0 && history < MIN_HISTORY_DAYS
        ? h(
            'p',
            { class: 'muted', 'data-note': 'history' },
            `Trends need ${MIN_HISTORY_DAYS} days of history; this project has ${history}.`,
          )
        : null;
    const out = h(
      'div',
      { 'data-ready': 'numbers' },
      teach,
      h('h3', { class: 'row-title' }, 'Last 7 days'),
      historyNote,
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
    type Verdict = { isHealthy: boolean; date: string };
    // Until the first daily snapshot exists, today so far (provisional) stands in for it.
    const health = get<{ latest: Verdict | null }>('/api/health/summary', { project: p })
      .then(async (s) =>
        s.latest
          ? { ...s.latest, provisional: false }
          : { ...(await get<Verdict>('/api/health/today', { project: p })), provisional: true },
      )
      .catch(() => null);
    const start = today - 29 * DAY;
    const series = (type: string) =>
      get<MetricPoint[]>('/api/metrics/historical', { type, aggregation: 'day', start, project: p });
    const [req, tok, err] = await Promise.all([daily, series('totalTokens'), series('errorRate')]);
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
        trend: {
          change: historyDays(req) >= MIN_HISTORY_DAYS ? f.change(last7, prev7) : null,
          better: 'none',
          note: 'last 7 days vs the 7 before',
        },
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
            !s
              ? 'unknown'
              : `${s.isHealthy ? 'healthy' : 'flagged'} (${s.provisional ? 'today so far' : s.date})`,
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
