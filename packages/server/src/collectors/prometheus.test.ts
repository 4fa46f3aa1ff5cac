import { afterEach, describe, expect, it } from 'vitest';
import { call, scratchDirs, startVigil, type Vigil } from '../test/harness.js';
import { serve, type TestServer } from './test-servers.js';

const scratch = scratchDirs();
const servers: TestServer[] = [];
let vigil: Vigil | null = null;
afterEach(async () => {
  await vigil?.stop();
  vigil = null;
  await Promise.all(servers.splice(0).map((s) => s.close()));
  scratch.cleanup();
});

const OPENMETRICS = `# TYPE jobs counter
# HELP jobs Jobs done, by queue.
jobs_total{queue="a \\"quoted\\" queue\\\\x",job="worker"} 17 1700000000.5
jobs_created{queue="a \\"quoted\\" queue\\\\x",job="worker"} 1699990000
# TYPE temp gauge
temp{room="lab"} NaN
temp{room="hall"} -Inf
temp{room="office"} 21.5
# EOF
`;

async function target(body: string, contentType: string, status = 200): Promise<string> {
  const s = await serve((_req, res) => {
    res.writeHead(status, { 'content-type': contentType });
    res.end(body);
  });
  servers.push(s);
  return `${s.url}/metrics`;
}

describe('prometheus collector', () => {
  it('stores OpenMetrics samples with decoded labels, their own timestamps, and clashing labels renamed', async () => {
    const om = await target(OPENMETRICS, 'application/openmetrics-text; version=1.0.0; charset=utf-8');
    const broken = await target('ok 1\nbroken{ 2\n', 'text/plain; version=0.0.4');
    const failing = await target('oops', 'text/plain', 500);
    vigil = await startVigil({
      dataDir: scratch.fresh(),
      config: {
        telemetry: {
          enabled: false,
          collectors: [
            { type: 'prometheus', name: 'om', url: om },
            { type: 'prometheus', name: 'broken', url: broken },
            { type: 'prometheus', name: 'failing', url: failing },
          ],
        },
      },
    });
    const res = await call(vigil, 'POST', '/telemetry/collect', { token: vigil.adminToken });
    const runs = (
      res.body as { collectors: { name: string; outcome: string; error: string | null; result: unknown }[] }
    ).collectors;
    expect(runs.find((r) => r.name === 'om')).toMatchObject({
      outcome: 'ok',
      result: { format: 'openmetrics', families: 2, series: 5, dropped: 0 },
    });
    expect(runs.find((r) => r.name === 'broken')).toMatchObject({
      outcome: 'error',
      error: expect.stringMatching(/^line 2: /),
    });
    expect(runs.find((r) => r.name === 'failing')).toMatchObject({
      outcome: 'error',
      error: 'the target answered HTTP 500',
    });

    const store = vigil.server.context.store;
    const samples = await store.samples.list({
      project: 'default',
      from: 0,
      to: Date.now() + 60_000,
      limit: 1000,
    });
    const jobs = samples.find((s) => s.name === 'jobs_total');
    expect(jobs).toMatchObject({
      labels: { queue: 'a "quoted" queue\\x', exported_job: 'worker', job: 'om', instance: new URL(om).host },
      value: 17,
      ts: 1_700_000_000_500,
      kind: 'counter',
    });
    expect(samples.find((s) => s.name === 'jobs_created')?.kind).toBe('gauge');
    const temps = Object.fromEntries(
      samples.filter((s) => s.name === 'temp').map((s) => [s.labels.room, s.value]),
    );
    expect(temps).toEqual({ lab: Number.NaN, hall: Number.NEGATIVE_INFINITY, office: 21.5 });
    expect(
      samples
        .filter((s) => s.name === 'up')
        .map((s) => [s.labels.job, s.value])
        .sort(),
    ).toEqual([
      ['broken', 0],
      ['failing', 0],
      ['om', 1],
    ]);

    // Non-finite values stay raw: the rollups count only the finite one.
    const history = await call(vigil, 'GET', '/telemetry/history?metric=temp&aggregation=minute', {
      token: vigil.adminToken,
    });
    const series = (history.body as { series: { labels: { room: string }; points: { value: number }[] }[] })
      .series;
    expect(series.map((s) => [s.labels.room, s.points[0]?.value])).toEqual([['office', 21.5]]);
  });
});
