import { get, query } from '../api.js';
import { bars, timeChart } from '../chart.js';
import { h } from '../dom.js';
import * as f from '../format.js';
import { bounds, bucketOf, windowOf } from '../range.js';
import type { Current, MetricPoint, RangeCurrent } from '../types.js';
import { firstEvent, grid, pageHeader, slot, stat, table, type View } from '../ui.js';

const top = (m: Record<string, number | null>, n = 12) =>
  Object.entries(m)
    .filter((e): e is [string, number] => e[1] !== null)
    .sort((a, b) => b[1] - a[1])
    .slice(0, n);

/** A custom range has no trailing window: the same numbers from `POST /api/query` over the range. */
async function currentOver(from: number, to: number, project: string): Promise<RangeCurrent> {
  const q = (body: Omit<Parameters<typeof query>[0], 'from' | 'to' | 'type' | 'project'>) =>
    query({ type: 'llm.request', project, from, to, ...body }).then((r) => r.series);
  const one = async (field: string, aggregate: Parameters<typeof query>[0]['aggregate']) =>
    (await q({ field, aggregate }))[0]?.points[0]?.value ?? null;
  type Stat = number | null;
  const byGroup = async (field: string | undefined, group: string, aggregate: 'sum' | 'count') => {
    const series = await q({ ...(field ? { field } : {}), aggregate, groupBy: [group] });
    return Object.fromEntries(
      series.map((s) => [s.group[group] ?? '(none)', s.points[0]?.value ?? 0]),
    ) as Record<string, number>;
  };
  const latency = async (field: string) => {
    const [average, median, p95, p99, min, max] = (await Promise.all(
      (['avg', 'p50', 'p95', 'p99', 'min', 'max'] as const).map((a) => one(field, a)),
    )) as [Stat, Stat, Stat, Stat, Stat, Stat];
    return { average, median, p95, p99, min, max, count: 0 };
  };
  const [
    n,
    total,
    context,
    llm,
    prompt,
    completion,
    promptByUser,
    complByUser,
    promptBySpace,
    complBySpace,
    errors,
    costTotal,
    costByUser,
    costBySpace,
    costByModel,
  ] = await Promise.all([
    q({ aggregate: 'count' }).then((s) => s[0]?.points[0]?.value ?? 0),
    latency('total_ms'),
    latency('context_ms'),
    latency('llm_ms'),
    one('prompt_tokens', 'sum'),
    one('completion_tokens', 'sum'),
    byGroup('prompt_tokens', 'user', 'sum'),
    byGroup('completion_tokens', 'user', 'sum'),
    byGroup('prompt_tokens', 'space', 'sum'),
    byGroup('completion_tokens', 'space', 'sum'),
    byGroup(undefined, 'error_type', 'count'),
    one('cost_usd', 'sum'),
    byGroup('cost_usd', 'user', 'sum'),
    byGroup('cost_usd', 'space', 'sum'),
    byGroup('cost_usd', 'model', 'sum'),
  ]);
  const add = (a: Record<string, number>, b: Record<string, number>) => {
    const out = { ...a };
    for (const [k, v] of Object.entries(b)) out[k] = (out[k] ?? 0) + v;
    return out;
  };
  const minutes = (to - from) / 60_000;
  const totalErrors = Object.values(errors).reduce((s, v) => s + v, 0);
  return {
    window: 'custom',
    requestRate: {
      total: n,
      perMinute: n / minutes,
      perHour: (n / minutes) * 60,
      perDay: (n / minutes) * 1440,
    },
    totalLatency: { ...total, count: n },
    contextLatency: context,
    llmLatency: llm,
    tokens: {
      totalTokens: (prompt ?? 0) + (completion ?? 0),
      promptTokens: prompt ?? 0,
      completionTokens: completion ?? 0,
      byUser: add(promptByUser, complByUser),
      byUserOthers: 0,
      bySpace: add(promptBySpace, complBySpace),
      averagePerRequest: n > 0 ? ((prompt ?? 0) + (completion ?? 0)) / n : null,
    },
    errors: {
      totalErrorRate: n > 0 ? (totalErrors / n) * 100 : null,
      errorRateByType: Object.fromEntries(
        Object.entries(errors).map(([k, v]) => [k, n > 0 ? (v / n) * 100 : 0]),
      ),
      errorCountByType: errors,
      totalErrors,
      totalRequests: n,
      spike: { detected: false },
    },
    cacheHitRate: { overall: null, hits: 0, misses: 0, bySpace: {} },
    cost: {
      totalUsd: costTotal ?? 0,
      averagePerRequest: null,
      pricedRequests: null,
      byUser: costByUser,
      bySpace: costBySpace,
      byModel: costByModel,
      unpricedRequests: null,
      unpricedModels: {},
    },
  };
}

/**
 * Cost panels: totals, cost over time, by model, the top users and spaces, and the unpriced
 * requests by model with a way for an admin to price them.
 */
