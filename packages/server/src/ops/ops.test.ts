/**
 * The operations commands, run as a person runs them: the real `vigil` CLI in a child process
 * against real data directories and a real server on loopback.
 */
import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { call, readEvents, scratchDirs, startVigil, type Vigil } from '../test/harness.js';
import { runChecks } from './check.js';

const CLI = join(dirname(fileURLToPath(import.meta.url)), '..', 'cli', 'main.ts');

export interface CliResult {
  status: number;
  stdout: string;
  stderr: string;
}

/** Runs `vigil ARGS` without blocking this process (an in-process server must keep answering). */
export function vigilCli(
  args: readonly string[],
  { env = {}, wrap = [] }: { env?: Record<string, string>; wrap?: readonly string[] } = {},
): Promise<CliResult> {
  const argv = [...wrap, process.execPath, '--import', 'tsx', CLI, ...args];
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0] as string, argv.slice(1), {
      env: { ...process.env, VIGIL_LOG_LEVEL: 'warn', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 90_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ status: code ?? -1, stdout, stderr });
    });
  });
}

const scratch = scratchDirs();

/** Bytes of every file in a directory (the store's files, whatever the engine names them). */
const dirBytes = (dir: string) =>
  readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .map((f) => statSync(join(dir, f)))
    .filter((s) => s.isFile())
    .reduce((n, s) => n + s.size, 0);
const running: Vigil[] = [];
afterEach(async () => {
  for (const v of running.splice(0)) await v.stop();
  scratch.cleanup();
});

const HOUR = 3_600_000;
const BASE = Date.now() - 6 * HOUR;

/** A server with LLM requests, decisions and custom events spread over the last hours. */
async function populated(dataDir = scratch.fresh()): Promise<Vigil> {
  const v = await startVigil({ dataDir });
  running.push(v);
  const events = Array.from({ length: 400 }, (_, i) => {
    const ts = BASE + i * 45_000;
    if (i % 4 === 0)
      return {
        type: 'llm.request',
        ts,
        version: '1.0.0',
        props: {
          total_ms: 100 + i,
          llm_ms: 80 + i,
          prompt_tokens: i,
          completion_tokens: 2 * i,
          model: 'm',
          space: `s${i % 3}`,
          user: `u${i % 5}`,
        },
      };
    if (i % 4 === 1)
      return {
        type: 'decision.recommendation',
        ts,
        version: '1.0.0',
        props: {
          action: i % 8 === 1 ? 'accept' : 'override',
          signal_id: `sig${i}`,
          recommendation_type: 'risk',
          confidence: 0.5,
          decision_time_ms: i,
        },
      };
    return { type: 'custom.event', ts, version: '1.0.0', props: { i } };
  });
  for (let b = 0; b < 4; b++) {
    const res = await call(v, 'POST', '/v1/events', {
      token: v.ingestKey,
      json: { events: events.slice(b * 100, b * 100 + 100) },
    });
    expect(res.body).toEqual({ accepted: 100, rejected: [] });
  }
  return v;
}

/** What the API answers about the data: compared before backup and after restore. */
async function answers(v: Vigil) {
  const get = async (path: string) => {
    const r = await call(v, 'GET', path, { token: v.adminToken });
    expect(r.status).toBe(200);
    return r.body;
  };
  return {
    events: await readEvents(v),
    metrics: await get(
      `/api/metrics/historical?type=totalLatency&start=${new Date(BASE).toISOString()}&end=${new Date(BASE + 6 * HOUR).toISOString()}&aggregation=hour`,
    ),
    // start and end of the trailing window move with the clock; the figures must not.
    decisions: (({ start: _s, end: _e, ...figures }) => figures)(
      (await get('/api/decisions/summary?window=7d')) as Record<string, unknown>,
    ),
    keys: ((await get('/api/keys')) as { keys: { id: string }[] }).keys.map((k) => k.id).sort(),
  };
}

