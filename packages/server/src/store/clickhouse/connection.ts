import { type ClickHouseClient, ClickHouseLogLevel, createClient } from '@clickhouse/client';
import { StoreError } from '../types.js';
import { ident, type Sql, sql, str, text } from './sql.js';

/**
 * Where the analytical half lives on ClickHouse. Tested with ClickHouse 18.16 (Debian's package)
 * and `@clickhouse/client` 1.23 over HTTP; the SQL keeps to what 18.16 and current releases share.
 */
export interface ClickHouseOptions {
  /** `http://user:password@host:8123` of one server (or a load balancer in front of the cluster). */
  url: string;
  /** Default `vigil`; created when missing. */
  database?: string;
  /**
   * A cluster from the servers' `remote_servers`: tables are MergeTree tables `<name>_local` on every
   * shard with a Distributed table `<name>` over them. DDL, partition drops and mutations run on each
   * shard through `shards`, the shards' HTTP URLs, so no ZooKeeper is needed (`ON CLUSTER` is not
   * used).
   */
  cluster?: { name: string; shards: readonly string[] };
  /** Milliseconds a request may take (default 60 s). */
  requestTimeoutMs?: number;
}

/** Settings sent with every query: all exist in 18.16 (newer servers accept them too). */
const QUERY_SETTINGS = {
  // NaN and ±Inf come back as strings ("nan", "inf") instead of null in JSON formats.
  output_format_json_quote_denormals: 1,
} as const;

/** Inserts into a Distributed table are acknowledged once every shard stored its rows. */
const INSERT_SETTINGS = { insert_distributed_sync: 1 } as const;

const MUTATION_WAIT_MS = 120_000;

/**
 * Rows per insert request. The server parses one request into blocks of up to a million rows, and a
 * day of rollup rows with their sketches in one block went past 18.16's memory limit for a query;
 * the rows' data objects are also made one request at a time.
 */
const INSERT_ROWS = 10_000;

type Data = Record<string, unknown>;

/**
 * `values` as JSONEachRow inserts of at most `INSERT_ROWS` rows each, one after the other (`toData`
 * makes each request's data when it is sent). Each request is stored or not on its own: a failure
 * part-way leaves the earlier ones stored, as a failure between a write's several inserts already
 * did. Events and rollups repair it (rows after the chain head are debris; the next rollup write's
 * versions supersede its rows); a metric sample append retried after such a failure may keep its
 * first parts twice, as on a cluster, whose shards store their parts apart.
 */
async function insertChunked<T>(
  client: ClickHouseClient,
  table: string,
  values: readonly T[],
  toData: ((value: T, index: number) => Data) | undefined,
  settings: Record<string, number> | undefined,
): Promise<void> {
  for (let start = 0; start < values.length; start += INSERT_ROWS) {
    const part = values.slice(start, start + INSERT_ROWS);
    const data = toData ? part.map((v, i) => toData(v, start + i)) : (part as unknown as Data[]);
    await guarded(() =>
      client.insert({
        table,
        values: data,
        format: 'JSONEachRow',
        ...(settings ? { clickhouse_settings: settings } : {}),
      }),
    );
  }
}

const CONNECTION_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
]);

/** Whether the error is about reaching the server (not about the statement). */
export function isConnectionError(err: unknown): boolean {
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string' && CONNECTION_CODES.has(code)) return true;
  const message = err instanceof Error ? err.message : '';
  return /socket hang up|Timeout error|ECONNREFUSED|ECONNRESET|connect ETIMEDOUT/i.test(message);
}

/** The URL with its password hidden (for messages). */
export function redact(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString().replace(/\/$/, '');
  } catch {
    return '(an unreadable URL)';
  }
}

/** The driver's error as the store's: a server out of reach is `StoreError('unavailable')`. */
function storeErrorOf(err: unknown): unknown {
  if (err instanceof StoreError || !isConnectionError(err)) return err;
  return new StoreError('unavailable', `ClickHouse cannot be reached: ${(err as Error).message}`, {
    cause: err,
  });
}

async function guarded<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    throw storeErrorOf(err);
  }
}

function client(url: string, database: string | undefined, requestTimeoutMs: number): ClickHouseClient {
  return createClient({
    url,
    ...(database !== undefined ? { database } : {}),
    request_timeout: requestTimeoutMs,
    // Errors reach the caller as exceptions; the client's own console log would only repeat them.
    log: { level: ClickHouseLogLevel.OFF },
    // 18.16 closes idle keep-alive sockets after its keep_alive_timeout (3 s by default).
    keep_alive: { enabled: true, idle_socket_ttl: 2_000 },
  });
}

/**
 * One database on one server or cluster: reads and inserts through the (Distributed) tables,
 * schema changes and partition operations on each shard's local tables.
 */
export class ClickHouseConnection {
  readonly database: string;
  readonly cluster: ClickHouseOptions['cluster'];
  private readonly main: ClickHouseClient;
  /** One client per shard for local-table work (the main server alone when not a cluster). */
  private readonly shardClients: readonly ClickHouseClient[];
  private readonly shardUrls: readonly string[];
  private readonly timeout: number;

