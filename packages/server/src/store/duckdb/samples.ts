import {
  DOUBLE,
  DuckDBDataChunk,
  DuckDBTimestampValue,
  type DuckDBValue,
  TIMESTAMP,
  VARCHAR,
} from '@duckdb/node-api';
import { labelsKey, type MetricSample, type SampleKind } from '../../model/index.js';
import type { SampleQuery, SampleStore, SeriesInfo } from '../types.js';
import { num, rows, type Serial, TS } from './shared.js';

const COLUMNS = [VARCHAR, VARCHAR, VARCHAR, DOUBLE, TIMESTAMP, VARCHAR, VARCHAR, VARCHAR];

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

/** Metric samples on DuckDB: appends on the writer's queue, reads on the reader's. */
export class DuckDBSampleStore implements SampleStore {
  constructor(
    private readonly writer: Serial,
    private readonly reader: Serial,
  ) {}

  async append(samples: readonly MetricSample[]): Promise<number> {
    if (samples.length === 0) return 0;
    await this.writer.run(async (conn) => {
      const appender = await conn.createAppender('samples');
      for (let start = 0; start < samples.length; start += 2048) {
        const part = samples.slice(start, start + 2048);
        const chunk = DuckDBDataChunk.create(COLUMNS, part.length);
        chunk.setColumns([
          part.map((s) => s.project),
          part.map((s) => s.name),
          part.map((s) => labelsKey(s.labels)),
          part.map((s) => s.value),
          part.map((s) => new DuckDBTimestampValue(BigInt(Math.trunc(s.ts)) * 1000n)),
          part.map((s) => s.kind),
          part.map((s) => s.source),
          part.map((s) => s.snapshotId),
        ]);
        appender.appendDataChunk(chunk);
      }
      appender.closeSync();
    });
    return samples.length;
  }

  async list(query: SampleQuery): Promise<MetricSample[]> {
    const { sql, values } = where(query);
    const found = await this.reader.run((c) =>
      rows(
        c,
        `SELECT project, name, labels, value, epoch_ms(ts) AS ts, kind, source, snapshot_id
         FROM samples WHERE ${sql} ORDER BY ts DESC LIMIT ${Math.max(0, Math.trunc(query.limit))}`,
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
}
