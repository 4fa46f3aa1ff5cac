import { ROLLUP_COUNTERS, ROLLUP_FIELDS } from '../../model/rollup.js';
import type { ClickHouseConnection } from './connection.js';
import { join, raw, type Sql, sql, str } from './sql.js';

/**
 * The analytical half's schema on ClickHouse, in SQL that 18.16 and current releases both run: no
 * TTL, no DateTime64 (times are epoch milliseconds in Int64 columns), no Map/JSON types, no
 * LowCardinality. Every table is partitioned by project and UTC day, so retention drops whole
 * partitions (`ALTER … DROP PARTITION`) and never schedules mutations.
 *
 * Rollup tables are ReplacingMergeTree over a row id (`rid`) and a version (`ver`): writers insert
 * delta rows, each with a random `rid`; compaction inserts, in one block, the merged row under the
 * `rid` of one delta and a `dead` row over each other `rid` it merged, all one version higher.
 * Reads take each `rid`'s newest version (what a background merge keeps), so they give the same
 * answer before and after the engine's merges, and no write is ever lost to a compaction.
 */

/** A table of the schema: columns, engine, partition and order. */
interface TableSpec {
  name: string;
  columns: readonly string[];
  engine: 'MergeTree' | 'ReplacingMergeTree(ver)';
  partitionBy: string;
  orderBy: string;
  /** The Distributed table's sharding key (a cluster only). */
  shardBy: string;
}

export interface ClickHouseMigration {
  version: number;
  name: string;
  tables: readonly TableSpec[];
}

const dayOf = (column: string) => `toDate(intDiv(${column}, 86400000))`;

const SAMPLE_COLUMNS = [
  'project String',
  'name String',
  /** The label set as canonical JSON text (labelsKey), and as parallel arrays to filter on. */
  'labels String',
  'label_keys Array(String)',
  'label_values Array(String)',
];

/**
 * The typed event fields as of migration 2, written out (a later field is a later migration):
 * double → Float64, integer → Int64, boolean → UInt8, string → String.
 */
const EVENT_TYPED_COLUMNS = [
  'total_ms Nullable(Float64)',
  'context_ms Nullable(Float64)',
  'llm_ms Nullable(Float64)',
  'prompt_tokens Nullable(Int64)',
  'completion_tokens Nullable(Int64)',
  'cache_hit Nullable(UInt8)',
  'error_type Nullable(String)',
  'user Nullable(String)',
  'space Nullable(String)',
  'model Nullable(String)',
  'action Nullable(String)',
  'signal_id Nullable(String)',
  'recommendation_type Nullable(String)',
  'confidence Nullable(Float64)',
  'decision_time_ms Nullable(Float64)',
  'admin_user Nullable(String)',
  'explanation_version Nullable(String)',
  'outcome_status Nullable(String)',
  'resolution_time_hours Nullable(Float64)',
  'admin_note_id Nullable(String)',
  'view Nullable(String)',
  'cache_read_tokens Nullable(Int64)',
  'cost_usd Nullable(Float64)',
  'prompt_cost_usd Nullable(Float64)',
  'completion_cost_usd Nullable(Float64)',
];

export const ROLLUP_ID_COLUMNS = ['rid UInt64', 'ver UInt32', 'dead UInt8'];

