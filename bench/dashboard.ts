/**
 * Dashboard first meaningful paint on a big data set: Debian's Chromium loads the Overview from a
 * real Vigil server over a copy of the analytics bench set (default the 30 M one in .vigil-bench/;
 * BENCH_DASHBOARD_DIR picks another data directory) until its key numbers are painted. Baseline, in
 * the same run: the Overview's four key-number requests made directly, in parallel, without a browser.
 */
import { copyFileSync, existsSync, mkdirSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startServer } from '../packages/server/src/server.js';
import { launchChromium } from '../packages/server/src/test/browser.js';
import { call, testConfig } from '../packages/server/src/test/harness.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const source = process.env.BENCH_DASHBOARD_DIR ?? join(root, '.vigil-bench', 'analytics-30000000');
const LOADS = Number(process.env.BENCH_DASHBOARD_LOADS ?? 9);
if (!existsSync(join(source, 'vigil.duckdb'))) {
  console.log(
    `dashboard: no data set in ${source}; build it with BENCH_ANALYTICS_EVENTS=30000000 npm run bench -- analytics`,
  );
  process.exit(0);
}
const dir = join(root, '.vigil-tmp', `bench-dashboard-${process.pid}`);
mkdirSync(dir, { recursive: true });
for (const f of ['vigil.duckdb', 'vigil.duckdb.wal']) {
  if (existsSync(join(source, f))) copyFileSync(join(source, f), join(dir, f));
}
const token = 'bench-dashboard-admin-token-0123456789';
const server = await startServer({
  ...testConfig(dir),
  adminToken: token,
  health: { ...testConfig(dir).health, enabled: false },
});
const browser = await launchChromium();
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
const p95 = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.ceil(0.95 * xs.length) - 1] as number;
try {
  const password = 'bench dashboard password';
  const user = await call(server, 'POST', '/api/users', {
    token,
    json: { name: `bench${process.pid}`, role: 'viewer', password },
  });
  if (user.status !== 201) throw new Error(`POST /api/users: ${user.status} ${JSON.stringify(user.body)}`);
  const week = await call(server, 'GET', '/api/metrics/current?window=month', { token });
  const events = (week.body as { requestRate: { total: number } }).requestRate.total;

  const page = await (await browser.newContext({ viewport: { width: 1440, height: 900 } })).newPage();
  await page.goto(`${server.url}/`);
  await page.fill('input[name=user]', `bench${process.pid}`);
  await page.fill('input[name=password]', password);
  await page.click('form.login button[type=submit]');
  await page.waitForSelector('[data-ready="numbers"]', { timeout: 60_000 });
  // Interleaved with the page loads, so that both see the same machine load.
  const direct = async () => {
    const t = performance.now();
    await Promise.all(
      [
        '/api/metrics/current?window=week',
        '/api/metrics/current?window=month',
        '/api/decisions/summary?window=7d',
        '/api/decisions/summary?window=30d',
      ].map((path) => call(server, 'GET', path, { token })),
    );
    return performance.now() - t;
  };
  const api: number[] = [];
  const paint: number[] = [];
  for (let i = 0; i < LOADS; i++) {
    // Each load starts from a quiet server: the previous load's daily series have been answered.
    await page.waitForSelector('main .view:not(:has([aria-busy]))', { timeout: 120_000 });
    api.push(await direct());
    // A new query string makes it a real page load (a hash change alone would redraw in place).
    await page.goto(`${server.url}/?load=${i}#/overview?range=${i % 2 ? '7d' : '24h'}`);
    await page.waitForSelector('[data-ready="numbers"]', { timeout: 60_000 });
    // A string, not a function: tsx would wrap a function with helpers the page does not have.
    paint.push(
      await page.evaluate<number>(`new Promise((resolve) => {
        const read = () => {
          const mark = performance.getEntriesByName('vigil:overview-numbers')[0];
          if (mark) resolve(mark.startTime);
          else requestAnimationFrame(read);
        };
        read();
      })`),
    );
  }
  const timings = await page.evaluate<string[]>(
    `performance.getEntriesByType('resource').filter((r) => r.name.includes('/api/')).map((r) => new URL(r.name).pathname + new URL(r.name).search.replace(/&project=default/, '') + ' ' + r.startTime.toFixed(0) + '+' + r.duration.toFixed(0) + ' ms')`,
  );
  console.error(`requests of the last load (start+duration): ${timings.join('; ')}`);
  const m = median(paint);
  console.log(
    `dashboard overview first meaningful paint (${events.toLocaleString('en-US')} LLM requests in 30 days, ${LOADS} loads): ` +
      `median ${m.toFixed(0)} ms, p95 ${p95(paint).toFixed(0)} ms (target < 1000 ms); ` +
      `the same key-number requests without a browser: median ${median(api).toFixed(0)} ms (page ${(m / median(api)).toFixed(2)}× that)`,
  );
} finally {
  await browser.close();
  await server.close();
  rmSync(dir, { recursive: true, force: true });
}
