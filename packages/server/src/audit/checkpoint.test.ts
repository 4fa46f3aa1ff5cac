import { generateKeyPairSync } from 'node:crypto';
import { appendFileSync, readFileSync, statSync } from 'node:fs';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigError, checkpointPaths, loadConfig } from '../config/index.js';
import { call, scratchDirs, startVigil } from '../test/harness.js';
import {
  appendCheckpoint,
  type Checkpoint,
  checkpointSignedBy,
  loadOrCreateSigningKey,
  loadVerifyingKey,
  readCheckpoints,
  signCheckpoint,
} from './index.js';

const scratch = scratchDirs();
afterEach(scratch.cleanup);

const head = (seq: number) => ({
  chain: 'default',
  seq,
  hash: `${seq}`.padStart(64, 'a'),
  committedAt: 1_000 + seq,
});

describe('checkpoints', { timeout: 120_000 }, () => {
  it('creates the signing key once, readable by its owner only', () => {
    const file = join(scratch.fresh(), 'keys', 'checkpoint-key.pem');
    const key = loadOrCreateSigningKey(file);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const again = loadOrCreateSigningKey(file);
    const c = signCheckpoint(head(1), key, { reason: 'interval' });
    expect(checkpointSignedBy(c, loadVerifyingKey(file))).toBe(true);
    expect(
      checkpointSignedBy(signCheckpoint(head(1), again, { reason: 'interval' }), loadVerifyingKey(file)),
    ).toBe(true);
  });

  it('reads the last checkpoint of each chain and distrusts lines edited or signed by another key', async () => {
    const dir = scratch.fresh();
    const file = join(dir, 'checkpoints.jsonl');
    const key = loadOrCreateSigningKey(join(dir, 'key.pem'));
    await appendCheckpoint(file, signCheckpoint(head(1), key, { reason: 'interval' }));
    await appendCheckpoint(file, signCheckpoint({ ...head(7), chain: 'other' }, key, { reason: 'interval' }));
    await appendCheckpoint(file, signCheckpoint(head(2), key, { reason: 'shutdown' }));
    // An edit that moves the checkpoint back (as if batches 2… had never been), and a forger's key.
    const edited: Checkpoint = { ...signCheckpoint(head(5), key, { reason: 'interval' }), seq: 1 };
    appendFileSync(file, `${JSON.stringify(edited)}\n`);
    const stranger = generateKeyPairSync('ed25519').privateKey;
    await appendCheckpoint(file, signCheckpoint(head(1), stranger, { reason: 'interval' }));
    appendFileSync(file, 'not json\n');

    const log = await readCheckpoints(file, loadVerifyingKey(join(dir, 'key.pem')));
    expect(log.lines).toBe(6);
    expect(log.badLines).toEqual([4, 5, 6]);
    expect(log.latest.get('default')).toMatchObject({ seq: 2, reason: 'shutdown' });
    expect(log.latest.get('other')).toMatchObject({ seq: 7 });
  });

  it('the server signs its head, posts it to the webhook and shows it on /metrics', async () => {
    const received: { body: Checkpoint; auth: string | undefined }[] = [];
    let failNext = 1;
    const hook = createServer((req: IncomingMessage, res) => {
      let text = '';
      req.on('data', (d: Buffer) => {
        text += d.toString();
      });
      req.on('end', () => {
        // The first delivery fails: the next one must still arrive (and be counted as a failure).
        if (failNext-- > 0) {
          res.writeHead(503).end();
          return;
        }
        received.push({ body: JSON.parse(text) as Checkpoint, auth: req.headers.authorization });
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((resolve) => hook.listen(0, '127.0.0.1', resolve));
    const dataDir = scratch.fresh();
    const vigil = await startVigil({
      dataDir,
      config: {
        checkpoints: {
          intervalMs: 100,
          webhookUrl: `http://127.0.0.1:${(hook.address() as AddressInfo).port}/checkpoints`,
          webhookToken: 'hook-token',
        },
      },
    });
    try {
      const res = await call(vigil, 'POST', '/v1/events', {
        token: vigil.ingestKey,
        json: { events: [{ type: 'a' }, { type: 'b' }] },
      });
      expect(res.status).toBe(200);
      const head = await vigil.server.context.store.events.chainHead('default');
      for (let i = 0; i < 200 && !received.some((r) => r.body.seq === head?.seq); i++)
        await new Promise((r) => setTimeout(r, 50));
      const got = received.find((r) => r.body.seq === head?.seq);
      expect(got?.auth).toBe('Bearer hook-token');
      expect(got?.body.hash).toBe(head?.hash);
      const { file, keyFile } = checkpointPaths(vigil.server.context.config);
      expect(checkpointSignedBy(got?.body as Checkpoint, loadVerifyingKey(keyFile))).toBe(true);
      // The same checkpoint is in the file.
      expect(readFileSync(file as string, 'utf8')).toContain(got?.body.sig);

      const metrics = (await call(vigil, 'GET', '/metrics', { token: vigil.adminToken })).body as string;
      expect(metrics).toContain(`vigil_audit_chain_head_seq{chain="default"} ${head?.seq}`);
      expect(metrics).toContain(`vigil_audit_checkpoint_seq{chain="default"} ${head?.seq}`);
      expect(metrics).toMatch(
        new RegExp(
          `vigil_audit_checkpoint_info\\{chain="default",seq="${head?.seq}",hash="${head?.hash}",key="[\\w-]{43}"\\} 1`,
        ),
      );
      expect(metrics).toMatch(/vigil_audit_checkpoint_failures_total\{target="webhook"\} [1-9]/);
    } finally {
      await vigil.stop();
      await new Promise((resolve) => hook.close(resolve));
    }
  });
});

describe('checkpoint configuration', () => {
  it('defaults beside the data directory, takes env and flags, and refuses places inside the data', () => {
    const cwd = scratch.fresh();
    const config = loadConfig({ dataDir: 'data' }, {}, cwd);
    expect(checkpointPaths(config)).toEqual({
      file: join(cwd, 'data-audit', 'checkpoints.jsonl'),
      keyFile: join(cwd, 'data-audit', 'checkpoint-key.pem'),
    });
    const fromEnv = loadConfig(
      { dataDir: 'data', checkpointKeyFile: 'k.pem' },
      {
        VIGIL_CHECKPOINT_FILE: '/var/lib/audit/c.jsonl',
        VIGIL_CHECKPOINT_WEBHOOK_URL: 'https://audit.example/c',
      },
      cwd,
    );
    expect(checkpointPaths(fromEnv)).toEqual({ file: '/var/lib/audit/c.jsonl', keyFile: join(cwd, 'k.pem') });
    expect(fromEnv.checkpoints.webhookUrl).toBe('https://audit.example/c');
    expect(() => loadConfig({ dataDir: 'data', checkpointFile: 'data/c.jsonl' }, {}, cwd)).toThrow(
      /checkpoints.file .* is inside the data directory/,
    );
    expect(() => loadConfig({ dataDir: 'data', checkpointKeyFile: 'data/k.pem' }, {}, cwd)).toThrow(
      ConfigError,
    );
  });
});
