/**
 * Real ClickHouse servers for the tests: Debian's `clickhouse-server` (ClickHouse 18.16), installed
 * with apt-get when missing, started on loopback ports with a generated configuration in a
 * temporary directory (never the system service, never its data directory). `startClickHouse`
 * starts one server, `startClickHouseCluster` two of them with a `remote_servers` entry naming both
 * (two shards, one replica each, no ZooKeeper).
 *
 * Startup, measured on the 2-core machine (spawn → first `Ok.` from `/ping`, `startupMs`; load average
 * 5-10 from other work): 56-170 ms for one server, 59-125 ms for the pair (started side by side);
 * stop (SIGKILL) ~15 ms, where a clean SIGTERM shutdown of 18.16 takes ~8 s. An apt install, when
 * needed, takes apt's own time.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const SERVER_BINARY = '/usr/sbin/clickhouse-server';
const CLIENT_BINARY = '/usr/bin/clickhouse-client';
const READY_TIMEOUT_MS = 60_000;

/** One running test server. */
export interface ClickHouseServer {
  /** `http://127.0.0.1:PORT` of the HTTP interface. */
  url: string;
  httpPort: number;
  tcpPort: number;
  /** The temporary directory holding its configuration, data and logs. */
  dir: string;
  pid: number;
  /** Milliseconds from spawn to the first successful `/ping`. */
  startupMs: number;
  /** Stops the process (by its pid) and removes its directory. */
  stop(): Promise<void>;
}

export interface ClickHouseCluster {
  /** The name in `remote_servers` (for `Distributed(cluster, …)`). */
  name: string;
  shards: readonly ClickHouseServer[];
  startupMs: number;
  stop(): Promise<void>;
}

/**
 * Installs Debian's clickhouse-server and -client when missing: the global setup installs them once
 * per run; this is the fallback for a test file run on its own.
 */
export function ensureClickHouseInstalled(): void {
  if (existsSync(SERVER_BINARY) && existsSync(CLIENT_BINARY)) return;
  if (process.getuid?.() !== 0) {
    throw new Error(
      'the ClickHouse tests need Debian packages clickhouse-server and clickhouse-client: ' +
        'run apt-get install -y clickhouse-server clickhouse-client',
    );
  }
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  // Test workers may get here at once: one apt-get at a time (flock), the second finds it installed.
  const lock = join(tmpdir(), 'vigil-apt.lock');
  const script =
    `test -x ${SERVER_BINARY} && test -x ${CLIENT_BINARY} || ` +
    '{ apt-get update -qq && apt-get install -y -qq --no-install-recommends clickhouse-server clickhouse-client; }';
  execFileSync('flock', [lock, 'sh', '-c', script], { stdio: 'inherit', env, timeout: 900_000 });
  if (!existsSync(SERVER_BINARY))
    throw new Error(`apt-get installed clickhouse-server but ${SERVER_BINARY} is missing`);
}

/** A TCP port free on 127.0.0.1 at the time of asking. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const address = srv.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

const xmlEscape = (s: string) =>
  s.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;').replaceAll('"', '&quot;');

interface Ports {
  http: number;
  tcp: number;
  interserver: number;
}

function remoteServers(name: string, shards: readonly Ports[]): string {
  const list = shards
    .map((p) => `<shard><replica><host>127.0.0.1</host><port>${p.tcp}</port></replica></shard>`)
    .join('');
  return `<remote_servers><${name}>${list}</${name}></remote_servers>`;
}

/**
 * The server's configuration: its own paths under `dir`, loopback only, small caches and pools
 * (the test machine has 2 cores shared with other work), UTC, a passwordless `default` user.
 */
