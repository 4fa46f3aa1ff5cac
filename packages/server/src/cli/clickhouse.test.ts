/**
 * `vigil` with the whole store on real servers (--clickhouse with --postgres): the server keeps
 * nothing on local disk; `migrate` covers both engines and steps either down; `backup` refuses and
 * names each engine's tools; a ClickHouse that is not there is one clear line.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { FIRST_EVENT } from '../auth/index.js';
import { type ClickHouseServer, startClickHouse } from '../test/clickhouse.js';
import { call, scratchDirs } from '../test/harness.js';
import { usePostgres } from '../test/postgres.js';
import { runCli, spawnServer, stopSpawned } from '../test/process.js';

const postgres = usePostgres();
const scratch = scratchDirs();
let clickhouse: ClickHouseServer;
beforeAll(async () => {
  clickhouse = await startClickHouse();
}, 900_000);
afterAll(async () => {
  await clickhouse?.stop();
});
afterEach(async () => {
  await stopSpawned();
  scratch.cleanup();
});

const TOKEN = 'ch-test-admin-token-0123456789abcdef';
let databases = 0;
/** Flags for a fresh store: a new PostgreSQL database, a new ClickHouse database, checkpoints of ours. */
async function freshStore() {
  const audit = scratch.fresh();
  const dataDir = join(scratch.fresh(), 'never-created');
  const flags = ['--clickhouse', clickhouse.url, '--postgres', await postgres.fresh(), '--data', dataDir];
  const env = {
    VIGIL_ADMIN_TOKEN: TOKEN,
    VIGIL_CLICKHOUSE_DATABASE: `cli_${process.pid}_${databases++}`,
    VIGIL_CHECKPOINT_FILE: join(audit, 'checkpoints.jsonl'),
    VIGIL_CHECKPOINT_KEY_FILE: join(audit, 'key.pem'),
  };
  return { flags, env, dataDir };
}

describe('vigil with --clickhouse and --postgres', () => {
  it('serves with nothing on local disk, and verify checks the chain it wrote', async () => {
    const { flags, env, dataDir } = await freshStore();
    const server = await spawnServer(dataDir, env, flags.slice(0, 4));
    expect(server.stdout()).toMatch(
      /events: ClickHouse at http:\/\/127\.0\.0\.1:\d+\/? \(instance default\)/,
    );
    expect(server.stdout()).not.toContain('data directory');
    const key = /ingest key:\s+(\S+)/.exec(server.stdout())?.[1] ?? '';
    const sent = await call(server, 'POST', '/v1/events', { token: key, json: FIRST_EVENT });
    expect(sent.body).toMatchObject({ accepted: 1 });
    const events = await call(server, 'GET', '/api/events', { token: TOKEN });
    expect((events.body as { events: unknown[] }).events).toHaveLength(1);
    server.child.kill('SIGTERM');
    expect(await server.exited).toBe(0);
    expect(existsSync(dataDir)).toBe(false);
    const verified = runCli(['verify', ...flags], env);
    expect(verified.status, verified.stderr).toBe(0);
    expect(verified.stdout).toMatch(
      /^ok: 1 batches, 1 events; the audit chain is intact and it holds the checkpoint/,
    );
  });

  it('migrate shows and changes both schemas; backup refuses and names the engines', async () => {
    const { flags, env } = await freshStore();
    const up = runCli(['migrate', 'up', ...flags, '--json'], env);
    expect(up.status, up.stderr).toBe(0);
    const applied = JSON.parse(up.stdout) as { schemas: { engine: string; applied: number[] }[] };
    expect(applied.schemas.map((s) => s.engine)).toEqual(['clickhouse', 'postgres']);
    expect(applied.schemas.every((s) => s.applied.length > 0)).toBe(true);
    const latest = JSON.parse(runCli(['migrate', 'status', ...flags, '--json'], env).stdout).schemas[0]
      .latest;
    const down = runCli(['migrate', 'down', '--engine', 'clickhouse', ...flags], env);
    expect(down.stdout, down.stderr).toContain(`clickhouse (analytical half): reverted ${latest}`);
    expect(runCli(['migrate', 'status', ...flags], env).stdout).toContain(
      `clickhouse (analytical half): schema version ${latest - 1} of ${latest}`,
    );
    expect(runCli(['migrate', 'up', '--engine', 'clickhouse', ...flags], env).stdout).toContain(
      `applied ${latest}`,
    );
    const backup = runCli(['backup', join(scratch.fresh(), 'b.vigil'), ...flags], env);
    expect(backup.status).toBe(1);
    expect(backup.stderr).toMatch(
      /in postgres and its events in clickhouse.*pg_dump.*\[store: unsupported\]/s,
    );
    // Eight CLI processes one after another (each compiles the CLI with tsx): slow on a busy machine.
  }, 120_000);

  it('a ClickHouse that is not there is one line with a code, the password hidden', async () => {
    const { flags, env } = await freshStore();
    const url = 'http://vigil:s3cret@127.0.0.1:1';
    const r = runCli(['migrate', 'status', ...flags.slice(2), '--clickhouse', url], env);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(
      /^vigil: cannot use ClickHouse at http:\/\/vigil:\*\*\*@127\.0\.0\.1:1: .*is ClickHouse running there.*\[store: unreachable\]\n$/,
    );
    expect(r.stderr).not.toContain('s3cret');
  });
});