  constructor({ url, database = 'vigil', cluster, requestTimeoutMs = 60_000 }: ClickHouseOptions) {
    this.database = database;
    this.cluster = cluster;
    this.timeout = requestTimeoutMs;
    this.main = client(url, database, requestTimeoutMs);
    this.shardUrls = cluster?.shards.length ? cluster.shards : [url];
    this.shardClients = this.shardUrls.map((u) =>
      u === url ? this.main : client(u, database, requestTimeoutMs),
    );
  }

  /** Whether tables are Distributed over `<name>_local` tables. */
  get distributed(): boolean {
    return this.cluster !== undefined;
  }

  /** The table to read and insert through. */
  table(name: string): Sql {
    return ident(name);
  }

  /** The MergeTree table holding a shard's rows (the table itself on a single server). */
  localTable(name: string): Sql {
    return ident(this.distributed ? `${name}_local` : name);
  }

  /** Creates the database on every shard (idempotent). */
  async createDatabase(): Promise<void> {
    await Promise.all(
      this.shardUrls.map(async (u) => {
        const c = client(u, undefined, this.timeout);
        try {
          await c.command({ query: text(sql`CREATE DATABASE IF NOT EXISTS ${ident(this.database)}`) });
        } finally {
          await c.close();
        }
      }),
    );
  }

  /** Rows of a SELECT (JSONEachRow; 64-bit integers arrive as strings). */
  async rows<T = Record<string, unknown>>(query: Sql): Promise<T[]> {
    return guarded(async () => {
      const result = await this.main.query({
        query: text(query),
        format: 'JSONEachRow',
        clickhouse_settings: QUERY_SETTINGS,
      });
      return result.json<T>();
    });
  }

  /** A statement without a result (on the main server). */
  async command(query: Sql): Promise<void> {
    await guarded(() => this.main.command({ query: text(query), clickhouse_settings: QUERY_SETTINGS }));
  }

  /**
   * Rows stored as data: JSONEachRow in the request body, never SQL text; `toData` makes a row's
   * data from a value (else the values are the data). Large inserts go as several requests (see
   * `insertChunked`).
   */
  async insert<T = Data>(
    table: string,
    values: readonly T[],
    toData?: (value: T, index: number) => Data,
  ): Promise<void> {
    await insertChunked(
      this.main,
      text(this.table(table)),
      values,
      toData,
      this.distributed ? INSERT_SETTINGS : undefined,
    );
  }

  /** A statement on every shard's local tables (DDL, partition drops, mutations), through its URL. */
  async onEveryShard(query: Sql): Promise<void> {
    await guarded(() => Promise.all(this.shardClients.map((c) => c.command({ query: text(query) }))));
  }

  /** Rows of a SELECT run on each shard's local tables, concatenated. */
  async rowsOnEveryShard<T = Record<string, unknown>>(query: Sql): Promise<T[]> {
    const all = await guarded(() =>
      Promise.all(
        this.shardClients.map(async (c) =>
          (
            await c.query({ query: text(query), format: 'JSONEachRow', clickhouse_settings: QUERY_SETTINGS })
          ).json<T>(),
        ),
      ),
    );
    return all.flat();
  }

  /**
   * Waits until no mutation of the table is pending on any shard (18.16 has no `mutations_sync`):
   * a mutation is asynchronous, and callers of `expire`/`reprice` answer after it is applied.
   */
  async awaitMutations(table: string): Promise<void> {
    const local = this.distributed ? `${table}_local` : table;
    const deadline = Date.now() + MUTATION_WAIT_MS;
    for (;;) {
      const pending = await this.rowsOnEveryShard<{ n: string }>(
        sql`SELECT count() AS n FROM system.mutations
            WHERE database = ${str(this.database)} AND table = ${str(local)} AND is_done = 0`,
      );
      if (pending.every((r) => Number(r.n) === 0)) return;
      if (Date.now() > deadline)
        throw new Error(`mutations of ${table} still pending after ${MUTATION_WAIT_MS / 1000} s`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /**
   * Runs `work` once per shard with that shard's own handle (local tables), and sums the results:
   * work whose rows must stay on the shard that holds them (compaction).
   */
  async perShard(work: (shard: Shard) => Promise<number>): Promise<number> {
    const results = await Promise.all(this.shardClients.map((c) => work(new Shard(this, c))));
    return results.reduce((a, b) => a + b, 0);
  }

  async ping(): Promise<boolean> {
    return (await this.main.ping()).success;
  }

  async close(): Promise<void> {
    await Promise.all(this.shardClients.filter((c) => c !== this.main).map((c) => c.close()));
    await this.main.close();
  }
}

/** One shard's server: reads and inserts on its local tables. */
export class Shard {
  constructor(
    private readonly conn: ClickHouseConnection,
    private readonly client: ClickHouseClient,
  ) {}

  async rows<T = Record<string, unknown>>(query: Sql): Promise<T[]> {
    return guarded(async () => {
      const result = await this.client.query({
        query: text(query),
        format: 'JSONEachRow',
        clickhouse_settings: QUERY_SETTINGS,
      });
      return result.json<T>();
    });
  }

  /** Rows into this shard's local table, as JSONEachRow data (see `insertChunked`). */
  async insertLocal(table: string, values: readonly Data[]): Promise<void> {
    await insertChunked(this.client, text(this.conn.localTable(table)), values, undefined, undefined);
  }
}
