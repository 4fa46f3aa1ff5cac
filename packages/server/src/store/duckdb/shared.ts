import type { DuckDBConnection, DuckDBValue } from '@duckdb/node-api';
import { type EventRow, emptyRow, TYPED_FIELD_NAMES } from '../../model/index.js';
import { linkFromRow } from '../links.js';
import { type ChainLink, StoreError } from '../types.js';

// DuckDB's words for a database that cannot go on: a full or failing disk, or an instance
// invalidated by such an error (every later call fails until it is reopened), or closed.
const UNUSABLE =
  /FATAL|database has been invalidated|No space left|Could not write|IO Error|disk is full|connection disconnected|database is closed/i;

// DuckDB's words for an operation that needed more than the memory limit and could not spill.
const OUT_OF_MEMORY = /Out of Memory Error/i;

/** The first line of DuckDB's out-of-memory message, e.g. `could not allocate block … (121.9 MiB/122.0 MiB used)`. */
export function duckdbSaid(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  return message.split('\n')[0]?.replace(/^.*?Out of Memory Error:\s*/i, '') ?? message;
}

/**
 * DuckDB's error as the store's: an unusable engine becomes `StoreError('unavailable')`, an
 * operation that needed more memory than the limit allows `StoreError('out_of_memory')` (the
 * store stays usable).
 */
export function storeErrorOf(err: unknown): unknown {
  if (err instanceof StoreError || !(err instanceof Error)) return err;
  if (OUT_OF_MEMORY.test(err.message)) {
    return new StoreError(
      'out_of_memory',
      `the store needs more memory for this operation than its limit allows (DuckDB: ${duckdbSaid(err)}); raise store.duckdb.memoryLimit and retry`,
      { cause: err },
    );
  }
  if (!UNUSABLE.test(err.message)) return err;
  return new StoreError('unavailable', `the store cannot be used until it is reopened: ${err.message}`, {
    cause: err,
  });
}

/** Runs tasks on one connection one at a time: a DuckDB connection holds one transaction. */
export class Serial {
  private tail: Promise<unknown> = Promise.resolve();
  constructor(readonly conn: DuckDBConnection) {}
  run<T>(task: (conn: DuckDBConnection) => Promise<T>): Promise<T> {
    const next = this.tail
      .then(() => task(this.conn))
      .catch((err: unknown) => {
        throw storeErrorOf(err);
      });
    this.tail = next.catch(() => undefined);
    return next;
  }
  /** `committed` runs right after the COMMIT, before any other task on the connection. */
  async transaction<T>(task: (conn: DuckDBConnection) => Promise<T>, committed?: () => void): Promise<T> {
    return this.run(async (conn) => {
      await conn.run('BEGIN TRANSACTION');
      try {
        const result = await task(conn);
        await conn.run('COMMIT');
        committed?.();
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

/** The columns of an event row, as `toEventRow` reads them. */
export const EVENT_SELECT = [
  'id::VARCHAR AS id',
  'project',
  'type',
  'epoch_ms(ts) AS ts',
  'epoch_ms(received_at) AS received_at',
  'late',
  'version',
  ...TYPED_FIELD_NAMES.map((n) => `"${n}"`),
  'props::VARCHAR AS props',
].join(', ');

export function toEventRow(r: Record<string, unknown>): EventRow {
  const row = emptyRow();
  row.id = r.id as string;
  row.project = r.project as string;
  row.type = r.type as string;
  row.ts = num(r.ts);
  row.received_at = num(r.received_at);
  row.late = r.late as boolean;
  row.version = (r.version as string | null) ?? null;
  const typed = row as unknown as Record<string, unknown>;
  for (const name of TYPED_FIELD_NAMES) {
    const v = r[name];
    typed[name] = v === undefined || v === null ? null : typeof v === 'bigint' ? Number(v) : v;
  }
  row.props = (r.props as string | null) ?? null;
  return row;
}

/** The columns of a chain link (from `batches`), as `toLink` reads them. */
export const LINK_SELECT =
  'SELECT chain, seq, prev_hash, hash, row_count, epoch_ms(committed_at) AS committed_at, expiry FROM batches';

export const toLink = (r: Record<string, unknown>): ChainLink => linkFromRow(r, num);
