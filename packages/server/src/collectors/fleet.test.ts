import { afterEach, describe, expect, it } from 'vitest';
import { call, scratchDirs, startVigil, type Vigil } from '../test/harness.js';
import { hang, json, serve, type TestServer } from './test-servers.js';
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

const TIMEOUT = 1500;

interface Agent {
  name: string;
  service: string;
  handler: Parameters<typeof serve>[0] | 'refused';
  expect: { status: 'up' | 'degraded' | 'down'; version: string | null };
}

const AGENTS: Agent[] = [
  ...[1, 2, 3, 4].map((i) => ({
    name: `api-${i}`,
    service: 'api',
    handler: json({ status: 'ok', version: '1.4.0', uptime_seconds: 100 * i, queue: { depth: i } }),
    expect: { status: 'up' as const, version: '1.4.0' },
  })),
  {
    name: 'api-5',
    service: 'api',
    handler: json(
      { status: 'healthy', version: '1.5.0', uptime_seconds: 5, queue: { depth: 0 } },
      { delayMs: 200 },
    ),
    expect: { status: 'up', version: '1.5.0' },
  },
  {
    name: 'worker-1',
    service: 'worker',
    handler: json({ status: 'degraded', version: '2.0.1', uptime_seconds: 7 }),
    expect: { status: 'degraded', version: '2.0.1' },
  },
  {
    name: 'worker-2',
    service: 'worker',
    handler: json({ status: 'pass', version: '2.0.1' }),
    expect: { status: 'up', version: '2.0.1' },
  },
  {
    name: 'worker-3',
    service: 'worker',
    handler: json({ status: 'fail', version: '2.0.0' }, { status: 503 }),
    expect: { status: 'down', version: '2.0.0' },
  },
  { name: 'worker-4', service: 'worker', handler: 'refused', expect: { status: 'down', version: null } },
  { name: 'silent', service: 'api', handler: hang, expect: { status: 'down', version: null } },
];