function writeConfig(
  dir: string,
  ports: Ports,
  cluster?: { name: string; shards: readonly Ports[] },
  memoryBytes = 1_000_000_000,
): string {
  for (const sub of ['data', 'tmp', 'user_files', 'format_schemas', 'log']) mkdirSync(join(dir, sub));
  const p = (sub: string) => xmlEscape(`${join(dir, sub)}/`);
  const config = `<?xml version="1.0"?>
<yandex>
  <logger>
    <level>${process.env.VIGIL_CLICKHOUSE_LOG ?? 'warning'}</level>
    <log>${xmlEscape(join(dir, 'log', 'server.log'))}</log>
    <errorlog>${xmlEscape(join(dir, 'log', 'server.err.log'))}</errorlog>
    <size>10M</size>
    <count>1</count>
  </logger>
  <listen_host>127.0.0.1</listen_host>
  <http_port>${ports.http}</http_port>
  <tcp_port>${ports.tcp}</tcp_port>
  <interserver_http_port>${ports.interserver}</interserver_http_port>
  <interserver_http_host>127.0.0.1</interserver_http_host>
  <path>${p('data')}</path>
  <tmp_path>${p('tmp')}</tmp_path>
  <user_files_path>${p('user_files')}</user_files_path>
  <format_schema_path>${p('format_schemas')}</format_schema_path>
  <users_config>${xmlEscape(join(dir, 'users.xml'))}</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <timezone>UTC</timezone>
  <mlock_executable>false</mlock_executable>
  <max_connections>256</max_connections>
  <max_concurrent_queries>32</max_concurrent_queries>
  <keep_alive_timeout>10</keep_alive_timeout>
  <uncompressed_cache_size>67108864</uncompressed_cache_size>
  <mark_cache_size>67108864</mark_cache_size>
  <builtin_dictionaries_reload_interval>0</builtin_dictionaries_reload_interval>
  ${cluster ? remoteServers(cluster.name, cluster.shards) : '<remote_servers></remote_servers>'}
</yandex>
`;
  const users = `<?xml version="1.0"?>
<yandex>
  <profiles>
    <default>
      <max_threads>2</max_threads>
      <max_memory_usage>${memoryBytes}</max_memory_usage>
      <background_pool_size>2</background_pool_size>
      <background_schedule_pool_size>2</background_schedule_pool_size>
      <max_distributed_connections>8</max_distributed_connections>
      <use_uncompressed_cache>0</use_uncompressed_cache>
    </default>
  </profiles>
  <users>
    <default>
      <password></password>
      <networks><ip>127.0.0.1</ip></networks>
      <profile>default</profile>
      <quota>default</quota>
    </default>
  </users>
  <quotas><default></default></quotas>
</yandex>
`;
  const file = join(dir, 'config.xml');
  writeFileSync(file, config);
  writeFileSync(join(dir, 'users.xml'), users);
  return file;
}

/** Servers started here and not stopped yet (killed if the test worker exits first). */
const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of live) if (child.pid) process.kill(child.pid, 'SIGKILL');
});

function stopProcess(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null || !child.pid) {
      live.delete(child);
      return resolve();
    }
    child.once('exit', () => {
      live.delete(child);
      resolve();
    });
    // SIGKILL: a clean shutdown of 18.16 takes ~8 s, and the data is removed right after anyway.
    process.kill(child.pid, 'SIGKILL');
  });
}

