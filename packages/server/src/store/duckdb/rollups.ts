import type { DuckDBConnection, DuckDBValue } from '@duckdb/node-api';
import { DuckDBTimestampValue, listValue } from '@duckdb/node-api';
import {
  FAMILY_FIELDS,
  type FieldSummary,
  mergeRollupRows,
  RESOLUTION_MS,
  RESOLUTIONS,
  type Resolution,
  ROLLUP_COUNTERS,
  ROLLUP_FIELDS,
  type RollupCounter,
  type RollupFamily,
  type RollupField,
  type RollupRow,
  rollupKeyString,
} from '../../model/rollup.js';
import type {
  CostRewrite,
  GroupsQuery,
  RollupQuery,
  RollupStore,
  RollupTile,
  RollupWatermark,
  SignalDims,
  WindowSumQuery,
} from '../types.js';
import { num, rows, type Serial, TS } from './shared.js';

const KEY = ['project', 'family', 'res', 'bucket', 'grp', 'dim'] as const;
/**
 * Row columns for these fields: the key, the counters and each field's n, sum, min and max, with
 * its sketch when asked; `bucket` as stored, or as epoch ms (what `toRow` reads).
 */
const columns = (fields: readonly RollupField[], { sketches = true, epochMs = false } = {}) =>
  [
    ...KEY.map((k) => (epochMs && k === 'bucket' ? 'epoch_ms(bucket) AS bucket' : k)),
    ...ROLLUP_COUNTERS,
    ...fields.flatMap((f) => [
      `${f}_n`,
      `${f}_sum`,
      `${f}_min`,
      `${f}_max`,
      ...(sketches ? [`${f}_sketch`] : []),
    ]),
  ].join(', ');
const SELECT = columns(ROLLUP_FIELDS, { epochMs: true });
/** The columns a scalar read of a family needs: no sketch blobs, no other families' fields. */
const scalarColumns = (family: RollupFamily) => columns(FAMILY_FIELDS[family], { sketches: false });

/** Rows summed per dim (and bucket) by DuckDB: counters and field statistics, no sketches. */
function mergedSelect(byBucket: boolean, family: RollupFamily): string {
  return [
    'project',
    'family',
    byBucket ? 'res' : "'1m' AS res",
    byBucket ? 'epoch_ms(bucket) AS bucket' : 'epoch_ms(min(bucket)) AS bucket',
    'grp',
    'dim',
    ...ROLLUP_COUNTERS.map((c) => `sum(${c})::BIGINT AS ${c}`),
    ...FAMILY_FIELDS[family].flatMap((f) => [
      `sum(${f}_n)::BIGINT AS ${f}_n`,
      `sum(${f}_sum) AS ${f}_sum`,
      `min(${f}_min) AS ${f}_min`,
      `max(${f}_max) AS ${f}_max`,
    ]),
  ].join(', ');
}

function toRow(r: Record<string, unknown>): RollupRow {
  const counters = {} as Record<RollupCounter, number>;
  for (const c of ROLLUP_COUNTERS) counters[c] = num(r[c]);
  const fields: RollupRow['fields'] = {};
  for (const f of ROLLUP_FIELDS) {
    const n = r[`${f}_n`];
    if (n === null || n === undefined) continue;
    const sketch = r[`${f}_sketch`];
    fields[f] = {
      n: num(n),
      sum: r[`${f}_sum`] as number,
      min: r[`${f}_min`] as number,
      max: r[`${f}_max`] as number,
      sketch: sketch instanceof Uint8Array ? sketch : null,
    };
  }
  return {
    project: r.project as string,
    family: r.family as RollupFamily,
    res: r.res as Resolution,
    bucket: num(r.bucket),
    grp: r.grp as string,
    dim: r.dim as string,
    counters,
    fields,
  };
}

/** Rollups live in one table per resolution, so a query scans only the buckets it can use. */
const table = (res: Resolution) => `rollups_${res}`;

/** `(grp = … AND dim IN (…)) OR …` for several groups of one read. */
function groupFilter(
  groups: readonly { grp: string; dims?: readonly string[] }[],
  param: (v: DuckDBValue) => string,
): string {
  return groups
    .map((g) =>
      g.dims
        ? `(grp = ${param(g.grp)} AND dim IN (${g.dims.map((d) => param(d)).join(',') || 'NULL'}))`
        : `(grp = ${param(g.grp)})`,
    )
    .join(' OR ');
}

