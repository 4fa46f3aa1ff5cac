import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { type AddressInfo, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nextLink, verifyChain } from '../../audit/index.js';
import { type EventRow, emptyRow, type MetricSample } from '../../model/index.js';
import { ROLLUP_COUNTERS, type RollupField, type RollupRow } from '../../model/rollup.js';
import { type ClickHouseServer, startClickHouse, startClickHouseCluster } from '../../test/clickhouse.js';
import { openStore } from '../index.js';
import type { RawAggregate } from '../types.js';
import { ClickHouseConnection } from './connection.js';
import { openClickHouseAnalytical } from './index.js';
import { createTable, dropTable, MIGRATIONS } from './migrations.js';
import { sql, str } from './sql.js';

/**
 * What the shared contract cannot see on ClickHouse: retention at whole days drops partitions and
 * schedules no mutation, two instances migrating at once end in one schema, NaN samples survive.
 */
let server: ClickHouseServer;
beforeAll(async () => {
  server = await startClickHouse();
}, 900_000);
afterAll(async () => {
  await server?.stop();
});

const DAY = 86_400_000;
const T0 = Date.UTC(2026, 10, 1);
let serial = 0;

function sample(over: Partial<MetricSample>): MetricSample {
  return {
    project: 'p',
    name: 'up',
    labels: {},
    value: 1,
    ts: T0,
    kind: 'gauge',
    source: 'collector:a',
    snapshotId: null,
    ...over,
  };
}

