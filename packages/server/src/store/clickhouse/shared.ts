import type { ClickHouseConnection } from './connection.js';
import { join, ms as msLiteral, raw, type Sql, sql, str, strings as stringsOf } from './sql.js';

export const DAY_MS = 86_400_000;

/** A number read from JSON output (64-bit integers arrive as strings, NaN/±Inf as "nan"/"inf"). */
export function num(v: unknown): number {
  if (typeof v === 'number') return v;
  if (v === 'nan' || v === '-nan') return Number.NaN;
  if (v === 'inf' || v === '+inf') return Number.POSITIVE_INFINITY;
  if (v === '-inf') return Number.NEGATIVE_INFINITY;
  return Number(v);
}

/** A Float64 as JSONEachRow data: NaN and ±Inf as the quoted words ClickHouse reads. */
export function floatData(v: number): number | string {
  if (Number.isFinite(v)) return v;
  return Number.isNaN(v) ? 'nan' : v > 0 ? 'inf' : '-inf';
}

/** `YYYY-MM-DD` of a UTC day (epoch ms). */
export const dayText = (ms: number): string =>
  new Date(Math.floor(ms / DAY_MS) * DAY_MS).toISOString().slice(0, 10);

/** Milliseconds a JavaScript date can hold (either side of 1970). */
const DATE_LIMIT_MS = 8.64e15;

/**
 * `day`, the partition day a table computes from its time column, within the UTC days of
 * [from, to) (either side may be left open): 18.16 skips a partition only on a condition over the
 * partition key's own columns, not on the millisecond column its day is computed from, so a query
 * on a few minutes otherwise opened every part of every day. Not on a cluster: a Distributed table
 * of 18.16 cannot list the materialized day (see migrations.ts), so there the shards look into
 * every part's index.
 */
export function withinDays(
  conn: ClickHouseConnection,
  from: number | undefined,
  to: number | undefined,
): Sql {
  if (conn.cluster) return sql`1`;
  const parts: Sql[] = [];
  if (from !== undefined && Math.abs(from) < DATE_LIMIT_MS)
    parts.push(sql`day >= toDate(${str(dayText(from))})`);
  if (to !== undefined && Math.abs(to) < DATE_LIMIT_MS)
    parts.push(sql`day <= toDate(${str(dayText(to - 1))})`);
  return parts.length === 0 ? sql`1` : join(parts, ' AND ');
}

/**
 * The live rows of a table of delta rows (ReplacingMergeTree over `rid`, `ver`, `dead`; see
 * migrations.ts): each `rid`'s newest version, dead ones left out — what a background merge keeps,
 * computed at read time so answers never depend on whether the engine merged yet. `keys` are the
 * sorting-key columns (constant per `rid`), `values` the others; `where` may only test keys.
 *
 * `argMax` skips NULL arguments (NULL only when every version is NULL), so a NULL value is read
 * right only because a newer version of a row never turns a value into NULL: a retried write's
 * version holds its deltas merged with later ones, a compacted row the merge of its parts, and a
 * dead row its own values. One aggregate per column: asking apart whether the newest is NULL
 * doubled the aggregates, and 18.16 took twice as long over the same rows (argMax over a tuple
 * would keep the NULL, but crashed 18.16 shards answering a Distributed query).
 */
export function liveRows(
  table: Sql,
  { keys, values, where }: { keys: readonly string[]; values: readonly string[]; where: Sql },
): Sql {
  const inner = [
    ...keys,
    'rid',
    'max(ver) AS l_ver',
    'argMax(dead, ver) AS l_dead',
    ...values.map((v) => `argMax(${v}, ver) AS l_${v}`),
  ].join(', ');
  const outer = [...keys, 'rid', 'l_ver AS ver', ...values.map((v) => `l_${v} AS ${v}`)].join(', ');
  return sql`SELECT ${raw(outer)} FROM (SELECT ${raw(inner)} FROM ${table} WHERE ${where}
    GROUP BY ${raw([...keys, 'rid'].join(', '))}) WHERE l_dead = 0`;
}

/**
 * Deletes a project's rows older than `before` from a table partitioned by (project[, res], day):
 * whole days are dropped as partitions on every shard; only when `before` falls inside a day do its
 * older rows of that day go by a mutation (the retention job cuts at whole days, so it never does).
 */
export async function expireByDay(
  conn: ClickHouseConnection,
  table: string,
  { project, before, time, res }: { project: string; before: number; time: string; res?: readonly string[] },
): Promise<void> {
  const cutDay = dayText(before);
  const resFilter = res ? sql` AND has(${stringsOf(res)}, res)` : sql``;
  const partitions = await conn.rowsOnEveryShard<{ day: string; res?: string }>(
    sql`SELECT DISTINCT day${res ? raw(', res') : raw('')} FROM ${conn.localTable(table)}
        WHERE project = ${str(project)} AND day < toDate(${str(cutDay)})${resFilter}`,
  );
  const seen = new Set<string>();
  for (const p of partitions) {
    const key = `${p.res ?? ''}\u0000${p.day}`;
    if (seen.has(key)) continue;
    seen.add(key);
    const tuple = res
      ? join([str(project), str(p.res ?? ''), str(p.day)], ', ')
      : join([str(project), str(p.day)], ', ');
    await conn.onEveryShard(sql`ALTER TABLE ${conn.localTable(table)} DROP PARTITION (${tuple})`);
  }
  if (before % DAY_MS !== 0) {
    await conn.onEveryShard(
      sql`ALTER TABLE ${conn.localTable(table)} DELETE WHERE project = ${str(project)}
          AND day = toDate(${str(cutDay)}) AND ${raw(time)} < ${msLiteral(before)}${resFilter}`,
    );
    await conn.awaitMutations(table);
  }
}