/** A timestamp literal for an epoch-ms bound (an integer, so nothing but digits reaches the SQL). */
function tsLiteral(ms: number): string {
  if (!Number.isSafeInteger(ms)) throw new Error(`not a time in epoch ms: ${ms}`);
  return `make_timestamp(${ms}::BIGINT * 1000)`;
}

/**
 * The tiles' bucket ranges per resolution table, as one condition each: the ranges ORed, inside
 * their overall bounds (a plain range the scan can prune row groups with; an OR alone it cannot).
 */
function rangesByRes(tiles: readonly RollupTile[]): Map<Resolution, string> {
  const byRes = new Map<Resolution, RollupTile[]>();
  for (const t of tiles) byRes.set(t.res, [...(byRes.get(t.res) ?? []), t]);
  const out = new Map<Resolution, string>();
  for (const [res, list] of byRes) {
    const lo = Math.min(...list.map((t) => t.from));
    const hi = Math.max(...list.map((t) => t.to));
    // Bucket bounds as literals: a bound the planner knows prunes row groups; a parameter
    // measured twice as slow on a 2.6M-row table.
    const ranges = list.map((t) => `(bucket >= ${tsLiteral(t.from)} AND bucket < ${tsLiteral(t.to)})`);
    out.set(res, `bucket >= ${tsLiteral(lo)} AND bucket < ${tsLiteral(hi)} AND (${ranges.join(' OR ')})`);
  }
  return out;
}

async function append(conn: DuckDBConnection, list: readonly RollupRow[]): Promise<void> {
  for (const res of RESOLUTIONS) {
    const part = list.filter((r) => r.res === res);
    if (part.length > 0) await appendTo(conn, table(res), part);
  }
}

async function appendTo(conn: DuckDBConnection, name: string, list: readonly RollupRow[]): Promise<void> {
  const a = await conn.createAppender(name);
  for (const r of list) {
    a.appendVarchar(r.project);
    a.appendVarchar(r.family);
    a.appendVarchar(r.res);
    a.appendTimestamp(new DuckDBTimestampValue(BigInt(r.bucket) * 1000n));
    a.appendVarchar(r.grp);
    a.appendVarchar(r.dim);
    for (const c of ROLLUP_COUNTERS) a.appendBigInt(BigInt(r.counters[c]));
    for (const f of ROLLUP_FIELDS) {
      const s: FieldSummary | undefined = r.fields[f as RollupField];
      if (!s) {
        for (let i = 0; i < 5; i++) a.appendNull();
        continue;
      }
      a.appendBigInt(BigInt(s.n));
      a.appendDouble(s.sum);
      a.appendDouble(s.min);
      a.appendDouble(s.max);
      if (s.sketch) a.appendBlob(s.sketch);
      else a.appendNull();
    }
    a.endRow();
  }
  a.closeSync();
}

async function setWatermark(c: DuckDBConnection, watermark: RollupWatermark): Promise<void> {
  await c.run(
    `INSERT INTO rollup_watermark (chain, seq, rows_into_next) VALUES ($1, $2, $3)
     ON CONFLICT (chain) DO UPDATE SET seq = excluded.seq, rows_into_next = excluded.rows_into_next`,
    [watermark.chain, BigInt(watermark.seq), BigInt(watermark.rows)],
  );
}

export class DuckDBRollupStore implements RollupStore {
  constructor(private readonly conn: Serial) {}

  async watermark(chain: string): Promise<RollupWatermark> {
    const [r] = await this.conn.run((c) =>
      rows(c, 'SELECT seq, rows_into_next FROM rollup_watermark WHERE chain = $1', [chain]),
    );
    return { chain, seq: r ? num(r.seq) : 0, rows: r ? num(r.rows_into_next) : 0 };
  }

  async write(
    list: readonly RollupRow[],
    signals: readonly SignalDims[],
    watermark: RollupWatermark,
  ): Promise<void> {
    await this.conn.transaction(async (c) => {
      await append(c, list);
      for (const s of signals) {
        await c.run('INSERT INTO signals VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING', [
          s.project,
          s.signal_id,
          s.recommendation_type,
          s.explanation_version,
        ]);
      }
      // One writer per chain moves it, forward only: its maintainer flushes in order.
      await setWatermark(c, watermark);
    });
  }

