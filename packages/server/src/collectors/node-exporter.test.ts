import { type ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { call, scratchDirs, startVigil, type Vigil } from '../test/harness.js';

/**
 * A real Prometheus exporter: Debian's prometheus-node-exporter (installed by the vitest global
 * setup), started on a loopback port, scraped by a `prometheus` collector.
 */
const BINARY = '/usr/bin/prometheus-node-exporter';
const scratch = scratchDirs();
let exporter: ChildProcess | null = null;
let vigil: Vigil | null = null;

afterEach(async () => {
  await vigil?.stop();
  vigil = null;
  if (exporter && exporter.exitCode === null) {
    const done = new Promise((resolve) => exporter?.once('exit', resolve));
    exporter.kill('SIGTERM');
    await done;
  }
  exporter = null;
  scratch.cleanup();
});

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function startExporter(): Promise<string> {
  const port = await freePort();
  exporter = spawn(BINARY, [`--web.listen-address=127.0.0.1:${port}`], { stdio: 'ignore' });
  const url = `http://127.0.0.1:${port}/metrics`;
  for (let i = 0; i < 100; i++) {
    try {
      const res = await fetch(url);
      if (res.ok) return url;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('node exporter did not start within 10 s');
}

describe('prometheus collector against a real node exporter', () => {
  it('scrapes it, stores its series with job/instance labels, and enforces the per-target series limit', async () => {
    const url = await startExporter();
    // Only on demand here, so that exactly one round runs.
    vigil = await startVigil({ dataDir: scratch.fresh(), config: { telemetry: { enabled: false } } });
    const admin = vigil.adminToken;
    const add = (spec: object) =>
      call(vigil as Vigil, 'POST', '/api/collectors', { token: admin, json: spec });
    expect((await add({ type: 'prometheus', name: 'node', url, timeoutMs: 5000 })).status).toBe(201);
    expect(
      (await add({ type: 'prometheus', name: 'node-capped', url, maxSeries: 50, timeoutMs: 5000 })).status,
    ).toBe(201);

    const res = await call(vigil, 'POST', '/telemetry/collect', { token: admin });
    expect(res.status).toBe(200);
    const runs = (
      res.body as {
        collectors: {
          name: string;
          outcome: string;
          result: { series: number; dropped: number; limitExceeded: boolean };
        }[];
      }
    ).collectors;
    const full = runs.find((r) => r.name === 'node');
    const capped = runs.find((r) => r.name === 'node-capped');
    expect(full?.outcome).toBe('ok');
    expect(full?.result.series).toBeGreaterThan(100);
    expect(full?.result.dropped).toBe(0);
    expect(capped?.outcome).toBe('ok');
    expect(capped?.result.series).toBeLessThanOrEqual(50);
    expect(capped?.result.limitExceeded).toBe(true);
    expect((capped?.result.series ?? 0) + (capped?.result.dropped ?? 0)).toBe(full?.result.series);

    // Stored: the exporter's own build info and CPU counters, labelled like Prometheus does.
    const store = vigil.server.context.store;
    const series = await store.samples.series({ project: 'default', from: 0, to: Date.now() + 60_000 });
    const fromNode = series.filter((s) => s.source === 'collector:node');
    // + up, three scrape_* series, vigil_collector_up and vigil_collector_duration_seconds
    expect(fromNode.length).toBe((full?.result.series ?? 0) + 6);
    const build = fromNode.find((s) => s.name === 'node_exporter_build_info');
    expect(build?.labels).toMatchObject({ job: 'node', instance: new URL(url).host });
    expect(build?.lastValue).toBe(1);
    const cpu = fromNode.filter((s) => s.name === 'node_cpu_seconds_total');
    expect(cpu.length).toBeGreaterThan(0);
    expect(cpu.every((s) => s.kind === 'counter')).toBe(true);
    expect(fromNode.find((s) => s.name === 'up')?.lastValue).toBe(1);
    expect(series.filter((s) => s.source === 'collector:node-capped').length).toBeLessThanOrEqual(56);

    // And answered from the rollups through /telemetry/history.
    const history = await call(
      vigil,
      'GET',
      '/telemetry/history?metric=node_exporter_build_info&aggregation=minute&stat=last&label.job=node',
      {
        token: admin,
      },
    );
    expect(history.body).toMatchObject({ source: 'rollups', series: [{ points: [{ value: 1, count: 1 }] }] });
  });
});
