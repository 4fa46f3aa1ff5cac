import {
  BIGINT,
  DOUBLE,
  DuckDBDataChunk,
  DuckDBTimestampValue,
  type DuckDBValue,
  TIMESTAMP,
  VARCHAR,
} from '@duckdb/node-api';
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
import { num, rows, type Serial, TS } from './shared.js';

const COLUMNS = [VARCHAR, VARCHAR, VARCHAR, DOUBLE, TIMESTAMP, VARCHAR, VARCHAR, VARCHAR];

/** project, name, labels, res, bucket, kind, count, sum, min, max, last_ts, last_value */
const ROLLUP_COLUMNS = [
  VARCHAR,
  VARCHAR,
  VARCHAR,
  VARCHAR,
  TIMESTAMP,
  VARCHAR,
  BIGINT,
  DOUBLE,
  DOUBLE,
  DOUBLE,
  TIMESTAMP,
  DOUBLE,
];

const tsValue = (ms: number) => new DuckDBTimestampValue(BigInt(Math.trunc(ms)) * 1000n);

const HISTORY_BUCKET = {
  minute: { res: '1m', sql: 'bucket' },
  hour: { res: '1h', sql: 'bucket' },
  day: { res: '1d', sql: 'bucket' },
  week: { res: '1d', sql: "date_trunc('week', bucket)::TIMESTAMP" },
  month: { res: '1d', sql: "date_trunc('month', bucket)::TIMESTAMP" },
} as const;

/** The WHERE clause of a sample query, with its parameters. */
function where(query: Omit<SampleQuery, 'limit'> & { namePrefix?: string }): {
  sql: string;
  values: DuckDBValue[];
} {
  const values: DuckDBValue[] = [query.project, query.from, query.to];
  const parts = ['project = $1', `ts >= ${TS('$2')}`, `ts < ${TS('$3')}`];
  const param = (v: DuckDBValue) => {
    values.push(v);
    return `$${values.length}`;
  };
  if (query.name !== undefined) parts.push(`name = ${param(query.name)}`);
  if (query.namePrefix !== undefined) parts.push(`starts_with(name, ${param(query.namePrefix)})`);
  for (const [k, v] of Object.entries(query.labels ?? {})) {
    parts.push(`json_extract_string(labels, ${param(`$."${k.replaceAll('"', '\\"')}"`)}) = ${param(v)}`);
  }
  return { sql: parts.join(' AND '), values };
}

/**
 * Metric samples on DuckDB: appends on the writer's queue, reads on the reader's. Each append
 * also writes its rollup deltas (1 minute, 1 hour, 1 day per series) in the same transaction.
 */
export class DuckDBSampleStore implements SampleStore {
  constructor(
    private readonly writer: Serial,
    private readonly reader: Serial,
  ) {}

  async append(samples: readonly MetricSample[]): Promise<number> {
    if (samples.length === 0) return 0;
    const keys = samples.map((s) => labelsKey(s.labels));
    const deltas = rollupDeltas(samples, keys);
    await this.writer.transaction(async (conn) => {
      const appender = await conn.createAppender('samples');
      for (let start = 0; start < samples.length; start += 2048) {
        const part = samples.slice(start, start + 2048);
        const chunk = DuckDBDataChunk.create(COLUMNS, part.length);
        chunk.setColumns([
          part.map((s) => s.project),
          part.map((s) => s.name),
          keys.slice(start, start + part.length),
          part.map((s) => s.value),
          part.map((s) => new DuckDBTimestampValue(BigInt(Math.trunc(s.ts)) * 1000n)),
          part.map((s) => s.kind),
          part.map((s) => s.source),
          part.map((s) => s.snapshotId),
        ]);
        appender.appendDataChunk(chunk);
      }
      appender.closeSync();
      if (deltas.length === 0) return;
      const rollups = await conn.createAppender('sample_rollups');
      for (let start = 0; start < deltas.length; start += 2048) {
        const part = deltas.slice(start, start + 2048);
        const chunk = DuckDBDataChunk.create(ROLLUP_COLUMNS, part.length);
        chunk.setColumns([
          part.map((d) => d.project),
          part.map((d) => d.name),
          part.map((d) => d.labels),
          part.map((d) => d.res),
          part.map((d) => tsValue(d.bucket)),
          part.map((d) => d.kind),
          part.map((d) => BigInt(d.count)),
          part.map((d) => d.sum),
          part.map((d) => d.min),
          part.map((d) => d.max),
          part.map((d) => tsValue(d.lastTs)),
          part.map((d) => d.lastValue),
        ]);
        rollups.appendDataChunk(chunk);
      }
      rollups.closeSync();
    });
    return samples.length;
  }

  async list(query: SampleQuery): Promise<MetricSample[]> {
    const { sql, values } = where(query);
    const found = await this.reader.run((c) =>
      rows(
        c,
        `SELECT project, name, labels, value, epoch_ms(ts) AS ts, kind, source, snapshot_id
         FROM samples WHERE ${sql} ORDER BY ts DESC LIMIT $${values.push(Math.max(0, Math.trunc(query.limit)))}`,
        values,
      ),
    );
    return found.map((r) => ({
      project: r.project as string,
      name: r.name as string,
      labels: JSON.parse(r.labels as string) as Record<string, string>,
      value: r.value as number,
      ts: num(r.ts),
      kind: r.kind as SampleKind,
      source: r.source as string,
      snapshotId: (r.snapshot_id as string | null) ?? null,
    }));
  }