describe('vigil backup and restore', () => {
  it('backs up a running server while it ingests, restores into a fresh directory with the same answers, and verify passes', async () => {
    const v = await populated();
    const before = await answers(v);
    const file = join(scratch.fresh(), 'vigil.backup');
    const port = new URL(v.url).port;

    // Ingest goes on during the backup: the backup is one consistent moment of it.
    let stop = false;
    let sentDuring = 0;
    const writer = (async () => {
      while (!stop) {
        const r = await call(v, 'POST', '/v1/events', {
          token: v.ingestKey,
          json: { events: [{ type: 'during.backup' }] },
        });
        if (r.status === 200) sentDuring += 1;
      }
    })();
    // The store is held by the server, so the CLI backs up through it (configured port, env token).
    const backup = await vigilCli(['backup', file, '--data', v.dataDir, '--port', port], {
      env: { VIGIL_ADMIN_TOKEN: v.adminToken },
    });
    stop = true;
    await writer;
    expect(backup.stderr).toBe('');
    expect(backup.status).toBe(0);
    expect(backup.stdout).toMatch(/backed up schema version \d+, \d+ events/);
    expect(backup.stdout).toContain('from the running server');
    expect(sentDuring).toBeGreaterThan(0);

    const head = readFileSync(file).subarray(0, 4096).toString('latin1').split('\n');
    expect(head[0]).toMatch(/^VIGIL-BACKUP 1 [0-9a-f]{64}$/);
    const manifest = JSON.parse(head[1] as string);
    expect(manifest).toMatchObject({ format: 1, engine: 'duckdb', vigilVersion: expect.any(String) });
    expect(manifest.schemaVersion).toBeGreaterThan(0);
    expect(manifest.rowCounts.events).toBeGreaterThanOrEqual(400);
    expect(manifest.rowCounts.events).toBeLessThanOrEqual(400 + sentDuring);
    expect(manifest.payload.sha256).toMatch(/^[0-9a-f]{64}$/);

    const restoredDir = join(scratch.fresh(), 'restored');
    const restore = await vigilCli(['restore', file, '--data', restoredDir]);
    expect(restore.stdout).toContain('restored');
    expect(restore.status).toBe(0);
    const verify = await vigilCli(['verify', '--data', restoredDir, '--json']);
    expect(verify.status).toBe(0);
    expect(JSON.parse(verify.stdout)).toMatchObject({ ok: true, events: manifest.rowCounts.events });

    const again = await startVigil({ dataDir: restoredDir });
    running.push(again);
    const after = await answers(again);
    const original = before.events.map((e) => e.id);
    // Every event the server had before the backup, plus a prefix of those sent during it.
    expect(after.events.filter((e) => e.type !== 'during.backup')).toEqual(before.events);
    expect(after.events.length).toBe(manifest.rowCounts.events);
    expect(original.length).toBe(400);
    expect(after.metrics).toEqual(before.metrics);
    expect(after.decisions).toEqual(before.decisions);
    expect(after.keys).toEqual(before.keys);
    // The restored keys work: the original ingest key is accepted by the restored server.
    const res = await call(again, 'POST', '/v1/events', {
      token: v.ingestKey,
      json: { events: [{ type: 'after.restore' }] },
    });
    expect(res.body).toEqual({ accepted: 1, rejected: [] });
  }, 120_000);

  it('backs up a stopped store directly, with the same manifest counts as the data', async () => {
    const v = await populated();
    await v.stop();
    const file = join(scratch.fresh(), 'stopped.backup');
    const r = await vigilCli(['backup', file, '--data', v.dataDir, '--json']);
    expect(r.status).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.via).toBe('store');
    expect(out.manifest.rowCounts.events).toBe(400);
    expect(out.manifest.rowCounts.batches).toBe(4);
    expect(out.manifest.chainHead.seq).toBe(4);
    expect(existsSync(`${file}.partial`)).toBe(false);
  }, 60_000);

  it('refuses tampered, truncated and foreign files with a clear reason and changes nothing', async () => {
    const v = await populated();
    await v.stop();
    const dir = scratch.fresh();
    const good = join(dir, 'good.backup');
    expect((await vigilCli(['backup', good, '--data', v.dataDir])).status).toBe(0);
    const bytes = readFileSync(good);
    const firstNewline = bytes.indexOf(10);
    const payloadAt = bytes.indexOf(10, firstNewline + 1) + 1;

    const flipped = Buffer.from(bytes);
    const at = payloadAt + Math.floor((bytes.length - payloadAt) / 2);
    flipped[at] = (flipped[at] as number) ^ 0xff;
    const manifestEdited = Buffer.from(
      bytes.toString('latin1').replace(/"events":(\d+)/, (_m, n) => `"events":${Number(n) + 1}`),
      'latin1',
    );
    const cases: [string, Buffer, RegExp][] = [
      ['payload-byte', flipped, /damaged: the store payload does not match its checksum/],
      ['manifest', manifestEdited, /damaged: the manifest does not match its checksum/],
      [
        'truncated',
        bytes.subarray(0, bytes.length - 1000),
        /truncated: the store payload has \d+ of \d+ bytes/,
      ],
      ['foreign', Buffer.from('PK\u0003\u0004 not a backup'), /is not a Vigil backup/],
    ];
    for (const [name, content, reason] of cases) {
      const file = join(dir, `${name}.backup`);
      writeFileSync(file, content);
      const target = join(dir, `target-${name}`);
      const r = await vigilCli(['restore', file, '--data', target, '--force']);
      expect(r.status, name).toBe(1);
      expect(r.stdout + r.stderr, name).toMatch(reason);
      expect(r.stdout, name).toContain('nothing was changed');
      expect(existsSync(target), name).toBe(false);
    }
    // Nothing was left beside the targets either (no staging directories).
    expect(readdirSync(dir).filter((f) => f.startsWith('.')).length).toBe(0);
  }, 120_000);

  it('refuses to restore onto existing data without --force, and with it keeps the previous data aside', async () => {
    const source = await populated();
    await source.stop();
    const file = join(scratch.fresh(), 'b.backup');
    expect((await vigilCli(['backup', file, '--data', source.dataDir])).status).toBe(0);

    const other = await startVigil({ dataDir: scratch.fresh() });
    await call(other, 'POST', '/v1/events', {
      token: other.ingestKey,
      json: { events: [{ type: 'other.data' }] },
    });
    // While the server runs, even --force is refused: the store is never swapped from under it.
    const live = await vigilCli(['restore', file, '--data', other.dataDir, '--force']);
    expect(live.status).toBe(1);
    expect(live.stdout).toMatch(/in use by a running Vigil server; stop it/);
    await other.stop();
    const sizeBefore = dirBytes(other.dataDir);

    const refused = await vigilCli(['restore', file, '--data', other.dataDir]);
    expect(refused.status).toBe(1);
    expect(refused.stdout).toMatch(/already holds data; restoring would replace it\. Pass --force/);
    const unchanged = await startVigil({ dataDir: other.dataDir });
    expect((await readEvents(unchanged)).map((e) => e.type)).toEqual(['other.data']);
    await unchanged.stop();
    expect(dirBytes(other.dataDir)).toBeGreaterThanOrEqual(sizeBefore);

    const forced = await vigilCli(['restore', file, '--data', other.dataDir, '--force', '--json']);
    expect(forced.status).toBe(0);
    const result = JSON.parse(forced.stdout);
    expect(result.previous).toMatch(/\.previous-/);
    const restored = await startVigil({ dataDir: other.dataDir });
    running.push(restored);
    expect(await readEvents(restored)).toHaveLength(400);
    const kept = await startVigil({ dataDir: result.previous });
    running.push(kept);
    expect((await readEvents(kept)).map((e) => e.type)).toEqual(['other.data']);
  }, 120_000);
});