async function waitReady(child: ChildProcess, url: string, dir: string, started: number): Promise<void> {
  const deadline = started + READY_TIMEOUT_MS;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(
        `clickhouse-server exited (${child.exitCode ?? child.signalCode}) before it was ready:\n${tail(dir)}`,
      );
    }
    try {
      const res = await fetch(`${url}/ping`, { signal: AbortSignal.timeout(1_000) });
      if (res.ok && (await res.text()).startsWith('Ok')) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      throw new Error(
        `clickhouse-server did not answer ${url}/ping within ${READY_TIMEOUT_MS / 1000} s:\n${tail(dir)}`,
      );
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The end of the server's logs, for an error message. */
function tail(dir: string): string {
  return ['server.err.log', 'stderr.log']
    .map((f) => join(dir, 'log', f))
    .filter(existsSync)
    .map((f) => readFileSync(f, 'utf8').split('\n').slice(-20).join('\n'))
    .join('\n');
}

async function launch(
  dir: string,
  ports: Ports,
  cluster?: { name: string; shards: readonly Ports[] },
  memoryBytes?: number,
) {
  const config = writeConfig(dir, ports, cluster, memoryBytes);
  const started = Date.now();
  const child = spawn(SERVER_BINARY, [`--config-file=${config}`], {
    cwd: dir,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  live.add(child);
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    stderr += d.toString();
    if (stderr.length > 64_000) stderr = stderr.slice(-32_000);
  });
  child.once('exit', () => writeFileSync(join(dir, 'log', 'stderr.log'), stderr));
  const url = `http://127.0.0.1:${ports.http}`;
  try {
    await waitReady(child, url, dir, started);
  } catch (err) {
    await stopProcess(child);
    throw err;
  }
  const pid = child.pid as number;
  return { child, url, pid, startupMs: Date.now() - started };
}

async function allocate(): Promise<Ports> {
  const [http, tcp, interserver] = [await freePort(), await freePort(), await freePort()];
  return { http, tcp, interserver };
}

function server(dir: string, ports: Ports, run: Awaited<ReturnType<typeof launch>>): ClickHouseServer {
  return {
    url: run.url,
    httpPort: ports.http,
    tcpPort: ports.tcp,
    dir,
    pid: run.pid,
    startupMs: run.startupMs,
    stop: async () => {
      await stopProcess(run.child);
      // VIGIL_KEEP_CLICKHOUSE=1 keeps data and logs for a look after the test.
      if (process.env.VIGIL_KEEP_CLICKHOUSE !== '1') rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Where a server keeps its data. */
export interface ClickHouseStorage {
  /**
   * `memory` (the default for tests): a directory in /dev/shm when there is one. Every insert makes
   * a part of many files, and deleting tens of thousands of them took minutes on this machine's
   * shared disk. `disk`: the temporary directory, for benchmarks that compare with a store on disk.
   */
  storage?: 'memory' | 'disk';
  /**
   * The most memory one query may use (`max_memory_usage`; default 1 GB here, 10 GB in a server's
   * own default profile). Benchmarks over tens of millions of events ask for the server default.
   */
  queryMemoryBytes?: number;
}

function serverDir({ storage = 'memory' }: ClickHouseStorage): string {
  const shm = '/dev/shm';
  const base = storage === 'memory' && existsSync(shm) ? shm : tmpdir();
  return mkdtempSync(join(base, 'vigil-clickhouse-'));
}

/**
 * A port is free when asked for and taken when the server binds it: in between another process
 * (a test starting its own server) may get it. Such a start is tried again on other ports, twice.
 */
async function onFreePorts<T>(start: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await start();
    } catch (err) {
      if (attempt >= 3 || !/Address already in use/.test((err as Error).message)) throw err;
    }
  }
}

/** Starts one ClickHouse server on free loopback ports (installing the package first if needed). */
export async function startClickHouse(options: ClickHouseStorage = {}): Promise<ClickHouseServer> {
  ensureClickHouseInstalled();
  return onFreePorts(async () => {
    const dir = serverDir(options);
    try {
      const ports = await allocate();
      return server(dir, ports, await launch(dir, ports, undefined, options.queryMemoryBytes));
    } catch (err) {
      rmSync(dir, { recursive: true, force: true });
      throw err;
    }
  });
}

/**
 * Starts two servers that both know a cluster `name` of two shards (each server one shard), for
 * Distributed tables over local MergeTree tables. No ZooKeeper: DDL runs on each shard.
 */
export async function startClickHouseCluster(
  name = 'vigil_test',
  options: ClickHouseStorage = {},
): Promise<ClickHouseCluster> {
  ensureClickHouseInstalled();
  return onFreePorts(async () => {
    const dirs = [0, 1].map(() => serverDir(options));
    const ports = [await allocate(), await allocate()];
    const started = Date.now();
    const runs = await Promise.allSettled(
      dirs.map((dir, i) => launch(dir, ports[i] as Ports, { name, shards: ports }, options.queryMemoryBytes)),
    );
    const shards = runs.flatMap((r, i) =>
      r.status === 'fulfilled' ? [server(dirs[i] as string, ports[i] as Ports, r.value)] : [],
    );
    const stop = async () => {
      await Promise.all(shards.map((s) => s.stop()));
      if (process.env.VIGIL_KEEP_CLICKHOUSE !== '1')
        for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
    };
    const failed = runs.find((r) => r.status === 'rejected');
    if (failed) {
      await stop();
      throw failed.reason;
    }
    return { name, shards, startupMs: Date.now() - started, stop };
  });
}