  async series(query: Omit<SampleQuery, 'limit'> & { namePrefix?: string }): Promise<SeriesInfo[]> {
    const { sql, values } = where(query);
    const found = await this.reader.run((c) =>
      rows(
        c,
        `SELECT name, labels, arg_max(kind, ts) AS kind, arg_max(source, ts) AS source, count(*) AS samples,
                epoch_ms(max(ts)) AS last_ts, arg_max(value, ts) AS last_value
         FROM samples WHERE ${sql} GROUP BY name, labels ORDER BY name, labels`,
        values,
      ),
    );
    return found.map((r) => ({
      name: r.name as string,
      labels: JSON.parse(r.labels as string) as Record<string, string>,
      kind: r.kind as SampleKind,
      source: r.source as string,
      samples: num(r.samples),
      lastTs: num(r.last_ts),
      lastValue: r.last_value as number,
    }));
  }

  async expire(project: string, before: number): Promise<number> {
    return this.writer.run(async (c) => {
      const result = await c.run(`DELETE FROM samples WHERE project = $1 AND ts < ${TS('$2')}`, [
        project,
        before,
      ]);
      return Number(result.rowsChanged);
    });
  }

  async history(query: SampleHistoryQuery): Promise<SampleHistoryRow[]> {
    const { res, sql: bucketSql } = HISTORY_BUCKET[query.bucket];
    const values: DuckDBValue[] = [query.project, query.name, res, query.from, query.to];
    const param = (v: DuckDBValue) => {
      values.push(v);
      return `$${values.length}`;
    };
    const where = ['project = $1', 'name = $2', 'res = $3', `bucket >= ${TS('$4')}`, `bucket < ${TS('$5')}`];
    for (const [k, v] of Object.entries(query.labels ?? {})) {
      where.push(`json_extract_string(labels, ${param(`$."${k.replaceAll('"', '\\"')}"`)}) = ${param(v)}`);
    }
    const limit = Math.max(1, Math.trunc(query.maxSeries));
    const found = await this.reader.run((c) =>
      rows(
        c,
        `WITH hit AS (SELECT * FROM sample_rollups WHERE ${where.join(' AND ')}),
              chosen AS (SELECT DISTINCT labels FROM hit ORDER BY labels LIMIT ${limit})
         SELECT labels, epoch_ms(${bucketSql}) AS b, arg_max(kind, last_ts) AS kind, sum(count) AS n,
                sum(sum) AS total, min(min) AS lo, max(max) AS hi,
                epoch_ms(max(last_ts)) AS last_ts, arg_max(last_value, last_ts) AS last_value
         FROM hit SEMI JOIN chosen USING (labels) GROUP BY labels, b ORDER BY labels, b`,
        values,
      ),
    );
    return found.map((r) => ({
      labels: JSON.parse(r.labels as string) as Record<string, string>,
      kind: r.kind as SampleKind,
      bucket: num(r.b),
      count: num(r.n),
      sum: r.total as number,
      min: r.lo as number,
      max: r.hi as number,
      lastTs: num(r.last_ts),
      lastValue: r.last_value as number,
    }));
  }

  async compactRollups(since: number): Promise<number> {
    return this.writer.transaction(async (c) => {
      await c.run(
        `CREATE TEMP TABLE merged_sample_rollups AS
         SELECT project, name, labels, res, bucket, arg_max(kind, last_ts) AS kind, sum(count)::BIGINT AS count,
                sum(sum) AS sum, min(min) AS min, max(max) AS max, max(last_ts) AS last_ts,
                arg_max(last_value, last_ts) AS last_value, count(*) AS parts
         FROM sample_rollups WHERE bucket >= ${TS('$1')}
         GROUP BY project, name, labels, res, bucket HAVING count(*) > 1`,
        [since],
      );
      try {
        const [r] = await rows(c, 'SELECT coalesce(sum(parts - 1), 0) AS merged FROM merged_sample_rollups');
        const merged = num(r?.merged ?? 0);
        if (merged > 0) {
          await c.run(
            `DELETE FROM sample_rollups s USING merged_sample_rollups m
             WHERE s.project = m.project AND s.name = m.name AND s.labels = m.labels AND s.res = m.res
               AND s.bucket = m.bucket`,
          );
          await c.run(
            `INSERT INTO sample_rollups SELECT project, name, labels, res, bucket, kind, count, sum, min, max,
               last_ts, last_value FROM merged_sample_rollups`,
          );
        }
        return merged;
      } finally {
        await c.run('DROP TABLE merged_sample_rollups');
      }
    });
  }

  async expireRollups(
    project: string,
    resolutions: readonly SampleResolution[],
    before: number,
  ): Promise<number> {
    if (resolutions.length === 0) return 0;
    return this.writer.run(async (c) => {
      const result = await c.run(
        `DELETE FROM sample_rollups WHERE project = $1 AND bucket < ${TS('$2')}
         AND res IN (${resolutions.map((r) => `'${r}'`).join(',')})`,
        [project, before],
      );
      return Number(result.rowsChanged);
    });
  }
}
