/**
 * Disk full. On a real small tmpfs (root can mount one here) the real server runs with its data
 * directory and its log on the full disk: ingest answers 503 + Retry-After, /readyz says not
 * ready, the process survives its log failing, the store reopens by itself once space is back,
 * and every acknowledged event is stored. Where mounting is not allowed, the same expectations
 * run against the failing engine wrapper (a store whose writes fail as on a full disk).
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { verifyChain } from '../audit/index.js';
import { defaultConfig } from '../config/index.js';
import { GroupCommitter, scrubPolicy } from '../ingest/index.js';
import { isRejection, validateEvent } from '../ingest/validate.js';
import { FaultyStore, openStore, RecoveringStore, type Store, StoreError } from '../store/index.js';
import { tempDir } from '../test/harness.js';

const CLI = join(dirname(fileURLToPath(import.meta.url)), '..', 'cli', 'main.ts');
const quiet = { warn: () => undefined, info: () => undefined, error: () => undefined };
const cleanups: (() => void | Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function until<T>(what: string, probe: () => Promise<T | undefined>, ms = 60_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await probe().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

function tryMount(dir: string, size: string): boolean {
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Fills the disk of `dir` with one file, up to the last byte it takes. */
function fill(file: string): void {
  const fd = openSync(file, 'w');
  const chunk = Buffer.alloc(1024 * 1024, 1);
  try {
    for (let size = chunk.length; size >= 512; ) {
      try {
        writeSync(fd, chunk, 0, size);
      } catch {
        size = Math.floor(size / 2);
      }
    }
  } finally {
    closeSync(fd);
  }
}

const ids = (n: number) => Array.from({ length: n }, () => crypto.randomUUID());
const events = (list: string[]) =>
  list.map((id) => ({ id, type: 'disk.test', props: { pad: 'x'.repeat(2000) } }));

/** The real server on a full tmpfs. */
async function realDisk(root: string): Promise<void> {
  const data = join(root, 'data');
  const log = join(root, 'vigil.log');
  const configFile = join(tempDir(), 'vigil.config.json');
  writeFileSync(configFile, JSON.stringify({ store: { recoveryMs: 200 } }));
  const out = openSync(log, 'a');
  const child: ChildProcess = spawn(
    process.execPath,
    ['--import', 'tsx', CLI, 'serve', '--port', '0', '--data', data],
    {
      env: {
        ...process.env,
        VIGIL_LOG_LEVEL: 'debug',
        VIGIL_CONFIG: configFile,
        VIGIL_ADMIN_TOKEN: 'disk-full-admin-token',
      },
      stdio: ['ignore', out, out],
    },
  );
  closeSync(out);
  const exited = new Promise<number | string>((r) => child.on('exit', (code, sig) => r(code ?? sig ?? -1)));
  cleanups.push(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await exited;
    }
  });
  const banner = await until('the server to start', async () => {
    const text = readFileSync(log, 'utf8');
    return /running at (http:\/\/\S+)/.test(text) && /ingest key:\s+(\S+)/.test(text) ? text : undefined;
  });
  const url = (/running at (http:\/\/\S+)/.exec(banner) as RegExpExecArray)[1] as string;
  const key = (/ingest key:\s+(\S+)/.exec(banner) as RegExpExecArray)[1] as string;
  const post = (list: string[]) =>
    fetch(`${url}/v1/events`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ events: events(list) }),
      signal: AbortSignal.timeout(20_000),
    });
  const acked = new Set<string>();
  const send = async (list: string[]) => {
    const res = await post(list);
    if (res.status === 200) for (const id of list) acked.add(id);
    return res;
  };

  expect((await send(ids(50))).status).toBe(200);
  fill(join(root, 'filler'));
  // Ingest on the full disk: refused with 503 + Retry-After, never a 500, never a crash.
  const refused = await until('ingest to be refused', async () => {
    const res = await send(ids(200));
    return res.status === 200 ? undefined : res;
  });
  expect(refused.status).toBe(503);
  expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
  expect(((await refused.json()) as { error: { code: string } }).error.code).toMatch(
    /^(store_unavailable|commit_failed)$/,
  );
  const again = await send(ids(10));
  expect(again.status).toBe(503);
  expect(again.headers.get('retry-after')).not.toBeNull();
  expect((await fetch(`${url}/readyz`)).status).toBe(503);
  expect((await fetch(`${url}/healthz`)).status).toBe(200);
  // Reads are served by the reopened store while the disk is still full.
  await until('a read while the disk is full', async () => {
    const res = await fetch(`${url}/api/events?limit=5`, {
      headers: { authorization: 'Bearer disk-full-admin-token' },
    });
    return res.status === 200 ? true : undefined;
  });
  expect(child.exitCode).toBeNull();

  rmSync(join(root, 'filler'));
  await until('/readyz once space is back', async () =>
    (await fetch(`${url}/readyz`)).status === 200 ? true : undefined,
  );
  const after = ids(100);
  expect((await send(after)).status).toBe(200);
  expect(child.exitCode).toBeNull();

  child.kill('SIGTERM');
  expect(await exited).toBe(0);
  const store = await openStore({ dataDir: data, migrate: false });
  try {
    const found = await store.events.findExistingIds([...acked]);
    expect(found.size).toBe(acked.size);
    expect((await verifyChain(store.events)).ok).toBe(true);
  } finally {
    await store.close();
  }
}

