import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { call, scratchDirs, startVigil, type Vigil } from '../test/harness.js';
import { serve, type TestServer } from './test-servers.js';
import type { TelemetryStatus } from './views.js';

/**
 * No Docker engine runs on the test machine, so the engine here is a small HTTP server on a unix
 * socket (and one on TCP) answering with Engine API v1.43 responses from a fixture file, keyed
 * by request path; anything else gets the engine's 404 answer.
 */
const ENGINE = JSON.parse(
  readFileSync(join(import.meta.dirname, 'fixtures', 'docker-engine-v1.43.json'), 'utf8'),
) as Record<string, unknown>;

const scratch = scratchDirs();
const servers: TestServer[] = [];
let vigil: Vigil | null = null;
afterEach(async () => {
  await vigil?.stop();
  vigil = null;
  await Promise.all(servers.splice(0).map((s) => s.close()));
  scratch.cleanup();
});

function engine(socketPath?: string): Promise<TestServer> {
  return serve((req, res) => {
    const answer = ENGINE[req.url ?? ''];
    res.writeHead(answer === undefined ? 404 : 200, {
      'content-type': 'application/json',
      'api-version': '1.43',
    });
    res.end(JSON.stringify(answer ?? { message: 'page not found' }));
  }, socketPath);
}

describe('docker collector (recorded Engine API answers)', () => {
  it('reads containers, state, restarts, health, CPU % and memory over the unix socket and over TCP', async () => {
    const socketPath = join(scratch.fresh(), 'docker.sock');
    const unix = await engine(socketPath);
    const tcp = await engine();
    servers.push(unix, tcp);
    vigil = await startVigil({
      dataDir: scratch.fresh(),
      config: {
        telemetry: {
          enabled: false,
          collectors: [
            { type: 'docker', name: 'engine', socketPath },
            { type: 'docker', name: 'engine-tcp', url: tcp.url },
          ],
        },
      },
    });
    const res = await call(vigil, 'POST', '/telemetry/collect', { token: vigil.adminToken });
    expect((res.body as { collectors: { outcome: string }[] }).collectors.map((c) => c.outcome)).toEqual([
      'ok',
      'ok',
    ]);
    // Stats are read only for running containers.
    expect(unix.requests.map((r) => r.url).filter((u) => u.includes('/stats'))).toHaveLength(2);

    const status = (await call(vigil, 'GET', '/telemetry/status', { token: vigil.adminToken }))
      .body as TelemetryStatus;
    expect(status.engines).toEqual([
      { collector: 'engine', up: true, engine: '24.0.7', error: null },
      { collector: 'engine-tcp', up: true, engine: '24.0.7', error: null },
    ]);
    const fromUnix = status.containers.filter((c) => c.collector === 'engine');
    expect(fromUnix.map((c) => ({ ...c, checkedAt: undefined, collector: undefined }))).toEqual([
      {
        id: '8dfafdbc3a40',
        name: 'web',
        image: 'registry.local/acme/web:1.4.2',
        state: 'running',
        health: 'healthy',
        restarts: 2,
        // (200M − 100M) / (20G − 19G) × 4 CPUs × 100
        cpuPercent: 40,
        // cgroup v2: usage − inactive_file
        memoryBytes: 100_000_000,
        memoryLimitBytes: 2147483648,
        checkedAt: undefined,
        collector: undefined,
      },
      {
        id: '9cd87474be90',
        name: 'worker',
        image: 'registry.local/acme/worker:2.0.1',
        state: 'exited',
        health: null,
        restarts: 5,
        cpuPercent: null,
        memoryBytes: null,
        memoryLimitBytes: null,
        checkedAt: undefined,
        collector: undefined,
      },
      {
        id: '3176a2479c92',
        name: 'db',
        image: 'postgres:16',
        state: 'running',
        health: null,
        restarts: 0,
        // cgroup v1 without online_cpus: percpu entries count the CPUs; (10M / 100M) × 2 × 100
        cpuPercent: 20,
        memoryBytes: 73969664 - 32768,
        memoryLimitBytes: 2099310592,
        checkedAt: undefined,
        collector: undefined,
      },
    ]);
    expect(status.summary).toMatchObject({ containers: 6, containersRunning: 4 });

    const history = await call(
      vigil,
      'GET',
      '/telemetry/history?metric=vigil_container_cpu_percent&aggregation=minute&label.container=web&stat=max',
      { token: vigil.adminToken },
    );
    const series = (
      history.body as { series: { labels: Record<string, string>; points: { value: number }[] }[] }
    ).series;
    expect(series.map((s) => [s.labels.container, s.points[0]?.value])).toEqual([['web', 40]]);

    // The engine goes away: the next round records the failure and the status says so.
    await unix.close();
    servers.splice(servers.indexOf(unix), 1);
    const again = await call(vigil, 'POST', '/telemetry/collect', { token: vigil.adminToken });
    const runs = (again.body as { collectors: { name: string; outcome: string; error: string | null }[] })
      .collectors;
    expect(runs.find((r) => r.name === 'engine')).toMatchObject({ outcome: 'error' });
    expect(runs.find((r) => r.name === 'engine')?.error).toMatch(/refused|no such socket/);
    const after = (await call(vigil, 'GET', '/telemetry/status', { token: vigil.adminToken }))
      .body as TelemetryStatus;
    expect(after.engines.find((e) => e.collector === 'engine')).toMatchObject({ up: false });
    expect(after.containers.every((c) => c.collector === 'engine-tcp')).toBe(true);
  });
});
