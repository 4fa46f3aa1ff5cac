import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { call, scratchDirs, startVigil, type Vigil } from '../test/harness.js';

const scratch = scratchDirs();
const running: Vigil[] = [];
afterEach(async () => {
  for (const v of running.splice(0)) await v.stop();
  scratch.cleanup();
});

async function vigil(config: Parameters<typeof startVigil>[0] = {}): Promise<Vigil> {
  const v = await startVigil({ dataDir: scratch.fresh(), ...config });
  running.push(v);
  return v;
}

/** The value of one sample in a Prometheus text exposition (0 when absent). */
function sample(text: string, name: string, labels: Record<string, string> = {}): number {
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][\w:]*)(\{[^}]*\})?\s+(\S+)/.exec(line);
    if (!m || m[1] !== name) continue;
    const got = Object.fromEntries(
      [...(m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((x) => [x[1], x[2]]),
    );
    if (Object.entries(labels).every(([k, v]) => got[k] === v)) return Number(m[3]);
  }
  return 0;
}

async function scrape(v: Vigil, token = v.adminToken): Promise<string> {
  const res = await call(v, 'GET', '/metrics', { token });
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  return res.body as string;
}

describe('GET /metrics', () => {
  it('is refused to anonymous callers and ingest keys, and served to viewers and admins', async () => {
    const v = await vigil();
    expect((await call(v, 'GET', '/metrics')).status).toBe(401);
    const asIngest = await call(v, 'GET', '/metrics', { token: v.ingestKey });
    expect(asIngest.status).toBe(403);
    const viewer = await call(v, 'POST', '/api/keys', { token: v.adminToken, json: { role: 'viewer' } });
    const text = await scrape(v, (viewer.body as { key: string }).key);
    for (const name of [
      'vigil_ingest_events_total',
      'vigil_ingest_bytes_total',
      'vigil_ingest_rejects_total',
      'vigil_scrubbed_fields_total',
      'vigil_ingest_queue_events',
      'vigil_ingest_in_flight_events',
      'vigil_commit_duration_seconds',
      'vigil_store_bytes',
      'vigil_rule_evaluations_total',
      'vigil_collector_runs_total',
      'vigil_collector_run_seconds',
      'process_resident_memory_bytes',
    ]) {
      expect(text).toContain(`# TYPE ${name} `);
    }
    expect(sample(text, 'vigil_store_bytes')).toBeGreaterThan(0);
  });

  it('counts ingested events by outcome, bytes, rejections by code, scrubbed fields and commits', async () => {
    const v = await vigil();
    const id = '01938a3c-0000-7000-8000-000000000001';
    const body = {
      events: [
        { id, type: 'llm.request', props: { total_ms: 5 } },
        { type: 'custom.thing', props: { contact: 'someone@example.com' } },
        { type: '' },
      ],
    };
    const first = await call(v, 'POST', '/v1/events', { token: v.ingestKey, json: body });
    expect(first.body).toMatchObject({ accepted: 2, rejected: [{ index: 2, code: 'invalid_type' }] });
    const again = await call(v, 'POST', '/v1/events', {
      token: v.ingestKey,
      json: { events: [{ id, type: 'llm.request', props: { total_ms: 5 } }] },
    });
    expect(again.body).toEqual({ accepted: 1, rejected: [] });
    expect((await call(v, 'POST', '/v1/events', { json: body })).status).toBe(401);
    // OTLP receivers share the ingest scope's accounting.
    const otlp = await call(v, 'POST', '/v1/traces', {
      token: v.ingestKey,
      body: 'not otlp',
      headers: { 'content-type': 'text/plain' },
    });
    expect(otlp.status).toBe(415);

    const text = await scrape(v);
    expect(sample(text, 'vigil_ingest_events_total', { outcome: 'stored' })).toBe(2);
    expect(sample(text, 'vigil_ingest_events_total', { outcome: 'duplicate' })).toBe(1);
    expect(sample(text, 'vigil_ingest_events_total', { outcome: 'rejected' })).toBe(1);
    expect(sample(text, 'vigil_ingest_rejects_total', { code: 'invalid_type', scope: 'event' })).toBe(1);
    expect(sample(text, 'vigil_ingest_rejects_total', { code: 'unauthorized', scope: 'request' })).toBe(1);
    expect(
      sample(text, 'vigil_ingest_rejects_total', { code: 'unsupported_media_type', scope: 'request' }),
    ).toBe(1);
    expect(sample(text, 'vigil_scrubbed_fields_total', { reason: 'email' })).toBe(1);
    expect(sample(text, 'vigil_committed_events_total')).toBe(2);
    expect(sample(text, 'vigil_commit_duration_seconds_count')).toBe(2);
    expect(sample(text, 'vigil_commits_total', { result: 'ok' })).toBe(2);
    const sent =
      JSON.stringify(body).length +
      JSON.stringify({ events: [{ id, type: 'llm.request', props: { total_ms: 5 } }] }).length;
    expect(sample(text, 'vigil_ingest_bytes_total')).toBe(sent);

    // Prometheus' own linter (Debian's prometheus package; vitest.global-setup.ts installs it).
    const lint = spawnSync('promtool', ['check', 'metrics'], {
      input: text,
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(lint.error).toBeUndefined();
    expect(`${lint.stdout}${lint.stderr}`).toBe('');
    expect(lint.status).toBe(0);
  });

  it('keeps one registry per server: two servers in one process count apart', async () => {
    const a = await vigil();
    const b = await vigil();
    await call(a, 'POST', '/v1/events', {
      token: a.ingestKey,
      json: { events: [{ type: 'x' }, { type: 'y' }] },
    });
    // Alert evaluations run on their own timers in both; a label only this test uses tells them apart.
    a.server.context.metrics.ruleEvaluations.inc({ result: 'isolation_test' }, 7);
    expect(sample(await scrape(a), 'vigil_ingest_events_total', { outcome: 'stored' })).toBe(2);
    expect(sample(await scrape(b), 'vigil_ingest_events_total', { outcome: 'stored' })).toBe(0);
    expect(sample(await scrape(a), 'vigil_rule_evaluations_total', { result: 'isolation_test' })).toBe(7);
    expect(sample(await scrape(b), 'vigil_rule_evaluations_total', { result: 'isolation_test' })).toBe(0);
    expect(a.server.context.metrics.registry).not.toBe(b.server.context.metrics.registry);
  });

  it('takes a scrape token, can be public, and can be switched off', async () => {
    const token = 'scrape-token-0123456789';
    const withToken = await vigil({ config: { metrics: { enabled: true, public: false, token } } });
    expect((await call(withToken, 'GET', '/metrics', { token })).status).toBe(200);
    expect((await call(withToken, 'GET', '/metrics', { token: `${token}x` })).status).toBe(401);
    // The scrape token is good for /metrics only.
    expect((await call(withToken, 'GET', '/api/events', { token })).status).toBe(401);

    const open = await vigil({ config: { metrics: { enabled: true, public: true } } });
    expect((await call(open, 'GET', '/metrics')).status).toBe(200);

    const off = await vigil({ config: { metrics: { enabled: false, public: false } } });
    const res = await call(off, 'GET', '/metrics', { token: off.adminToken });
    expect(res.status).toBe(404);
    expect(res.body).toMatchObject({ error: { code: 'not_found' } });
  });
});

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const address = srv.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** Polls `check` every 250 ms until it returns a value, for at most `ms`. */
async function until<T>(what: string, ms: number, check: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + ms;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
}

describe('a real Prometheus scraping /metrics', () => {
  let prometheus: ChildProcess | undefined;
  afterEach(() => {
    prometheus?.kill('SIGKILL');
    prometheus = undefined;
  });

  it('reports the target up and sees the ingest counter grow after events are sent', async () => {
    const token = 'prometheus-scrape-token-0123';
    const v = await vigil({ config: { metrics: { enabled: true, public: false, token } } });
    const dir = scratch.fresh();
    const port = await freePort();
    const target = new URL(v.url).host;
    writeFileSync(
      join(dir, 'prometheus.yml'),
      [
        'global:',
        '  scrape_interval: 1s',
        'scrape_configs:',
        '  - job_name: vigil',
        '    authorization:',
        `      credentials: ${token}`,
        '    static_configs:',
        `      - targets: ['${target}']`,
        '',
      ].join('\n'),
    );
    let log = '';
    prometheus = spawn(
      '/usr/bin/prometheus',
      [
        `--config.file=${join(dir, 'prometheus.yml')}`,
        `--storage.tsdb.path=${join(dir, 'tsdb')}`,
        `--web.listen-address=127.0.0.1:${port}`,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    prometheus.stderr?.on('data', (d: Buffer) => {
      log += d.toString();
    });
    const api = `http://127.0.0.1:${port}/api/v1/query`;
    const query = async (q: string): Promise<number | undefined> => {
      const res = await fetch(`${api}?query=${encodeURIComponent(q)}`);
      const body = (await res.json()) as { data: { result: { value: [number, string] }[] } };
      const first = body.data.result[0];
      return first ? Number(first.value[1]) : undefined;
    };
    try {
      const up = await until('the vigil target to be up', 20_000, async () =>
        (await query('up{job="vigil"}')) === 1 ? 1 : undefined,
      );
      expect(up).toBe(1);
      const before = await until('a first ingest sample', 20_000, () =>
        query('sum(vigil_ingest_events_total{job="vigil"}) or vector(0)'),
      );
      const events = Array.from({ length: 25 }, (_, i) => ({ type: 'prom.test', props: { i } }));
      const sent = await call(v, 'POST', '/v1/events', { token: v.ingestKey, json: { events } });
      expect(sent.body).toEqual({ accepted: 25, rejected: [] });
      const after = await until('the ingest counter to grow in Prometheus', 20_000, async () => {
        const value = await query('vigil_ingest_events_total{job="vigil",outcome="stored"}');
        return value !== undefined && value >= before + 25 ? value : undefined;
      });
      expect(after - before).toBe(25);
    } catch (err) {
      throw new Error(`${(err as Error).message}\nprometheus log:\n${log.slice(-2000)}`);
    }
  }, 60_000);
});
