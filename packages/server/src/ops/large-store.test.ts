/**
 * Operations on a store larger than DuckDB's default memory limit (128MB) could hold: generate
 * (its copy phase), backup through the running server and from the stopped store, restore and
 * verify, all with the default limit. CI writes 600,000 events (about 220 MB on disk, more than
 * the limit; the whole-store copy backups used to make ran out of memory at this size already);
 * `VIGIL_LARGE_EVENTS=10000000` runs the same at 10 M (each step's time is printed).
 */
import { spawn } from 'node:child_process';
import { existsSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { defaultConfig } from '../config/index.js';
import { openStore } from '../store/index.js';
import { call, scratchDirs, startVigil, TEST_ADMIN_TOKEN, type Vigil } from '../test/harness.js';
import type { BackupManifest } from './backup.js';
import { generateEvents } from './generate.js';

const CLI = join(dirname(fileURLToPath(import.meta.url)), '..', 'cli', 'main.ts');
const EVENTS = Number(process.env.VIGIL_LARGE_EVENTS ?? 600_000);
const DAYS = 10;
// Generous: a loaded 2-core machine; 10 M events take several minutes per step.
const STEP_MS = Math.max(300_000, (EVENTS / 1_000_000) * 120_000);

const scratch = scratchDirs();
const running: Vigil[] = [];
const children = new Set<ReturnType<typeof spawn>>();
afterEach(async () => {
  for (const child of children) child.kill('SIGKILL');
  for (const v of running.splice(0)) await v.stop();
  scratch.cleanup();
});

/** Runs `vigil ARGS` in a child process (the in-process server keeps answering meanwhile). */
function vigil(args: readonly string[]): Promise<{ status: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', CLI, ...args], {
      env: { ...process.env, VIGIL_LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.add(child);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), STEP_MS);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      children.delete(child);
      resolve({ status: code ?? -1, stdout, stderr });
    });
  });
}

/** Each step's duration, printed at the end (the numbers docs/operations.md quotes). */
const steps: string[] = [];
async function timed<T>(name: string, run: () => Promise<T>): Promise<T> {
  const started = Date.now();
  const result = await run();
  steps.push(`${name} ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return result;
}

const silent = {
  error: () => undefined,
  warn: () => undefined,
  info: () => undefined,
  debug: () => undefined,
};

describe(`a store of ${EVENTS.toLocaleString('en')} events with the default memory limit`, () => {
  it(
    'is generated, backed up through the server and from the stopped store, restored, and verifies',
    async () => {
      expect(defaultConfig().store.duckdb.memoryLimit).toBe('128MB');
      const dataDir = scratch.fresh();
      const store = await openStore({ dataDir, ...defaultConfig().store });
      let counts: Record<string, number>;
      try {
        const result = await timed('generate', () =>
          generateEvents(store, { events: EVENTS, days: DAYS, log: silent as never }),
        );
        expect(result.events).toBe(EVENTS);
        counts = await store.ops.rowCounts();
      } finally {
        await store.close();
      }
      expect(counts.events).toBe(EVENTS);
      const storeBytes = statSync(join(dataDir, 'vigil.duckdb')).size;
      // Far more than the limit: a copy that held the events in memory would not fit.
      expect(storeBytes).toBeGreaterThan(128 * 1024 * 1024);

      // Through the running server (POST /api/admin/backup), the way `vigil backup --url` does it.
      const server = await startVigil({ dataDir });
      running.push(server);
      const live = join(scratch.fresh(), 'live.backup');
      const viaServer = await timed('backup through the server', () =>
        vigil(['backup', live, '--url', server.url, '--token', TEST_ADMIN_TOKEN, '--json']),
      );
      expect(viaServer.stderr).toBe('');
      expect(viaServer.status).toBe(0);
      const liveManifest = (JSON.parse(viaServer.stdout) as { manifest: BackupManifest }).manifest;
      expect(liveManifest.rowCounts.events).toBe(EVENTS);
      await server.stop();
      running.splice(0);

      // From the stopped store.
      const stopped = join(scratch.fresh(), 'stopped.backup');
      const fromStore = await timed('backup of the stopped store', () =>
        vigil(['backup', stopped, '--data', dataDir, '--json']),
      );
      expect(fromStore.stderr).toBe('');
      expect(fromStore.status).toBe(0);
      const manifest = (JSON.parse(fromStore.stdout) as { manifest: BackupManifest }).manifest;
      expect(manifest.rowCounts.events).toBe(EVENTS);
      expect(manifest.chainHead).toEqual(liveManifest.chainHead);

      // Restore checks row counts and the audit chain itself; verify checks again, from outside.
      const restoredDir = join(scratch.fresh(), 'restored');
      const restore = await timed('restore', () =>
        vigil(['restore', stopped, '--data', restoredDir, '--json']),
      );
      expect(restore.stderr).toBe('');
      expect(restore.status).toBe(0);
      const verify = await timed('verify', () => vigil(['verify', '--data', restoredDir, '--json']));
      expect(verify.status).toBe(0);
      expect(JSON.parse(verify.stdout)).toMatchObject({ ok: true, events: EVENTS });
      const restored = await openStore({ dataDir: restoredDir, migrate: false });
      try {
        const after = await restored.ops.rowCounts();
        // The server's start added a row or two of its own (bootstrap) to the live copy only.
        expect(after).toEqual(manifest.rowCounts);
        expect(after.events).toBe(counts.events);
        expect(after.batches).toBe(counts.batches);
      } finally {
        await restored.close();
      }

      // A limit too small for even one row group: a clear refusal naming the setting, never a 500.
      const tight = await startVigil({ dataDir, config: { store: { duckdb: { memoryLimit: '24MB' } } } });
      running.push(tight);
      const refused = await call(tight, 'POST', '/api/admin/backup', { token: TEST_ADMIN_TOKEN });
      expect(refused.status).toBe(503);
      expect(refused.body).toMatchObject({
        error: { code: 'insufficient_memory', message: expect.stringMatching(/store\.duckdb\.memoryLimit/) },
      });
      await tight.stop();
      running.splice(0);
      const config = join(scratch.fresh(), 'tight.json');
      writeFileSync(config, JSON.stringify({ store: { duckdb: { memoryLimit: '24MB' } } }));
      const offline = await vigil([
        'backup',
        join(dirname(config), 'tight.backup'),
        '--data',
        dataDir,
        '--config',
        config,
      ]);
      expect(offline.status).toBe(1);
      expect(offline.stderr).toMatch(
        /^vigil: the backup ran out of memory: .*raise store\.duckdb\.memoryLimit/,
      );
      expect(existsSync(join(dirname(config), 'tight.backup'))).toBe(false);
      console.log(
        `${EVENTS} events, ${(storeBytes / 1024 / 1024).toFixed(0)} MB store, ${(statSync(stopped).size / 1024 / 1024).toFixed(0)} MB backup: ${steps.join(', ')}`,
      );
    },
    6 * STEP_MS,
  );
});
