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
];
