import {
  FAMILY_FIELDS,
  type FieldSummary,
  mergeRollupRows,
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
  RollupGroup,
  RollupQuery,
  RollupStore,
  RollupTile,
  RollupWatermark,
  SignalDims,
  WindowSumQuery,
} from '../types.js';
import type { ClickHouseConnection, Shard } from './connection.js';
import { newRid } from './samples.js';
import { DAY_MS, expireByDay, floatData, liveRows, num, withinDays } from './shared.js';
import { float, int, join, limit, ms, raw, type Sql, sql, str, strings } from './sql.js';

const KEYS = ['project', 'family', 'grp', 'res', 'bucket', 'dim'];

/** Value columns of these fields (with their sketches when asked). */
const fieldColumns = (fields: readonly RollupField[], sketches: boolean) =>
  fields.flatMap((f) => [`${f}_n`, `${f}_sum`, `${f}_min`, `${f}_max`, ...(sketches ? [`${f}_sketch`] : [])]);

const valueColumns = (fields: readonly RollupField[], sketches: boolean) => [
  ...ROLLUP_COUNTERS,
  ...fieldColumns(fields, sketches),
];

type Raw = Record<string, unknown>;

const KNOWN_FIELDS: ReadonlySet<string> = new Set(ROLLUP_FIELDS);

/** Field names become column names in SQL: only the model's own are let through. */
function checkFields(fields: readonly string[]): readonly RollupField[] {
  for (const f of fields)
    if (!KNOWN_FIELDS.has(f)) throw new Error(`not a rollup field: ${JSON.stringify(f)}`);
  return fields as readonly RollupField[];
}

