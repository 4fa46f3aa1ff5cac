import type pg from 'pg';
import { StoreError } from '../types.js';

/** Values travel as query parameters ($1…), never inside the SQL text. */
export type Value = string | number | boolean | null | readonly (string | number | boolean | null)[];
export type Row = Record<string, unknown>;

/**
 * A point in time given as epoch milliseconds (a parameter), as `timestamptz`: exact to the
 * millisecond (a fraction is rounded, as DuckDB's cast does).
 */
export const TS = (param: string) =>
  `(timestamptz 'epoch' + ${param}::float8::bigint * interval '1 millisecond')`;
/** A `timestamptz` column as epoch milliseconds (bigint). */
export const MS = (column: string) => `(extract(epoch from ${column}) * 1000)::bigint`;

/** bigint and numeric arrive as text from the driver. */
export const num = (v: unknown): number => (typeof v === 'string' ? Number(v) : (v as number));
export const numOrNull = (v: unknown): number | null => (v === null || v === undefined ? null : num(v));
export const textOrNull = (v: unknown): string | null => (v === null || v === undefined ? null : String(v));

/** The URL with its password hidden, for messages. */
export function redact(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(an unreadable URL)';
  }
}

/** Errors that mean the server is gone or the connection broke (the store must be reopened). */
const CONNECTION_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  '57P01',
  '57P02',
  '57P03',
]);

export function isConnectionError(err: unknown): boolean {
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string' && (CONNECTION_CODES.has(code) || code.startsWith('08'))) return true;
  const message = err instanceof Error ? err.message : '';
  return /Connection terminated|connection timeout|Client has encountered a connection error|Cannot use a pool after calling end/i.test(
    message,
  );
}

/** The driver's error as the store's: a lost connection is `StoreError('unavailable')`. */
export function storeErrorOf(err: unknown): unknown {
  if (err instanceof StoreError || !isConnectionError(err)) return err;
  return new StoreError(
    'unavailable',
    `PostgreSQL cannot be reached: ${(err as Error).message || (err as { code?: string }).code}`,
    { cause: err },
  );
}

/** A pool of connections with the two ways this engine uses it: one statement, or a transaction. */
export class Db {
  constructor(readonly pool: pg.Pool) {}

  async all(sql: string, values: readonly Value[] = []): Promise<Row[]> {
    try {
      return (await this.pool.query(sql, values as unknown[])).rows as Row[];
    } catch (err) {
      throw storeErrorOf(err);
    }
  }

  /** Rows changed by one statement. */
  async run(sql: string, values: readonly Value[] = []): Promise<number> {
    try {
      return (await this.pool.query(sql, values as unknown[])).rowCount ?? 0;
    } catch (err) {
      throw storeErrorOf(err);
    }
  }

  async transaction<T>(task: (tx: Tx) => Promise<T>): Promise<T> {
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (err) {
      throw storeErrorOf(err);
    }
    let broken = false;
    try {
      await client.query('BEGIN');
      const result = await task(new Tx(client));
      await client.query('COMMIT');
      return result;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => {
        broken = true;
      });
      throw storeErrorOf(err);
    } finally {
      client.release(broken);
    }
  }
}

/** Statements inside one transaction. */
export class Tx {
  constructor(readonly client: pg.ClientBase) {}
  async all(sql: string, values: readonly Value[] = []): Promise<Row[]> {
    return (await this.client.query(sql, values as unknown[])).rows as Row[];
  }
  async run(sql: string, values: readonly Value[] = []): Promise<number> {
    return (await this.client.query(sql, values as unknown[])).rowCount ?? 0;
  }
}
