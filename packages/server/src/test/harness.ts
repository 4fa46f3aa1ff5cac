/**
 * Test harness: a real Vigil server on 127.0.0.1 (random port) over a fresh store: a DuckDB file,
 * or with `VIGIL_TEST_ENGINE=clickhouse` fresh databases on real ClickHouse and PostgreSQL servers
 * started for the test file (the API suite runs both ways: see vitest.config.ts).
 * Used by the server's and the SDK's integration tests.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';
import { type Config, defaultConfig } from '../config/index.js';
import type { EventView } from '../model/index.js';
import { type RunningServer, startServer } from '../server.js';
import { type ClickHouseServer, startClickHouse } from './clickhouse.js';
import { startPostgres, type TestPostgres } from './postgres.js';

/** The engine `startVigil` puts the store on. */
export const TEST_ENGINE: 'duckdb' | 'clickhouse' =
  process.env.VIGIL_TEST_ENGINE === 'clickhouse' ? 'clickhouse' : 'duckdb';

/** The servers of this test file, started at the first `startVigil` and stopped after its tests. */
let servers: Promise<{ clickhouse: ClickHouseServer; postgres: TestPostgres }> | null = null;
if (TEST_ENGINE === 'clickhouse') {
  afterAll(async () => {
    const started = await servers?.catch(() => null);
    servers = null;
    await Promise.all([started?.clickhouse.stop(), started?.postgres.stop()]);
  }, 60_000);
}
/** The databases of each data directory's store, so a server started again finds its data. */
const databases = new Map<string, { postgres: string; clickhouse: string }>();

/** Store settings for the store of `dataDir` on the test engine (nothing for DuckDB). */
async function engineStore(dataDir: string): Promise<Partial<Config['store']>> {
  if (TEST_ENGINE === 'duckdb') return {};
  servers ??= (async () => {
    const [clickhouse, postgres] = await Promise.allSettled([startClickHouse(), startPostgres()]);
    if (clickhouse.status === 'fulfilled' && postgres.status === 'fulfilled')
      return { clickhouse: clickhouse.value, postgres: postgres.value };
    if (clickhouse.status === 'fulfilled') await clickhouse.value.stop();
    if (postgres.status === 'fulfilled') await postgres.value.stop();
    throw clickhouse.status === 'rejected' ? clickhouse.reason : (postgres as PromiseRejectedResult).reason;
  })();
  const { clickhouse, postgres } = await servers;
  let names = databases.get(dataDir);
  if (!names) {
    names = { postgres: await postgres.fresh(), clickhouse: `vigil_${process.pid}_${databases.size}` };
    databases.set(dataDir, names);
  }
  return {
    postgres: { url: names.postgres },
    clickhouse: { url: clickhouse.url, database: names.clickhouse },
  };
}

type DeepPartial<T> = {
  [K in keyof T]?: T[K] extends object ? (T[K] extends unknown[] ? T[K] : DeepPartial<T[K]>) : T[K];
};

export interface Vigil {
  url: string;
  adminToken: string;
  /** The ingest key of the default project printed on first start. */
  ingestKey: string;
  dataDir: string;
  server: RunningServer;
  /** Closes the server; the data directory stays (see `cleanup`). */
  stop(): Promise<void>;
  /** Closes the server and removes the data directory. */
  cleanup(): Promise<void>;
}

export const TEST_ADMIN_TOKEN = 'test-admin-token-0123456789abcdef';

