import { randomFillSync } from 'node:crypto';
import { labelsKey, type MetricSample, type SampleKind } from '../../model/index.js';
import { rollupDeltas } from '../sample-rollups.js';
import type {
  SampleHistoryQuery,
  SampleHistoryRow,
  SampleQuery,
  SampleResolution,
  SampleStore,
  SeriesInfo,
} from '../types.js';
import type { ClickHouseConnection } from './connection.js';
import { expireByDay, floatData, liveRows, num, withinDays } from './shared.js';
import { join, limit, ms, raw, type Sql, sql, str, strings } from './sql.js';

const ridPool = Buffer.alloc(8 * 1024);
let ridAt = ridPool.length;

/** A random row id for a delta row (the ReplacingMergeTree key of one delta and its versions). */
export function newRid(): string {
  // One call to the system's random source per 1,024 ids (one call per id was 3% of a backfill's CPU).
  if (ridAt >= ridPool.length) {
    randomFillSync(ridPool);
    ridAt = 0;
  }
  const id = ridPool.readBigUInt64LE(ridAt);
  ridAt += 8;
  return id.toString();
}

/** Conditions on the label arrays: the series carries every one of these label values. */
function labelFilter(labels: Readonly<Record<string, string>> | undefined): Sql[] {
  return Object.entries(labels ?? {}).map(
    ([k, v]) => sql`has(label_keys, ${str(k)}) AND label_values[indexOf(label_keys, ${str(k)})] = ${str(v)}`,
  );
}

function sampleWhere(query: Omit<SampleQuery, 'limit'> & { namePrefix?: string }): Sql {
  const parts = [
    sql`project = ${str(query.project)}`,
    sql`ts >= ${ms(query.from)}`,
    sql`ts < ${ms(query.to)}`,
  ];
  if (query.name !== undefined) parts.push(sql`name = ${str(query.name)}`);
  if (query.namePrefix !== undefined) parts.push(sql`startsWith(name, ${str(query.namePrefix)})`);
  parts.push(...labelFilter(query.labels));
  return join(parts, ' AND ');
}

const HISTORY_BUCKET: Record<SampleHistoryQuery['bucket'], { res: SampleResolution; expr: string }> = {
  minute: { res: '1m', expr: 'bucket' },
  hour: { res: '1h', expr: 'bucket' },
  day: { res: '1d', expr: 'bucket' },
  week: { res: '1d', expr: 'toInt64(toMonday(toDate(intDiv(bucket, 86400000)))) * 86400000' },
  month: { res: '1d', expr: 'toInt64(toStartOfMonth(toDate(intDiv(bucket, 86400000)))) * 86400000' },
};

const ROLLUP_KEYS = ['project', 'name', 'res', 'labels', 'bucket'];
const ROLLUP_VALUES = [
  'label_keys',
  'label_values',
  'kind',
  'count',
  'sum',
  'min',
  'max',
  'last_ts',
  'last_value',
];

interface LiveRollup {
  project: string;
  name: string;
  res: SampleResolution;
  labels: string;
  bucket: string;
  rid: string;
  ver: number;
  label_keys: string[];
  label_values: string[];
  kind: SampleKind;
  count: string;
  sum: unknown;
  min: unknown;
  max: unknown;
  last_ts: string;
  last_value: unknown;
}

const labelArrays = (labels: Readonly<Record<string, string>>) => {
  const keys = Object.keys(labels).sort();
  return { label_keys: keys, label_values: keys.map((k) => String(labels[k])) };
};

/**
 * Metric samples on ClickHouse. Each append writes the raw samples and their rollup delta rows
 * (1m, 1h, 1d per series; the same deltas as the DuckDB engine computes) — two inserts, samples
 * first: a failure between them leaves samples without their rollup delta, never the reverse.
 */
export class ClickHouseSampleStore implements SampleStore {
  constructor(private readonly conn: ClickHouseConnection) {}