  async read(query: RollupQuery): Promise<RollupRow[]> {
    if (query.tiles.length === 0) return [];
    const values: DuckDBValue[] = [query.project, query.family, query.grp];
    const param = (v: DuckDBValue) => {
      values.push(v);
      return `$${values.length}`;
    };
    const dims = query.dims ? ` AND dim IN (${query.dims.map((d) => param(d)).join(',') || 'NULL'})` : '';
    // Only the family's columns, and sketches only when asked.
    const read = query.scalarOnly ? scalarColumns(query.family) : columns(FAMILY_FIELDS[query.family]);
    const filtered = [...rangesByRes(query.tiles)].map(
      ([res, ranges]) =>
        `SELECT ${read} FROM ${table(res)} WHERE project = $1 AND family = $2 AND grp = $3${dims} AND ${ranges}`,
    );
    let sql: string;
    if (query.scalarOnly === 'by_dim') {
      // Merged across resolutions by the engine: one row per dim, optionally only the top ones.
      const order = query.top
        ? ` ORDER BY ${query.top.fields.map((f) => `coalesce(sum(${f}_sum), 0)`).join(' + ')} DESC, dim LIMIT ${Math.max(1, Math.floor(query.top.limit))}`
        : '';
      sql = `SELECT ${mergedSelect(false, query.family)} FROM (${filtered.join(' UNION ALL ')}) GROUP BY project, family, grp, dim${order}`;
    } else if (query.scalarOnly === 'by_bucket') {
      sql = `SELECT ${mergedSelect(true, query.family)} FROM (${filtered.join(' UNION ALL ')}) GROUP BY project, family, grp, dim, res, bucket`;
    } else {
      sql = filtered
        .map((f) => `SELECT ${columns(FAMILY_FIELDS[query.family], { epochMs: true })} FROM (${f})`)
        .join(' UNION ALL ');
    }
    return (await this.conn.run((c) => rows(c, sql, values))).map(toRow);
  }

  async sumWindows(query: WindowSumQuery): Promise<{ window: number; row: RollupRow }[]> {
    const all = query.windows.flat();
    if (all.length === 0 || query.groups.length === 0) return [];
    const values: DuckDBValue[] = [query.project, query.family];
    const param = (v: DuckDBValue) => {
      values.push(v);
      return `$${values.length}`;
    };
    const groups = groupFilter(query.groups, param);
    const filtered = [...rangesByRes(all)].map(
      ([res, ranges]) =>
        `SELECT ${scalarColumns(query.family)} FROM ${table(res)} WHERE project = $1 AND family = $2 AND (${groups}) AND ${ranges}`,
    );
    const windows = query.windows.flatMap((tiles, i) =>
      tiles.map((t) => `(${i}, '${t.res}', ${TS(param(t.from))}, ${TS(param(t.to))})`),
    );
    const sums = [
      'w.win AS win',
      'r.grp AS grp',
      'r.dim AS dim',
      ...ROLLUP_COUNTERS.map((c) => `sum(r.${c})::BIGINT AS ${c}`),
      ...FAMILY_FIELDS[query.family].flatMap((f) => [
        `sum(r.${f}_n)::BIGINT AS ${f}_n`,
        `sum(r.${f}_sum) AS ${f}_sum`,
        `min(r.${f}_min) AS ${f}_min`,
        `max(r.${f}_max) AS ${f}_max`,
      ]),
    ].join(', ');
    const sql = `SELECT ${sums} FROM (${filtered.join(' UNION ALL ')}) r
      JOIN (VALUES ${windows.join(', ')}) w(win, res, lo, hi) ON r.res = w.res AND r.bucket >= w.lo AND r.bucket < w.hi
      GROUP BY w.win, r.grp, r.dim`;
    const found = await this.conn.run((c) => rows(c, sql, values));
    return found.map((r) => ({
      window: num(r.win),
      row: toRow({ ...r, project: query.project, family: query.family, res: '1m', bucket: 0 }),
    }));
  }

  async readGroups(query: GroupsQuery): Promise<RollupRow[]> {
    if (query.tiles.length === 0 || query.groups.length === 0) return [];
    const values: DuckDBValue[] = [query.project, query.family];
    const param = (v: DuckDBValue) => {
      values.push(v);
      return `$${values.length}`;
    };
    const groups = groupFilter(query.groups, param);
    // Only the fields asked for travel (sketch blobs are most of a row's weight).
    const read = columns(query.fields ?? FAMILY_FIELDS[query.family], { epochMs: true });
    const sql = [...rangesByRes(query.tiles)]
      .map(
        ([res, ranges]) =>
          `SELECT ${read} FROM ${table(res)} WHERE project = $1 AND family = $2 AND (${groups}) AND ${ranges}`,
      )
      .join(' UNION ALL ');
    return (await this.conn.run((c) => rows(c, sql, values))).map(toRow);
  }

