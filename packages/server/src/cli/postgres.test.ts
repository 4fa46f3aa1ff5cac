/**
 * `vigil` with the metadata half on a real PostgreSQL (--postgres): the server keeps projects,
 * keys and people there, so a restart on an empty data directory still knows them; `migrate`
 * covers both engines; `backup` says what to use for PostgreSQL; a wrong URL is a clear error.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FIRST_EVENT } from '../auth/index.js';
import { call, scratchDirs } from '../test/harness.js';
import { usePostgres } from '../test/postgres.js';
import { runCli, spawnServer, stopSpawned } from '../test/process.js';

const postgres = usePostgres();
const scratch = scratchDirs();
afterEach(async () => {
  await stopSpawned();
  scratch.cleanup();
});

const TOKEN = 'pg-test-admin-token-0123456789abcdef';
const env = { VIGIL_ADMIN_TOKEN: TOKEN };

describe('vigil with --postgres', () => {
  it('keeps projects, keys and people in PostgreSQL: a restart on an empty data directory still knows them', async () => {
    const url = await postgres.fresh();
    const first = await spawnServer(scratch.fresh(), env, ['--postgres', url]);
    expect(first.stdout()).toContain('admin password:');
    expect(first.stdout()).toMatch(/metadata: PostgreSQL at postgres:\/\/postgres@127\.0\.0\.1:\d+\//);
    const key = await call(first, 'POST', '/api/keys', {
      token: TOKEN,
      json: { role: 'ingest', project: 'checkout', name: 'from-the-first' },
    });
    expect(key.status).toBe(201);
    const password = 'correct horse battery staple';
    const user = await call(first, 'POST', '/api/users', {
      token: TOKEN,
      json: { name: 'vera', role: 'viewer', password },
    });
    expect(user.status).toBe(201);
    first.child.kill('SIGTERM');
    expect(await first.exited).toBe(0);

    // Another process, a data directory it has never seen, the same PostgreSQL.
    const dataDir = scratch.fresh();
    const second = await spawnServer(dataDir, env, ['--postgres', url]);
    expect(second.stdout()).toContain('were shown on the first start');
    expect(second.stdout()).not.toContain('admin password:');
    const ingestKey = (key.body as { key: string }).key;
    const sent = await call(second, 'POST', '/v1/events', {
      token: ingestKey,
      json: FIRST_EVENT,
    });
    expect(sent.status, JSON.stringify(sent.body)).toBe(200);
    expect(sent.body).toMatchObject({ accepted: 1 });
    const login = await call(second, 'POST', '/api/login', { json: { name: 'vera', password } });
    expect(login.status).toBe(200);
    expect(login.body).toMatchObject({ user: 'vera', role: 'viewer' });
    const projects = await call(second, 'GET', '/api/projects', { token: TOKEN });
    expect(JSON.stringify(projects.body)).toContain('checkout');
    // The event went to this instance's DuckDB, in its own data directory.
    const events = await call(second, 'GET', '/api/events?project=checkout', { token: TOKEN });
    expect((events.body as { events: unknown[] }).events).toHaveLength(1);
    // A backup through the server is refused with a code, and names the tool to use.
    const backup = await call(second, 'POST', '/api/admin/backup', { token: TOKEN });
    expect(backup.status).toBe(409);
    expect(backup.body).toMatchObject({
      error: { code: 'not_supported_by_store', message: expect.stringContaining('pg_dump') },
    });
  });

  it('migrate shows and changes both schemas; backup and restore refuse and name pg_dump', async () => {
    const url = await postgres.fresh();
    const dataDir = scratch.fresh();
    const pg = ['--postgres', url, '--data', dataDir];
    // A fresh database and directory: nothing applied yet; up applies both engines' migrations.
    const up = runCli(['migrate', 'up', ...pg, '--json']);
    expect(up.status, up.stderr).toBe(0);
    const applied = JSON.parse(up.stdout) as { schemas: { engine: string; applied: number[] }[] };
    expect(applied.schemas.map((s) => s.engine)).toEqual(['duckdb', 'postgres']);
    expect(applied.schemas.every((s) => s.applied.length > 0)).toBe(true);

    const status = runCli(['migrate', 'status', ...pg, '--json']);
    const schemas = (
      JSON.parse(status.stdout) as { schemas: { engine: string; current: number; latest: number }[] }
    ).schemas;
    expect(schemas.map((s) => [s.engine, s.current === s.latest])).toEqual([
      ['duckdb', true],
      ['postgres', true],
    ]);
    const pgLatest = schemas[1]?.latest ?? 0;
    const text = runCli(['migrate', 'status', ...pg]).stdout;
    expect(text).toContain('duckdb (analytical half): schema version');
    expect(text).toContain(`postgres (metadata half): schema version ${pgLatest} of ${pgLatest}`);

    // A step down needs the engine named; then only that engine moves.
    const ambiguous = runCli(['migrate', 'down', ...pg]);
    expect(ambiguous.status).toBe(2);
    expect(ambiguous.stderr).toMatch(/name the one to revert with --engine/);
    const down = runCli(['migrate', 'down', '--engine', 'postgres', ...pg]);
    expect(down.stdout).toContain(`postgres (metadata half): reverted ${pgLatest}`);
    expect(runCli(['migrate', 'status', ...pg]).stdout).toContain(
      `postgres (metadata half): schema version ${pgLatest - 1} of ${pgLatest}`,
    );
    expect(runCli(['migrate', 'up', '--engine', 'postgres', ...pg]).stdout).toContain(`applied ${pgLatest}`);

    const file = join(scratch.fresh(), 'backup.vigil');
    const backup = runCli(['backup', file, ...pg]);
    expect(backup.status).toBe(1);
    expect(backup.stderr).toMatch(/pg_dump.*\[store: unsupported\]/s);
    expect(existsSync(file)).toBe(false);
    // A backup of the DuckDB store alone, restored where the metadata is in PostgreSQL: refused.
    expect(runCli(['backup', file, '--data', dataDir]).status).toBe(0);
    const restore = runCli(['restore', file, '--force', ...pg]);
    expect(restore.status).toBe(1);
    expect(restore.stdout).toMatch(/restore refused: .*PostgreSQL.*pg_restore.*nothing was changed/s);
    // Eight CLI processes one after another (each compiles the CLI with tsx): slow on a busy machine.
  }, 120_000);

  it('a URL it cannot use, or a server that is not there, is one clear line with a code, not a stack trace', () => {
    const dataDir = scratch.fresh();
    const unreachable = runCli([
      'serve',
      '--port',
      '0',
      '--data',
      dataDir,
      '--postgres',
      'postgres://vigil:s3cret@127.0.0.1:1/vigil',
    ]);
    expect(unreachable.status).toBe(1);
    expect(unreachable.stderr).toMatch(
      /^vigil: cannot use PostgreSQL at postgres:\/\/vigil:\*\*\*@127\.0\.0\.1:1\/vigil: .*is PostgreSQL running there.*\[store: unreachable\]\n$/,
    );
    expect(unreachable.stderr).not.toContain('s3cret');
    const missing = runCli(['migrate', 'status', '--data', dataDir, '--postgres', postgres.url('nope')]);
    expect(missing.stderr).toMatch(/database "nope" does not exist.*create it.*\[store: unreachable\]/);
    const bad = runCli(['migrate', 'status', '--data', dataDir, '--postgres', 'mysql://u:pw@h/db']);
    expect(bad.status).toBe(1);
    expect(bad.stderr).toBe(
      'vigil: invalid configuration: --postgres does not start with postgres:// or postgresql://; give postgres://user:password@host:port/database\n',
    );
  });
});
