import { afterAll, beforeAll } from 'vitest';
import { type ClickHouseServer, startClickHouse } from '../../test/clickhouse.js';
import { openClickHouseAnalytical } from '../clickhouse/index.js';
import { runAnalyticalContract } from './index.js';

/** The analytical contract on a real ClickHouse 18.16 (one server; a fresh database per store). */
let server: ClickHouseServer;
beforeAll(async () => {
  server = await startClickHouse();
}, 900_000);
afterAll(async () => {
  await server?.stop();
});

let serial = 0;
runAnalyticalContract({
  name: 'clickhouse',
  newStore: () =>
    openClickHouseAnalytical({ url: server.url, database: `contract_${process.pid}_${serial++}` }),
});