  async signals(project: string, signalIds: readonly string[]): Promise<SignalDims[]> {
    if (signalIds.length === 0) return [];
    const found = await this.conn.run((c) =>
      rows(
        c,
        `SELECT project, signal_id, recommendation_type, explanation_version FROM signals
         WHERE project = $1 AND signal_id IN (SELECT unnest($2::VARCHAR[]))`,
        [project, listValue([...signalIds])],
      ),
    );
    return found as unknown as SignalDims[];
  }

  async expire(project: string, resolutions: readonly Resolution[], before: number): Promise<number> {
    let deleted = 0;
    for (const res of resolutions) {
      const result = await this.conn.run((c) =>
        c.run(`DELETE FROM ${table(res)} WHERE project = $1 AND bucket < ${TS('$2')}`, [project, before]),
      );
      deleted += Number(result.rowsChanged);
    }
    return deleted;
  }

  async compact(): Promise<number> {
    let merged = 0;
    for (const res of RESOLUTIONS) merged += await this.compactTable(table(res));
    return merged;
  }

  async reprice({ project, from, to, costs, rows: list }: CostRewrite): Promise<void> {
    const DAY = RESOLUTION_MS['1d'];
    if (from % DAY !== 0 || to % DAY !== 0 || to <= from)
      throw new Error(`reprice: [${from}, ${to}) is not a range of whole days`);
    if (list.some((r) => r.project !== project || r.family !== 'llm' || r.bucket < from || r.bucket >= to))
      throw new Error('reprice: a row outside the project, the llm family or the days');
    await this.conn.transaction(async (c) => {
      // In slices of bound values: no request value ever becomes SQL text.
      for (let i = 0; i < costs.length; i += 500) {
        const part = costs.slice(i, i + 500);
        const values: DuckDBValue[] = [project];
        const tuples = part.map((u) => {
          values.push(u.id, u.cost_usd, u.prompt_cost_usd, u.completion_cost_usd);
          const n = values.length;
          return `($${n - 3}::UUID, $${n - 2}::DOUBLE, $${n - 1}::DOUBLE, $${n}::DOUBLE)`;
        });
        await c.run(
          `UPDATE events SET cost_usd = u.cost, prompt_cost_usd = u.prompt, completion_cost_usd = u.completion
           FROM (VALUES ${tuples.join(', ')}) AS u(id, cost, prompt, completion)
           WHERE events.id = u.id AND events.project = $1`,
          values,
        );
      }
      for (const res of RESOLUTIONS)
        await c.run(
          `DELETE FROM ${table(res)} WHERE project = $1 AND family = 'llm' AND bucket >= ${TS('$2')} AND bucket < ${TS('$3')}`,
          [project, from, to],
        );
      await append(c, list);
    });
  }

  private compactTable(name: string): Promise<number> {
    return this.conn.transaction(async (c) => {
      const keyCols = KEY.join(', ');
      await c.run('DROP TABLE IF EXISTS compact_keys');
      await c.run(
        `CREATE TEMP TABLE compact_keys AS SELECT ${keyCols} FROM ${name} GROUP BY ${keyCols} HAVING count(*) > 1 LIMIT 20000`,
      );
      const found = (
        await rows(c, `SELECT ${SELECT} FROM ${name} SEMI JOIN compact_keys USING (${keyCols})`)
      ).map(toRow);
      if (found.length === 0) {
        await c.run('DROP TABLE compact_keys');
        return 0;
      }
      const groups = new Map<string, RollupRow[]>();
      for (const r of found) {
        const k = rollupKeyString(r);
        const g = groups.get(k);
        if (g) g.push(r);
        else groups.set(k, [r]);
      }
      await c.run(`DELETE FROM ${name} WHERE (${keyCols}) IN (SELECT (${keyCols}) FROM compact_keys)`);
      await appendTo(c, name, [...groups.values()].map(mergeRollupRows));
      await c.run('DROP TABLE compact_keys');
      return found.length - groups.size;
    });
  }
}