export const MIGRATIONS: readonly ClickHouseMigration[] = [
  {
    version: 1,
    name: 'metric samples and their rollups, event rollups with their watermark and signal dimensions, rejection counters',
    tables: [
      {
        name: 'samples',
        columns: [
          ...SAMPLE_COLUMNS,
          'value Float64',
          'ts Int64',
          'kind String',
          'source String',
          'snapshot_id Nullable(String)',
          `day Date MATERIALIZED ${dayOf('ts')}`,
        ],
        engine: 'MergeTree',
        partitionBy: '(project, day)',
        orderBy: '(project, name, labels, ts)',
        shardBy: 'cityHash64(project, name, labels)',
      },
      {
        name: 'sample_rollups',
        columns: [
          ...SAMPLE_COLUMNS,
          'res String',
          'bucket Int64',
          'kind String',
          'count UInt64',
          'sum Float64',
          'min Float64',
          'max Float64',
          'last_ts Int64',
          'last_value Float64',
          ...ROLLUP_ID_COLUMNS,
          `day Date MATERIALIZED ${dayOf('bucket')}`,
        ],
        engine: 'ReplacingMergeTree(ver)',
        partitionBy: '(project, res, day)',
        orderBy: '(project, name, res, labels, bucket, rid)',
        // Every delta of a key on one shard: compaction merges them all.
        shardBy: 'cityHash64(project, name, labels)',
      },
      {
        name: 'rollups',
        columns: [
          'project String',
          'family String',
          'res String',
          'bucket Int64',
          'grp String',
          'dim String',
          ...ROLLUP_COUNTERS.map((c) => `${c} UInt64`),
          ...ROLLUP_FIELDS.flatMap((f) => [
            `${f}_n Nullable(UInt64)`,
            `${f}_sum Nullable(Float64)`,
            `${f}_min Nullable(Float64)`,
            `${f}_max Nullable(Float64)`,
            // The serialized DDSketch, base64 (JSONEachRow carries text).
            `${f}_sketch Nullable(String)`,
          ]),
          ...ROLLUP_ID_COLUMNS,
          `day Date MATERIALIZED ${dayOf('bucket')}`,
        ],
        engine: 'ReplacingMergeTree(ver)',
        partitionBy: '(project, res, day)',
        orderBy: '(project, family, grp, res, bucket, dim, rid)',
        shardBy: 'cityHash64(project, family, grp, dim)',
      },
      {
        // One per chain (writer), forward only: a chain's watermark is its greatest (seq, rows).
        name: 'rollup_watermarks',
        columns: ['chain String', 'seq Int64', 'rows Int64', 'at Int64'],
        engine: 'MergeTree',
        partitionBy: 'tuple()',
        orderBy: '(chain, seq, rows)',
        shardBy: 'cityHash64(chain)',
      },
      {
        // The first dimensions written for a signal count (argMin by `at`).
        name: 'signals',
        columns: [
          'project String',
          'signal_id String',
          'recommendation_type String',
          'explanation_version String',
          'at Int64',
        ],
        engine: 'MergeTree',
        partitionBy: 'project',
        orderBy: '(project, signal_id)',
        shardBy: 'cityHash64(project, signal_id)',
      },
      {
        name: 'ingest_rejections',
        columns: ['project String', 'day Date', 'count UInt64'],
        engine: 'MergeTree',
        partitionBy: '(project, day)',
        orderBy: '(project, day)',
        shardBy: 'cityHash64(project, day)',
      },
    ],
  },
  {
    version: 2,
    name: 'events, their id and outcome indexes, the audit chains (one per writer), scrub counters',
    tables: [
      {
        name: 'events',
        columns: [
          'id String',
          'project String',
          'type String',
          'ts Int64',
          'received_at Int64',
          'late UInt8',
          'version Nullable(String)',
          ...EVENT_TYPED_COLUMNS,
          'props Nullable(String)',
          // The top-level props as text (strings as they are, other values as JSON), to filter on.
          'prop_keys Array(String)',
          'prop_values Array(String)',
          // The batch: its chain (one per writer) and its number in that chain.
          'chain String',
          'batch_seq Int64',
          'batch_row UInt32',
          'sample_key Int64',
          `day Date MATERIALIZED ${dayOf('ts')}`,
        ],
        engine: 'MergeTree',
        partitionBy: '(project, day)',
        orderBy: '(project, ts, id)',
        shardBy: 'cityHash64(id)',
      },
      {
        // Idempotency looks ids up here (sorted by id), not in the events table (sorted by time).
        name: 'event_ids',
        columns: [
          'id String',
          'project String',
          'ts Int64',
          'chain String',
          'batch_seq Int64',
          `day Date MATERIALIZED ${dayOf('ts')}`,
        ],
        engine: 'MergeTree',
        partitionBy: '(project, day)',
        orderBy: 'id',
        shardBy: 'cityHash64(id)',
      },
      {
        name: 'signal_outcomes',
        columns: ['project String', 'signal_id String', 'event_id String', 'chain String', 'batch_seq Int64'],
        engine: 'MergeTree',
        partitionBy: 'project',
        orderBy: '(project, signal_id)',
        shardBy: 'cityHash64(project, signal_id)',
      },
      {
        name: 'batches',
        columns: [
          'chain String',
          'seq Int64',
          'prev_hash String',
          'hash String',
          'row_count UInt32',
          'committed_at Int64',
          'expiry Nullable(String)',
        ],
        engine: 'MergeTree',
        partitionBy: 'tuple()',
        orderBy: '(chain, seq)',
        shardBy: 'cityHash64(chain)',
      },
      {
        name: 'scrub_counts',
        columns: ['project String', 'reason String', 'count UInt64', 'chain String', 'batch_seq Int64'],
        engine: 'MergeTree',
        partitionBy: 'project',
        orderBy: '(project, reason)',
        shardBy: 'cityHash64(project, reason)',
      },
    ],
  },
];

