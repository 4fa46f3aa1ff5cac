import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, readlinkSync, realpathSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { latestSchemaVersion } from '../store/index.js';
import { call, scratchDirs } from '../test/harness.js';
import { runCli, spawnServer, stopSpawned } from '../test/process.js';

const scratch = scratchDirs();
const fresh = scratch.fresh;
afterEach(async () => {
  // A test that failed or timed out may have left its server running.
  await stopSpawned();
  scratch.cleanup();
});

const ADMIN = 'cli-test-admin-token-0123456789';
const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', '..');

/** Runs the CLI with --json: stdout must be one JSON document and nothing else. */
function jsonOf(args: string[], env: Record<string, string> = {}) {
  const r = runCli([...args, '--json'], env);
  let value: unknown;
  try {
    value = JSON.parse(r.stdout);
  } catch {
    throw new Error(
      `vigil ${args.join(' ')} --json wrote more than JSON on stdout:\n${r.stdout}\n${r.stderr}`,
    );
  }
  return { ...r, value: value as Record<string, unknown> };
}
// Each CLI run compiles the source with tsx: slow on a loaded 2-core machine, hence the long timeouts.
const uuidv7ish = () => {
  const hex = Date.now().toString(16).padStart(12, '0');
  const r = randomUUID();
  return `${hex.slice(0, 8)}-${hex.slice(8)}-7${r.slice(15, 18)}-${r.slice(19, 23)}-${r.slice(24)}`;
};

