import { afterEach, describe, expect, it } from 'vitest';
import { call, scratchDirs, startVigil, type Vigil } from '../test/harness.js';
import { CollectorOrchestrator } from './orchestrator.js';
import { serve, type TestServer } from './test-servers.js';
import type { TelemetryStatus } from './views.js';

const scratch = scratchDirs();
const servers: TestServer[] = [];
let vigil: Vigil | null = null;
afterEach(async () => {
  await vigil?.stop();
  vigil = null;
  await Promise.all(servers.splice(0).map((s) => s.close()));
  scratch.cleanup();
});

const HOUR = 3_600_000;
const silent = { info: () => undefined, warn: () => undefined, error: () => undefined };

interface Point {
  timestamp: string;
  value: number | null;
}
interface Series {
  labels: Record<string, string>;
  points: Point[];
}

describe('deployments and version adoption over time', () => {
  it('records deployments from the webhook and shows the rollout hour by hour through /telemetry/history', async () => {
    // Four agents of one service; their version changes between rounds.
    const versions = ['1.0.0', '1.0.0', '1.0.0', '1.0.0'];
    const collectors = [];
    for (let i = 0; i < versions.length; i++) {
      const s = await serve((_req, res) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ status: 'ok', version: versions[i] }));
      });
      servers.push(s);
      collectors.push({ type: 'http-health', name: `api-${i}`, service: 'api', url: `${s.url}/health` });
    }
    collectors.push({ type: 'deployments', name: 'rollout' });
    vigil = await startVigil({
      dataDir: scratch.fresh(),
      config: { telemetry: { enabled: false, collectors } },
    });
    const v = vigil;

    // Rounds at whole hours in the past: a second orchestrator over the server's own store, with
    // its clock set to each hour, does what the schedule would have done then.
    const T = Math.floor(Date.now() / HOUR) * HOUR - HOUR;
    let now = T - 3 * HOUR;
    const replay = new CollectorOrchestrator({
      store: v.server.context.store,
      log: silent,
      configured: collectors,
      schedule: false,
      clock: () => now,
    });
    await replay.start();
    const deploy = async (json: object, token = v.ingestKey) => {
      const res = await call(v, 'POST', '/telemetry/deployments', { token, json });
      expect(res.status, JSON.stringify(res.body)).toBe(201);
      return res.body as { id: string; status: string };
    };
    try {
      await replay.collect('default'); // T-3h: all on 1.0.0
      const started = await deploy({
        service: 'api',
        version: '1.1.0',
        startedAt: new Date(T - 2.5 * HOUR).toISOString(),
      });
      expect(started.status).toBe('started');
      versions[0] = '1.1.0';
      now = T - 2 * HOUR;
      await replay.collect('default');
      versions[1] = '1.1.0';
      versions[2] = '1.1.0';
      now = T - HOUR;
      await replay.collect('default');
      versions[3] = '1.1.0';
      now = T;
      await replay.collect('default');
      await deploy(
        {
          service: 'api',
          version: '1.1.0',
          status: 'succeeded',
          startedAt: T - 2.5 * HOUR,
          finishedAt: T + 60_000,
        },
        v.adminToken,
      );
    } finally {
      await replay.stop();
    }

    const history = async (query: string) => {
      const res = await call(v, 'GET', `/telemetry/history?${query}`, { token: v.adminToken });
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      return res.body as { source: string; series: Series[] };
    };
    const range = `from=${new Date(T - 3 * HOUR).toISOString()}&to=${new Date(T + HOUR).toISOString()}`;
    const adoption = await history(`metric=vigil_version_agents&aggregation=hour&stat=last&${range}`);
    expect(adoption.source).toBe('rollups');
    const byVersion = Object.fromEntries(
      adoption.series.map((s) => [
        s.labels.version,
        s.points.map((p) => [Date.parse(p.timestamp) - T, p.value]),
      ]),
    );
    expect(byVersion).toEqual({
      '1.0.0': [
        [-3 * HOUR, 4],
        [-2 * HOUR, 3],
        [-HOUR, 1],
      ],
      '1.1.0': [
        [-2 * HOUR, 1],
        [-HOUR, 3],
        [0, 4],
      ],
    });
    const rollout = await history(
      `metric=vigil_rollout_percent&aggregation=hour&stat=last&${range}&label.version=1.1.0`,
    );
    expect(rollout.series[0]?.points.map((p) => p.value)).toEqual([25, 75, 100]);

    const deployments = await history(
      `metric=vigil_deployment&aggregation=day&stat=count&from=${T - 3 * HOUR}&to=${T + HOUR}`,
    );
    expect(
      deployments.series
        .map((s) => [s.labels.status, s.points.reduce((n, p) => n + (p.value ?? 0), 0)])
        .sort(),
    ).toEqual([
      ['started', 1],
      ['succeeded', 1],
    ]);

    const status = (await call(v, 'GET', '/telemetry/status', { token: v.adminToken }))
      .body as TelemetryStatus;
    expect(status.rollout).toEqual([
      {
        service: 'api',
        agents: 4,
        versions: [{ version: '1.1.0', agents: 4, share: 100 }],
        targetVersion: '1.1.0',
        rolloutPercent: 100,
        deployment: expect.objectContaining({ version: '1.1.0', status: 'succeeded' }),
      },
    ]);
    expect(status.deployments.map((d) => [d.service, d.version, d.status])).toEqual([
      ['api', '1.1.0', 'succeeded'],
      ['api', '1.1.0', 'started'],
    ]);
  });

  it('validates the webhook and its roles', async () => {
    vigil = await startVigil({ dataDir: scratch.fresh(), config: { telemetry: { enabled: false } } });
    const v = vigil;
    const post = (json: unknown, token: string | undefined = v.ingestKey) =>
      call(v, 'POST', '/telemetry/deployments', { token, json });
    const code = (res: { body: unknown }) => (res.body as { error: { code: string } }).error.code;
    expect(code(await post({ version: '1' }))).toBe('invalid_body');
    expect(code(await post({ service: 'a', version: '1', status: 'exploded' }))).toBe('invalid_body');
    expect(code(await post({ service: 'a', version: '1', startedAt: 'yesterday' }))).toBe('invalid_body');
    expect(code(await post({ service: 'a', version: '1', startedAt: 2000, finishedAt: 1000 }))).toBe(
      'invalid_body',
    );
    expect(code(await post({ service: 'a', version: '1', status: 'started', finishedAt: Date.now() }))).toBe(
      'invalid_body',
    );
    expect(code(await post({ service: 'a', version: '1', startedAt: Date.now() + 3_600_000 }))).toBe(
      'invalid_body',
    );
    expect((await post({ service: 'a', version: '1' }, '')).status).toBe(401);
    const viewer = (await call(v, 'POST', '/api/keys', { token: v.adminToken, json: { role: 'viewer' } }))
      .body as { key: string };
    expect((await post({ service: 'a', version: '1' }, viewer.key)).status).toBe(403);
    const ok = await post({ service: 'a', version: '1', finishedAt: Date.now() });
    expect(ok.body).toMatchObject({ service: 'a', version: '1', status: 'succeeded', project: 'default' });

    const h = (q: string) => call(v, 'GET', `/telemetry/history?${q}`, { token: v.adminToken });
    expect(code(await h(''))).toBe('invalid_query');
    expect(code(await h('metric=x&from=2026-01-02&to=2026-01-01'))).toBe('invalid_query');
    expect(code(await h('metric=x&aggregation=second'))).toBe('invalid_query');
    expect(code(await h('metric=x&from=0&aggregation=minute'))).toBe('invalid_query');
    expect(code(await h('metric=x&bogus=1'))).toBe('invalid_query');
    expect(code(await h('metric=x&label.9bad=1'))).toBe('invalid_query');
    expect((await h('metric=x')).body).toMatchObject({ series: [], source: 'rollups' });
    expect((await call(v, 'GET', '/telemetry/history?metric=x', { token: v.ingestKey })).status).toBe(403);
  });
});
