import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { DUCKDB_FILE } from './index.js';
import { rows, TS } from './shared.js';

/**
 * Bench support (`npm run bench -- scaleout-dashboard`): the events of one day copied to the days
 * after it inside DuckDB (`INSERT … SELECT`), each copy shifted by whole days with ids of its own;
 * the store in `dataDir` must be closed. Loading 30 M events through Vigil's writes takes most of
 * an hour on a small machine; a day written that way and copied gives the same rows in seconds.
 * The copies are outside the audit chain (they keep the batch keys of the day they copy), so
 * `vigil verify` fails on such a store: benches only. Not used by the server.
 */
export async function copyDuckDBEventDays(
  dataDir: string,
  { project, from, days }: { project: string; from: number; days: number },
): Promise<number> {
  // DuckDB's default limit is most of the machine's memory; the copy streams and needs little.
  const instance = await DuckDBInstance.create(join(dataDir, DUCKDB_FILE), { memory_limit: '512MB' });
  const conn = await instance.connect();
  try {
    const columns = (
      await rows(conn, "SELECT column_name AS c FROM information_schema.columns WHERE table_name = 'events'")
    ).map((r) => String(r.c));
    const count = async () =>
      Number((await rows(conn, 'SELECT count(*) AS n FROM events WHERE project = $1', [project]))[0]?.n);
    const before = await count();
    const dayMs = 86_400_000;
    for (let day = 1; day < days; day++) {
      const select = columns.map((c) => {
        if (c === 'id') return 'gen_random_uuid()';
        if (c === 'ts' || c === 'received_at') return `"${c}" + INTERVAL (${day}) DAY`;
        return `"${c}"`;
      });
      await conn.run(
        `INSERT INTO events (${columns.map((c) => `"${c}"`).join(', ')})
         SELECT ${select.join(', ')} FROM events
         WHERE project = $1 AND ts >= ${TS('$2')} AND ts < ${TS('$3')}`,
        [project, from, from + dayMs],
      );
    }
    await conn.run('CHECKPOINT');
    return (await count()) - before;
  } finally {
    conn.closeSync();
    instance.closeSync();
  }
}