describe('vigil restore onto a mount point', () => {
  it('restores into a mounted volume, and with --force keeps the previous data inside it (no rename across file systems)', async () => {
    const source = await populated();
    await source.stop();
    const dir = scratch.fresh();
    const file = join(dir, 'b.backup');
    expect((await vigilCli(['backup', file, '--data', source.dataDir])).status).toBe(0);
    const volume = join(dir, 'volume');
    mkdirSync(volume);
    // A private mount namespace with a tmpfs on the data directory, like a container volume:
    // the directory cannot be renamed and its parent is another file system.
    const script = 'mount -t tmpfs tmpfs "$0" && "$@" && "$@" --force && ls -A "$0" "$0"/.previous-*';
    const r = await vigilCli(['restore', file, '--data', volume], {
      wrap: ['unshare', '-rm', 'sh', '-c', script, volume],
    });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout.match(/^restored schema version/gm)?.length).toBe(2);
    expect(r.stdout).toMatch(/kept in \S+volume\/\.previous-\S+/);
    // The volume holds the restored store and the previous one aside, nothing else.
    const store = readdirSync(source.dataDir).filter((f) => !f.endsWith('.wal'));
    expect(store.length).toBeGreaterThan(0);
    expect(r.stdout).toMatch(new RegExp(`:\\n\\.previous-\\S+\\n${store.join('\\n')}\\n`));
    expect(r.stdout).toMatch(new RegExp(`\\.previous-\\S+:\\n${store.join('\\n')}`));
  }, 120_000);
});