function costPanels(c: RangeCurrent, points: MetricPoint[], ctx: Parameters<View>[1]): HTMLElement {
  const cost = c.cost;
  const x = points.map((p) => Date.parse(p.timestamp));
  const usdBars = (title: string, testId: string, m: Record<string, number>, empty: string) =>
    bars({
      title,
      testId,
      rows: top(m, 10).map(([label, value]) => ({ label, value, display: f.usd(value) })),
      empty,
    });
  const unpriced = Object.entries(cost.unpricedModels).sort((a, b) => b[1] - a[1]);
  const admin = ctx.me.role === 'admin';
  const addPrice = (model: string) =>
    admin
      ? h(
          'a',
          {
            href: `#/settings?price=${encodeURIComponent(model)}`,
            'data-add-price': model,
          },
          'Add a price',
        )
      : h('span', { class: 'muted' }, 'an admin can add a price');
  return h(
    'section',
    { 'data-panel': 'cost' },
    h('h3', { class: 'row-title' }, 'Cost (US dollars)'),
    grid(
      'stats',
      stat({ label: 'Cost', value: f.usd(cost.totalUsd), raw: cost.totalUsd, metric: 'llm.cost' }),
      stat({
        label: 'Cost per priced request',
        value: f.usd(cost.averagePerRequest),
        raw: cost.averagePerRequest,
        metric: 'llm.costPerRequest',
      }),
      stat({
        label: 'Unpriced requests',
        value: f.count(cost.unpricedRequests),
        raw: cost.unpricedRequests,
        metric: 'llm.unpriced',
      }),
    ),
    grid(
      'halves',
      timeChart({
        title: 'Cost over time',
        testId: 'costOverTime',
        x,
        lines: [{ label: 'US$', values: points.map((p) => p.value) }],
        format: f.usd,
      }),
      usdBars('Cost by model', 'costByModel', cost.byModel, 'No priced requests in this range.'),
      usdBars('Top users by cost', 'costByUser', cost.byUser, 'No priced requests with a user.'),
      usdBars('Top spaces by cost', 'costBySpace', cost.bySpace, 'No priced requests with a space.'),
    ),
    cost.unpricedRequests === null
      ? h(
          'p',
          { class: 'muted' },
          'Unpriced requests are counted over the trailing windows (1 h, 24 h, 7 d, 30 d).',
        )
      : unpriced.length === 0
        ? null
        : h(
            'div',
            { class: 'notice', 'data-unpriced': String(cost.unpricedRequests) },
            h(
              'p',
              {},
              `${f.count(cost.unpricedRequests)} requests have no price and are not in the cost (never counted as $0). Their models:`,
            ),
            table(
              ['model', 'unpriced requests', ''],
              unpriced.map(([model, n]) => [model, f.count(n), addPrice(model)]),
              { 'data-table': 'unpricedModels' },
            ),
          ),
  );
}

