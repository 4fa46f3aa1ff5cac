/**
 * docs/operations.md is a runbook the tests execute: every `sh` block not marked
 * `<!-- doc-test: skip … -->` runs, in order, in one bash script against a real server and a
 * real data directory, with `vigil` on PATH running this source tree's CLI.
 */
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { latestSchemaVersion } from '../store/index.js';
import { scratchDirs } from '../test/harness.js';

const here = dirname(fileURLToPath(import.meta.url));
const DOC = join(here, '..', '..', '..', '..', 'docs', 'operations.md');
const CLI = join(here, '..', 'cli', 'main.ts');

interface Block {
  line: number;
  lang: string;
  skip: string | null;
  code: string;
}

/** The fenced blocks of a markdown file, with the skip mark of the comment just before each. */
export function fencedBlocks(markdown: string): Block[] {
  const lines = markdown.split('\n');
  const blocks: Block[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(\S*)\s*$/.exec(lines[i] as string);
    if (!open || open[1] === '') continue;
    const prev = lines[i - 1] ?? '';
    const skip = /^<!-- doc-test: skip \((.+)\) -->$/.exec(prev)?.[1] ?? null;
    const start = i;
    const body: string[] = [];
    for (i++; i < lines.length && lines[i] !== '```'; i++) body.push(lines[i] as string);
    blocks.push({ line: start + 1, lang: open[1] as string, skip, code: body.join('\n') });
  }
  return blocks;
}

const scratch = scratchDirs();
let serverPidFile: string | null = null;
afterEach(() => {
  // The runbook leaves its server running; stop it by the pid it wrote.
  if (serverPidFile && existsSync(serverPidFile)) {
    const pid = Number(readFileSync(serverPidFile, 'utf8'));
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  serverPidFile = null;
  scratch.cleanup();
});

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const srv = createServer().listen(0, '127.0.0.1', () => {
      const a = srv.address();
      srv.close(() => resolve(typeof a === 'object' && a ? a.port : 0));
    });
  });
}

describe('docs/operations.md', () => {
  const markdown = readFileSync(DOC, 'utf8');
  const blocks = fencedBlocks(markdown);
  const run = blocks.filter((b) => b.lang === 'sh' && b.skip === null);

  it('covers deploy, upgrade, back up, restore, roll back and rotate keys with commands the test runs', () => {
    for (const section of ['## Deploy', '## Back up', '## Upgrade', '## Roll back', '## Rotate keys'])
      expect(markdown).toContain(section);
    const executed = run.map((b) => b.code).join('\n');
    for (const command of [
      'vigil check',
      'vigil serve',
      'vigil smoke',
      'vigil backup',
      'vigil restore',
      'vigil export',
      'vigil migrate status',
      'vigil migrate up',
      'vigil migrate down',
      'vigil verify',
      '/api/keys',
      '/metrics',
    ])
      expect(executed, command).toContain(command);
    // Every block is either run or says why it cannot be.
    for (const b of blocks)
      expect(
        b.lang === 'sh' ? b.skip === null || b.skip.length > 10 : b.skip !== null,
        `block at line ${b.line}`,
      ).toBe(true);
    expect(blocks.filter((b) => b.skip !== null).length).toBeLessThanOrEqual(4);
  });

  it('runs every sh block in order against a real server and data directory', async () => {
    const root = scratch.fresh();
    const bin = join(root, 'bin');
    mkdirSync(bin);
    // tsx by absolute URL: the runbook works in directories of its own.
    const tsx = import.meta.resolve('tsx');
    writeFileSync(
      join(bin, 'vigil'),
      `#!/bin/sh\nexec "${process.execPath}" --import "${tsx}" "${CLI}" "$@"\n`,
    );
    chmodSync(join(bin, 'vigil'), 0o755);
    const backups = join(root, 'backups');
    serverPidFile = join(backups, 'vigil.pid');
    const script = [
      'set -euo pipefail',
      ...run.map((b) => `echo "::block line ${b.line}"\n${b.code}`),
      'echo "::done"',
    ].join('\n');
    writeFileSync(join(root, 'runbook.sh'), script);
    const latest = latestSchemaVersion();
    const env = {
      ...process.env,
      PATH: `${bin}:${process.env.PATH}`,
      VIGIL_DATA: join(root, 'data'),
      VIGIL_PORT: String(await freePort()),
      VIGIL_ADMIN_TOKEN: 'doc-test-admin-token-0123456789abcdef',
      VIGIL_LOG_LEVEL: 'warn',
      BACKUP_DIR: backups,
      OLD_SCHEMA: String(latest - 1),
    };
    const result = await new Promise<{ code: number; out: string }>((resolve, reject) => {
      const child = spawn('bash', [join(root, 'runbook.sh')], {
        cwd: root,
        env,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
      });
      child.stderr.on('data', (d: Buffer) => {
        out += d.toString();
      });
      const timer = setTimeout(() => child.kill('SIGKILL'), 400_000);
      child.on('error', reject);
      child.on('close', (code) => {
        clearTimeout(timer);
        resolve({ code: code ?? -1, out });
      });
    });
    const lastBlock = [...result.out.matchAll(/::block line (\d+)/g)].at(-1)?.[1];
    if (result.code !== 0) {
      const log = existsSync(join(backups, 'vigil.log'))
        ? readFileSync(join(backups, 'vigil.log'), 'utf8')
        : '';
      throw new Error(
        `the runbook failed in the block at docs/operations.md:${lastBlock} (exit ${result.code}):\n${result.out.slice(-4000)}\nserver log:\n${log.slice(-2000)}`,
      );
    }
    expect(result.out).toContain('::done');
    // What the runbook did, seen from outside.
    expect(result.out).toMatch(/✗ data directory\s+\S+ does not exist/); // first check, before the first start
    expect(result.out.match(/passed in \d+ ms/g)?.length).toBe(4); // four smoke tests
    expect(result.out).toContain('all checks passed');
    expect(result.out).toMatch(/backed up schema version \d+, \d+ events/);
    expect(result.out).toContain('from the running server');
    expect(result.out).toMatch(/reverted \d+; schema version now \d+/);
    expect(result.out).toMatch(/ok: \d+ batches, \d+ events; the audit chain is intact/);
    expect(result.out).toMatch(/wrote 1 events to \S+smoke-events\.csv/);
    expect(result.out).toMatch(/vigil_ingest_events_total\{outcome="stored"\} \d+/);
    expect(existsSync(join(backups, 'last-week.parquet'))).toBe(true);
    expect(JSON.parse(readFileSync(join(backups, 'new-key.json'), 'utf8'))).toMatchObject({ role: 'ingest' });
  }, 420_000);
});
