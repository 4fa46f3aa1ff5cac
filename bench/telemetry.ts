/**
 * Infrastructure telemetry: one collection round over 50 loopback targets (40 agent health
 * endpoints and 10 Prometheus exporters of 200 series, answering after 0–196 ms, in a child
 * process), against the slowest target's latency measured by polling all 50 directly in the same
 * run; and `GET /telemetry/status` answered from the store, against polling the fleet live (what a
 * dashboard without Vigil does). `BENCH_TELEMETRY_ROUNDS` sets the number of rounds (default 12).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaultConfig } from '../packages/server/src/config/index.js';
import { startServer } from '../packages/server/src/server.js';

const TARGETS = 50;
const PROMETHEUS = 10;
const ROUNDS = Number(process.env.BENCH_TELEMETRY_ROUNDS ?? 12);
const STATUS_CALLS = 200;
const latencyOf = (i: number) => i * 4;

const TARGET_SCRIPT = `
const http = require('node:http');
const latencyOf = (i) => i * 4;
const exposition = Array.from({ length: 200 }, (_, k) =>
  '# TYPE bench_metric_' + k + ' gauge\\nbench_metric_' + k + '{shard="' + (k % 7) + '",path="/p/' + k + '"} ' + (k * 1.5)).join('\\n') + '\\n';
const ports = [];
let pending = ${TARGETS};
for (let i = 0; i < ${TARGETS}; i++) {
  const prom = i % 5 === 4 && ports.filter((p) => p.prom).length < ${PROMETHEUS};
  const server = http.createServer((req, res) => {
    setTimeout(() => {
      if (prom) { res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }); res.end(exposition); }
      else { res.writeHead(200, { 'content-type': 'application/json' }); res.end(JSON.stringify({ status: 'ok', version: i % 3 ? '1.4.0' : '1.5.0', uptime_seconds: 1000 + i })); }
    }, latencyOf(i));
  });
  ports.push({ i, prom, port: 0 });
  server.listen(0, '127.0.0.1', () => {
    ports[i].port = server.address().port;
    if (--pending === 0) console.log(JSON.stringify(ports));
  });
}
`;

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

const child = spawn(process.execPath, ['-e', TARGET_SCRIPT], { stdio: ['ignore', 'pipe', 'inherit'] });
const targets = await new Promise<{ i: number; prom: boolean; port: number }[]>((resolve, reject) => {
  let out = '';
  child.stdout.on('data', (d: Buffer) => {
    out += d.toString();
    if (out.includes('\n')) resolve(JSON.parse(out.split('\n')[0] as string));
  });
  child.on('exit', (code) => reject(new Error(`target process exited ${code}`)));
});

const dataDir = mkdtempSync(join(tmpdir(), 'vigil-bench-telemetry-'));
const base = defaultConfig();
const token = 'bench-admin-token-0123456789abcdef';
const server = await startServer({
  ...base,
  port: 0,
  dataDir,
  logLevel: 'silent',
  adminToken: token,
  rateLimits: { ...base.rateLimits, read: { ratePerSec: 1_000_000, burst: 1_000_000 } },
  telemetry: {
    ...base.telemetry,
    enabled: false,
    collectors: targets.map((t) =>
      t.prom
        ? {
            type: 'prometheus',
            name: `exporter-${t.i}`,
            url: `http://127.0.0.1:${t.port}/metrics`,
            timeoutMs: 2000,
          }
        : {
            type: 'http-health',
            name: `agent-${t.i}`,
            url: `http://127.0.0.1:${t.port}/health`,
            timeoutMs: 2000,
          },
    ),
  },
});

const headers = { authorization: `Bearer ${token}` };
const urls = targets.map((t) => `http://127.0.0.1:${t.port}/${t.prom ? 'metrics' : 'health'}`);

/** Polls every target directly, in parallel: what a dashboard without Vigil waits for. */
async function pollFleet(): Promise<number> {
  const t0 = performance.now();
  await Promise.all(urls.map(async (u) => (await fetch(u)).text()));
  return performance.now() - t0;
}

try {
  const slowest = [];
  const rounds = [];
  const wall = [];
  await fetch(`${server.url}/telemetry/collect`, { method: 'POST', headers }); // warm-up
  let cpu = 0;
  for (let r = 0; r < ROUNDS; r++) {
    slowest.push(await pollFleet());
    const t0 = performance.now();
    const used = process.cpuUsage();
    const res = await fetch(`${server.url}/telemetry/collect`, { method: 'POST', headers });
    const spent = process.cpuUsage(used);
    cpu += (spent.user + spent.system) / 1000;
    const body = (await res.json()) as {
      durationMs: number;
      collectors: { outcome: string; durationMs: number }[];
    };
    wall.push(performance.now() - t0);
    if (process.env.BENCH_DEBUG)
      console.log(
        'round',
        body.durationMs.toFixed(0),
        'slowest collector',
        Math.max(...body.collectors.map((c) => c.durationMs)).toFixed(0),
      );
    if (body.collectors.some((c) => c.outcome !== 'ok'))
      throw new Error('a collector failed during the bench');
    rounds.push(body.durationMs);
  }
  const slow = percentile(slowest, 50);
  const roundP50 = percentile(rounds, 50);
  const roundMax = Math.max(...rounds);
  console.log(
    `telemetry.collection_round targets=${TARGETS} (${PROMETHEUS} prometheus x 200 series) rounds=${ROUNDS} round_p50_ms=${roundP50.toFixed(1)} round_max_ms=${roundMax.toFixed(1)} http_p50_ms=${percentile(wall, 50).toFixed(1)} slowest_target_ms=${slow.toFixed(1)} (configured ${latencyOf(TARGETS - 1)}) overhead_p50_ms=${(roundP50 - slow).toFixed(1)} overhead_max_ms=${(roundMax - slow).toFixed(1)} server_cpu_ms_per_round=${(cpu / ROUNDS).toFixed(1)} target_overhead<=100 met_p50=${roundP50 - slow <= 100 ? 'yes' : 'no'} met_max=${roundMax - slow <= 100 ? 'yes' : 'no'}`,
  );

  const status: number[] = [];
  for (let i = 0; i < 20; i++) await (await fetch(`${server.url}/telemetry/status`, { headers })).text();
  for (let i = 0; i < STATUS_CALLS; i++) {
    const t0 = performance.now();
    const res = await fetch(`${server.url}/telemetry/status`, { headers });
    await res.text();
    status.push(performance.now() - t0);
  }
  const live: number[] = [];
  for (let i = 0; i < 10; i++) live.push(await pollFleet());
  const p50 = percentile(status, 50);
  const p95 = percentile(status, 95);
  console.log(
    `telemetry.status_from_store calls=${STATUS_CALLS} agents=${TARGETS - PROMETHEUS} p50_ms=${p50.toFixed(2)} p95_ms=${p95.toFixed(2)} live_poll_p50_ms=${percentile(live, 50).toFixed(1)} speedup_vs_live=${(percentile(live, 50) / p50).toFixed(0)} target_p95<=20 met=${p95 <= 20 ? 'yes' : 'no'}`,
  );
} finally {
  await server.close();
  child.kill();
  rmSync(dataDir, { recursive: true, force: true });
}
