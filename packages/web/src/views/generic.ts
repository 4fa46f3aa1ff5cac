import { ApiError } from '../api.js';
import { type Child, h } from '../dom.js';
import * as f from '../format.js';

const scalar = (v: unknown): string => {
  if (v === null || v === undefined) return '—';
  if (typeof v === 'number') return Number.isInteger(v) ? f.count(v) : f.decimal(v);
  if (typeof v === 'string') return /^\d{4}-\d{2}-\d{2}T/.test(v) ? f.dateTime(v) : v;
  if (typeof v === 'boolean') return v ? 'yes' : 'no';
  if (Array.isArray(v)) return v.map(scalar).join(', ');
  return Object.entries(v as Record<string, unknown>)
    .map(([k, x]) => `${k}=${typeof x === 'object' && x !== null ? JSON.stringify(x) : String(x)}`)
    .join(' ');
};

/** A table of records whose fields the dashboard does not know in advance (collector output…). */
export function recordTable(
  rows: Record<string, unknown>[],
  options: { columns?: string[]; testId?: string; max?: number } = {},
): HTMLElement {
  if (rows.length === 0) return h('p', { class: 'muted' }, 'Nothing yet.');
  const columns =
    options.columns ?? [...new Set(rows.slice(0, 50).flatMap((r) => Object.keys(r)))].slice(0, 10);
  return h(
    'table',
    { class: 'data', ...(options.testId ? { 'data-table': options.testId } : {}) },
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        columns.map((c) => h('th', {}, c)),
      ),
    ),
    h(
      'tbody',
      {},
      rows.slice(0, options.max ?? 200).map((r) =>
        h(
          'tr',
          {},
          columns.map((c) => h('td', {}, scalar(r[c]))),
        ),
      ),
    ),
  );
}

/** The records of an answer that is either an array or an object holding one under `key`. */
export function listOf(body: unknown, ...keys: string[]): Record<string, unknown>[] {
  if (Array.isArray(body)) return body as Record<string, unknown>[];
  if (body && typeof body === 'object') {
    for (const k of keys) {
      const v = (body as Record<string, unknown>)[k];
      if (Array.isArray(v)) return v as Record<string, unknown>[];
    }
  }
  return [];
}

/** A feature whose API this server does not have (an older build) says so instead of failing. */
export function unavailable(err: unknown, what: string): Child {
  if (err instanceof ApiError && err.status === 404 && err.code === 'not_found') {
    return h(
      'div',
      { class: 'notice', 'data-unavailable': what },
      `${what} is not available on this server version.`,
    );
  }
  throw err;
}
