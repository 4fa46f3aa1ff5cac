/**
 * A real PostgreSQL server for tests: Debian's `postgresql` package (installed when missing),
 * `initdb` into a temporary directory owned by the `postgres` user (the server refuses to run as
 * root), listening only on 127.0.0.1 on a free port, with its unix socket inside that directory.
 * One server per test file; each `fresh()` is a database of its own, so tests never share rows.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { chownSync, closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { createPostgresDatabase, postgresAccepts } from '../store/postgres/index.js';

const BIN = '/usr/lib/postgresql/15/bin';
const STARTUP_MS = 60_000;
const STOP_MS = 30_000;

export interface TestPostgres {
  /** `postgres://postgres@127.0.0.1:PORT/DB` (trust auth on loopback). */
  url(database?: string): string;
  port: number;
  /** A new, empty database; returns its URL. */
  fresh(): Promise<string>;
  /** Stops the server (by its process id) and removes its directory. */
  stop(): Promise<void>;
}

/** Installs Debian's PostgreSQL (15 on this Debian) when its binaries are missing. */
function ensureInstalled(): void {
  if (existsSync(join(BIN, 'initdb'))) return;
  if (process.getuid?.() !== 0)
    throw new Error(`the PostgreSQL tests need ${BIN}/initdb: run apt-get install -y postgresql`);
  // Usually done once per run by vitest.global-setup.ts; here for a test file run another way.
  // Test workers may get here at once: one installs (under flock), the others wait and find it.
  execFileSync(
    'flock',
    [
      '/tmp/vigil-test-apt.lock',
      'sh',
      '-c',
      `test -x ${BIN}/initdb || { apt-get update -qq && apt-get install -y -qq --no-install-recommends postgresql; }`,
    ],
    { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }, timeout: 600_000 },
  );
  if (!existsSync(join(BIN, 'initdb')))
    throw new Error(`installed Debian's postgresql, but ${BIN}/initdb is still missing (not version 15?)`);
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const address = srv.address();
      srv.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject()));
    });
  });
}

const asPostgres = (cmd: string, args: string[]) => ['-u', 'postgres', '--', join(BIN, cmd), ...args];

/** Servers started here and not stopped yet: killed when the worker exits (a test timed out). */
const live = new Set<number>();
process.once('exit', () => {
  for (const pid of live) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone already
    }
  }
});

/**
 * Starts a private server on a free loopback port. The port is free when asked for and taken when
 * the server binds it: in between another process may get it, and the start is tried again, twice.
 */
export async function startPostgres(): Promise<TestPostgres> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startPostgresOnce();
    } catch (err) {
      if (attempt >= 3 || !/Address already in use/.test((err as Error).message)) throw err;
    }
  }
}

async function startPostgresOnce(): Promise<TestPostgres> {
  ensureInstalled();
  const dir = mkdtempSync(join(tmpdir(), 'vigil-pg-'));
  const data = join(dir, 'data');
  const logFile = join(dir, 'server.log');
  let child: ChildProcess | undefined;
  let pid: number | undefined;
  const log = () => (existsSync(logFile) ? readFileSync(logFile, 'utf8').slice(-4000) : '(no log)');
  const stop = async () => {
    if (pid !== undefined) {
      const target = pid;
      // SIGINT: PostgreSQL's fast shutdown (ends sessions, no waiting for clients).
      try {
        process.kill(target, 'SIGINT');
      } catch {
        // not running
      }
      const deadline = Date.now() + STOP_MS;
      while (alive(target) && Date.now() < deadline) await sleep(50);
      if (alive(target)) process.kill(target, 'SIGKILL');
      live.delete(target);
    }
    if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
    chownSync(dir, uid, gid);
    execFileSync(
      'runuser',
      asPostgres('initdb', ['-D', data, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--locale=C', '-N']),
      { stdio: ['ignore', 'ignore', 'pipe'], timeout: STARTUP_MS },
    );
    const port = await freePort();
    const out = openSync(logFile, 'a');
    child = spawn(
      'runuser',
      asPostgres('postgres', [
        '-D',
        data,
        '-h',
        '127.0.0.1',
        '-p',
        String(port),
        '-k',
        dir,
        // A test server: durability is not what is tested here.
        '-c',
        'fsync=off',
        '-c',
        'synchronous_commit=off',
        '-c',
        'full_page_writes=off',
        '-c',
        'max_connections=60',
      ]),
      { stdio: ['ignore', out, out] },
    );
    closeSync(out);
    const url = (database = 'postgres') => `postgres://postgres@127.0.0.1:${port}/${database}`;
    // Ready when a client gets in; the postmaster's own pid is in postmaster.pid by then.
    const deadline = Date.now() + STARTUP_MS;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`postgres exited (${child.exitCode}) on start:\n${log()}`);
      if (await postgresAccepts(url())) break;
      if (Date.now() > deadline)
        throw new Error(`postgres did not accept connections in ${STARTUP_MS / 1000} s:\n${log()}`);
      await sleep(100);
    }
    pid = Number(readFileSync(join(data, 'postmaster.pid'), 'utf8').split('\n')[0]);
    live.add(pid);
    let n = 0;
    return {
      url,
      port,
      stop,
      async fresh() {
        n += 1;
        // A name made here, never from input: CREATE DATABASE takes no parameters.
        const name = `vigil_${process.pid}_${n}`;
        await createPostgresDatabase(url(), name);
        return url(name);
      },
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

/**
 * One PostgreSQL server for the test file: started in beforeAll, stopped in afterAll (also when
 * tests failed). `fresh()` gives the URL of a new empty database.
 */
export function usePostgres(): { fresh: () => Promise<string>; url: (database?: string) => string } {
  let server: TestPostgres | undefined;
  beforeAll(async () => {
    server = await startPostgres();
  }, 900_000);
  afterAll(async () => {
    await server?.stop();
  }, STOP_MS + 10_000);
  const get = () => {
    if (!server) throw new Error('the test PostgreSQL did not start (see beforeAll)');
    return server;
  };
  return { fresh: () => get().fresh(), url: (database) => get().url(database) };
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
