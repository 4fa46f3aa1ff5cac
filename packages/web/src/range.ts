/** The global time range and the view, kept in the URL hash so that a link shows the same thing. */
export const PRESETS = {
  '1h': 3_600_000,
  '24h': 86_400_000,
  '7d': 7 * 86_400_000,
  '30d': 30 * 86_400_000,
} as const;
export type Preset = keyof typeof PRESETS;

export type Range = { preset: Preset } | { preset: null; from: number; to: number };

export interface Route {
  view: string;
  range: Range;
  /** View-specific state (filters, selected event…), also in the URL. */
  params: URLSearchParams;
}

export function parseRoute(hash: string): Route {
  const [path = '', qs = ''] = hash.replace(/^#\/?/, '').split('?');
  const params = new URLSearchParams(qs);
  const view = path || 'overview';
  const r = params.get('range');
  params.delete('range');
  let range: Range = { preset: '24h' };
  if (r && r in PRESETS) range = { preset: r as Preset };
  else if (r) {
    const [from, to] = r.split('..').map((t) => Date.parse(t));
    if (from !== undefined && to !== undefined && Number.isFinite(from) && Number.isFinite(to) && from < to) {
      range = { preset: null, from, to };
    }
  }
  return { view, range, params };
}

export function rangeParam(range: Range): string {
  return range.preset ?? `${new Date(range.from).toISOString()}..${new Date(range.to).toISOString()}`;
}

export function routeHash(route: Route): string {
  const params = new URLSearchParams(route.params);
  params.set('range', rangeParam(route.range));
  return `#/${route.view}?${params.toString().replaceAll('%3A', ':')}`;
}

/** The range's bounds now (a preset trails the current time). */
export function bounds(range: Range, now = Date.now()): { from: number; to: number } {
  if (range.preset) return { from: now - PRESETS[range.preset], to: now };
  return { from: range.from, to: range.to };
}

/** The `/api/metrics/current` window of a preset. */
export function windowOf(range: Range): 'hour' | 'day' | 'week' | 'month' | null {
  switch (range.preset) {
    case '1h':
      return 'hour';
    case '24h':
      return 'day';
    case '7d':
      return 'week';
    case '30d':
      return 'month';
    default:
      return null;
  }
}

/** Bucket size for charts over the range: about 30 to 400 points. */
export function bucketOf(range: Range): 'minute' | 'hour' | 'day' {
  const { from, to } = bounds(range);
  const span = to - from;
  if (span <= 6 * 3_600_000) return 'minute';
  if (span <= 10 * 86_400_000) return 'hour';
  return 'day';
}

export function describe(range: Range): string {
  if (range.preset) return `last ${range.preset}`;
  const f = (t: number) => new Date(t).toISOString().slice(0, 16).replace('T', ' ');
  return `${f(range.from)} – ${f(range.to)} UTC`;
}