describe('a fleet of ten agents', () => {
  it('is polled in parallel in one round bounded by the timeout; status shows each agent as it is', async () => {
    const specs = [];
    for (const agent of AGENTS) {
      let url: string;
      if (agent.handler === 'refused') {
        // A port that was just open and is now closed: connection refused.
        const gone = await serve(json({}));
        url = `${gone.url}/health`;
        await gone.close();
      } else {
        const s = await serve(agent.handler);
        servers.push(s);
        url = `${s.url}/health`;
      }
      specs.push({
        type: 'http-health',
        name: agent.name,
        service: agent.service,
        url,
        intervalMs: 60_000,
        timeoutMs: TIMEOUT,
        fields: { queue_depth: '$.queue.depth' },
      });
    }
    vigil = await startVigil({
      dataDir: scratch.fresh(),
      config: { telemetry: { enabled: false, publicEnabled: true, runRetentionDays: 7, collectors: specs } },
    });

    const before = (await call(vigil, 'GET', '/telemetry/status', { token: vigil.adminToken }))
      .body as TelemetryStatus;
    expect(before.agents.map((a) => [a.status, a.reason])).toEqual(
      AGENTS.map(() => ['unknown', 'not collected yet']),
    );
    expect(before.lastCollection).toBeNull();

    const res = await call(vigil, 'POST', '/telemetry/collect', { token: vigil.adminToken });
    expect(res.status).toBe(200);
    const round = res.body as {
      snapshotId: string;
      durationMs: number;
      collectors: { name: string; outcome: string; durationMs: number; result: { status: string } | null }[];
    };
    expect(round.snapshotId).toMatch(/^[0-9a-f-]{36}$/);
    expect(round.collectors).toHaveLength(10);
    // The silent agent is cut off at its timeout; the round does not wait longer than that.
    expect(round.durationMs).toBeGreaterThanOrEqual(TIMEOUT - 5);
    expect(round.durationMs).toBeLessThan(TIMEOUT + 1000);
    const byName = new Map(round.collectors.map((c) => [c.name, c]));
    expect(byName.get('silent')).toMatchObject({ outcome: 'timeout', result: null });
    // Everyone else answered on their own time, not after the silent one.
    for (const c of round.collectors.filter((c) => c.name !== 'silent')) {
      expect(c.outcome, c.name).toBe('ok');
      expect(c.durationMs, c.name).toBeLessThan(TIMEOUT - 500);
    }

    const status = (await call(vigil, 'GET', '/telemetry/status', { token: vigil.adminToken }))
      .body as TelemetryStatus;
    expect(status.lastCollection?.snapshotId).toBe(round.snapshotId);
    expect(status.lastCollection?.durationMs).toBeGreaterThanOrEqual(TIMEOUT - 5);
    for (const agent of AGENTS) {
      const seen = status.agents.find((a) => a.collector === agent.name);
      expect(seen, agent.name).toMatchObject({ service: agent.service, ...agent.expect });
    }
    expect(status.agents.find((a) => a.collector === 'api-3')).toMatchObject({
      uptimeSeconds: 300,
      fields: { queue_depth: 3 },
    });
    expect(status.agents.find((a) => a.collector === 'worker-4')?.reason).toMatch(/refused/);
    expect(status.agents.find((a) => a.collector === 'silent')?.reason).toMatch(/no answer within 1500 ms/);
    expect(status.summary).toMatchObject({ agents: 10, agentsUp: 6, agentsDegraded: 1, agentsDown: 3 });
    expect(status.failures.map((f) => [f.collector, f.outcome])).toEqual([['silent', 'timeout']]);
    expect(status.collectors.find((c) => c.name === 'silent')).toMatchObject({
      consecutiveFailures: 1,
      lastOkAt: null,
      lastRun: { outcome: 'timeout', snapshotId: round.snapshotId },
    });
    // Versions of reporting agents per service (down agents do not count).
    const api = status.rollout.find((r) => r.service === 'api');
    expect(api?.versions).toEqual([
      { version: '1.4.0', agents: 4, share: 80 },
      { version: '1.5.0', agents: 1, share: 20 },
    ]);

    // The failure is data: up=0 samples for the silent agent and its collector.
    const history = await call(
      vigil,
      'GET',
      `/telemetry/history?metric=vigil_agent_up&aggregation=minute&from=${Date.now() - 120_000}&stat=last`,
      { token: vigil.adminToken },
    );
    const series = (history.body as { series: { labels: { agent: string }; points: { value: number }[] }[] })
      .series;
    expect(series.find((s) => s.labels.agent === 'silent')?.points.at(-1)?.value).toBe(0);
    expect(series.find((s) => s.labels.agent === 'api-1')?.points.at(-1)?.value).toBe(1);

    // The run log, newest first, per collector.
    const log = await call(vigil, 'GET', '/telemetry/runs?collector=silent&limit=5', {
      token: vigil.adminToken,
    });
    expect((log.body as { runs: unknown[] }).runs).toEqual([
      expect.objectContaining({
        snapshotId: round.snapshotId,
        outcome: 'timeout',
        error: 'no answer within 1500 ms',
      }),
    ]);
    expect((await call(vigil, 'GET', '/telemetry/runs?limit=0', { token: vigil.adminToken })).status).toBe(
      400,
    );

    // Vigil's own metrics count the runs by outcome and time them.
    const metrics = await call(vigil, 'GET', '/metrics', { token: vigil.adminToken });
    expect(metrics.body).toMatch(
      /vigil_collector_runs_total\{project="default",collector="silent",result="timeout"\} 1/,
    );
    expect(metrics.body).toMatch(
      /vigil_collector_runs_total\{project="default",collector="api-1",result="ok"\} 1/,
    );
    expect(metrics.body).toMatch(
      /vigil_collector_run_seconds_count\{project="default",collector="worker-4"\} 1/,
    );

    // The public view: aggregates of the same round.
    const pub = await call(vigil, 'GET', '/telemetry/public');
    expect(pub.status).toBe(200);
    expect(pub.body).toMatchObject({
      agents: { total: 10, up: 6, degraded: 1, down: 3, healthyShare: 60 },
      services: 2,
    });
  });
});
