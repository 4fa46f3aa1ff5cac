/**
 * Scale-out ingest (issue 16): one and then two Vigil instances sharing one store — the analytical
 * half on ClickHouse, the metadata on PostgreSQL — against ClickHouse's own HTTP JSONEachRow insert
 * of the same rows (the peer of ingest.ts), in the same run. Fair as in ingest.ts: the same senders
 * (this process), batch size and events; with two instances sender i posts to instance i mod 2
 * (a load balancer's round robin). Nothing is pinned: the 2 cores are shared by the senders, the
 * Vigil instances, ClickHouse and PostgreSQL as the OS schedules them (the peer's run has only the
 * senders and ClickHouse). Each run starts on an empty ClickHouse database and PostgreSQL database.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { openInsertBaseline } from '../packages/server/src/store/index.js';
import { type ClickHouseServer, startClickHouse } from '../packages/server/src/test/clickhouse.js';
import { startPostgres, type TestPostgres } from '../packages/server/src/test/postgres.js';
import {
  CONCURRENCY,
  type Drive,
  DURATION_S,
  drive,
  driveInsertBaseline,
  eventsBody,
  startServer,
  statusText,
  stopServer,
  type Target,
} from './ingest.js';

const BATCH = Number(process.env.BENCH_SCALEOUT_BATCH ?? 1_000);

/** Vigil instances on the shared store, driven together, then stopped (also on error). */
async function vigilIngest(
  dir: string,
  instances: number,
  clickhouse: ClickHouseServer,
  postgres: TestPostgres,
): Promise<Drive> {
  const store = {
    postgres: { url: await postgres.fresh() },
    clickhouse: { url: clickhouse.url, database: `vigil_bench_${instances}` },
  };
  const started: Awaited<ReturnType<typeof startServer>>[] = [];
  try {
    for (let i = 0; i < instances; i++) {
      started.push(
        await startServer(join(dir, `instances-${instances}`, `vigil-${i}`), {
          // Nothing on local disk: the signed checkpoints would need a place of their own.
          config: { instanceId: `bench-${i}`, checkpoints: { enabled: false }, store },
          ...(started[0] ? { key: started[0].key } : {}),
        }),
      );
    }
    const targets: Target[] = started.map((s) => ({ port: s.port, pid: s.child.pid as number, key: s.key }));
    return await drive(targets, { makeBody: () => eventsBody(BATCH), perBody: BATCH });
  } finally {
    await Promise.all(started.map((s) => stopServer(s.child)));
  }
}

const reason = (err: unknown) => (err instanceof Error ? err.message : String(err)).split('\n')[0];
const dir = mkdtempSync(join(tmpdir(), 'vigil-bench-scaleout-'));
let clickhouse: ClickHouseServer | undefined;
let postgres: TestPostgres | undefined;
try {
  try {
    clickhouse = await startClickHouse({ storage: 'disk' });
    postgres = await startPostgres();
  } catch (err) {
    console.log(`scaleout.ingest not measured: a database server did not start (${reason(err)})`);
  }
  if (clickhouse && postgres) {
    const peer = await openInsertBaseline(clickhouse.url);
    try {
      const one = await vigilIngest(dir, 1, clickhouse, postgres);
      const baseline = await driveInsertBaseline(clickhouse, peer, BATCH);
      const two = await vigilIngest(dir, 2, clickhouse, postgres);
      for (const [instances, vigil] of [
        [1, one],
        [2, two],
      ] as const) {
        // With 2 cores shared by senders, instances and both database servers, a second instance
        // adds no cores here: the line says what it changes (over_one_instance).
        const scaling = instances === 2 ? ` over_one_instance=${(two.rate / one.rate).toFixed(2)}` : '';
        const ratio = vigil.rate / baseline.rate;
        console.log(
          `scaleout.ingest instances=${instances} batch=${BATCH} senders=${CONCURRENCY} seconds=${DURATION_S} vigil_events_per_s=${Math.round(vigil.rate)} clickhouse_rows_per_s=${Math.round(baseline.rate)} ratio=${ratio.toFixed(2)} target>=1.0 met=${ratio >= 1 ? 'yes' : 'no'} vigil_cpu_us_per_event=${vigil.cpuPerItemUs.toFixed(1)} (instances only) clickhouse_cpu_us_per_event=${baseline.cpuPerItemUs.toFixed(1)} (peer) sender_cpu_us_per_event=${vigil.senderCpuPerItemUs.toFixed(1)}/${baseline.senderCpuPerItemUs.toFixed(1)} vigil_rss_mb=${Math.round(vigil.rss.hwm)} statuses=${statusText(vigil.statuses)}/${statusText(baseline.statuses)} load1=${loadavg()[0]?.toFixed(2)}${scaling}`,
        );
      }
    } finally {
      await peer.close();
    }
  }
} finally {
  await postgres?.stop();
  await clickhouse?.stop();
  rmSync(dir, { recursive: true, force: true });
}