describe('vigil CLI', () => {
  it('prints help, and refuses unknown commands and flags with exit 2', () => {
    const help = runCli(['--help']);
    expect(help.status).toBe(0);
    expect(help.stdout).toContain('migrate status|up|down');
    expect(runCli(['frobnicate']).status).toBe(2);
    // Each command has its own help, with its flags and the time formats it takes.
    const exportHelp = runCli(['export', '--help']);
    expect(exportHelp.status).toBe(0);
    expect(exportHelp.stdout).toMatch(/^Usage: vigil export --from T --to T/);
    expect(exportHelp.stdout).toContain('Times: ISO-8601');
    expect(runCli(['help', 'generate']).stdout).toMatch(/^Usage: vigil generate/);
    const badFlag = runCli(['serve', '--prot', '1']);
    expect(badFlag.status).toBe(2);
    expect(badFlag.stderr).toContain('--prot');
    expect(runCli(['serve', '--port', 'x']).stderr).toMatch(/--port must be a port number/);
  }, 180_000);

  it('serve prints the login and a first ingest key once; migrate and verify work on the data it wrote', async () => {
    const dataDir = fresh();
    const server = await spawnServer(dataDir, {
      VIGIL_ADMIN_TOKEN: ADMIN,
      VIGIL_ADMIN_PASSWORD: 'a-good-password',
      VIGIL_LOG_LEVEL: 'info',
    });
    const key = /ingest key:\s+(vgl_\S+)/.exec(server.stdout())?.[1] ?? '';
    expect(key).toMatch(/^vgl_/);
    expect(server.stdout()).toMatch(/dashboard: http:\/\/127\.0\.0\.1:\d+\/ {3}\(log in as user 'admin'\)/);
    const res = await call(server, 'POST', '/v1/events', {
      token: key,
      json: { events: [{ type: 'cli.test' }] },
    });
    expect(res.body).toEqual({ accepted: 1, rejected: [] });
    expect(
      (
        await call({ url: server.url }, 'POST', '/api/login', {
          json: { user: 'admin', password: 'a-good-password' },
        })
      ).status,
    ).toBe(200);

    // At info, answered requests are not logged (they would push the banner off the screen); errors are.
    for (let i = 0; i < 5; i++) expect((await call(server, 'GET', '/healthz')).status).toBe(200);
    expect((await call(server, 'GET', '/api/events', { token: 'vgl_wrong' })).status).toBe(401);
    await new Promise((r) => setTimeout(r, 200));
    const requestLines = server
      .stdout()
      .split('\n')
      .filter((l) => l.includes('"msg":"request"'));
    // (The login above may show: scrypt on a loaded machine can pass the 1 s "slow" mark.)
    expect(requestLines.filter((l) => l.includes('/healthz'))).toEqual([]);
    expect(
      requestLines.filter((l) => l.includes('"url":"/api/events"') && l.includes('"status":401')),
    ).toHaveLength(1);
    expect(server.stdout()).not.toContain('incoming request');

    // check works beside the running server: the store is the server's, not a failure.
    const port = new URL(server.url).port;
    const check = runCli(['check', '--data', dataDir, '--port', port]);
    expect(check.stdout).toMatch(/store\s+held by the running server at http:\/\/127\.0\.0\.1:\d+ \(ready\)/);
    expect(check.status, check.stdout).toBe(0);

    // While it runs, the store is locked: the CLI says so instead of corrupting anything.
    const locked = runCli(['verify', '--data', dataDir]);
    expect(locked.status).toBe(1);
    expect(locked.stderr).toMatch(/in use by another process/);

    server.child.kill('SIGTERM');
    expect(await server.exited).toBe(0);

    const status = runCli(['migrate', 'status', '--data', dataDir, '--json']);
    expect(status.status).toBe(0);
    const latest = latestSchemaVersion();
    expect(JSON.parse(status.stdout)).toMatchObject({ current: latest, latest });
    expect(runCli(['verify', '--data', dataDir]).stdout).toMatch(/^ok: 1 batches, 1 events/);

    const down = runCli(['migrate', 'down', '--to', '1', '--data', dataDir]);
    const above = Array.from({ length: latest - 1 }, (_, i) => i + 2);
    expect(down.stdout).toContain(
      `reverted ${[...above].reverse().join(', ')}; schema version now 1 of ${latest}`,
    );
    expect(runCli(['migrate', 'up', '--data', dataDir]).stdout).toContain(
      `applied ${above.join(', ')}; schema version now ${latest} of ${latest}`,
    );

    const restarted = await spawnServer(dataDir, { VIGIL_ADMIN_TOKEN: ADMIN });
    expect(restarted.stdout()).not.toContain('vgl_');
    expect((await call(restarted, 'GET', '/readyz')).status).toBe(200);
    restarted.child.kill('SIGINT');
    expect(await restarted.exited).toBe(0);
  }, 300_000);

  it('generate checks every argument before any work, and each command refuses flags it does not take', () => {
    const dataDir = join(fresh(), 'never-created');
    for (const [args, why] of [
      [['--events', '1e3'], /--events must be a whole number of at least 1; got '1e3'/],
      [['--events', '0'], /--events must be a whole number/],
      [['--days=-2'], /--days must be a whole number/],
      [['--days', '2.5'], /--days must be a whole number/],
      [['--to', '3'], /generate does not take --to/],
      [['--out', 'x.csv', '--force'], /generate does not take --out, --force/],
      [['extra'], /generate takes no arguments; got 'extra'/],
    ] as const) {
      const r = runCli(['generate', '--data', dataDir, ...args]);
      expect(r.status, `${args.join(' ')}: ${r.stderr}`).toBe(2);
      expect(r.stderr).toMatch(why);
      // The command's own help follows, not the whole usage.
      expect(r.stderr).toContain('Usage: vigil generate');
      expect(r.stdout).toBe('');
    }
    // Nothing was done: not even the data directory exists.
    expect(existsSync(dataDir)).toBe(false);
    expect(runCli(['smoke', 'http://127.0.0.1:1', '--data', dataDir]).stderr).toMatch(
      /smoke does not take --data/,
    );
    expect(runCli(['migrate', 'status', 'now', '--data', dataDir]).stderr).toMatch(
      /migrate takes one argument; got 'status' 'now'/,
    );
    expect(runCli(['verify', '--force', '--data', dataDir]).status).toBe(2);
    expect(existsSync(dataDir)).toBe(false);
  }, 300_000);

  it('every command writes only JSON on stdout with --json (progress and logs on stderr); generate says why it cannot run beside a server', async () => {
    const dataDir = fresh();
    const gen = jsonOf(['generate', '--events', '400', '--days', '2', '--data', dataDir], {
      VIGIL_LOG_LEVEL: 'info',
    });
    expect(gen.status, gen.stderr).toBe(0);
    expect(gen.value).toMatchObject({ events: 400 });
    expect(gen.stderr).toContain('generating');
    expect(jsonOf(['migrate', 'status', '--data', dataDir]).value).toMatchObject({
      latest: latestSchemaVersion(),
    });
    expect(jsonOf(['migrate', 'up', '--data', dataDir]).value).toMatchObject({ applied: [] });
    expect(jsonOf(['verify', '--data', dataDir]).value).toMatchObject({ ok: true, events: 400 });
    // The generated days and one either side (reprice writes each day of its range: 80 years of
    // days took over the CLI's 180 s on a loaded machine).
    const day = (offset: number) => new Date(Date.now() + offset * 86_400_000).toISOString().slice(0, 10);
    const repriced = jsonOf(['reprice', '--from', day(-3), '--to', day(2), '--data', dataDir]);
    expect(repriced.status, repriced.stderr).toBe(0);
    expect(repriced.value).toHaveProperty('requests');
    const file = join(fresh(), 'b.vigil');
    expect(jsonOf(['backup', file, '--data', dataDir]).value).toMatchObject({ via: 'store' });
    const restored = fresh();
    expect(jsonOf(['restore', file, '--data', restored, '--force']).status).toBe(0);
    const exported = jsonOf([
      'export',
      '--data',
      restored,
      '--from',
      '2020-01-01',
      '--to',
      '2100-01-01',
      '--format',
      'csv',
      '--out',
      join(restored, '..', 'e.csv'),
    ]);
    expect(exported.value).toMatchObject({ rows: 400 });
    expect(exported.stderr).toContain('exporting');
    expect(jsonOf(['check', '--data', dataDir]).value).toMatchObject({ checks: expect.any(Array) });
    // A refused restore answers in JSON too.
    const refused = jsonOf(['restore', file, '--data', dataDir]);
    expect(refused.status).toBe(1);
    expect(refused.value).toHaveProperty('error');

    const server = await spawnServer(dataDir, { VIGIL_ADMIN_TOKEN: ADMIN });
    const port = new URL(server.url).port;
    expect(jsonOf(['smoke', server.url, '--token', ADMIN]).value).toMatchObject({ ok: true });
    expect(
      jsonOf(['backup', join(fresh(), 'c.vigil'), '--data', dataDir, '--port', port, '--token', ADMIN]).value,
    ).toMatchObject({ via: 'server' });
    expect(jsonOf(['check', '--data', dataDir, '--port', port]).value).toMatchObject({ ok: true });

    // generate writes into the store itself: beside a server on the same data directory it says
    // why it cannot, names the server, and writes nothing.
    const beside = runCli(['generate', '--events', '100', '--data', dataDir, '--port', port, '--json']);
    expect(beside.status).toBe(1);
    expect(beside.stdout).toBe('');
    expect(beside.stderr).toContain('generate cannot run beside a server on the same data directory');
    expect(beside.stderr).toContain(`the server running at http://127.0.0.1:${port} holds it`);
    expect(beside.stderr).toContain('Nothing was written');
    // Without the port the holder cannot be asked (another helper's server may answer on the
    // default port, so only the reason is checked), and the reason is still given.
    expect(runCli(['generate', '--events', '100', '--data', dataDir]).stderr).toMatch(
      /cannot run beside a server.*holds it.*Nothing was written/s,
    );
    server.child.kill('SIGTERM');
    expect(await server.exited).toBe(0);
    // 400 generated + the smoke test's one event: generate added none.
    expect(jsonOf(['verify', '--data', dataDir]).value).toMatchObject({ ok: true, events: 401 });
  }, 600_000);

  it('npx vigil works from the repository root (the bin is linked on install, before any build)', () => {
    // npm links bins at install time; the bin is a committed launcher, so a fresh clone has it.
    const link = join(ROOT, 'node_modules', '.bin', 'vigil');
    expect(realpathSync(link)).toBe(join(ROOT, 'packages', 'server', 'bin', 'vigil.mjs'));
    expect(readlinkSync(link)).not.toContain('dist');
    // --no: never fetch a package of that name from a registry.
    const help = spawnSync('npm', ['exec', '--no', '--', 'vigil', '--help'], { cwd: ROOT, encoding: 'utf8' });
    expect(help.status, help.stderr).toBe(0);
    expect(help.stdout).toMatch(/^Usage: vigil <command>/);
    const status = spawnSync(
      'npm',
      ['exec', '--no', '--', 'vigil', 'migrate', 'status', '--json', '--data', fresh()],
      {
        cwd: ROOT,
        encoding: 'utf8',
      },
    );
    expect(JSON.parse(status.stdout)).toMatchObject({ current: 0 });
  }, 180_000);

  it('loses no acknowledged event when the server is killed with SIGKILL under load, and retries do not duplicate', async () => {
    const dataDir = fresh();
    const server = await spawnServer(dataDir, { VIGIL_ADMIN_TOKEN: ADMIN });
    const key = /ingest key:\s+(vgl_\S+)/.exec(server.stdout())?.[1] ?? '';

    const acked = new Set<string>();
    const sent: { id: string; type: string; ts: number }[][] = [];
    let stop = false;
    const sender = async () => {
      while (!stop) {
        const batch = Array.from({ length: 200 }, () => ({
          id: uuidv7ish(),
          type: 'crash.test',
          ts: Date.now(),
        }));
        sent.push(batch);
        try {
          const res = await call(server, 'POST', '/v1/events', { token: key, json: { events: batch } });
          if (res.status === 200) for (const e of batch) acked.add(e.id);
        } catch {
          return; // the connection died with the server
        }
      }
    };
    const senders = Promise.all([sender(), sender(), sender(), sender()]);
    await new Promise((r) => setTimeout(r, 1500));
    server.child.kill('SIGKILL');
    stop = true;
    await senders;
    await server.exited;
    expect(acked.size).toBeGreaterThan(0);

    const again = await spawnServer(dataDir, { VIGIL_ADMIN_TOKEN: ADMIN });
    try {
      const stored = new Set<string>();
      const count = async () => {
        stored.clear();
        let cursor: string | null = null;
        let total = 0;
        do {
          const res = await call(again, 'GET', `/api/events?limit=1000${cursor ? `&cursor=${cursor}` : ''}`, {
            token: ADMIN,
          });
          const body = res.body as { events: { id: string }[]; nextCursor: string | null };
          for (const e of body.events) stored.add(e.id);
          total += body.events.length;
          cursor = body.nextCursor;
        } while (cursor);
        return total;
      };
      await count();
      const lost = [...acked].filter((id) => !stored.has(id));
      expect(lost).toEqual([]);

      // The SDK's way: resend every batch, acknowledged or not. Nothing is stored twice.
      for (const batch of sent) {
        const res = await call(again, 'POST', '/v1/events', { token: key, json: { events: batch } });
        expect(res.status).toBe(200);
      }
      const total = await count();
      expect(total).toBe(stored.size);
      expect(total).toBe(sent.flat().length);
      expect(runCli(['verify', '--data', dataDir]).status).toBe(1); // locked while serving
    } finally {
      again.child.kill('SIGTERM');
      await again.exited;
    }
    const verified = runCli(['verify', '--data', dataDir]);
    expect(verified.stdout).toMatch(/^ok: /);
  }, 300_000);
});