function toRow(r: Raw, prefix = ''): RollupRow {
  const counters = {} as Record<RollupCounter, number>;
  for (const c of ROLLUP_COUNTERS) counters[c] = num(r[`${prefix}${c}`] ?? 0);
  const fields: RollupRow['fields'] = {};
  for (const f of ROLLUP_FIELDS) {
    const n = r[`${prefix}${f}_n`];
    if (n === null || n === undefined) continue;
    const sketch = r[`${prefix}${f}_sketch`];
    fields[f] = {
      n: num(n),
      sum: num(r[`${prefix}${f}_sum`]),
      min: num(r[`${prefix}${f}_min`]),
      max: num(r[`${prefix}${f}_max`]),
      sketch: typeof sketch === 'string' ? new Uint8Array(Buffer.from(sketch, 'base64')) : null,
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

/** A rollup row as JSONEachRow data (a new delta unless `rid`/`ver`/`dead` are given). */
function toData(r: RollupRow, id: { rid?: string; ver?: number; dead?: boolean } = {}): Raw {
  const out: Raw = {
    project: r.project,
    family: r.family,
    res: r.res,
    bucket: r.bucket,
    grp: r.grp,
    dim: r.dim,
    rid: id.rid ?? newRid(),
    ver: id.ver ?? 0,
    dead: id.dead ? 1 : 0,
  };
  for (const c of ROLLUP_COUNTERS) out[c] = r.counters[c];
  for (const f of ROLLUP_FIELDS) {
    const s: FieldSummary | undefined = r.fields[f];
    out[`${f}_n`] = s ? s.n : null;
    out[`${f}_sum`] = s ? floatData(s.sum) : null;
    out[`${f}_min`] = s ? floatData(s.min) : null;
    out[`${f}_max`] = s ? floatData(s.max) : null;
    out[`${f}_sketch`] = s?.sketch ? Buffer.from(s.sketch).toString('base64') : null;
  }
  return out;
}

/**
 * Bucket ranges of the tiles: `(res = … AND bucket in range) OR …`; with the days of each range
 * too where the table's own rows are read through `days` (partition pruning, see `withinDays`).
 */
function tilesFilter(tiles: readonly RollupTile[], days: ClickHouseConnection | null): Sql {
  return join(
    tiles.map(
      (t) =>
        sql`(res = ${str(t.res)}${days ? sql` AND ${withinDays(days, t.from, t.to)}` : sql``} AND bucket >= ${ms(t.from)} AND bucket < ${ms(t.to)})`,
    ),
    ' OR ',
  );
}

function groupsFilter(groups: readonly RollupGroup[]): Sql {
  return join(
    groups.map((g) =>
      g.dims ? sql`(grp = ${str(g.grp)} AND has(${strings(g.dims)}, dim))` : sql`(grp = ${str(g.grp)})`,
    ),
    ' OR ',
  );
}

/** Sums of counters and field statistics (no sketches), prefixed `s_`. */
const sums = (family: RollupFamily) =>
  raw(
    [
      ...ROLLUP_COUNTERS.map((c) => `sum(${c}) AS s_${c}`),
      ...FAMILY_FIELDS[family].flatMap((f) => [
        `sum(${f}_n) AS s_${f}_n`,
        `sum(${f}_sum) AS s_${f}_sum`,
        `min(${f}_min) AS s_${f}_min`,
        `max(${f}_max) AS s_${f}_max`,
      ]),
    ].join(', '),
  );

interface LiveRow extends Raw {
  rid: string;
  ver: string | number;
}

/**
 * Rollups on ClickHouse: delta rows (ReplacingMergeTree over `rid`/`ver`, see migrations.ts) merged
 * where they are read; the watermark is the greatest (seq, rows) written.
 */
export class ClickHouseRollupStore implements RollupStore {
  /** Row ids of a failed write, by rollup key: the next write of a key supersedes them. */
  private readonly unsettled = new Map<string, { rid: string; ver: number }>();

  constructor(private readonly conn: ClickHouseConnection) {}

  private live(where: Sql, fields: readonly RollupField[], sketches: boolean, local = false): Sql {
    return liveRows(local ? this.conn.localTable('rollups') : this.conn.table('rollups'), {
      keys: KEYS,
      values: valueColumns(fields, sketches),
      where,
    });
  }

  async watermark(chain: string): Promise<RollupWatermark> {
    const [r] = await this.conn.rows<{ seq: string; rows: string }>(
      sql`SELECT seq, rows FROM ${this.conn.table('rollup_watermarks')} WHERE chain = ${str(chain)}
          ORDER BY seq DESC, rows DESC LIMIT 1`,
    );
    return r ? { chain, seq: num(r.seq), rows: num(r.rows) } : { chain, seq: 0, rows: 0 };
  }

  private async setWatermark(watermark: RollupWatermark): Promise<void> {
    await this.conn.insert('rollup_watermarks', [
      { chain: watermark.chain, seq: watermark.seq, rows: watermark.rows, at: Date.now() },
    ]);
  }

  /**
   * Rows, then signals, then the watermark; no transactions. A write that fails may have stored its
   * rows all the same (a timeout, or the watermark insert failing after them), and the writer then
   * writes the same deltas again merged into its next ones. So the rows of a failed write keep their
   * row ids for the next write of the same keys, one version up: whichever attempt was stored, the
   * newest version of each id is the one read, and nothing counts twice; this store's compaction
   * leaves such keys alone until then. (A writer that dies in between folds its batches again from
   * the stored watermark, and another instance's compaction may merge the rows in between: in those
   * two cases the rows may count twice.)
   */
  async write(
    list: readonly RollupRow[],
    signals: readonly SignalDims[],
    watermark: RollupWatermark,
  ): Promise<void> {
    const keys = list.map((r) => rollupKeyString(r));
    const ids = keys.map((k) => {
      const prev = this.unsettled.get(k);
      return prev ? { rid: prev.rid, ver: prev.ver + 1 } : { rid: newRid(), ver: 0 };
    });
    try {
      await this.conn.insert('rollups', list, (r, i) => toData(r, ids[i]));
      const at = Date.now();
      await this.conn.insert(
        'signals',
        signals.map((s) => ({ ...s, at })),
      );
      await this.setWatermark(watermark);
      this.unsettled.clear();
    } catch (err) {
      for (const [i, k] of keys.entries()) this.unsettled.set(k, ids[i] as { rid: string; ver: number });
      throw err;
    }
  }

  async read(query: RollupQuery): Promise<RollupRow[]> {
    if (query.tiles.length === 0) return [];
    const parts = [
      sql`project = ${str(query.project)}`,
      sql`family = ${str(query.family)}`,
      sql`grp = ${str(query.grp)}`,
      sql`(${tilesFilter(query.tiles, this.conn)})`,
    ];
    if (query.dims) parts.push(sql`has(${strings(query.dims)}, dim)`);
    const where = join(parts, ' AND ');
    const fields = FAMILY_FIELDS[query.family];
    if (!query.scalarOnly) {
      const found = await this.conn.rows<Raw>(this.live(where, fields, true));
      return found.map((r) => toRow(r));
    }
    const live = this.live(where, fields, false);
    let found: Raw[];
    if (query.scalarOnly === 'by_dim') {
      const order = query.top
        ? sql` ORDER BY ${raw(
            checkFields(query.top.fields)
              .map((f) => `ifNull(sum(${f}_sum), 0)`)
              .join(' + '),
          )} DESC, dim LIMIT ${limit(Math.max(1, Math.floor(query.top.limit)))}`
        : sql``;
      found = await this.conn.rows<Raw>(
        sql`SELECT project, family, '1m' AS res, min(bucket) AS bucket, grp, dim, ${sums(query.family)}
            FROM (${live}) GROUP BY project, family, grp, dim${order}`,
      );
    } else {
      found = await this.conn.rows<Raw>(
        sql`SELECT project, family, res, bucket, grp, dim, ${sums(query.family)}
            FROM (${live}) GROUP BY project, family, grp, dim, res, bucket`,
      );
    }
    return found.map((r) => toRow(r, 's_'));
  }

  async sumWindows(query: WindowSumQuery): Promise<{ window: number; row: RollupRow }[]> {
    const all = query.windows.flat();
    if (all.length === 0 || query.groups.length === 0) return [];
    const where = join(
      [
        sql`project = ${str(query.project)}`,
        sql`family = ${str(query.family)}`,
        sql`(${groupsFilter(query.groups)})`,
        sql`(${tilesFilter(all, this.conn)})`,
      ],
      ' AND ',
    );
    // One scan: each row joins the windows whose tiles hold it.
    const windows = join(
      query.windows.map((tiles, i) =>
        tiles.length === 0 ? sql`toInt64(-1)` : sql`if(${tilesFilter(tiles, null)}, ${int(i)}, toInt64(-1))`,
      ),
      ', ',
    );
    const found = await this.conn.rows<Raw>(
      sql`SELECT win, grp, dim, ${sums(query.family)} FROM (
            SELECT *, arrayJoin(arrayFilter(w -> w >= 0, [${windows}])) AS win
            FROM (${this.live(where, FAMILY_FIELDS[query.family], false)}))
          GROUP BY win, grp, dim`,
    );
    return found.map((r) => ({
      window: num(r.win),
      row: toRow({ ...r, project: query.project, family: query.family, res: '1m', bucket: 0 }, 's_'),
    }));
  }

  async readGroups(query: GroupsQuery): Promise<RollupRow[]> {
    if (query.tiles.length === 0 || query.groups.length === 0) return [];
    const where = join(
      [
        sql`project = ${str(query.project)}`,
        sql`family = ${str(query.family)}`,
        sql`(${groupsFilter(query.groups)})`,
        sql`(${tilesFilter(query.tiles, this.conn)})`,
      ],
      ' AND ',
    );
    const found = await this.conn.rows<Raw>(
      this.live(where, checkFields(query.fields ?? FAMILY_FIELDS[query.family]), true),
    );
    return found.map((r) => toRow(r));
  }

  async signals(project: string, signalIds: readonly string[]): Promise<SignalDims[]> {
    if (signalIds.length === 0) return [];
    const found = await this.conn.rows<Raw>(
      sql`SELECT project, signal_id, argMin(recommendation_type, at) AS s_type, argMin(explanation_version, at) AS s_version
          FROM ${this.conn.table('signals')} WHERE project = ${str(project)} AND has(${strings(signalIds)}, signal_id)
          GROUP BY project, signal_id ORDER BY signal_id`,
    );
    return found.map((r) => ({
      project: r.project as string,
      signal_id: r.signal_id as string,
      recommendation_type: r.s_type as string,
      explanation_version: r.s_version as string,
    }));
  }

  async expire(project: string, resolutions: readonly Resolution[], before: number): Promise<number> {
    if (resolutions.length === 0) return 0;
    const where = sql`project = ${str(project)} AND has(${strings(resolutions)}, res) AND bucket < ${ms(before)}`;
    const [r] = await this.conn.rows<{ n: string }>(
      sql`SELECT count() AS n FROM (${liveRows(this.conn.table('rollups'), { keys: KEYS, values: [], where })})`,
    );
    const n = num(r?.n ?? 0);
    await expireByDay(this.conn, 'rollups', { project, before, time: 'bucket', res: resolutions });
    return n;
  }

  /**
   * Merges the live rows of each key into one (mergeRollupRows), per shard: the merged row takes
   * the `rid` of one of them and the others get a dead row, all one version up, in one insert.
   */
  async compact(): Promise<number> {
    const live = this.live(sql`1`, ROLLUP_FIELDS, true, true);
    return this.conn.perShard(async (shard) => {
      const found = await shard.rows<LiveRow>(
        sql`SELECT * FROM (${live}) WHERE (${raw(KEYS.join(', '))}) IN (
              SELECT ${raw(KEYS.join(', '))} FROM (${live}) GROUP BY ${raw(KEYS.join(', '))} HAVING count() > 1)`,
      );
      return this.mergeOnShard(shard, found);
    });
  }

  private async mergeOnShard(shard: Shard, found: readonly LiveRow[]): Promise<number> {
    if (found.length === 0) return 0;
    const groups = new Map<string, LiveRow[]>();
    for (const r of found) {
      const k = rollupKeyString(toRow(r));
      groups.set(k, [...(groups.get(k) ?? []), r]);
    }
    // Keys of a failed write wait for the write that supersedes them (see `write`).
    for (const k of this.unsettled.keys()) groups.delete(k);
    if (groups.size === 0) return 0;
    const out: Raw[] = [];
    for (const list of groups.values()) {
      const ver = Math.max(...list.map((r) => Number(r.ver))) + 1;
      const rows = list.map((r) => toRow(r));
      const [first, ...rest] = list as [LiveRow, ...LiveRow[]];
      out.push(toData(mergeRollupRows(rows), { rid: first.rid, ver }));
      for (const r of rest) out.push(toData(toRow(r), { rid: r.rid, ver, dead: true }));
    }
    await shard.insertLocal('rollups', out);
    return [...groups.values()].reduce((n, list) => n + list.length - 1, 0);
  }

  /**
   * `vigil reprice`: the events' priced costs by a mutation (a command run by hand, never on a
   * schedule), then the days' llm rows replaced: each live row gets a dead row one version up on its
   * shard, and the new rows are inserted. Not one transaction: a reader in between may see the days
   * without llm rows, and a failure part-way is repaired by running the command again.
   */
  async reprice({ project, from, to, costs, rows: list }: CostRewrite): Promise<void> {
    if (from % DAY_MS !== 0 || to % DAY_MS !== 0 || to <= from)
      throw new Error(`reprice: [${from}, ${to}) is not a range of whole days`);
    if (list.some((r) => r.project !== project || r.family !== 'llm' || r.bucket < from || r.bucket >= to))
      throw new Error('reprice: a row outside the project, the llm family or the days');
    for (let i = 0; i < costs.length; i += 500) {
      const part = costs.slice(i, i + 500);
      const ids = strings(part.map((c) => c.id));
      // null travels as NaN (a priced cost is never NaN) and comes back as NULL.
      const column = (pick: (c: (typeof part)[number]) => number | null) =>
        sql`if(isNaN(transform(id, ${ids}, [${join(
          part.map((c) => float(pick(c) ?? Number.NaN)),
          ', ',
        )}], toFloat64(0))), NULL, transform(id, ${ids}, [${join(
          part.map((c) => float(pick(c) ?? Number.NaN)),
          ', ',
        )}], toFloat64(0)))`;
      await this.conn.onEveryShard(
        sql`ALTER TABLE ${this.conn.localTable('events')} UPDATE
              cost_usd = ${column((c) => c.cost_usd)},
              prompt_cost_usd = ${column((c) => c.prompt_cost_usd)},
              completion_cost_usd = ${column((c) => c.completion_cost_usd)}
            WHERE project = ${str(project)} AND has(${ids}, id)`,
      );
      await this.conn.awaitMutations('events');
    }
    const where = sql`project = ${str(project)} AND family = 'llm' AND bucket >= ${ms(from)} AND bucket < ${ms(to)}`;
    const live = this.live(where, ROLLUP_FIELDS, false, true);
    await this.conn.perShard(async (shard) => {
      const found = await shard.rows<LiveRow>(live);
      await shard.insertLocal(
        'rollups',
        found.map((r) => toData(toRow(r), { rid: r.rid, ver: Number(r.ver) + 1, dead: true })),
      );
      return found.length;
    });
    await this.conn.insert(
      'rollups',
      list.map((r) => toData(r)),
    );
  }
}
