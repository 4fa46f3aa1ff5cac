/**
 * The server's real route table, for tests that must cover every route (fuzzing, authorization):
 * a route added to the server is in this list without anyone editing a test.
 */
import { type RouteEntry, routeTable } from '../api/index.js';
import type { Vigil } from './harness.js';

export type { RouteEntry };

/** Every route of a running server, without Fastify's automatic HEAD twins of GET routes. */
export function listRoutes(vigil: Pick<Vigil, 'server'>): RouteEntry[] {
  const all = routeTable(vigil.server.app);
  const gets = new Set(all.filter((r) => r.method === 'GET').map((r) => r.url));
  return all.filter((r) => !(r.method === 'HEAD' && gets.has(r.url)));
}

/** A concrete path for a route's URL: each `:param` replaced by `value`. */
export function pathOf(route: Pick<RouteEntry, 'url'>, value = 'x'): string {
  return route.url.replace(/:[A-Za-z_]+/g, encodeURIComponent(value));
}
