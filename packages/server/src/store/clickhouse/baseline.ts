import { TYPED_FIELD_NAMES, type TypedField } from '../../model/index.js';
import { ClickHouseConnection } from './connection.js';
import { createTable, dropTable, MIGRATIONS } from './migrations.js';
import { ident, join, raw, sql, text } from './sql.js';

/**
 * The ingest bench's peer (`npm run bench -- ingest`, `-- scaleout`): ClickHouse's own HTTP insert,
 * `INSERT … FORMAT JSONEachRow` with the rows in the request body, into a table with the columns of
 * Vigil's events table — no Vigil work at all (no validation, scrubbing, pricing, id dedupe, audit
 * chain, rollups). Not used by the server; it lives here because it holds SQL.
 */

/** Database of the peer's table, beside (never inside) a Vigil database on the same server. */
const DATABASE = 'vigil_baseline';
const TABLE = 'events';

const eventsSpec = (() => {
  const spec = MIGRATIONS.flatMap((m) => m.tables).find((t) => t.name === TABLE);
  if (!spec) throw new Error('the ClickHouse migrations have no events table');
  return spec;
})();

const typed = new Set<string>(TYPED_FIELD_NAMES);

/** An event as a client sends it to `/v1/events`. */
export interface BaselineEvent {
  id: string;
  type: string;
  ts: number;
  version?: string;
  props?: Record<string, unknown>;
}

/**
 * The row a client would insert for an event, in the columns Vigil stores it in: typed props in
 * their columns (booleans as 0/1), the rest as JSON text and as key/value arrays. The columns Vigil
 * derives (chain, batch number, sample key, costs) get plain values the sender knows.
 */
export function baselineRow(
  event: BaselineEvent,
  {
    receivedAt,
    chain,
    batchSeq,
    batchRow,
  }: { receivedAt: number; chain: string; batchSeq: number; batchRow: number },
): Record<string, unknown> {
  const row: Record<string, unknown> = {
    id: event.id,
    project: 'default',
    type: event.type,
    ts: event.ts,
    received_at: receivedAt,
    late: 0,
    version: event.version ?? null,
  };
  const rest: Record<string, unknown> = {};
  const keys: string[] = [];
  const values: string[] = [];
  for (const [k, v] of Object.entries(event.props ?? {})) {
    if (typed.has(k)) {
      row[k as TypedField] = typeof v === 'boolean' ? (v ? 1 : 0) : v;
      continue;
    }
    rest[k] = v;
    keys.push(k);
    values.push(typeof v === 'string' ? v : JSON.stringify(v));
  }
  row.props = keys.length > 0 ? JSON.stringify(rest) : null;
  row.prop_keys = keys;
  row.prop_values = values;
  row.chain = chain;
  row.batch_seq = batchSeq;
  row.batch_row = batchRow;
  row.sample_key = 0;
  return row;
}

/** The peer's table on one ClickHouse server. */
export interface InsertBaseline {
  /**
   * Path and query string of the insert: POST it with rows as JSONEachRow (one JSON object a line)
   * in the body; 200 means the rows are stored.
   */
  readonly insertPath: string;
  /** Drops and creates the table again (each measured run starts empty). */
  reset(): Promise<void>;
  /** Rows in the table (to check that what was acknowledged is there). */
  count(): Promise<number>;
  close(): Promise<void>;
}

/** Creates the peer's database and an empty table on the server at `url` (`http://host:port`). */
export async function openInsertBaseline(url: string): Promise<InsertBaseline> {
  const conn = new ClickHouseConnection({ url, database: DATABASE });
  const reset = async () => {
    await dropTable(conn, TABLE);
    await createTable(conn, eventsSpec);
  };
  try {
    await conn.createDatabase();
    await reset();
  } catch (err) {
    await conn.close();
    throw err;
  }
  const insert = text(
    join([sql`INSERT INTO ${ident(DATABASE)}.${ident(TABLE)}`, raw('FORMAT JSONEachRow')], ' '),
  );
  return {
    insertPath: `/?query=${encodeURIComponent(insert)}`,
    reset,
    count: async () => {
      const [r] = await conn.rows<{ n: string }>(sql`SELECT count() AS n FROM ${ident(TABLE)}`);
      return Number(r?.n ?? 0);
    },
    close: () => conn.close(),
  };
}