const config = defaultConfig();
const valid = (list: string[]) =>
  events(list).map((e) => {
    const v = validateEvent(e, {
      project: 'default',
      strictTypes: false,
      receivedAt: Date.now(),
      limits: config.ingest,
      privacy: scrubPolicy(config.privacy),
    });
    if (isRejection(v)) throw new Error(v.message);
    return v;
  });

/** The same expectations on the failing engine wrapper: writes fail as on a full disk. */
async function failingEngine(dir: string): Promise<void> {
  let full = false;
  const WRITES = new Set(['appendBatch', 'discardUnchained', 'addRejections']);
  const diskFull = {
    match: ({ method }: { method: string }) => WRITES.has(method),
    error: () => new StoreError('unavailable', 'No space left on device (injected)'),
  };
  let opened = 0;
  let faulty: FaultyStore | null = null;
  const recovering = await RecoveringStore.open({
    open: async () => {
      opened += 1;
      faulty = new FaultyStore(await openStore({ dataDir: dir }));
      if (full) faulty.arm(diskFull);
      return faulty.store;
    },
    probe: async () => {
      if (full) throw new Error('the disk is still full');
    },
    retryMs: 50,
    log: quiet,
  });
  const store: Store = recovering.store;
  cleanups.push(() => store.close());
  const committer = new GroupCommitter(store.events, {
    maxInFlightEvents: 10_000,
    maxCommitEvents: 1000,
    log: quiet as never,
  });
  await committer.start();
  const acked = new Set<string>();
  const first = ids(20);
  await committer.submit(valid(first));
  for (const id of first) acked.add(id);

  // The disk fills: the next write fails, the store is reopened, and stays refused.
  full = true;
  (faulty as FaultyStore | null)?.arm(diskFull);
  await expect(committer.submit(valid(ids(20)))).rejects.toBeInstanceOf(StoreError);
  expect(recovering.unwritable).not.toBeNull();
  // Reads are served by the reopened store while the disk is still full.
  await until('the store to be reopened', async () => (opened >= 2 ? true : undefined));
  expect(await until('a read on the reopened store', () => store.events.countEvents())).toBe(20);
  await sleep(200);
  expect(recovering.unwritable).not.toBeNull();

  full = false;
  (faulty as FaultyStore | null)?.disarm();
  await until('the store to write again', async () => (recovering.unwritable === null ? true : undefined));
  const later = ids(30);
  expect(await committer.submit(valid(later))).toEqual(Array(30).fill('stored'));
  for (const id of later) acked.add(id);
  expect((await store.events.findExistingIds([...acked])).size).toBe(acked.size);
  expect(await verifyChain(store.events)).toMatchObject({ ok: true, events: acked.size });
  await committer.close();
}

describe('disk full', () => {
  it('the store refuses writes, serves reads and reopens itself once space is back (failing engine wrapper)', async () => {
    const dir = tempDir();
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    await failingEngine(dir);
  }, 120_000);

  it('a real full disk (small tmpfs; the failing engine wrapper where mounting is not allowed): 503 + Retry-After, not ready, no crash, recovery, nothing acknowledged lost', async () => {
    const root = tempDir();
    mkdirSync(root, { recursive: true });
    cleanups.push(() => rmSync(root, { recursive: true, force: true }));
    if (!tryMount(root, '48m')) {
      await failingEngine(root);
      return;
    }
    cleanups.push(() => {
      execFileSync('umount', ['-l', root], { stdio: 'ignore' });
    });
    await realDisk(root);
  }, 480_000);
});