describe('ClickHouse engine', () => {
  it('retention at a whole day drops partitions and leaves no mutation behind', async () => {
    const database = `engine_${serial++}`;
    const store = await openClickHouseAnalytical({ url: server.url, database });
    const conn = new ClickHouseConnection({ url: server.url, database });
    try {
      await store.samples.append([0, 1, 2, 3].map((d) => sample({ ts: T0 + d * DAY + 5_000, value: d })));
      await store.samples.append([sample({ project: 'q', ts: T0 })]);
      const partitions = async () =>
        (
          await conn.rows<{ partition: string }>(
            sql`SELECT DISTINCT partition FROM system.parts
                WHERE database = ${str(database)} AND table = 'samples' AND active ORDER BY partition`,
          )
        ).map((r) => r.partition);
      expect(await partitions()).toHaveLength(5);
      expect(await store.samples.expire('p', T0 + 2 * DAY)).toBe(2);
      expect(await partitions()).toEqual(["('p','2026-11-03')", "('p','2026-11-04')", "('q','2026-11-01')"]);
      expect(await store.samples.expireRollups('p', ['1m', '1h', '1d'], T0 + 2 * DAY)).toBe(6);
      const mutations = await conn.rows(
        sql`SELECT command FROM system.mutations WHERE database = ${str(database)}`,
      );
      expect(mutations).toEqual([]);
      const left = await store.samples.list({ project: 'p', from: 0, to: T0 + 10 * DAY, limit: 10 });
      expect(left.map((s) => s.value)).toEqual([3, 2]);
    } finally {
      await conn.close();
      await store.close();
    }
  });

  it('an append larger than one insert request is stored whole, in parts the server can take', async () => {
    const database = `engine_${serial++}`;
    const store = await openClickHouseAnalytical({ url: server.url, database });
    const conn = new ClickHouseConnection({ url: server.url, database });
    try {
      const rows = Array.from({ length: 25_000 }, (_, i) => {
        const r = emptyRow();
        r.id = `00000000-0000-7000-8000-${i.toString(16).padStart(12, '0')}`;
        r.project = 'p';
        r.type = 'big';
        r.ts = T0 + i;
        r.received_at = T0 + i;
        return r;
      });
      const link = nextLink(null, rows, T0, 'default');
      await store.events.appendBatch({ rows, seal: () => ({ link, scrubbed: [] }) });
      expect(await store.events.countEvents('p')).toBe(25_000);
      // Three requests, so three parts before any merge.
      const [parts] = await conn.rows<{ n: string }>(
        sql`SELECT count() AS n FROM system.parts WHERE database = ${str(database)} AND table = 'events'`,
      );
      expect(Number(parts?.n)).toBeGreaterThanOrEqual(3);
      const again = await store.events.appendBatch({ rows, seal: () => ({ link, scrubbed: [] }) });
      expect(again.duplicates.size).toBe(25_000);
    } finally {
      await conn.close();
      await store.close();
    }
  });

  it('two instances opening an empty database at once migrate it to one schema', async () => {
    const database = `engine_${serial++}`;
    const [a, b] = await Promise.all([
      openClickHouseAnalytical({ url: server.url, database }),
      openClickHouseAnalytical({ url: server.url, database }),
    ]);
    try {
      const [sa, sb] = await Promise.all([a.migrations.status(), b.migrations.status()]);
      expect(sa.current).toBe(sa.latest);
      expect(sb).toEqual(sa);
      expect(await a.samples.append([sample({})])).toBe(1);
      expect(await b.samples.list({ project: 'p', from: 0, to: T0 + DAY, limit: 10 })).toHaveLength(1);
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('a rollup write that failed after storing its rows is superseded by the next write, not added to', async () => {
    const database = `engine_${serial++}`;
    const store = await openClickHouseAnalytical({ url: server.url, database });
    const conn = new ClickHouseConnection({ url: server.url, database });
    const row = (n: number): RollupRow => ({
      project: 'p',
      family: 'llm',
      res: '1m',
      bucket: T0,
      grp: 'model',
      dim: 'm1',
      counters: { ...Object.fromEntries(ROLLUP_COUNTERS.map((c) => [c, 0])), n } as RollupRow['counters'],
      fields: {},
    });
    try {
      await store.rollups.write([row(2)], [], { chain: 'a', seq: 1, rows: 0 });
      // The watermark's table gone: the rows go in, then the write fails.
      await dropTable(conn, 'rollup_watermarks');
      await expect(store.rollups.write([row(3)], [], { chain: 'a', seq: 2, rows: 0 })).rejects.toThrow();
      const spec = MIGRATIONS.flatMap((m) => m.tables).find((t) => t.name === 'rollup_watermarks');
      if (spec) await createTable(conn, spec);
      // The writer's next flush: the failed deltas merged into its new ones (3 + 4).
      await store.rollups.write([row(7)], [], { chain: 'a', seq: 3, rows: 0 });
      const read = await store.rollups.read({
        project: 'p',
        family: 'llm',
        grp: 'model',
        tiles: [{ res: '1m', from: T0, to: T0 + DAY }],
        scalarOnly: 'by_dim',
      });
      expect(read.map((r) => r.counters.n)).toEqual([9]);
      expect(await store.rollups.watermark('a')).toEqual({ chain: 'a', seq: 3, rows: 0 });
    } finally {
      await conn.close();
      await store.close();
    }
  });

  it('exports events to CSV as the DuckDB engine does, with progress; backups are refused', async () => {
    const store = await openClickHouseAnalytical({ url: server.url, database: `engine_${serial++}` });
    const dataDir = mkdtempSync(join(tmpdir(), 'vigil-export-'));
    const duck = await openStore({ engine: 'duckdb', dataDir });
    try {
      const rows: EventRow[] = [0, 1, 2, 3].map((i) => ({
        ...emptyRow(),
        id: `0190a000-0000-7000-8000-00000000000${i}`,
        project: 'p',
        type: i === 3 ? 'other' : 'llm.request',
        ts: T0 + i * 1_001,
        received_at: T0 + 5,
        late: i === 1,
        version: i === 0 ? null : '1.0',
        total_ms: i * 1.5,
        prompt_tokens: i,
        cache_hit: i % 2 === 0,
        model: i === 2 ? 'a "quoted", model\nname' : 'm',
        props: i === 0 ? null : JSON.stringify({ k: `v,${i}`, n: i }),
      }));
      for (const s of [store, duck]) {
        const link = nextLink(null, rows, T0);
        await s.events.appendBatch({ rows, seal: () => ({ link, scrubbed: [] }) });
      }
      const exported = async (s: typeof store | typeof duck, name: string) => {
        const out = join(dataDir, name);
        const progress: number[] = [];
        const result = await s.ops.exportEvents(
          { from: T0 + 1, to: T0 + DAY, type: 'llm.request', format: 'csv', out },
          (done) => progress.push(done),
        );
        return { result, progress, text: readFileSync(out, 'utf8') };
      };
      const ch = await exported(store, 'clickhouse.csv');
      const dk = await exported(duck, 'duckdb.csv');
      expect(ch.result).toEqual({ rows: 2 });
      expect(ch.progress.at(-1)).toBe(2);
      expect(ch.text).toBe(dk.text);
      expect((await store.ops.rowCounts()).events).toBe(4);
      await expect(store.ops.backup({ scratchDir: dataDir })).rejects.toMatchObject({ code: 'unsupported' });
      expect(await store.sizeBytes()).toBe(0);
    } finally {
      await duck.close();
      await store.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('a server that cannot be used is unreachable at open (password hidden); one gone while serving is unavailable', async () => {
    const closed = await new Promise<number>((resolve) => {
      const srv = createServer().listen(0, '127.0.0.1', () => {
        const port = (srv.address() as AddressInfo).port;
        srv.close(() => resolve(port));
      });
    });
    const refused = openClickHouseAnalytical({
      url: `http://vigil:s3cret@127.0.0.1:${closed}`,
      database: 'x',
    });
    await expect(refused).rejects.toMatchObject({
      code: 'unreachable',
      message: expect.stringMatching(/running there/),
    });
    await expect(refused).rejects.not.toMatchObject({ message: expect.stringMatching(/s3cret/) });
    await expect(openClickHouseAnalytical({ url: 'postgres://h/db', database: 'x' })).rejects.toMatchObject({
      code: 'unreachable',
      message: expect.stringMatching(/not an http/),
    });
    const stranger = new URL(server.url);
    stranger.username = 'nobody';
    await expect(openClickHouseAnalytical({ url: stranger.toString(), database: 'x' })).rejects.toMatchObject(
      {
        code: 'unreachable',
        message: expect.stringMatching(/user name or password/),
      },
    );

    const own = await startClickHouse();
    const store = await openClickHouseAnalytical({ url: own.url, database: 'gone' });
    try {
      await own.stop();
      await expect(store.events.countEvents()).rejects.toMatchObject({ code: 'unavailable' });
    } finally {
      await store.close();
      await own.stop();
    }
  });

  it('two instances on the two shards, each through its own shard: one truth, each its own chain', async () => {
    const cluster = await startClickHouseCluster('vigil_pair');
    const shards = cluster.shards.map((s) => s.url);
    const open = (url: string) =>
      openClickHouseAnalytical({ url, database: 'pair', cluster: { name: cluster.name, shards } });
    const a = await open(shards[0] ?? '');
    const b = await open(shards[1] ?? '');
    try {
      const rows: EventRow[] = Array.from({ length: 20 }, (_, i) => ({
        ...emptyRow(),
        id: `0190a000-0000-7000-8000-0000000000${String(i).padStart(2, '0')}`,
        project: 'p',
        type: 'custom.event',
        ts: T0 + i,
        received_at: T0 + i,
      }));
      const sealFor = (chain: string) => (kept: readonly EventRow[]) => ({
        link: nextLink(null, kept, T0, chain),
        scrubbed: [],
      });
      const first = await a.events.appendBatch({ rows, seal: sealFor('a') });
      expect(first.link?.rowCount).toBe(20);
      // Acknowledged by one instance: the other answers with it at once.
      expect(await b.events.countEvents('p')).toBe(20);
      // The same batch retried to the other instance: every event is a duplicate, nothing is stored.
      const retried = await b.events.appendBatch({ rows, seal: sealFor('b') });
      expect(retried).toMatchObject({ link: null });
      expect(retried.duplicates.size).toBe(20);
      const more = rows.map((r, i) => ({
        ...r,
        id: r.id.replace('-0000000000', '-1000000000'),
        ts: T0 + 100 + i,
      }));
      await b.events.appendBatch({ rows: more, seal: sealFor('b') });
      expect(await a.events.countEvents('p')).toBe(40);
      expect((await a.events.chains()).map((l) => [l.chain, l.seq, l.rowCount])).toEqual([
        ['a', 1, 20],
        ['b', 1, 20],
      ]);
      expect(await verifyChain(b.events)).toMatchObject({ ok: true, batches: 2, events: 40, chains: 2 });
      // Rows of the two tables live on both shards (the sharding key spreads them).
      const conn = new ClickHouseConnection({ url: shards[0] ?? '', database: 'pair' });
      try {
        const perShard = await conn.rowsOnEveryShard<{ n: string }>(sql`SELECT count() AS n FROM events`);
        expect(perShard.map((r) => Number(r.n)).every((n) => n > 0)).toBe(true);
      } finally {
        await conn.close();
      }
    } finally {
      await a.close();
      await b.close();
      await cluster.stop();
    }
  });

  it('names that become SQL text are checked against the model: anything else is refused before SQL', async () => {
    const store = await openClickHouseAnalytical({ url: server.url, database: `engine_${serial++}` });
    try {
      const tiles = [{ res: '1m' as const, from: T0, to: T0 + DAY }];
      const bad = 'total_ms_sum) FROM system.one --' as RollupField;
      await expect(
        store.rollups.readGroups({
          project: 'p',
          family: 'llm',
          groups: [{ grp: 'model' }],
          tiles,
          fields: [bad],
        }),
      ).rejects.toThrow(/not a rollup field/);
      await expect(
        store.rollups.read({
          project: 'p',
          family: 'llm',
          grp: 'model',
          tiles,
          scalarOnly: 'by_dim',
          top: { fields: [bad], limit: 1 },
        }),
      ).rejects.toThrow(/not a rollup field/);
      const raw = { project: 'p', type: 't', from: T0, to: T0 + DAY, groupBy: [], filters: [] };
      await expect(
        store.events.aggregateRaw({ ...raw, aggregate: 'constructor' as RawAggregate }),
      ).rejects.toThrow(/not an aggregate/);
      await expect(
        store.events.aggregateRaw({ ...raw, aggregate: 'count', bucket: 'toString' as 'day' }),
      ).rejects.toThrow(/not a bucket/);
    } finally {
      await store.close();
    }
  });

  it('keeps NaN and infinite sample values as they are (raw only, never rolled up)', async () => {
    const store = await openClickHouseAnalytical({ url: server.url, database: `engine_${serial++}` });
    try {
      const values = [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 2];
      await store.samples.append(values.map((value, i) => sample({ value, ts: T0 + i })));
      const listed = await store.samples.list({ project: 'p', from: 0, to: T0 + DAY, limit: 10 });
      expect(listed.map((s) => s.value)).toEqual([...values].reverse());
      const history = await store.samples.history({
        project: 'p',
        name: 'up',
        from: T0,
        to: T0 + DAY,
        bucket: 'minute',
        maxSeries: 10,
      });
      expect(history.map((h) => [h.count, h.sum])).toEqual([[1, 2]]);
    } finally {
      await store.close();
    }
  });
});
