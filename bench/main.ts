/**
 * `npm run bench`: runs each benchmark in its own process (clean heap, no interference) and
 * passes through their one-line-per-figure output.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const only = process.argv[2];
const suites = [
  'ingest.ts',
  'ingest-latency.ts',
  'ingest-growth.ts',
  'store.ts',
  'verify.ts',
  'otlp.ts',
  'sdk.ts',
  'health.ts',
  'analytics.ts',
  'alerts.ts',
  'telemetry.ts',
  'dashboard.ts',
  'scaleout.ts',
  'scaleout-dashboard.ts',
].filter((f) => existsSync(join(here, f)) && (!only || f.startsWith(only)));
let failed = 0;
for (const suite of suites) {
  console.log(`# ${suite}`);
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(here, suite)], { stdio: 'inherit' });
  if (r.status !== 0) {
    console.log(`# ${suite} failed (exit ${r.status ?? r.signal})`);
    failed += 1;
  }
}
process.exitCode = failed > 0 ? 1 : 0;