describe('vigil check', () => {
  it('passes on a good data directory, one line per check, and answers --json', async () => {
    const v = await populated();
    await v.stop();
    const r = await vigilCli(['check', '--data', v.dataDir]);
    expect(r.status).toBe(0);
    const lines = r.stdout.trim().split('\n');
    for (const name of [
      'config',
      'data directory',
      'store',
      'migrations',
      'audit chain',
      'checkpoint',
      'disk space',
      'clock',
    ])
      expect(
        lines.some((l) => l.startsWith(`✓ ${name}`)),
        name,
      ).toBe(true);
    expect(r.stdout).toMatch(/audit chain\s+head is batch 4/);
    expect(r.stdout).toMatch(
      /✓ checkpoint\s+the last signed checkpoint \(shutdown, \S+\) holds batch 4 \(\w+…\); the chain extends it \(it is the head\)/,
    );
    expect(lines.at(-1)).toBe('all checks passed');
    const j = await vigilCli(['check', '--data', v.dataDir, '--json']);
    const body = JSON.parse(j.stdout);
    expect(body.ok).toBe(true);
    expect(body.checks.map((c: { name: string }) => c.name)).toEqual([
      'config',
      'data directory',
      'store',
      'migrations',
      'audit chain',
      'checkpoint',
      'disk space',
      'clock',
    ]);
  }, 60_000);

  it('fails the clock when it is behind the last commit, and the disk below the minimum (in process)', async () => {
    const v = await populated();
    await v.stop();
    const overrides = { dataDir: v.dataDir };
    const behind = await runChecks({ overrides, env: {}, now: () => BASE - 86_400_000 });
    expect(behind.find((c) => c.name === 'clock')).toMatchObject({
      status: 'fail',
      detail: expect.stringMatching(/is behind the last committed batch/),
    });
    const tooSmall = await runChecks({ overrides, env: {}, minFreeBytes: Number.MAX_SAFE_INTEGER });
    expect(tooSmall.find((c) => c.name === 'disk space')).toMatchObject({
      status: 'fail',
      detail: expect.stringMatching(/free of .* on the data directory's disk; below the .* minimum/),
    });
    const good = await runChecks({ overrides, env: {} });
    expect(good.map((c) => c.status)).toEqual([
      'ok',
      'ok',
      'ok',
      'ok',
      'ok',
      'ok',
      expect.stringMatching(/ok|warn/),
      'ok',
    ]);
  }, 60_000);

  it('fails the checkpoint when the store no longer holds the last checkpointed head (an older store put back)', async () => {
    const v = await populated();
    await v.stop();
    const older = join(scratch.fresh(), 'older.duckdb');
    cpSync(join(v.dataDir, 'vigil.duckdb'), older);
    // One more batch, checkpointed when the server stops.
    const again = await startVigil({ dataDir: v.dataDir, ingestKey: v.ingestKey });
    running.push(again);
    expect(
      (await call(again, 'POST', '/v1/events', { token: v.ingestKey, json: { events: [{ type: 'x' }] } }))
        .status,
    ).toBe(200);
    await again.stop();
    const good = await vigilCli(['check', '--data', v.dataDir]);
    expect(good.stdout).toMatch(/✓ checkpoint\s+.* holds batch 5 .*the chain extends it \(it is the head\)/);
    cpSync(older, join(v.dataDir, 'vigil.duckdb'));
    const r = await vigilCli(['check', '--data', v.dataDir]);
    expect(r.status).toBe(1);
    expect(r.stdout).toMatch(
      /✗ checkpoint\s+the last signed checkpoint \(shutdown, \S+\) holds batch 5 \(\w+…\), but the store's chain ends at batch 4: batches were deleted/,
    );
  }, 120_000);

  it('fails on a missing data directory and on a path under a file, saying why', async () => {
    const dir = scratch.fresh();
    const missing = await vigilCli(['check', '--data', join(dir, 'nope')]);
    expect(missing.status).toBe(1);
    expect(missing.stdout).toMatch(/✗ data directory\s+\S+nope does not exist; create it/);
    expect(missing.stdout).toMatch(/- store\s+needs a usable data directory/);
    expect(existsSync(join(dir, 'nope'))).toBe(false);
    writeFileSync(join(dir, 'file'), 'x');
    const underFile = await vigilCli(['check', '--data', join(dir, 'file', 'data')]);
    expect(underFile.status).toBe(1);
    expect(underFile.stdout).toMatch(/✗ data directory/);
  }, 60_000);

  it('fails on a read-only data directory (a read-only bind mount: root ignores file modes)', async () => {
    const v = await populated();
    await v.stop();
    // Tests run as root, which writes through chmod 555; a read-only mount stops root too.
    // `unshare -rm` gives the CLI a private mount namespace where the directory is mounted read-only.
    const ro = `mount --bind "$0" "$0" && mount -o remount,bind,ro "$0" && exec "$@"`;
    const r = await vigilCli(['check', '--data', v.dataDir], {
      wrap: ['unshare', '-rm', 'sh', '-c', ro, v.dataDir],
    });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(1);
    expect(r.stdout).toMatch(
      /✗ data directory\s+\S+ is on a read-only file system; the server must write its store there/,
    );
  }, 60_000);

  it('fails when migrations are behind and when the configuration is invalid', async () => {
    const v = await populated();
    await v.stop();
    expect((await vigilCli(['migrate', 'down', '--data', v.dataDir])).status).toBe(0);
    const behind = await vigilCli(['check', '--data', v.dataDir]);
    expect(behind.status).toBe(1);
    expect(behind.stdout).toMatch(/✗ migrations\s+schema version \d+ of \d+; run 'vigil migrate up'/);
    const bad = await vigilCli(['check', '--data', v.dataDir], { env: { VIGIL_PORT: 'eighty' } });
    expect(bad.status).toBe(1);
    expect(bad.stdout).toMatch(/✗ config\s+VIGIL_PORT must be a port number/);
  }, 60_000);
});

describe('vigil smoke', () => {
  it('passes against a good server, with a checklist and timings', async () => {
    const v = await populated();
    const r = await vigilCli(['smoke', v.url, '--token', v.adminToken]);
    expect(r.stdout).toMatch(/passed in \d+ ms/);
    expect(r.status).toBe(0);
    for (const step of [
      'healthz',
      'readyz',
      'admin token accepted',
      'anonymous refused on private routes',
      'ingest key cannot read',
      'marked test event ingested',
      'test event read back',
      'ingest key revoked',
    ])
      expect(r.stdout).toMatch(new RegExp(`✓ ${step}\\s+\\d+ ms`));
    // The marked event is in the store, findable by its type.
    const smoke = await readEvents(v, { type: 'vigil.smoke' });
    expect(smoke).toHaveLength(1);
  }, 60_000);

  it('fails against a deployment whose proxy lets anonymous callers in, naming the open routes', async () => {
    const v = await populated();
    // A classic misconfiguration: a reverse proxy that adds the admin credentials itself.
    const { createServer } = await import('node:http');
    const proxy = createServer(async (req, res) => {
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      const headers: Record<string, string> = {};
      for (const [k, val] of Object.entries(req.headers))
        if (typeof val === 'string' && k !== 'host') headers[k] = val;
      headers.authorization ??= `Bearer ${v.adminToken}`;
      const upstream = await fetch(`${v.url}${req.url}`, {
        method: req.method,
        headers,
        body: chunks.length > 0 ? Buffer.concat(chunks) : undefined,
      });
      res.writeHead(upstream.status, {
        'content-type': upstream.headers.get('content-type') ?? 'text/plain',
      });
      res.end(Buffer.from(await upstream.arrayBuffer()));
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    const address = proxy.address();
    const url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
    try {
      const r = await vigilCli(['smoke', url, '--token', v.adminToken, '--json']);
      expect(r.status).toBe(1);
      const body = JSON.parse(r.stdout);
      expect(body.ok).toBe(false);
      const step = body.steps.find((s: { name: string }) => s.name === 'anonymous refused on private routes');
      expect(step.status).toBe('fail');
      expect(step.detail).toMatch(/open to anyone: GET \/api\/events → 200/);
    } finally {
      proxy.closeAllConnections();
      await new Promise((resolve) => proxy.close(resolve));
    }
  }, 60_000);

  it('fails fast and clearly when nothing answers', async () => {
    // A port that was free a moment ago: nothing listens there.
    const { createServer } = await import('node:net');
    const port = await new Promise<number>((resolve) => {
      const srv = createServer().listen(0, '127.0.0.1', () => {
        const a = srv.address();
        srv.close(() => resolve(typeof a === 'object' && a ? a.port : 0));
      });
    });
    const r = await vigilCli(['smoke', `http://127.0.0.1:${port}`, '--token', 'x'.repeat(20)]);
    expect(r.status).toBe(1);
    expect(r.stdout).toMatch(/✗ healthz\s+\d+ ms\s+GET \/healthz: ECONNREFUSED/);
  }, 30_000);
});

describe('vigil export', () => {
  it('writes Parquet and CSV with progress', async () => {
    const v = await populated();
    const expected = (await readEvents(v, { type: 'llm.request' })).filter(
      (e) => Date.parse(e.ts) >= BASE && Date.parse(e.ts) < BASE + 3 * HOUR,
    );
    const all400 = await readEvents(v);
    await v.stop();
    const dir = scratch.fresh();
    const out = join(dir, 'llm.parquet');
    const from = new Date(BASE).toISOString();
    const to = new Date(BASE + 3 * HOUR).toISOString();
    const r = await vigilCli([
      'export',
      '--data',
      v.dataDir,
      '--from',
      from,
      '--to',
      to,
      '--type',
      'llm.request',
      '--format',
      'parquet',
      '--out',
      out,
    ]);
    expect(r.stderr).toMatch(/exporting #+\.*\s+100\.0% (\d+)\/\1 rows/);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain(`wrote ${expected.length} events`);
    expect(expected.length).toBeGreaterThan(50);

    // A Parquet file (magic bytes at both ends); what it holds is checked by the engine's own
    // export test (store/duckdb/export.test.ts), which reads it back.
    const parquet = readFileSync(out);
    expect(parquet.subarray(0, 4).toString()).toBe('PAR1');
    expect(parquet.subarray(-4).toString()).toBe('PAR1');

    const csv = join(dir, 'all.csv');
    const all = await vigilCli([
      'export',
      '--data',
      v.dataDir,
      '--from',
      new Date(BASE - HOUR).toISOString(),
      '--to',
      new Date().toISOString(),
      '--format',
      'csv',
      '--out',
      csv,
    ]);
    expect(all.status).toBe(0);
    // Not a terminal: one progress line per tenth at most, the last one at 100%.
    const progress = all.stderr.trim().split('\n');
    expect(progress.length).toBeGreaterThan(1);
    expect(progress.length).toBeLessThanOrEqual(11);
    expect(progress.at(-1)).toMatch(/100\.0% 400\/400 rows/);
    const [header, ...lines] = readFileSync(csv, 'utf8').trim().split('\n');
    expect(header).toMatch(/^id,project,type,ts,received_at,late,version,/);
    expect(lines).toHaveLength(400);
    // The columns before props hold no commas in these events: the prompt tokens add up.
    const column = header?.split(',').indexOf('prompt_tokens') ?? -1;
    const prompt = (e: (typeof all400)[number]) =>
      Number((e.props as Record<string, unknown>).prompt_tokens ?? 0);
    expect(lines.reduce((sum, line) => sum + Number(line.split(',')[column] || 0), 0)).toBe(
      all400.reduce((sum, e) => sum + prompt(e), 0),
    );
  }, 90_000);

  it('says what is wrong with its arguments', async () => {
    const dir = scratch.fresh();
    const r = await vigilCli([
      'export',
      '--data',
      dir,
      '--from',
      'yesterday',
      '--to',
      '2026-01-01',
      '--out',
      join(dir, 'x'),
    ]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/--from must be an ISO-8601 date or time/);
    // Reading commands never create an empty store where there is none.
    const empty = await vigilCli(['backup', join(dir, 'b.backup'), '--data', join(dir, 'none')]);
    expect(empty.status).toBe(1);
    expect(empty.stderr).toMatch(/there is no Vigil store in \S+none; check --data/);
    expect(existsSync(join(dir, 'none'))).toBe(false);
  }, 30_000);
});