  async append(samples: readonly MetricSample[]): Promise<number> {
    if (samples.length === 0) return 0;
    const keys = samples.map((s) => labelsKey(s.labels));
    await this.conn.insert(
      'samples',
      samples.map((s, i) => ({
        project: s.project,
        name: s.name,
        labels: keys[i],
        ...labelArrays(s.labels),
        value: floatData(s.value),
        ts: Math.trunc(s.ts),
        kind: s.kind,
        source: s.source,
        snapshot_id: s.snapshotId,
      })),
    );
    const deltas = rollupDeltas(samples, keys);
    await this.conn.insert(
      'sample_rollups',
      deltas.map((d) => ({
        project: d.project,
        name: d.name,
        labels: d.labels,
        ...labelArrays(JSON.parse(d.labels) as Record<string, string>),
        res: d.res,
        bucket: d.bucket,
        kind: d.kind,
        count: d.count,
        sum: floatData(d.sum),
        min: floatData(d.min),
        max: floatData(d.max),
        last_ts: Math.trunc(d.lastTs),
        last_value: floatData(d.lastValue),
        rid: newRid(),
        ver: 0,
        dead: 0,
      })),
    );
    return samples.length;
  }

  async list(query: SampleQuery): Promise<MetricSample[]> {
    const found = await this.conn.rows<Record<string, unknown>>(
      sql`SELECT project, name, labels, value, ts, kind, source, snapshot_id FROM ${this.conn.table('samples')}
          WHERE ${sampleWhere(query)} ORDER BY ts DESC LIMIT ${limit(Math.max(0, Math.trunc(query.limit)))}`,
    );
    return found.map((r) => ({
      project: r.project as string,
      name: r.name as string,
      labels: JSON.parse(r.labels as string) as Record<string, string>,
      value: num(r.value),
      ts: num(r.ts),
      kind: r.kind as SampleKind,
      source: r.source as string,
      snapshotId: (r.snapshot_id as string | null) ?? null,
    }));
  }

  async series(query: Omit<SampleQuery, 'limit'> & { namePrefix?: string }): Promise<SeriesInfo[]> {
    const found = await this.conn.rows<Record<string, unknown>>(
      sql`SELECT name, labels, argMax(kind, ts) AS s_kind, argMax(source, ts) AS s_source, count() AS s_samples,
                 max(ts) AS s_last_ts, argMax(value, ts) AS s_last_value
          FROM ${this.conn.table('samples')} WHERE ${sampleWhere(query)} GROUP BY name, labels ORDER BY name, labels`,
    );
    return found.map((r) => ({
      name: r.name as string,
      labels: JSON.parse(r.labels as string) as Record<string, string>,
      kind: r.s_kind as SampleKind,
      source: r.s_source as string,
      samples: num(r.s_samples),
      lastTs: num(r.s_last_ts),
      lastValue: num(r.s_last_value),
    }));
  }

  async expire(project: string, before: number): Promise<number> {
    const [r] = await this.conn.rows<{ n: string }>(
      sql`SELECT count() AS n FROM ${this.conn.table('samples')} WHERE project = ${str(project)} AND ts < ${ms(before)}`,
    );
    const n = num(r?.n ?? 0);
    if (n > 0) await expireByDay(this.conn, 'samples', { project, before, time: 'ts' });
    return n;
  }

  async history(query: SampleHistoryQuery): Promise<SampleHistoryRow[]> {
    if (!Object.hasOwn(HISTORY_BUCKET, query.bucket)) throw new Error(`not a bucket: ${query.bucket}`);
    const { res, expr } = HISTORY_BUCKET[query.bucket];
    const where = join(
      [
        sql`project = ${str(query.project)}`,
        sql`name = ${str(query.name)}`,
        sql`res = ${str(res)}`,
        sql`bucket >= ${ms(query.from)}`,
        sql`bucket < ${ms(query.to)}`,
        withinDays(this.conn, query.from, query.to),
      ],
      ' AND ',
    );
    const live = liveRows(this.conn.table('sample_rollups'), {
      keys: ROLLUP_KEYS,
      values: ROLLUP_VALUES,
      where,
    });
    const labelled = join([sql`1`, ...labelFilter(query.labels)], ' AND ');
    const most = limit(Math.max(1, Math.trunc(query.maxSeries)));
    const found = await this.conn.rows<Record<string, unknown>>(
      sql`SELECT labels, ${raw(expr)} AS b, argMax(kind, last_ts) AS h_kind, sum(count) AS h_n, sum(sum) AS h_sum,
                 min(min) AS h_min, max(max) AS h_max, max(last_ts) AS h_last_ts, argMax(last_value, last_ts) AS h_last
          FROM (${live}) WHERE ${labelled} AND labels IN (
            SELECT DISTINCT labels FROM (${live}) WHERE ${labelled} ORDER BY labels LIMIT ${most})
          GROUP BY labels, b ORDER BY labels, b`,
    );
    return found.map((r) => ({
      labels: JSON.parse(r.labels as string) as Record<string, string>,
      kind: r.h_kind as SampleKind,
      bucket: num(r.b),
      count: num(r.h_n),
      sum: num(r.h_sum),
      min: num(r.h_min),
      max: num(r.h_max),
      lastTs: num(r.h_last_ts),
      lastValue: num(r.h_last),
    }));
  }

