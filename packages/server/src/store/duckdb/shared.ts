import type { DuckDBConnection, DuckDBValue } from '@duckdb/node-api';

/** Runs tasks on one connection one at a time: a DuckDB connection holds one transaction. */
export class Serial {
  private tail: Promise<unknown> = Promise.resolve();
  constructor(readonly conn: DuckDBConnection) {}
  run<T>(task: (conn: DuckDBConnection) => Promise<T>): Promise<T> {
    const next = this.tail.then(() => task(this.conn));
    this.tail = next.catch(() => undefined);
    return next;
  }
  async transaction<T>(task: (conn: DuckDBConnection) => Promise<T>): Promise<T> {
    return this.run(async (conn) => {
      await conn.run('BEGIN TRANSACTION');
      try {
        const result = await task(conn);
        await conn.run('COMMIT');
        return result;
      } catch (err) {
        await conn.run('ROLLBACK').catch(() => undefined);
        throw err;
      }
    });
  }
}

export const TS = (param: string) => `make_timestamp(CAST(${param} AS BIGINT) * 1000)`;
export const num = (v: unknown): number => (typeof v === 'bigint' ? Number(v) : (v as number));
export const numOrNull = (v: unknown): number | null => (v === null || v === undefined ? null : num(v));

export async function rows(
  conn: DuckDBConnection,
  sql: string,
  values?: DuckDBValue[],
): Promise<Record<string, unknown>[]> {
  const reader = await conn.runAndReadAll(sql, values);
  return reader.getRowObjectsJS() as Record<string, unknown>[];
}
