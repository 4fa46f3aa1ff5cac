/**
 * Versioned schema of the PostgreSQL engine (the metadata half). A migration is frozen once
 * released: later changes are new migrations. Every migration has an up and a down step, each
 * run in one transaction (PostgreSQL's DDL is transactional).
 *
 * Table names follow the DuckDB engine's, so row counts of either read alike. Text sorts
 * byte-wise (`COLLATE "C"`) whatever the database's locale, as it does on DuckDB.
 */
export interface Migration {
  version: number;
  name: string;
  up: readonly string[];
  down: readonly string[];
}

const T = 'text COLLATE "C"';
const AT = 'timestamptz';

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'accounts: projects, api keys, users, sessions, roles per project, identities, account log, price lists',
    up: [
      `CREATE TABLE projects (
        id ${T} PRIMARY KEY,
        name ${T} NOT NULL,
        strict_types boolean NOT NULL DEFAULT false,
        created_at ${AT} NOT NULL,
        retention_raw_days integer,
        retention_rollup_days integer,
        retention_daily_rollup_days integer
      )`,
      `CREATE TABLE api_keys (
        id ${T} PRIMARY KEY,
        project ${T} NOT NULL,
        role ${T} NOT NULL,
        name ${T},
        secret_hash ${T} NOT NULL,
        created_at ${AT} NOT NULL,
        revoked_at ${AT}
      )`,
      'CREATE INDEX api_keys_project ON api_keys (project, created_at)',
      `CREATE TABLE users (
        id ${T} PRIMARY KEY,
        name ${T} NOT NULL UNIQUE,
        role ${T},
        password_hash ${T} NOT NULL,
        created_at ${AT} NOT NULL
      )`,
      `CREATE TABLE sessions (
        id ${T} PRIMARY KEY,
        user_id ${T} NOT NULL,
        created_at ${AT} NOT NULL,
        expires_at ${AT} NOT NULL
      )`,
      'CREATE INDEX sessions_user ON sessions (user_id)',
      `CREATE TABLE user_project_roles (
        user_id ${T} NOT NULL,
        project ${T} NOT NULL,
        role ${T} NOT NULL,
        PRIMARY KEY (user_id, project)
      )`,
      `CREATE TABLE user_identities (
        issuer ${T} NOT NULL,
        subject ${T} NOT NULL,
        user_id ${T} NOT NULL UNIQUE,
        email ${T},
        PRIMARY KEY (issuer, subject)
      )`,
      `CREATE TABLE account_events (
        id bigserial PRIMARY KEY,
        occurred_at ${AT} NOT NULL,
        kind ${T} NOT NULL,
        user_name ${T} NOT NULL,
        actor ${T} NOT NULL,
        address ${T},
        detail ${T}
      )`,
      'CREATE INDEX account_events_time ON account_events (occurred_at)',
      `CREATE TABLE llm_prices (
        project ${T} PRIMARY KEY,
        updated_at ${AT} NOT NULL,
        document ${T} NOT NULL
      )`,
    ],
    down: [
      'DROP TABLE llm_prices',
      'DROP TABLE account_events',
      'DROP TABLE user_identities',
      'DROP TABLE user_project_roles',
      'DROP TABLE sessions',
      'DROP TABLE users',
      'DROP TABLE api_keys',
      'DROP TABLE projects',
    ],
  },
  {
    version: 2,
    name: 'health and telemetry: integrity snapshots, collector configs, run log, latest runs, deployments, public switch',
    up: [
      `CREATE TABLE health_snapshots (
        project ${T} NOT NULL,
        day date NOT NULL,
        revision integer NOT NULL,
        created_at ${AT} NOT NULL,
        document ${T} NOT NULL,
        PRIMARY KEY (project, day, revision)
      )`,
      `CREATE TABLE collectors (
        id ${T} PRIMARY KEY,
        project ${T} NOT NULL,
        name ${T} NOT NULL,
        type ${T} NOT NULL,
        spec ${T} NOT NULL,
        secret ${T},
        created_at ${AT} NOT NULL,
        updated_at ${AT} NOT NULL,
        UNIQUE (project, name)
      )`,
      `CREATE TABLE collector_runs (
        snapshot_id ${T} NOT NULL,
        project ${T} NOT NULL,
        collector ${T} NOT NULL,
        type ${T} NOT NULL,
        started_at ${AT} NOT NULL,
        duration_ms double precision NOT NULL,
        outcome ${T} NOT NULL,
        error ${T},
        samples integer NOT NULL,
        result ${T}
      )`,
      'CREATE INDEX collector_runs_project ON collector_runs (project, started_at)',
      `CREATE TABLE collector_latest (
        snapshot_id ${T} NOT NULL,
        project ${T} NOT NULL,
        collector ${T} NOT NULL,
        type ${T} NOT NULL,
        started_at ${AT} NOT NULL,
        duration_ms double precision NOT NULL,
        outcome ${T} NOT NULL,
        error ${T},
        samples integer NOT NULL,
        result ${T},
        last_ok_at ${AT},
        consecutive_failures integer NOT NULL,
        PRIMARY KEY (project, collector)
      )`,
      `CREATE TABLE deployments (
        id ${T} PRIMARY KEY,
        project ${T} NOT NULL,
        service ${T} NOT NULL,
        version ${T} NOT NULL,
        status ${T} NOT NULL,
        started_at ${AT} NOT NULL,
        finished_at ${AT},
        received_at ${AT} NOT NULL,
        source ${T} NOT NULL
      )`,
      'CREATE INDEX deployments_project ON deployments (project, started_at)',
      `CREATE TABLE telemetry_settings (project ${T} PRIMARY KEY, public_enabled boolean NOT NULL)`,
    ],
    down: [
      'DROP TABLE telemetry_settings',
      'DROP TABLE deployments',
      'DROP TABLE collector_latest',
      'DROP TABLE collector_runs',
      'DROP TABLE collectors',
      'DROP TABLE health_snapshots',
    ],
  },
  {
    version: 3,
    name: 'alerts: rules, project settings, evaluation state, alerts, transitions, silences',
    up: [
      `CREATE TABLE alert_rules (
        id ${T} PRIMARY KEY,
        project ${T} NOT NULL,
        created_at ${AT} NOT NULL,
        updated_at ${AT} NOT NULL,
        document ${T} NOT NULL
      )`,
      `CREATE TABLE alert_projects (
        project ${T} PRIMARY KEY,
        defaults_created_at ${AT},
        receivers ${T} NOT NULL
      )`,
      `CREATE TABLE alert_states (
        rule_id ${T} PRIMARY KEY,
        project ${T} NOT NULL,
        updated_at ${AT} NOT NULL,
        document ${T} NOT NULL
      )`,
      `CREATE TABLE alerts (
        alert_id ${T} PRIMARY KEY,
        project ${T} NOT NULL,
        rule_id ${T} NOT NULL,
        state ${T} NOT NULL,
        started_at ${AT} NOT NULL,
        updated_at ${AT} NOT NULL,
        document ${T} NOT NULL,
        acknowledged_at ${AT},
        acknowledged_by ${T}
      )`,
      'CREATE INDEX alerts_project ON alerts (project, started_at)',
      `CREATE TABLE alert_transitions (
        id bigserial PRIMARY KEY,
        project ${T} NOT NULL,
        alert_id ${T} NOT NULL,
        rule_id ${T} NOT NULL,
        from_state ${T} NOT NULL,
        to_state ${T} NOT NULL,
        at_time ${AT} NOT NULL,
        value double precision
      )`,
      'CREATE INDEX alert_transitions_alert ON alert_transitions (alert_id)',
      `CREATE TABLE alert_silences (
        id ${T} PRIMARY KEY,
        project ${T} NOT NULL,
        rule_id ${T} NOT NULL,
        created_at ${AT} NOT NULL,
        ends_at ${AT} NOT NULL,
        created_by ${T} NOT NULL,
        comment ${T}
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
    version: 4,
    name: 'leases: one holder at a time for work that runs once per cluster',
    up: [
      `CREATE TABLE leases (
        name ${T} PRIMARY KEY,
        holder ${T} NOT NULL,
        expires_at ${AT} NOT NULL,
        term bigint NOT NULL
      )`,
    ],
    down: ['DROP TABLE leases'],
  },
];

export const POSTGRES_LATEST_SCHEMA = MIGRATIONS.at(-1)?.version ?? 0;
