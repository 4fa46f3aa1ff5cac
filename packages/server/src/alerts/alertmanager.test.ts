import { type ChildProcess, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { defaultConfig } from '../config/index.js';
import { call, scratchDirs, startVigil, type Vigil } from '../test/harness.js';
import { waitFor } from './testing.js';

const BINARY = '/usr/bin/prometheus-alertmanager';
const dirs = scratchDirs();
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  dirs.cleanup();
});

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as { port: number };
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** A real Alertmanager (the Debian package) on a loopback port, with a temporary config and storage. */
async function startAlertmanager(): Promise<{ url: string; child: ChildProcess; log: () => string }> {
  const dir = dirs.fresh();
  const config = join(dir, 'alertmanager.yml');
  writeFileSync(config, "route:\n  receiver: 'null'\n  group_wait: 1s\nreceivers:\n  - name: 'null'\n");
  const port = await freePort();
  const child = spawn(
    BINARY,
    [
      `--config.file=${config}`,
      `--storage.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--cluster.listen-address=',
      '--log.level=warn',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  child.stdout?.on('data', (d: Buffer) => {
    out += d.toString();
  });
  child.stderr?.on('data', (d: Buffer) => {
    out += d.toString();
  });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  cleanups.push(async () => {
    child.kill('SIGTERM');
    await Promise.race([exited, new Promise((r) => setTimeout(r, 5_000))]);
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  const url = `http://127.0.0.1:${port}`;
  await waitFor(
    async () => {
      if (child.exitCode !== null) throw new Error(`alertmanager exited (${child.exitCode}):\n${out}`);
      const res = await fetch(`${url}/-/ready`).catch(() => null);
      return res?.ok ? true : undefined;
    },
    { timeoutMs: 20_000, what: 'Alertmanager to be ready' },
  );
  return { url, child, log: () => out };
}

interface AmAlert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  fingerprint: string;
  startsAt: string;
  endsAt: string;
  status: { state: string };
}

describe('Alertmanager delivery (real prometheus-alertmanager on loopback)', () => {
  it('pushes a firing alert it lists in GET /api/v2/alerts, then resolves it', async () => {
    const am = await startAlertmanager();
    const base = defaultConfig().alerts;
    const v: Vigil = await startVigil({
      dataDir: dirs.fresh(),
      config: { alerts: { ...base, enabled: false } },
    });
    cleanups.push(() => v.stop());
    const created = await call(v, 'POST', '/api/alerts/rules', {
      token: v.adminToken,
      json: {
        name: 'LLM errors to Alertmanager',
        metric: 'errorRate',
        filters: { model: 'm-am' },
        operator: '>',
        threshold: 20,
        consecutive: 1,
        evaluationDelay: '0s',
        severity: 'critical',
        labels: { team: 'llm' },
        annotations: { runbook: 'https://example.invalid/runbook' },
        receivers: [{ type: 'alertmanager', url: am.url }],
        useDefaultReceivers: false,
      },
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const ruleId = (created.body as { id: string }).id;
    const events = (n: number, props: Record<string, unknown>) =>
      call(v, 'POST', '/v1/events', {
        token: v.ingestKey,
        json: {
          events: Array.from({ length: n }, () => ({
            type: 'llm.request',
            version: '1',
            props: { total_ms: 50, model: 'm-am', ...props },
          })),
        },
      });
    expect((await events(10, { error_type: 'server_error' })).status).toBe(200);
    const engine = v.server.context.alerts;
    const fired = await engine.evaluateOnce(Date.now());
    expect(fired.transitions.filter((t) => t.ruleId === ruleId).map((t) => t.to)).toEqual(['firing']);
    await engine.notifier.idle();
    expect(engine.notifier.snapshot()).toMatchObject({ delivered: 1, failed: 0 });

    const listed = await call(v, 'GET', '/api/metrics/alerts', { token: v.adminToken });
    const ours = (listed.body as { active: { ruleId: string; fingerprint: string }[] }).active.find(
      (a) => a.ruleId === ruleId,
    );
    const inAm = await waitFor(
      async () => {
        const res = await fetch(`${am.url}/api/v2/alerts`);
        const all = (await res.json()) as AmAlert[];
        return all.find((a) => a.labels.rule_id === ruleId);
      },
      { timeoutMs: 10_000, what: 'the alert in Alertmanager' },
    );
    expect(inAm.labels).toMatchObject({
      alertname: 'LLM errors to Alertmanager',
      severity: 'critical',
      project: 'default',
      team: 'llm',
      model: 'm-am',
      metric: 'errorRate',
    });
    expect(inAm.annotations.runbook).toBe('https://example.invalid/runbook');
    expect(inAm.status.state).toBe('active');
    // Vigil computes the same label fingerprint as Alertmanager.
    expect(inAm.fingerprint).toBe(ours?.fingerprint);

    // Recovery: the resolved push ends the alert in Alertmanager.
    expect((await events(200, {})).status).toBe(200);
    const resolved = await engine.evaluateOnce(Date.now());
    expect(resolved.transitions.filter((t) => t.ruleId === ruleId).map((t) => t.to)).toEqual(['resolved']);
    await engine.notifier.idle();
    await waitFor(
      async () => {
        const res = await fetch(`${am.url}/api/v2/alerts`);
        const all = (await res.json()) as AmAlert[];
        const still = all.find((a) => a.labels.rule_id === ruleId);
        return still === undefined || Date.parse(still.endsAt) <= Date.now() ? true : undefined;
      },
      { timeoutMs: 10_000, what: 'the alert to end in Alertmanager' },
    );
  });
});