/** LLM requests over the range: rate, latency percentiles, tokens, errors, cache. */
export const llm: View = async (root, ctx) => {
  const { from, to } = bounds(ctx.range);
  const window = windowOf(ctx.range);
  const project = ctx.project;
  const current = window
    ? get<Current>('/api/metrics/current', { window, project })
    : currentOver(from, to, project);
  const aggregation = bucketOf(ctx.range);
  const series = (type: string) =>
    get<MetricPoint[]>('/api/metrics/historical', { type, aggregation, start: from, end: to, project });

  const summary = slot(async () => {
    const c = await current;
    if (c.requestRate.total === 0) {
      return firstEvent(ctx, 'LLM requests in this range', {
        type: 'llm.request',
        props: {
          total_ms: 820,
          context_ms: 95,
          llm_ms: 700,
          prompt_tokens: 512,
          completion_tokens: 128,
          cache_hit: false,
          user: 'u_1',
          space: 'sp_1',
          model: 'gpt-4o',
        },
      });
    }
    return h(
      'div',
      {},
      grid(
        'stats',
        stat({
          label: 'Requests',
          value: f.count(c.requestRate.total),
          raw: c.requestRate.total,
          metric: 'llm.requests',
        }),
        stat({
          label: 'Per minute',
          value: f.decimal(c.requestRate.perMinute),
          raw: c.requestRate.perMinute,
          metric: 'llm.perMinute',
        }),
        stat({
          label: 'Latency p50',
          value: f.ms(c.totalLatency.median),
          raw: c.totalLatency.median,
          metric: 'llm.p50',
        }),
        stat({
          label: 'Latency p95',
          value: f.ms(c.totalLatency.p95),
          raw: c.totalLatency.p95,
          metric: 'llm.p95',
        }),
        stat({
          label: 'Latency p99',
          value: f.ms(c.totalLatency.p99),
          raw: c.totalLatency.p99,
          metric: 'llm.p99',
        }),
        stat({
          label: 'Error rate',
          value: f.percent(c.errors.totalErrorRate),
          raw: c.errors.totalErrorRate,
          metric: 'llm.errorRate',
        }),
        stat({
          label: 'Tokens',
          value: f.count(c.tokens.totalTokens),
          raw: c.tokens.totalTokens,
          metric: 'llm.tokens',
        }),
        stat({
          label: 'Tokens per request',
          value: f.decimal(c.tokens.averagePerRequest),
          raw: c.tokens.averagePerRequest,
          metric: 'llm.tokensPerRequest',
        }),
        stat({
          label: 'Cache hit rate',
          value: f.percent(c.cacheHitRate.overall),
          raw: c.cacheHitRate.overall,
          metric: 'llm.cacheHitRate',
        }),
      ),
      c.errors.spike.detected
        ? h(
            'div',
            { class: 'notice error', role: 'alert' },
            'Error spike: the error rate of the last 5 minutes is far above the rest of the window.',
          )
        : null,
      h(
        'table',
        { class: 'data latency', 'data-table': 'latency' },
        h(
          'thead',
          {},
          h(
            'tr',
            {},
            ['', 'avg', 'p50', 'p95', 'p99', 'min', 'max'].map((t) => h('th', {}, t)),
          ),
        ),
        h(
          'tbody',
          {},
          (
            [
              ['Total', c.totalLatency],
              ['Context assembly', c.contextLatency],
              ['LLM', c.llmLatency],
            ] as const
          ).map(([name, s]) =>
            h(
              'tr',
              { 'data-row': name },
              h('th', {}, name),
              [s.average, s.median, s.p95, s.p99, s.min, s.max].map((v) =>
                h('td', { class: 'num' }, f.ms(v)),
              ),
            ),
          ),
        ),
      ),
      grid(
        'halves',
        bars({
          title: 'Tokens by user',
          testId: 'tokensByUser',
          rows: top(c.tokens.byUser).map(([label, value]) => ({ label, value, display: f.count(value) })),
        }),
        bars({
          title: 'Tokens by space',
          testId: 'tokensBySpace',
          rows: top(c.tokens.bySpace).map(([label, value]) => ({ label, value, display: f.count(value) })),
        }),
        bars({
          title: 'Errors by type',
          testId: 'errorsByType',
          rows: top(c.errors.errorCountByType).map(([label, value]) => ({
            label,
            value,
            display: `${f.count(value)} (${f.percent(c.errors.errorRateByType[label] ?? null)})`,
          })),
          empty: 'No errors in this range.',
        }),
        bars({
          title: 'Cache hit rate by space',
          testId: 'cacheBySpace',
          rows: top(c.cacheHitRate.bySpace).map(([label, value]) => ({
            label,
            value,
            display: f.percent(value),
          })),
          empty: window
            ? 'No cache information in this range.'
            : 'Cache hit rates come from the trailing windows (1 h, 24 h, 7 d, 30 d).',
        }),
      ),
    );
  });

  const costs = slot(async () => {
    const [c, points] = await Promise.all([current, series('costUsd')]);
    return c.requestRate.total === 0 ? null : costPanels(c, points, ctx);
  });

  const charts = slot(async () => {
    const [rate, total, context, llmLat, errors, cache] = await Promise.all(
      ['requestRate', 'totalLatency', 'contextLatency', 'llmLatency', 'errorRate', 'cacheHitRate'].map(
        series,
      ),
    );
    const x = (rate ?? []).map((p) => Date.parse(p.timestamp));
    const stat = (pts: MetricPoint[] | undefined, key: string) =>
      (pts ?? []).map((p) => (typeof p.metadata[key] === 'number' ? (p.metadata[key] as number) : null));
    const latencyChart = (title: string, pts: MetricPoint[] | undefined, id: string) =>
      timeChart({
        title,
        testId: id,
        x,
        lines: [
          { label: 'p50', values: stat(pts, 'median') },
          { label: 'p95', values: stat(pts, 'p95') },
          { label: 'p99', values: stat(pts, 'p99') },
        ],
        format: f.ms,
      });
    return grid(
      'halves',
      timeChart({
        title: `Requests per minute (by ${aggregation})`,
        testId: 'requestRate',
        x,
        lines: [{ label: 'requests/min', values: (rate ?? []).map((p) => p.value) }],
        format: f.decimal,
      }),
      latencyChart('Total latency', total, 'totalLatency'),
      latencyChart('Context-assembly latency', context, 'contextLatency'),
      latencyChart('LLM latency', llmLat, 'llmLatency'),
      timeChart({
        title: 'Error rate',
        testId: 'errorRate',
        x,
        lines: [{ label: 'errors %', values: (errors ?? []).map((p) => p.value) }],
        format: f.percent,
      }),
      timeChart({
        title: 'Cache hit rate',
        testId: 'cacheHitRate',
        x,
        lines: [{ label: 'hits %', values: (cache ?? []).map((p) => p.value) }],
        format: f.percent,
      }),
    );
  });

  root.append(
    pageHeader(
      'LLM requests',
      'Latency (total, context assembly, LLM), tokens, errors and cache over the selected range.',
    ),
    summary.el,
    costs.el,
    charts.el,
  );
  await Promise.all([summary.done, costs.done, charts.done]);
};
