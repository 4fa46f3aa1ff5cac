import { ClickHouseConnection } from './connection.js';
import { ident, int, join, raw, type Sql, sql, str } from './sql.js';

/**
 * Bench support (`npm run bench -- scaleout-dashboard`): the events of one day copied to the days
 * after it inside ClickHouse (`INSERT … SELECT`), each copy shifted by whole days with ids of its
 * own. Loading 30 M events through Vigil's writes takes hours on a small machine; a day written
 * that way and copied gives the same rows in seconds. The copies are outside the audit chain (they
 * keep the batch numbers of the day they copy), so `vigil verify` fails on such a store: benches
 * only. Not used by the server; it lives here because it holds SQL.
 */
export async function copyClickHouseEventDays(
  { url, database }: { url: string; database?: string },
  { project, from, days }: { project: string; from: number; days: number },
): Promise<number> {
  const conn = new ClickHouseConnection({
    url,
    ...(database ? { database } : {}),
    requestTimeoutMs: 600_000,
  });
  try {
    const columns = (
      await conn.rows<{ name: string }>(
        sql`SELECT name FROM system.columns
            WHERE database = ${str(conn.database)} AND table = 'events' AND default_kind != 'MATERIALIZED'`,
      )
    ).map((c) => c.name);
    const dayMs = 86_400_000;
    const count = async (where: Sql) =>
      Number(
        (await conn.rows<{ n: string }>(sql`SELECT count() AS n FROM ${ident('events')} WHERE ${where}`))[0]
          ?.n ?? 0,
      );
    const firstDay = sql`project = ${str(project)} AND ts >= ${int(from)} AND ts < ${int(from + dayMs)}`;
    const before = await count(sql`project = ${str(project)}`);
    const target = join(columns.map(ident), ', ');
    for (let day = 1; day < days; day++) {
      const shift = int(day * dayMs);
      const select = columns.map((c) => {
        if (c === 'id') return raw('toString(generateUUIDv4())');
        if (c === 'ts' || c === 'received_at') return sql`${ident(c)} + ${shift}`;
        return ident(c);
      });
      await conn.command(
        sql`INSERT INTO ${ident('events')} (${target}) SELECT ${join(select, ', ')} FROM ${ident('events')} WHERE ${firstDay}`,
      );
    }
    // Idempotency's index of stored ids, for the copies.
    await conn.command(
      sql`INSERT INTO ${ident('event_ids')} (id, project, ts, chain, batch_seq)
          SELECT id, project, ts, chain, batch_seq FROM ${ident('events')}
          WHERE project = ${str(project)} AND ts >= ${int(from + dayMs)} AND ts < ${int(from + days * dayMs)}`,
    );
    return (await count(sql`project = ${str(project)}`)) - before;
  } finally {
    await conn.close();
  }
}
