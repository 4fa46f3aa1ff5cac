import type { TObject } from '@sinclair/typebox';
import type { FastifyInstance, RouteOptions } from 'fastify';
import { ACCESS, type Access } from './context.js';
import { installQuerySchemas } from './params.js';

/** One route as the server serves it. */
export interface RouteEntry {
  method: string;
  url: string;
  /** The role its guard asks for; `anonymous` when no guard runs (public, login, pages). */
  access: Access | 'anonymous';
  /** Its query string schema; null when it takes no parameters. */
  query: TObject | null;
}

const tables = new WeakMap<FastifyInstance, RouteEntry[]>();

function accessOf(route: RouteOptions): Access | 'anonymous' {
  const hooks =
    route.onRequest === undefined ? [] : Array.isArray(route.onRequest) ? route.onRequest : [route.onRequest];
  for (const hook of hooks) {
    const need = (hook as { [ACCESS]?: Access | 'anonymous' })[ACCESS];
    if (need) return need;
  }
  return 'anonymous';
}

/** Records every route of `app` (call before any route is added) and installs its query schema. */
export function trackRoutes(app: FastifyInstance): void {
  const table: RouteEntry[] = [];
  tables.set(app, table);
  app.addHook('onRoute', (route) => {
    const query = (route.schema as { querystring?: TObject } | undefined)?.querystring ?? null;
    installQuerySchemas(route);
    for (const method of Array.isArray(route.method) ? route.method : [route.method]) {
      table.push({ method, url: route.url, query, access: accessOf(route) });
    }
  });
}

/** Every route the app serves, in the order they were added (HEAD twins of GET routes included). */
export function routeTable(app: FastifyInstance): readonly RouteEntry[] {
  const table = tables.get(app);
  if (!table) throw new Error('routeTable: this app was not built by buildApp');
  return table;
}
