/** The Node platform in real child processes: what keeps a process alive, and what happens at exit. */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closedPort, LoopbackVigil } from '../../test/loopback-server.js';

const repoRoot = resolve(import.meta.dirname, '../../../../..');
const clientModule = pathToFileURL(resolve(import.meta.dirname, '../../client/client.ts')).href;
let dir: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'vigil-sdk-node-'));
});
/** Children still running: stopped at the end even when a test failed or timed out first. */
const children = new Set<ChildProcess>();
afterAll(() => {
  for (const child of children) child.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

/** Runs `body` as an ES module under tsx with `createClient` in scope; resolves with exit code and duration. */
function runChild(
  name: string,
  body: string,
  env: Record<string, string> = {},
): Promise<{ code: number | null; ms: number; stderr: string }> {
  const file = join(dir, `${name}.mjs`);
  writeFileSync(file, `import { createClient } from ${JSON.stringify(clientModule)};\n${body}\n`);
  const started = Date.now();
  return new Promise((done) => {
    const child = spawn(process.execPath, ['--import', 'tsx', file], {
      cwd: repoRoot,
      env: { ...process.env, ...env },
    });
    children.add(child);
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.on('exit', (code) => {
      children.delete(child);
      done({ code, ms: Date.now() - started, stderr });
    });
  });
}

describe('a Node process using the SDK', () => {
  it('exits on its own without shutdown(), even with events queued and the server down', async () => {
    const baseline = await runChild('baseline', '');
    const port = await closedPort();
    const run = await runChild(
      'server-down',
      `const c = createClient({ endpoint: 'http://127.0.0.1:${port}', key: 'k', version: 'v', flushIntervalMs: 30_000, onError: () => {} });
       for (let i = 0; i < 1000; i++) c.track('a.b', { i });`,
    );
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    // A ref'd flush-interval or retry timer would hold it for 30 s.
    expect(run.ms - baseline.ms).toBeLessThan(5_000);
  }, 60_000);

  it('delivers what was tracked when the event loop empties (beforeExit), without shutdown()', async () => {
    const server = await LoopbackVigil.start();
    try {
      const run = await runChild(
        'before-exit',
        `const c = createClient({ endpoint: process.env.VIGIL_URL, key: 'k', version: 'v', flushIntervalMs: 30_000 });
         for (let i = 0; i < 50; i++) c.track('a.b', { i });`,
        { VIGIL_URL: server.url },
      );
      expect(run.code).toBe(0);
      expect(server.stored.size).toBe(50);
    } finally {
      await server.close();
    }
  }, 60_000);

  it('does not wait on a slow server at exit longer than its request timeout allows', async () => {
    const server = await LoopbackVigil.start();
    server.respond = () => ({ status: 200, body: '{}', delayMs: 30_000 });
    try {
      const baseline = await runChild('baseline2', '');
      const run = await runChild(
        'slow-exit',
        `const c = createClient({ endpoint: process.env.VIGIL_URL, key: 'k', version: 'v', requestTimeoutMs: 1_000, onError: () => {} });
         c.track('a.b');`,
        { VIGIL_URL: server.url },
      );
      expect(run.code).toBe(0);
      expect(run.ms - baseline.ms).toBeLessThan(6_000);
      expect(server.requests.length).toBeGreaterThanOrEqual(1);
    } finally {
      await server.close();
    }
  }, 60_000);
});
