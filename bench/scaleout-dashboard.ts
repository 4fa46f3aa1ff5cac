/**
 * Dashboard queries on ClickHouse against the same on DuckDB (issue 16): one generated set
 * (BENCH_SCALEOUT_EVENTS, default 30 M over 30 days; the same seed and end time on both), DuckDB in
 * a temporary directory, ClickHouse (+ PostgreSQL for the metadata) on private loopback servers;
 * then the analytics bench's questions, each on one engine and then the other, from rollups (as the
 * dashboard asks them) and on raw rows.
 *
 * Each set is built every run, side by side (DuckDB's in a child process running this file with
 * BENCH_SCALEOUT_FILL set): the first day and the rollups of all days through the store's ordinary
 * writes (`vigil generate`'s), the other days' events copied from the first inside the engine
 * (`copyEventDays`). Writing 30 M events through Vigil took over an hour per engine here; the
 * copies hold the same rows as the generator's repeated days, ids apart, and no audit chain.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { RollupMaintainer } from '../packages/server/src/analytics/index.js';
import { DEFAULT_CHAIN } from '../packages/server/src/audit/index.js';
import {
  copyEventDays,
  openStore,
  type Store,
  type StoreOptions,
} from '../packages/server/src/store/index.js';
import { type ClickHouseServer, startClickHouse } from '../packages/server/src/test/clickhouse.js';
import { startPostgres, type TestPostgres } from '../packages/server/src/test/postgres.js';
import { DAYS, dashboardCases, fill, p95, silent } from './analytics.js';

const EVENTS = Number(process.env.BENCH_SCALEOUT_EVENTS ?? 30_000_000);
const TARGET_MS = 50;
const DAY = 86_400_000;

/**
 * A store with its set (in this process): the first day through the store's ordinary writes (`vigil
 * generate`'s, with the rollups of every day), the events of the other days copied from it inside
 * the engine.
 */
async function fillStore(options: StoreOptions, end: number): Promise<void> {
  const writing = await openStore(options);
  try {
    await fill(writing, EVENTS, end, 'skip');
  } finally {
    await writing.close();
  }
  const started = Date.now();
  const copied = await copyEventDays(options, { project: 'default', from: end - DAYS * DAY, days: DAYS });
  console.error(
    `${options.clickhouse ? 'ClickHouse' : 'DuckDB'}: copied ${copied} events of the first day to the ${DAYS - 1} days after it in ${((Date.now() - started) / 1000).toFixed(0)} s`,
  );
}

/** A DuckDB store filled by a child process (this file with BENCH_SCALEOUT_FILL=`dataDir`). */
function fillInChild(dataDir: string, end: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url)], {
      env: { ...process.env, BENCH_SCALEOUT_FILL: dataDir, BENCH_SCALEOUT_END: String(end) },
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    child.on('error', reject);
    child.on('exit', (code, signal) =>
      code === 0 ? resolve() : reject(new Error(`the DuckDB load exited with ${code ?? signal}`)),
    );
  });
}

/** The store reopened (cold), with a rollup maintainer reading as the server does. */
async function reopened(options: StoreOptions): Promise<{ store: Store; maintainer: RollupMaintainer }> {
  const store = await openStore(options);
  const maintainer = new RollupMaintainer(store, { log: silent });
  await maintainer.start((await store.events.chainHead(DEFAULT_CHAIN))?.seq ?? 0);
  return { store, maintainer };
}

if (process.env.BENCH_SCALEOUT_FILL) {
  await fillStore({ dataDir: process.env.BENCH_SCALEOUT_FILL }, Number(process.env.BENCH_SCALEOUT_END));
} else {
  await main();
}

async function main(): Promise<void> {
  const reason = (err: unknown) => (err instanceof Error ? err.message : String(err)).split('\n')[0];
  const dir = mkdtempSync(join(tmpdir(), 'vigil-bench-scaleout-dashboard-'));
  let clickhouse: ClickHouseServer | undefined;
  let postgres: TestPostgres | undefined;
  const opened: { store: Store; maintainer: RollupMaintainer }[] = [];
  try {
    try {
      // The server's own default limit per query (10 GB), not the tests' 1 GB: compaction and the
      // first reads go over every rollup row of 30 days.
      clickhouse = await startClickHouse({ storage: 'disk', queryMemoryBytes: 10_000_000_000 });
      postgres = await startPostgres();
    } catch (err) {
      console.log(`scaleout.dashboard not measured: a database server did not start (${reason(err)})`);
    }
    if (clickhouse && postgres) {
      const end = Math.floor(Date.now() / 60_000) * 60_000;
      const started = Date.now();
      const duckOptions = { dataDir: join(dir, 'duckdb') };
      let duckLoadS = 0;
      let duckFailed: unknown;
      const duckLoad = fillInChild(duckOptions.dataDir, end).then(
        () => {
          duckLoadS = (Date.now() - started) / 1000;
        },
        (err: unknown) => {
          duckFailed = err;
        },
      );
      const chOptions: StoreOptions = {
        dataDir: join(dir, 'clickhouse'),
        postgres: { url: await postgres.fresh() },
        clickhouse: { url: clickhouse.url },
      };
      let ch: { store: Store; maintainer: RollupMaintainer } | undefined;
      try {
        await fillStore(chOptions, end);
        ch = await reopened(chOptions);
        opened.push(ch);
      } catch (err) {
        console.log(
          `scaleout.dashboard not measured: loading ${EVENTS} events into ClickHouse failed (${reason(err)})`,
        );
        process.exitCode = 1;
      }
      const chLoadS = (Date.now() - started) / 1000;
      await duckLoad;
      if (duckFailed) {
        console.log(
          `scaleout.dashboard not measured: loading ${EVENTS} events into DuckDB failed (${reason(duckFailed)})`,
        );
        process.exitCode = 1;
      }
      const duck = ch && !duckFailed ? await reopened(duckOptions) : undefined;
      if (ch && duck) {
        opened.push(duck);
        console.error(
          `loaded ${EVENTS} events (one day written, the others copied), side by side: ClickHouse + PostgreSQL ${chLoadS.toFixed(0)} s, DuckDB ${duckLoadS.toFixed(0)} s`,
        );
        const duckCases = dashboardCases(duck.store, duck.maintainer, end);
        const chCases = dashboardCases(ch.store, ch.maintainer, end);
        for (const [i, [name, duckRollups, duckRaw]] of duckCases.entries()) {
          const [, chRollups, chRaw] = chCases[i] as (typeof chCases)[number];
          const d = await p95(duckRollups);
          const c = await p95(chRollups);
          const dRaw = (await p95(duckRaw, 5)).warm;
          const cRaw = (await p95(chRaw, 5)).warm;
          console.log(
            `scaleout.dashboard.${name} events=${EVENTS} clickhouse_p95_ms=${c.warm.toFixed(1)} duckdb_p95_ms=${d.warm.toFixed(1)} ratio=${(c.warm / d.warm).toFixed(2)} cold_ms=${c.cold.toFixed(0)}/${d.cold.toFixed(0)} raw_p95_ms=${cRaw.toFixed(1)}/${dRaw.toFixed(1)} raw_ratio=${(cRaw / dRaw).toFixed(2)} target_clickhouse_p95<=${TARGET_MS} met=${c.warm <= TARGET_MS ? 'yes' : 'no'} load1=${loadavg()[0]?.toFixed(2)}`,
          );
        }
      }
    }
  } finally {
    for (const { store, maintainer } of opened) {
      await maintainer.stop();
      await store.close();
    }
    await postgres?.stop();
    await clickhouse?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
