import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';

/**
 * Debian packages the tests drive for real: Chromium for the dashboard's browser tests,
 * Prometheus (scrapes Vigil's /metrics), Alertmanager (receives Vigil's alerts), the node
 * exporter (a target for the prometheus collector), PostgreSQL (the metadata engine) and ClickHouse
 * (the analytical engine). Installed here, once per run, when missing,
 * so a fresh machine needs nothing done by hand. Never a browser download: Debian's build only.
 */
const PACKAGES: readonly { name: string; binary: string }[] = [
  { name: 'chromium', binary: '/usr/bin/chromium' },
  { name: 'prometheus', binary: '/usr/bin/prometheus' },
  { name: 'prometheus-alertmanager', binary: '/usr/bin/prometheus-alertmanager' },
  { name: 'prometheus-node-exporter', binary: '/usr/bin/prometheus-node-exporter' },
  // The metadata half's PostgreSQL engine (packages/server/src/test/postgres.ts starts it).
  { name: 'postgresql', binary: '/usr/lib/postgresql/15/bin/initdb' },
  // The analytical half's ClickHouse engine (packages/server/src/test/clickhouse.ts starts it).
  { name: 'clickhouse-server', binary: '/usr/sbin/clickhouse-server' },
  { name: 'clickhouse-client', binary: '/usr/bin/clickhouse-client' },
];

export default function setup(): void {
  const missing = PACKAGES.filter((p) => !existsSync(p.binary));
  if (missing.length === 0) return;
  const names = missing.map((p) => p.name);
  if (process.getuid?.() !== 0) {
    throw new Error(
      `the tests need Debian packages ${names.join(', ')}: run apt-get install -y ${names.join(' ')}`,
    );
  }
  console.log(`installing Debian packages for the tests: ${names.join(', ')}`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env });
  execFileSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...names], {
    stdio: 'inherit',
    env,
  });
}
