/**
 * Versioned schema of the DuckDB engine. A migration is frozen once released: later
 * changes are new migrations. Every migration has an up and a down step.
 */
export interface Migration {
  version: number;
  name: string;
  up: readonly string[];
  down: readonly string[];
}

/** `sampleKey` (model/sampling.ts) of a UUID given as lowercase text, in SQL. */
export const SAMPLE_KEY_SQL = (uuidText: string) =>
  `(('0x' || substr(${uuidText}, 20, 4) || substr(${uuidText}, 25, 12))::UBIGINT & 4611686018427387903)::BIGINT`;

const ROLLUP_TABLES = ['rollups_1m', 'rollups_5m', 'rollups_1h', 'rollups_1d'];
/** Frozen with migration 11 (not derived from the model, which may grow). */
const COST_ROLLUP_COLUMNS = [
  'cost_usd_n BIGINT',
  'cost_usd_sum DOUBLE',
  'cost_usd_min DOUBLE',
  'cost_usd_max DOUBLE',
  'cost_usd_sketch BLOB',
  'prompt_cost_usd_n BIGINT',
  'prompt_cost_usd_sum DOUBLE',
  'prompt_cost_usd_min DOUBLE',
  'prompt_cost_usd_max DOUBLE',
  'prompt_cost_usd_sketch BLOB',
  'completion_cost_usd_n BIGINT',
  'completion_cost_usd_sum DOUBLE',
  'completion_cost_usd_min DOUBLE',
  'completion_cost_usd_max DOUBLE',
  'completion_cost_usd_sketch BLOB',
];

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'metadata: projects, api keys, users, sessions',
    up: [
      `CREATE TABLE projects (
        id VARCHAR PRIMARY KEY,
        name VARCHAR NOT NULL,
        strict_types BOOLEAN NOT NULL DEFAULT false,
        created_at TIMESTAMP NOT NULL
      )`,
      `CREATE TABLE api_keys (
        id VARCHAR PRIMARY KEY,
        project VARCHAR NOT NULL,
        role VARCHAR NOT NULL,
        name VARCHAR,
        secret_hash VARCHAR NOT NULL,
        created_at TIMESTAMP NOT NULL,
        revoked_at TIMESTAMP
      )`,
      `CREATE TABLE users (
        id VARCHAR PRIMARY KEY,
        name VARCHAR NOT NULL UNIQUE,
        role VARCHAR NOT NULL,
        password_hash VARCHAR NOT NULL,
        created_at TIMESTAMP NOT NULL
      )`,
      `CREATE TABLE sessions (
        id VARCHAR PRIMARY KEY,
        user_id VARCHAR NOT NULL,
        created_at TIMESTAMP NOT NULL,
        expires_at TIMESTAMP NOT NULL
      )`,
    ],
    down: ['DROP TABLE sessions', 'DROP TABLE users', 'DROP TABLE api_keys', 'DROP TABLE projects'],
  },
  {
    version: 2,
    name: 'events: wide event table, audit chain, outcome index, scrub counters',
    up: [
      // No primary key on purpose: an in-memory index over every event id costs more than
      // half the ingest rate and grows without bound. Ids are deduplicated by the group
      // committer with a lookup that zone maps prune (UUIDv7 ids are time-ordered).
      `CREATE TABLE events (
        id UUID NOT NULL,
        project VARCHAR NOT NULL,
        type VARCHAR NOT NULL,
        ts TIMESTAMP NOT NULL,
        received_at TIMESTAMP NOT NULL,
        late BOOLEAN NOT NULL,
        version VARCHAR,
        total_ms DOUBLE,
        context_ms DOUBLE,
        llm_ms DOUBLE,
        prompt_tokens INTEGER,
        completion_tokens INTEGER,
        cache_hit BOOLEAN,
        error_type VARCHAR,
        "user" VARCHAR,
        space VARCHAR,
        model VARCHAR,
        action VARCHAR,
        signal_id VARCHAR,
        recommendation_type VARCHAR,
        confidence DOUBLE,
        decision_time_ms DOUBLE,
        admin_user VARCHAR,
        explanation_version VARCHAR,
        outcome_status VARCHAR,
        resolution_time_hours DOUBLE,
        admin_note_id VARCHAR,
        "view" VARCHAR,
        props JSON,
        batch_seq BIGINT NOT NULL,
        batch_row INTEGER NOT NULL
      )`,
      `CREATE TABLE batches (
        seq BIGINT PRIMARY KEY,
        prev_hash VARCHAR NOT NULL,
        hash VARCHAR NOT NULL,
        row_count INTEGER NOT NULL,
        committed_at TIMESTAMP NOT NULL
      )`,
      `CREATE TABLE signal_outcomes (
        project VARCHAR NOT NULL,
        signal_id VARCHAR NOT NULL,
        event_id UUID NOT NULL,
        PRIMARY KEY (project, signal_id)
      )`,
      `CREATE TABLE scrub_counts (
        project VARCHAR NOT NULL,
        reason VARCHAR NOT NULL,
        count BIGINT NOT NULL,
        PRIMARY KEY (project, reason)
      )`,
    ],
    down: [
      'DROP TABLE scrub_counts',
      'DROP TABLE signal_outcomes',
      'DROP TABLE batches',
      'DROP TABLE events',
    ],
  },
  {
    version: 3,
    name: 'rollups: mergeable 1m/5m/1h/1d aggregates with sketches, their watermark, signal dimensions',
    up: [
      `CREATE TABLE rollups (
        project VARCHAR NOT NULL,
        family VARCHAR NOT NULL,
        res VARCHAR NOT NULL,
        bucket TIMESTAMP NOT NULL,
        grp VARCHAR NOT NULL,
        dim VARCHAR NOT NULL,
        n BIGINT NOT NULL,
        errors BIGINT NOT NULL,
        cache_hits BIGINT NOT NULL,
        cache_known BIGINT NOT NULL,
        violations BIGINT NOT NULL,
        accepts BIGINT NOT NULL,
        overrides BIGINT NOT NULL,
        ignores BIGINT NOT NULL,
        views BIGINT NOT NULL,
        total_ms_n BIGINT, total_ms_sum DOUBLE, total_ms_min DOUBLE, total_ms_max DOUBLE, total_ms_sketch BLOB,
        context_ms_n BIGINT, context_ms_sum DOUBLE, context_ms_min DOUBLE, context_ms_max DOUBLE, context_ms_sketch BLOB,
        llm_ms_n BIGINT, llm_ms_sum DOUBLE, llm_ms_min DOUBLE, llm_ms_max DOUBLE, llm_ms_sketch BLOB,
        prompt_tokens_n BIGINT, prompt_tokens_sum DOUBLE, prompt_tokens_min DOUBLE, prompt_tokens_max DOUBLE, prompt_tokens_sketch BLOB,
        completion_tokens_n BIGINT, completion_tokens_sum DOUBLE, completion_tokens_min DOUBLE, completion_tokens_max DOUBLE, completion_tokens_sketch BLOB,
        decision_time_ms_n BIGINT, decision_time_ms_sum DOUBLE, decision_time_ms_min DOUBLE, decision_time_ms_max DOUBLE, decision_time_ms_sketch BLOB,
        resolution_time_hours_n BIGINT, resolution_time_hours_sum DOUBLE, resolution_time_hours_min DOUBLE, resolution_time_hours_max DOUBLE, resolution_time_hours_sketch BLOB
      )`,
      'CREATE TABLE rollup_watermark (id INTEGER PRIMARY KEY, seq BIGINT NOT NULL)',
      `CREATE TABLE signals (
        project VARCHAR NOT NULL,
        signal_id VARCHAR NOT NULL,
        recommendation_type VARCHAR NOT NULL,
        explanation_version VARCHAR NOT NULL,
        PRIMARY KEY (project, signal_id)
      )`,
    ],
    down: ['DROP TABLE signals', 'DROP TABLE rollup_watermark', 'DROP TABLE rollups'],
  },
  {
    version: 4,
    name: 'health: daily rejection counters, integrity snapshots (append-only revisions)',
    up: [
      `CREATE TABLE ingest_rejections (
        project VARCHAR NOT NULL,
        day DATE NOT NULL,
        count BIGINT NOT NULL,
        PRIMARY KEY (project, day)
      )`,
      `CREATE TABLE health_snapshots (
        project VARCHAR NOT NULL,
        day DATE NOT NULL,
        revision INTEGER NOT NULL,
        created_at TIMESTAMP NOT NULL,
        document JSON NOT NULL,
        PRIMARY KEY (project, day, revision)
      )`,
    ],
    down: ['DROP TABLE health_snapshots', 'DROP TABLE ingest_rejections'],
  },
  {
    version: 5,
    name: 'retention: per-project retention settings, expired batches of the audit chain',
    up: [
      'ALTER TABLE projects ADD COLUMN retention_raw_days INTEGER',
      'ALTER TABLE projects ADD COLUMN retention_rollup_days INTEGER',
      'ALTER TABLE projects ADD COLUMN retention_daily_rollup_days INTEGER',
      'CREATE TABLE expired_batches (seq BIGINT PRIMARY KEY, expired_at TIMESTAMP NOT NULL)',
    ],
    down: [
      'DROP TABLE expired_batches',
      'ALTER TABLE projects DROP COLUMN retention_daily_rollup_days',
      'ALTER TABLE projects DROP COLUMN retention_rollup_days',
      'ALTER TABLE projects DROP COLUMN retention_raw_days',
    ],
  },
  {
    version: 6,
    name: 'rollups: one table per resolution, so each query scans only the buckets of its resolution',
    up: [
      "CREATE TABLE rollups_5m AS SELECT * FROM rollups WHERE res = '5m'",
      "CREATE TABLE rollups_1h AS SELECT * FROM rollups WHERE res = '1h'",
      "CREATE TABLE rollups_1d AS SELECT * FROM rollups WHERE res = '1d'",
      "DELETE FROM rollups WHERE res <> '1m'",
      'ALTER TABLE rollups RENAME TO rollups_1m',
    ],
    down: [
      'ALTER TABLE rollups_1m RENAME TO rollups',
      'INSERT INTO rollups SELECT * FROM rollups_5m',
      'INSERT INTO rollups SELECT * FROM rollups_1h',
      'INSERT INTO rollups SELECT * FROM rollups_1d',
      'DROP TABLE rollups_1d',
      'DROP TABLE rollups_1h',
      'DROP TABLE rollups_5m',
    ],
  },
  {
    version: 7,
    name: 'rollups: the watermark also counts rows folded of the next batch, so large batches flush in parts',
    up: ['ALTER TABLE rollup_watermark ADD COLUMN rows_into_next BIGINT DEFAULT 0'],
    down: ['ALTER TABLE rollup_watermark DROP COLUMN rows_into_next'],
  },
  {
    version: 8,
    name: 'samples: metric samples from collectors, OTLP metrics and webhooks',
    up: [
      `CREATE TABLE samples (
        project VARCHAR NOT NULL,
        name VARCHAR NOT NULL,
        labels VARCHAR NOT NULL,
        value DOUBLE NOT NULL,
        ts TIMESTAMP NOT NULL,
        kind VARCHAR NOT NULL,
        source VARCHAR NOT NULL,
        snapshot_id VARCHAR
      )`,
    ],
    down: ['DROP TABLE samples'],
  },
  {
    version: 9,
    name: 'telemetry: sample rollups (1m/1h/1d deltas), collector configs, run log, latest runs, deployments, public switch',
    up: [
      `CREATE TABLE sample_rollups (
        project VARCHAR NOT NULL,
        name VARCHAR NOT NULL,
        labels VARCHAR NOT NULL,
        res VARCHAR NOT NULL,
        bucket TIMESTAMP NOT NULL,
        kind VARCHAR NOT NULL,
        count BIGINT NOT NULL,
        sum DOUBLE NOT NULL,
        min DOUBLE NOT NULL,
        max DOUBLE NOT NULL,
        last_ts TIMESTAMP NOT NULL,
        last_value DOUBLE NOT NULL
      )`,
      ...['1 minute', '1 hour', '1 day'].map(
        (width) => `INSERT INTO sample_rollups
          SELECT project, name, labels, '${width === '1 minute' ? '1m' : width === '1 hour' ? '1h' : '1d'}',
            time_bucket(INTERVAL '${width}', ts), arg_max(kind, ts), count(*), sum(value), min(value), max(value),
            max(ts), arg_max(value, ts)
          FROM samples WHERE isfinite(value) GROUP BY ALL`,
      ),
      `CREATE TABLE collectors (
        id VARCHAR PRIMARY KEY,
        project VARCHAR NOT NULL,
        name VARCHAR NOT NULL,
        type VARCHAR NOT NULL,
        spec JSON NOT NULL,
        secret VARCHAR,
        created_at TIMESTAMP NOT NULL,
        updated_at TIMESTAMP NOT NULL,
        UNIQUE (project, name)
      )`,
      `CREATE TABLE collector_runs (
        snapshot_id VARCHAR NOT NULL,
        project VARCHAR NOT NULL,
        collector VARCHAR NOT NULL,
        type VARCHAR NOT NULL,
        started_at TIMESTAMP NOT NULL,
        duration_ms DOUBLE NOT NULL,
        outcome VARCHAR NOT NULL,
        error VARCHAR,
        samples INTEGER NOT NULL,
        result JSON
      )`,
      `CREATE TABLE collector_latest (
        snapshot_id VARCHAR NOT NULL,
        project VARCHAR NOT NULL,
        collector VARCHAR NOT NULL,
        type VARCHAR NOT NULL,
        started_at TIMESTAMP NOT NULL,
        duration_ms DOUBLE NOT NULL,
        outcome VARCHAR NOT NULL,
        error VARCHAR,
        samples INTEGER NOT NULL,
        result JSON,
        last_ok_at TIMESTAMP,
        consecutive_failures INTEGER NOT NULL,
        PRIMARY KEY (project, collector)
      )`,
      `CREATE TABLE deployments (
        id VARCHAR PRIMARY KEY,
        project VARCHAR NOT NULL,
        service VARCHAR NOT NULL,
        version VARCHAR NOT NULL,
        status VARCHAR NOT NULL,
        started_at TIMESTAMP NOT NULL,
        finished_at TIMESTAMP,
        received_at TIMESTAMP NOT NULL,
        source VARCHAR NOT NULL
      )`,
      'CREATE TABLE telemetry_settings (project VARCHAR PRIMARY KEY, public_enabled BOOLEAN NOT NULL)',
    ],
    down: [
      'DROP TABLE telemetry_settings',
      'DROP TABLE deployments',
      'DROP TABLE collector_latest',
      'DROP TABLE collector_runs',
      'DROP TABLE collectors',
      'DROP TABLE sample_rollups',
    ],
  },
  {
    version: 10,
    name: 'alerts: rules, project settings, evaluation state, alerts, transitions, silences',
    up: [
      `CREATE TABLE alert_rules (
        id VARCHAR PRIMARY KEY,
        project VARCHAR NOT NULL,
        created_at TIMESTAMP NOT NULL,
        updated_at TIMESTAMP NOT NULL,
        document VARCHAR NOT NULL
      )`,
      `CREATE TABLE alert_projects (
        project VARCHAR PRIMARY KEY,
        defaults_created_at TIMESTAMP,
        receivers VARCHAR NOT NULL
      )`,
      `CREATE TABLE alert_states (
        rule_id VARCHAR PRIMARY KEY,
        project VARCHAR NOT NULL,
        updated_at TIMESTAMP NOT NULL,
        document VARCHAR NOT NULL
      )`,
      `CREATE TABLE alerts (
        alert_id VARCHAR PRIMARY KEY,
        project VARCHAR NOT NULL,
        rule_id VARCHAR NOT NULL,
        state VARCHAR NOT NULL,
        started_at TIMESTAMP NOT NULL,
        updated_at TIMESTAMP NOT NULL,
        document VARCHAR NOT NULL,
        acknowledged_at TIMESTAMP,
        acknowledged_by VARCHAR
      )`,
      `CREATE TABLE alert_transitions (
        project VARCHAR NOT NULL,
        alert_id VARCHAR NOT NULL,
        rule_id VARCHAR NOT NULL,
        from_state VARCHAR NOT NULL,
        to_state VARCHAR NOT NULL,
        at_time TIMESTAMP NOT NULL,
        value DOUBLE
      )`,
      `CREATE TABLE alert_silences (
        id VARCHAR PRIMARY KEY,
        project VARCHAR NOT NULL,
        rule_id VARCHAR NOT NULL,
        created_at TIMESTAMP NOT NULL,
        ends_at TIMESTAMP NOT NULL,
        created_by VARCHAR NOT NULL,
        comment VARCHAR
      )`,
    ],
    down: [
      'DROP TABLE alert_silences',
      'DROP TABLE alert_transitions',
      'DROP TABLE alerts',
      'DROP TABLE alert_states',
      'DROP TABLE alert_projects',
      'DROP TABLE alert_rules',
    ],
  },
  {
    version: 11,
    name: 'llm cost: cached prompt tokens and cost in US dollars on events, cost fields in rollups, per-project prices',
    up: [
      'ALTER TABLE events ADD COLUMN cache_read_tokens INTEGER',
      'ALTER TABLE events ADD COLUMN cost_usd DOUBLE',
      'ALTER TABLE events ADD COLUMN prompt_cost_usd DOUBLE',
      'ALTER TABLE events ADD COLUMN completion_cost_usd DOUBLE',
      ...ROLLUP_TABLES.flatMap((t) => COST_ROLLUP_COLUMNS.map((c) => `ALTER TABLE ${t} ADD COLUMN ${c}`)),
      `CREATE TABLE llm_prices (
        project VARCHAR PRIMARY KEY,
        updated_at TIMESTAMP NOT NULL,
        document VARCHAR NOT NULL
      )`,
    ],
    down: [
      'DROP TABLE llm_prices',
      ...ROLLUP_TABLES.flatMap((t) =>
        COST_ROLLUP_COLUMNS.map((c) => `ALTER TABLE ${t} DROP COLUMN ${c.split(' ')[0]}`).reverse(),
      ),
      'ALTER TABLE events DROP COLUMN completion_cost_usd',
      'ALTER TABLE events DROP COLUMN prompt_cost_usd',
      'ALTER TABLE events DROP COLUMN cost_usd',
      'ALTER TABLE events DROP COLUMN cache_read_tokens',
    ],
  },
  {
    version: 12,
    name: 'audit: deletions recorded as links of the chain (what each touched batch keeps)',
    up: ['ALTER TABLE batches ADD COLUMN expiry VARCHAR'],
    down: ['ALTER TABLE batches DROP COLUMN expiry'],
  },
  {
    version: 13,
    name: 'people: roles per project, sign-in identities, account log',
    up: [
      // A person may have no server-wide role: only the roles per project below.
      'ALTER TABLE users ALTER COLUMN role DROP NOT NULL',
      `CREATE TABLE user_project_roles (
        user_id VARCHAR NOT NULL,
        project VARCHAR NOT NULL,
        role VARCHAR NOT NULL,
        PRIMARY KEY (user_id, project)
      )`,
      `CREATE TABLE user_identities (
        issuer VARCHAR NOT NULL,
        subject VARCHAR NOT NULL,
        user_id VARCHAR NOT NULL UNIQUE,
        email VARCHAR,
        PRIMARY KEY (issuer, subject)
      )`,
      `CREATE TABLE account_events (
        occurred_at TIMESTAMP NOT NULL,
        kind VARCHAR NOT NULL,
        user_name VARCHAR NOT NULL,
        actor VARCHAR NOT NULL,
        address VARCHAR,
        detail VARCHAR
      )`,
    ],
    down: [
      'DROP TABLE account_events',
      'DROP TABLE user_identities',
      'DROP TABLE user_project_roles',
      // People without a server-wide role cannot be kept by the older schema; never widen them.
      'DELETE FROM users WHERE role IS NULL',
      'ALTER TABLE users ALTER COLUMN role SET NOT NULL',
    ],
  },
  {
    version: 14,
    name: 'health sample: each event keeps its sample key (the random tail of its id), the same on every engine',
    up: [
      'ALTER TABLE events ADD COLUMN sample_key BIGINT',
      `UPDATE events SET sample_key = ${SAMPLE_KEY_SQL('id::VARCHAR')}`,
    ],
    down: ['ALTER TABLE events DROP COLUMN sample_key'],
  },
  {
    version: 15,
    name: 'audit: one chain per writer (instance id); batches keyed store-wide, the rollup watermark per chain',
    up: [
      // `events.batch_seq` now holds the batch's store-wide key (`batches.batch`): the same number
      // as its seq while the store has one chain, as every store made before this migration.
      `CREATE TABLE batches_by_chain (
        batch BIGINT PRIMARY KEY,
        chain VARCHAR NOT NULL,
        seq BIGINT NOT NULL,
        prev_hash VARCHAR NOT NULL,
        hash VARCHAR NOT NULL,
        row_count INTEGER NOT NULL,
        committed_at TIMESTAMP NOT NULL,
        expiry VARCHAR,
        UNIQUE (chain, seq)
      )`,
      `INSERT INTO batches_by_chain
       SELECT seq, 'default', seq, prev_hash, hash, row_count, committed_at, expiry FROM batches ORDER BY seq`,
      'DROP TABLE batches',
      'ALTER TABLE batches_by_chain RENAME TO batches',
      `CREATE TABLE rollup_watermark_by_chain (
        chain VARCHAR PRIMARY KEY,
        seq BIGINT NOT NULL,
        rows_into_next BIGINT NOT NULL
      )`,
      `INSERT INTO rollup_watermark_by_chain
       SELECT 'default', seq, coalesce(rows_into_next, 0) FROM rollup_watermark`,
      'DROP TABLE rollup_watermark',
      'ALTER TABLE rollup_watermark_by_chain RENAME TO rollup_watermark',
    ],
    down: [
      // The older schema has one chain: a store with batches of another chain cannot go back.
      `SELECT error('the store holds audit chains other than ''default'' (written by other instance ids); the older schema keeps one chain')
       FROM batches WHERE chain <> 'default' OR batch <> seq LIMIT 1`,
      `SELECT error('the rollup watermark of a chain other than ''default'' cannot be kept by the older schema')
       FROM rollup_watermark WHERE chain <> 'default' AND seq > 0 LIMIT 1`,
      `CREATE TABLE batches_one_chain (
        seq BIGINT PRIMARY KEY,
        prev_hash VARCHAR NOT NULL,
        hash VARCHAR NOT NULL,
        row_count INTEGER NOT NULL,
        committed_at TIMESTAMP NOT NULL,
        expiry VARCHAR
      )`,
      `INSERT INTO batches_one_chain
       SELECT seq, prev_hash, hash, row_count, committed_at, expiry FROM batches ORDER BY seq`,
      'DROP TABLE batches',
      'ALTER TABLE batches_one_chain RENAME TO batches',
      `CREATE TABLE rollup_watermark_one_chain (
        id INTEGER PRIMARY KEY,
        seq BIGINT NOT NULL,
        rows_into_next BIGINT DEFAULT 0
      )`,
      `INSERT INTO rollup_watermark_one_chain SELECT 1, seq, rows_into_next FROM rollup_watermark WHERE chain = 'default'`,
      'DROP TABLE rollup_watermark',
      'ALTER TABLE rollup_watermark_one_chain RENAME TO rollup_watermark',
    ],
  },
  {
    version: 16,
    name: 'leases: one holder at a time for work that runs once per cluster',
    up: [
      `CREATE TABLE leases (
        name VARCHAR PRIMARY KEY,
        holder VARCHAR NOT NULL,
        expires_at TIMESTAMP NOT NULL,
        term BIGINT NOT NULL
      )`,
    ],
    down: ['DROP TABLE leases'],
  },
];