  async compactRollups(since: number): Promise<number> {
    const where = sql`bucket >= ${ms(since)}`;
    const live = liveRows(this.conn.localTable('sample_rollups'), {
      keys: ROLLUP_KEYS,
      values: ROLLUP_VALUES,
      where,
    });
    // Per shard: a key's deltas and their merge live on the shard that holds them.
    return this.conn.perShard(async (shard) => {
      const rows = await shard.rows<LiveRollup>(
        sql`SELECT * FROM (${live}) WHERE (project, name, res, labels, bucket) IN (
              SELECT project, name, res, labels, bucket FROM (${live})
              GROUP BY project, name, res, labels, bucket HAVING count() > 1)`,
      );
      const groups = new Map<string, LiveRollup[]>();
      for (const r of rows) {
        const k = [r.project, r.name, r.res, r.labels, r.bucket].join('\u0000');
        groups.set(k, [...(groups.get(k) ?? []), r]);
      }
      const out: Record<string, unknown>[] = [];
      for (const list of groups.values()) {
        const [first, ...rest] = list as [LiveRollup, ...LiveRollup[]];
        let merged = {
          count: num(first.count),
          sum: num(first.sum),
          min: num(first.min),
          max: num(first.max),
          lastTs: num(first.last_ts),
          lastValue: num(first.last_value),
          kind: first.kind,
        };
        for (const r of rest) {
          const lastTs = num(r.last_ts);
          const newer = lastTs >= merged.lastTs;
          merged = {
            count: merged.count + num(r.count),
            sum: merged.sum + num(r.sum),
            min: Math.min(merged.min, num(r.min)),
            max: Math.max(merged.max, num(r.max)),
            lastTs: newer ? lastTs : merged.lastTs,
            lastValue: newer ? num(r.last_value) : merged.lastValue,
            kind: newer ? r.kind : merged.kind,
          };
        }
        const ver = Math.max(...list.map((r) => Number(r.ver))) + 1;
        const base = {
          project: first.project,
          name: first.name,
          labels: first.labels,
          label_keys: first.label_keys,
          label_values: first.label_values,
          res: first.res,
          bucket: num(first.bucket),
        };
        out.push({
          ...base,
          kind: merged.kind,
          count: merged.count,
          sum: floatData(merged.sum),
          min: floatData(merged.min),
          max: floatData(merged.max),
          last_ts: merged.lastTs,
          last_value: floatData(merged.lastValue),
          rid: first.rid,
          ver,
          dead: 0,
        });
        for (const r of rest) {
          out.push({
            ...base,
            kind: r.kind,
            count: 0,
            sum: 0,
            min: 0,
            max: 0,
            last_ts: 0,
            last_value: 0,
            rid: r.rid,
            ver,
            dead: 1,
          });
        }
      }
      // One insert: the merged rows and the dead ones land together (one block per partition).
      await shard.insertLocal('sample_rollups', out);
      return rows.length - groups.size;
    });
  }

  async expireRollups(
    project: string,
    resolutions: readonly SampleResolution[],
    before: number,
  ): Promise<number> {
    if (resolutions.length === 0) return 0;
    const where = sql`project = ${str(project)} AND has(${strings(resolutions)}, res) AND bucket < ${ms(before)}`;
    const [r] = await this.conn.rows<{ n: string }>(
      sql`SELECT count() AS n FROM (${liveRows(this.conn.table('sample_rollups'), { keys: ROLLUP_KEYS, values: [], where })})`,
    );
    const n = num(r?.n ?? 0);
    await expireByDay(this.conn, 'sample_rollups', { project, before, time: 'bucket', res: resolutions });
    return n;
  }
}
