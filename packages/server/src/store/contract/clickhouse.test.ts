import { afterAll, beforeAll } from 'vitest';
import {
  type ClickHouseCluster,
  type ClickHouseServer,
  startClickHouse,
  startClickHouseCluster,
} from '../../test/clickhouse.js';
import { openClickHouseAnalytical } from '../clickhouse/index.js';
import { runAnalyticalContract } from './index.js';

/**
 * The analytical contract on a real ClickHouse 18.16: one server, and a two-shard cluster
 * (Distributed tables over local MergeTree tables, no ZooKeeper). A fresh database per store.
 */
let server: ClickHouseServer;
let cluster: ClickHouseCluster;
beforeAll(async () => {
  [server, cluster] = await Promise.all([startClickHouse(), startClickHouseCluster('vigil_contract')]);
}, 900_000);
afterAll(async () => {
  await Promise.all([server?.stop(), cluster?.stop()]);
});

let serial = 0;
const database = () => `contract_${process.pid}_${serial++}`;

runAnalyticalContract({
  name: 'clickhouse',
  newStore: () => openClickHouseAnalytical({ url: server.url, database: database() }),
});

runAnalyticalContract({
  name: 'clickhouse, two shards',
  newStore: () =>
    openClickHouseAnalytical({
      url: cluster.shards[0]?.url ?? '',
      database: database(),
      cluster: { name: cluster.name, shards: cluster.shards.map((s) => s.url) },
    }),
});
