import uPlot from 'uplot';
import { type Child, h } from './dom.js';

export const COLORS = ['#1f6feb', '#d97706', '#16a34a', '#dc2626', '#7c3aed', '#0891b2', '#be185d'];

const drawn = new Set<{ card: HTMLElement; dispose: () => void }>();

/** Frees the charts of views that left the document. */
export function disposeDetachedCharts(): void {
  for (const chart of drawn) {
    if (!chart.card.isConnected) {
      chart.dispose();
      drawn.delete(chart);
    }
  }
}

export interface Line {
  label: string;
  values: (number | null)[];
}

/**
 * A time-series chart (uPlot) in a card. `x` is epoch ms. Charts are drawn once the card is in
 * the document (uPlot measures its box), sized to the card and redrawn when the card resizes.
 */
export function timeChart(options: {
  title: string;
  x: number[];
  lines: Line[];
  format?: (v: number) => string;
  height?: number;
  testId?: string;
}): HTMLElement {
  const { title, x, lines, format = (v) => String(v), height = 220 } = options;
  const box = h('div', { class: 'chart' });
  const card = h(
    'section',
    { class: 'card chart-card', 'data-chart': options.testId ?? title },
    h('h3', {}, title),
    box,
  );
  if (x.length === 0 || lines.every((l) => l.values.every((v) => v === null || v === 0))) {
    box.append(h('p', { class: 'muted chart-empty' }, 'No data in this range.'));
  }
  const data: uPlot.AlignedData = [x.map((t) => t / 1000), ...lines.map((l) => l.values)];
  let plot: uPlot | null = null;
  const observer = new ResizeObserver(() => {
    const width = Math.floor(box.clientWidth);
    if (width <= 0) return;
    if (!plot) {
      plot = new uPlot(
        {
          width,
          height,
          legend: { show: true },
          cursor: { drag: { x: false, y: false } },
          scales: { x: { time: true } },
          axes: [
            { stroke: '#6b7280', grid: { stroke: '#eef0f3' } },
            {
              stroke: '#6b7280',
              grid: { stroke: '#eef0f3' },
              size: 64,
              values: (_u, ticks) => ticks.map((t) => format(t)),
            },
          ],
          series: [
            {},
            ...lines.map((l, i) => ({
              label: l.label,
              stroke: COLORS[i % COLORS.length] as string,
              width: 1.5,
              spanGaps: false,
              points: { show: x.length < 60 },
              value: (_u: uPlot, v: number | null) => (v === null ? '—' : format(v)),
            })),
          ],
        },
        data,
        box,
      );
    } else if (Math.abs(plot.width - width) > 2) plot.setSize({ width, height });
  });
  observer.observe(box);
  drawn.add({
    card,
    dispose: () => {
      observer.disconnect();
      plot?.destroy();
    },
  });
  return card;
}

/** Horizontal bars for a ranking (tokens by user, errors by type…), as plain HTML. */
export function bars(options: {
  title: string;
  rows: { label: string; value: number; display: string }[];
  testId?: string;
  empty?: Child;
}): HTMLElement {
  const max = Math.max(0, ...options.rows.map((r) => r.value));
  return h(
    'section',
    { class: 'card', 'data-bars': options.testId ?? options.title },
    h('h3', {}, options.title),
    options.rows.length === 0
      ? h('p', { class: 'muted' }, options.empty ?? 'No data in this range.')
      : h(
          'table',
          { class: 'bars' },
          h(
            'tbody',
            {},
            options.rows.map((r) =>
              h(
                'tr',
                { 'data-label': r.label },
                h('th', { scope: 'row' }, r.label),
                h(
                  'td',
                  { class: 'bar-cell' },
                  h('span', { class: 'bar', style: `width:${max > 0 ? (r.value / max) * 100 : 0}%` }),
                ),
                h('td', { class: 'num', 'data-value': r.value }, r.display),
              ),
            ),
          ),
        ),
  );
}