export function tempDir(prefix = 'vigil-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** Removes a data directory and the audit checkpoints kept beside it by default. */
export function removeDataDir(dataDir: string): void {
  rmSync(dataDir, { recursive: true, force: true });
  rmSync(`${dataDir}-audit`, { recursive: true, force: true });
}

/** Temporary data directories for one test file; `cleanup` (in afterEach) removes them. */
export function scratchDirs(): { fresh: () => string; cleanup: () => void } {
  const dirs: string[] = [];
  return {
    fresh: () => {
      const d = tempDir();
      dirs.push(d);
      return d;
    },
    cleanup: () => {
      for (const d of dirs.splice(0)) removeDataDir(d);
    },
  };
}

export function testConfig(dataDir: string, overrides: DeepPartial<Config> = {}): Config {
  const base = defaultConfig();
  const config: Config = {
    ...base,
    port: 0,
    dataDir,
    logLevel: (process.env.VIGIL_TEST_LOG as Config['logLevel']) ?? 'silent',
    adminToken: TEST_ADMIN_TOKEN,
    ...(overrides as Partial<Config>),
    ingest: { ...base.ingest, ...overrides.ingest },
    privacy: { ...base.privacy, ...(overrides.privacy as Partial<Config['privacy']>) },
    rateLimits: { ...base.rateLimits, ...(overrides.rateLimits as Partial<Config['rateLimits']>) },
    store: {
      ...base.store,
      ...(overrides.store as Partial<Config['store']>),
      duckdb: { ...base.store.duckdb, ...overrides.store?.duckdb },
    },
    telemetry: { ...base.telemetry, ...(overrides.telemetry as Partial<Config['telemetry']>) },
    checkpoints: { ...base.checkpoints, ...(overrides.checkpoints as Partial<Config['checkpoints']>) },
  };
  return config;
}

export async function startVigil(
  options: { dataDir?: string; config?: DeepPartial<Config>; ingestKey?: string } = {},
): Promise<Vigil> {
  const dataDir = options.dataDir ?? tempDir();
  const config = testConfig(dataDir, options.config);
  if (!config.store.postgres) {
    config.store = { ...config.store, ...(await engineStore(dataDir)) };
    // Nothing local to keep them beside: the checkpoints go where they would on DuckDB.
    if (config.store.clickhouse)
      config.checkpoints = {
        ...config.checkpoints,
        file: config.checkpoints.file ?? join(`${dataDir}-audit`, 'checkpoints.jsonl'),
        keyFile: config.checkpoints.keyFile ?? join(`${dataDir}-audit`, 'checkpoint-key.pem'),
      };
  }
  const server = await startServer(config);
  const engine = server.context.store.engine;
  if (TEST_ENGINE === 'clickhouse' && !options.config?.store && engine !== 'clickhouse+postgres') {
    await server.close();
    throw new Error(`VIGIL_TEST_ENGINE=clickhouse, but the server's store is on ${engine}`);
  }
  const ingestKey = server.bootstrap.created?.ingestKey ?? options.ingestKey ?? '';
  const vigil: Vigil = {
    url: server.url,
    adminToken: TEST_ADMIN_TOKEN,
    ingestKey,
    dataDir,
    server,
    stop: () => server.close(),
    cleanup: async () => {
      await server.close();
      removeDataDir(dataDir);
    },
  };
  return vigil;
}

export interface HttpResult {
  status: number;
  headers: Headers;
  body: unknown;
}

/** One request with a JSON (or raw) body; the answer's JSON is parsed when there is one. */
export async function call(
  vigil: { url: string },
  method: string,
  path: string,
  options: {
    token?: string | undefined;
    json?: unknown;
    body?: string | Uint8Array;
    headers?: Record<string, string>;
  } = {},
): Promise<HttpResult> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  let body: string | Uint8Array | undefined = options.body;
  if (options.json !== undefined) {
    body = JSON.stringify(options.json);
    headers['content-type'] ??= 'application/json';
  }
  const res = await fetch(`${vigil.url}${path}`, { method, headers, body: body as BodyInit | undefined });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = text === '' ? null : JSON.parse(text);
  } catch {
    // not JSON
  }
  return { status: res.status, headers: res.headers, body: parsed };
}

/** Reads stored events back through `GET /api/events` (all pages) with the admin token. */
export async function readEvents(vigil: Vigil, query: Record<string, string> = {}): Promise<EventView[]> {
  const out: EventView[] = [];
  let cursor: string | null = null;
  do {
    const params = new URLSearchParams({ limit: '1000', ...query, ...(cursor ? { cursor } : {}) });
    const res = await call(vigil, 'GET', `/api/events?${params}`, { token: vigil.adminToken });
    if (res.status !== 200) throw new Error(`GET /api/events: ${res.status} ${JSON.stringify(res.body)}`);
    const body = res.body as { events: EventView[]; nextCursor: string | null };
    out.push(...body.events);
    cursor = body.nextCursor;
  } while (cursor);
  return out;
}