export const CLICKHOUSE_LATEST_SCHEMA = MIGRATIONS.at(-1)?.version ?? 0;

const MIGRATIONS_TABLE: TableSpec = {
  name: 'vigil_migrations',
  // One row per step taken (applied 1 up, 0 down): the newest row of a version says where it is.
  columns: ['version UInt32', 'name String', 'applied UInt8', 'at Int64', 'step UInt64'],
  engine: 'MergeTree',
  partitionBy: 'tuple()',
  orderBy: '(version, step)',
  shardBy: 'version',
};

/** CREATE statements of one table: the table itself, or per shard a local table and a Distributed one. */
function creates(conn: ClickHouseConnection, spec: TableSpec): { local: Sql; distributed: Sql | null } {
  // Column and engine text is this file's own (never a request value).
  const body = `(${spec.columns.join(', ')}) ENGINE = ${spec.engine} PARTITION BY ${spec.partitionBy} ORDER BY ${spec.orderBy}`;
  const local = join([sql`CREATE TABLE IF NOT EXISTS ${conn.localTable(spec.name)}`, raw(body)], ' ');
  if (!conn.cluster) return { local, distributed: null };
  // The Distributed table lists the ordinary columns only: 18.16 forwards every column it has to
  // the shards, and a MATERIALIZED one there refuses the insert.
  const ordinary = spec.columns.filter((c) => !c.includes(' MATERIALIZED '));
  const distributed = join(
    [
      sql`CREATE TABLE IF NOT EXISTS ${conn.table(spec.name)}`,
      raw(`(${ordinary.join(', ')})`),
      sql`ENGINE = Distributed(${str(conn.cluster.name)}, ${str(conn.database)}, ${str(`${spec.name}_local`)},`,
      raw(`${spec.shardBy})`),
    ],
    ' ',
  );
  return { local, distributed };
}

export async function createTable(conn: ClickHouseConnection, spec: TableSpec): Promise<void> {
  const { local, distributed } = creates(conn, spec);
  await conn.onEveryShard(local);
  if (distributed) await conn.onEveryShard(distributed);
}

export async function dropTable(conn: ClickHouseConnection, name: string): Promise<void> {
  if (conn.cluster) await conn.onEveryShard(sql`DROP TABLE IF EXISTS ${conn.table(name)}`);
  await conn.onEveryShard(sql`DROP TABLE IF EXISTS ${conn.localTable(name)}`);
}

export const ensureMigrationsTable = (conn: ClickHouseConnection) => createTable(conn, MIGRATIONS_TABLE);
