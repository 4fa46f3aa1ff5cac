import { existsSync, readFileSync } from 'node:fs';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { type Static, type TSchema, Type } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { parseCollectorSpec, SpecError } from '../collectors/spec.js';
import { configuredPrices, PriceError } from '../pricing/index.js';

/** Property names dropped before storage, compared case-insensitively and exactly. */
export const DEFAULT_DENY_LIST = [
  'content',
  'message',
  'messages',
  'prompt',
  'completion',
  'email',
  'phone',
  'password',
  'token',
];

/** Attributes that carry LLM message content (GenAI semantic conventions and common instrumentations). */
export const DEFAULT_CONTENT_ATTRIBUTES = [
  'gen_ai.input.messages',
  'gen_ai.output.messages',
  'gen_ai.system_instructions',
  'gen_ai.prompt',
  'gen_ai.completion',
  'gen_ai.tool.call.arguments',
  'gen_ai.tool.call.result',
  'gen_ai.request.messages',
  'gen_ai.response.messages',
  'gen_ai.content.prompt',
  'gen_ai.content.completion',
  'llm.prompts',
  'llm.completions',
  'llm.input_messages',
  'llm.output_messages',
  'llm.prompt_template.variables',
  'input.value',
  'output.value',
  'traceloop.entity.input',
  'traceloop.entity.output',
];

const MemorySize = Type.String({ pattern: '^[0-9]+(\\.[0-9]+)?\\s*[KMGT]i?B$' });

const Bucket = Type.Object({ ratePerSec: Type.Number({ minimum: 0 }), burst: Type.Number({ minimum: 1 }) });

const PersonRoleSchema = Type.Union([Type.Literal('admin'), Type.Literal('viewer')]);

/** Sign-in through an OpenID Connect provider (docs/sso.md). */
const OidcSchema = Type.Object(
  {
    /** The provider's issuer URL (its discovery document is `<issuer>/.well-known/openid-configuration`). */
    issuer: Type.String({ minLength: 1 }),
    clientId: Type.String({ minLength: 1 }),
    /** Env VIGIL_OIDC_CLIENT_SECRET only; without one the client authenticates with PKCE alone. */
    clientSecret: Type.Optional(Type.String({ minLength: 1 })),
    /** Shown on the login page: "Sign in with <name>". */
    name: Type.Optional(Type.String({ minLength: 1, maxLength: 60 })),
    scopes: Type.Optional(Type.Array(Type.String({ minLength: 1 }))),
    /** Where the provider sends people back (default: the server's own address + /auth/oidc/callback). */
    redirectUrl: Type.Optional(Type.String({ minLength: 1 })),
    /** The claim whose values (a string or a list, e.g. `groups`) map to roles. */
    roleClaim: Type.Optional(Type.String({ minLength: 1 })),
    /** Values of `roleClaim` → a server-wide role (every project). */
    roleMapping: Type.Optional(Type.Record(Type.String(), PersonRoleSchema)),
    /** A claim value → a role in one project. */
    projectRoles: Type.Optional(
      Type.Array(
        Type.Object(
          {
            claim: Type.String({ minLength: 1 }),
            value: Type.String({ minLength: 1 }),
            project: Type.String({ minLength: 1 }),
            role: PersonRoleSchema,
          },
          { additionalProperties: false },
        ),
      ),
    ),
    /** Only people whose (verified) email is in one of these domains may sign in. */
    allowedDomains: Type.Optional(Type.Array(Type.String({ minLength: 1 }))),
    /** Minutes a session from the provider lasts: roles are read again at the next sign-in. */
    sessionMinutes: Type.Optional(Type.Integer({ minimum: 1, maximum: 24 * 60 })),
  },
  { additionalProperties: false },
);

const ConfigSchema = Type.Object({
  host: Type.String({ minLength: 1 }),
  port: Type.Integer({ minimum: 0, maximum: 65535 }),
  dataDir: Type.String({ minLength: 1 }),
  /**
   * This server's name as a writer: its audit chain and rollup watermark are its own. One server
   * per store keeps the default; several instances writing one store each need their own.
   */
  instanceId: Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$' }),
  logLevel: Type.Union(
    ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((l) => Type.Literal(l)),
  ),
  adminToken: Type.Optional(Type.String({ minLength: 1 })),
  adminPassword: Type.Optional(Type.String({ minLength: 1 })),
  ingest: Type.Object({
    maxBodyBytes: Type.Integer({ minimum: 1024 }),
    maxDecompressedBytes: Type.Integer({ minimum: 1024 }),
    maxEventsPerRequest: Type.Integer({ minimum: 1 }),
    maxEventBytes: Type.Integer({ minimum: 256 }),
    maxStringLength: Type.Integer({ minimum: 16 }),
    maxDepth: Type.Integer({ minimum: 1, maximum: 32 }),
    maxProps: Type.Integer({ minimum: 1 }),
    futureToleranceMs: Type.Integer({ minimum: 0 }),
    lateAfterMs: Type.Integer({ minimum: 0 }),
    maxAgeMs: Type.Integer({ minimum: 0 }),
    maxInFlightEvents: Type.Integer({ minimum: 1 }),
    maxCommitEvents: Type.Integer({ minimum: 1 }),
    maxConcurrentRequests: Type.Integer({ minimum: 1 }),
    maxInFlightBytes: Type.Integer({ minimum: 1024 }),
  }),
  privacy: Type.Object({
    denyList: Type.Array(Type.String({ minLength: 1 })),
    detectEmails: Type.Boolean(),
    detectPhones: Type.Boolean(),
  }),
  rateLimits: Type.Object({ ingest: Bucket, read: Bucket, loginPerMinute: Type.Integer({ minimum: 1 }) }),
  retention: Type.Object({
    rawDays: Type.Integer({ minimum: 1 }),
    rollupDays: Type.Integer({ minimum: 1 }),
    dailyRollupDays: Type.Integer({ minimum: 1 }),
    intervalMs: Type.Integer({ minimum: 1000 }),
  }),
  /** Which engine keeps the data, and that engine's own options. */
  store: Type.Object({
    engine: Type.Literal('duckdb'),
    /** DuckDB's own options (`store.memoryLimit`, the older key, is read as `store.duckdb.memoryLimit`). */
    duckdb: Type.Object({ memoryLimit: MemorySize }),
    /**
     * The metadata half (projects, keys, people, sessions, rules, alert state, collectors,
     * snapshots) on PostgreSQL instead of the data directory (env VIGIL_POSTGRES_URL, flag
     * --postgres): `postgres://user:password@host:port/database`.
     */
    postgres: Type.Optional(
      Type.Object({ url: Type.String({ minLength: 1 }) }, { additionalProperties: false }),
    ),
    /**
     * The analytical half (events, rollups, samples, health) on ClickHouse, with the metadata on
     * PostgreSQL: nothing is kept on local disk and any number of instances share the store (env
     * VIGIL_CLICKHOUSE_URL and VIGIL_CLICKHOUSE_DATABASE, flag --clickhouse).
     */
    clickhouse: Type.Optional(
      Type.Object(
        {
          /** `http://user:password@host:8123` of one server or of a load balancer over the cluster. */
          url: Type.String({ minLength: 1 }),
          /** Default `vigil`, created when missing. */
          database: Type.Optional(Type.String({ pattern: '^[A-Za-z_][A-Za-z0-9_]{0,62}$' })),
          /** A cluster of `remote_servers`: MergeTree tables on each shard, a Distributed table over them. */
          cluster: Type.Optional(
            Type.Object(
              {
                name: Type.String({ pattern: '^[A-Za-z_][A-Za-z0-9_]{0,62}$' }),
                /** Each shard's own HTTP URL (schema changes and retention run on each). */
                shards: Type.Array(Type.String({ pattern: '^https?://' }), { minItems: 1 }),
              },
              { additionalProperties: false },
            ),
          ),
        },
        { additionalProperties: false },
      ),
    ),
    /** After the store fails (e.g. a full disk), how often it tries to reopen and write again. */
    recoveryMs: Type.Integer({ minimum: 10 }),
  }),
  /** OTLP/HTTP receivers: which span/resource attributes carry what Vigil needs. */
  otlp: Type.Object({
    /** The first of these attributes present (span, then resource) is an llm.request's `user`. */
    userAttributes: Type.Array(Type.String({ minLength: 1 })),
    /** The first of these attributes present (span, then resource) is an llm.request's `space`. */
    spaceAttributes: Type.Array(Type.String({ minLength: 1 })),
    /** A child span of a GenAI span counts as context assembly when one of these attributes… */
    contextSpanAttributes: Type.Array(Type.String({ minLength: 1 })),
    /** …has one of these values (case-insensitive). */
    contextSpanValues: Type.Array(Type.String({ minLength: 1 })),
    /** Message content: dropped and counted, never stored (exact names or dotted prefixes). */
    contentAttributes: Type.Array(Type.String({ minLength: 1 })),
  }),
  /** Vigil's own Prometheus metrics at `GET /metrics`. */
  metrics: Type.Object({
    enabled: Type.Boolean(),
    /** No authentication at all (only behind a network boundary you trust). */
    public: Type.Boolean(),
    /** A bearer token for scrapers, besides viewer and admin keys (env VIGIL_METRICS_TOKEN). */
    token: Type.Optional(Type.String({ minLength: 16 })),
  }),
  alerts: Type.Object({
    /** Evaluate rules on their intervals (off: only on demand, e.g. in tests). */
    enabled: Type.Boolean(),
    /** A rule's interval when it gives none. */
    defaultIntervalMs: Type.Integer({ minimum: 1000 }),
    /** A rule's evaluation delay when it gives none: its window ends this long before now (late data). */
    evaluationDelayMs: Type.Integer({ minimum: 0, maximum: 3_600_000 }),
    /** The token budget of a day: the default token rule fires above it + 20%. */
    dailyTokenBudget: Type.Number({ minimum: 0 }),
    /** US dollars a project may spend on LLM requests in a day: the default cost rule fires above it + 20%. */
    dailyCostBudgetUsd: Type.Optional(Type.Number({ minimum: 0 })),
    /** Requests per minute the deployment is sized for: the default rate rule fires above it + 50%. */
    capacityPerMinute: Type.Number({ minimum: 0 }),
    /** Base of generatorURL and externalURL in notifications (default: the server's own address). */
    externalUrl: Type.Optional(Type.String({ minLength: 1 })),
    /** Firing alerts are sent to Alertmanager again this often (it expires alerts not re-sent). */
    alertmanagerResendMs: Type.Integer({ minimum: 1000 }),
    delivery: Type.Object({
      maxQueue: Type.Integer({ minimum: 1 }),
      concurrency: Type.Integer({ minimum: 1, maximum: 64 }),
      timeoutMs: Type.Integer({ minimum: 100 }),
      maxAttempts: Type.Integer({ minimum: 1, maximum: 20 }),
      retryBaseMs: Type.Integer({ minimum: 1 }),
      retryMaxMs: Type.Integer({ minimum: 1 }),
    }),
  }),
  /** Infrastructure telemetry: collectors, the public view, the run log. */
  telemetry: Type.Object({
    /** Run collectors on their intervals (off: only `POST /telemetry/collect`). */
    enabled: Type.Boolean(),
    /** Serve the anonymous `GET /telemetry/public` (a project can also switch its own off). */
    publicEnabled: Type.Boolean(),
    /** Days of the collector run log kept. */
    runRetentionDays: Type.Integer({ minimum: 1, maximum: 400 }),
    /** Collectors from the config file: `{type, name, url, intervalMs, timeoutMs, …}` (checked per type). */
    collectors: Type.Array(Type.Record(Type.String(), Type.Unknown())),
  }),
  /**
   * Signed checkpoints of the audit chain's head, kept outside the store so that deleting the
   * newest batches (or all of them) shows in `vigil verify`.
   */
  checkpoints: Type.Object({
    enabled: Type.Boolean(),
    /** File the checkpoints are appended to (env VIGIL_CHECKPOINT_FILE, flag --checkpoint-file);
     * null for none (webhook only). Default: `checkpoints.jsonl` in `<dataDir>-audit/`. */
    file: Type.Optional(Type.Union([Type.String({ minLength: 1 }), Type.Null()])),
    /** Ed25519 private key, PKCS#8 PEM, created on first start when missing (env
     * VIGIL_CHECKPOINT_KEY_FILE, flag --checkpoint-key). Default: `checkpoint-key.pem` next to the file. */
    keyFile: Type.Optional(Type.String({ minLength: 1 })),
    /** Each checkpoint is also POSTed here as JSON (env VIGIL_CHECKPOINT_WEBHOOK_URL). */
    webhookUrl: Type.Optional(Type.String({ pattern: '^https?://' })),
    /** Bearer token for the webhook (env VIGIL_CHECKPOINT_WEBHOOK_TOKEN). */
    webhookToken: Type.Optional(Type.String({ minLength: 1 })),
    webhookTimeoutMs: Type.Integer({ minimum: 100 }),
    /** How often the head is signed when it moved (and always at shutdown). */
    intervalMs: Type.Integer({ minimum: 100 }),
  }),
  /** LLM telemetry: prices added to the shipped table (`project` limits one to that project). */
  llm: Type.Object({
    prices: Type.Array(Type.Record(Type.String(), Type.Unknown())),
  }),
  /** How people sign in to the dashboard. */
  auth: Type.Object({
    /** Sign-in with a user name and password (off: only the identity provider; the
     * VIGIL_ADMIN_TOKEN bearer stays as the break-glass). */
    localLogin: Type.Boolean(),
    oidc: Type.Optional(OidcSchema),
  }),
  /** Key that seals collector credentials at rest (env VIGIL_SECRET_KEY only). */
  secretKey: Type.Optional(Type.String({ minLength: 16 })),
  health: Type.Object({
    /** Run the daily snapshot and the zero-activity check on their timers. */
    enabled: Type.Boolean(),
    /** UTC time of day (HH:MM) at which the previous day is snapshotted. */
    dailyAtUtc: Type.String({ pattern: '^([01][0-9]|2[0-3]):[0-5][0-9]$' }),
    /** Missed days (downtime) snapshotted on start, at most this many back. */
    catchUpDays: Type.Integer({ minimum: 0, maximum: 366 }),
    sampleSize: Type.Integer({ minimum: 1, maximum: 10_000 }),
    samplingTargetPercent: Type.Number({ minimum: 0, maximum: 100 }),
    volumeDeviationPercent: Type.Number({ minimum: 0 }),
    baselineWeeks: Type.Integer({ minimum: 1, maximum: 52 }),
    /** No volume judgement below this baseline (events per day). */
    minBaselineEvents: Type.Integer({ minimum: 0 }),
    errorRatePercent: Type.Number({ minimum: 0, maximum: 100 }),
    versionMismatchPercent: Type.Number({ minimum: 0, maximum: 100 }),
    /** Version tags counted as known; empty means any tag is known. */
    knownVersions: Type.Array(Type.String({ minLength: 1 })),
    /** A project or event type with events in the lookback that is silent this long is flagged. */
    silentAfterHours: Type.Number({ minimum: 1 }),
    activityLookbackDays: Type.Integer({ minimum: 1, maximum: 90 }),
    zeroActivityCheckMinutes: Type.Number({ minimum: 1 }),
  }),
});

export type Config = Static<typeof ConfigSchema>;
export type IngestLimits = Config['ingest'];
export type HealthConfig = Config['health'];
export type AlertsConfig = Config['alerts'];
export type OidcConfig = Static<typeof OidcSchema>;

export function defaultConfig(): Config {
  return {
    host: '127.0.0.1',
    port: 4318,
    dataDir: './vigil-data',
    instanceId: 'default',
    logLevel: 'info',
    ingest: {
      maxBodyBytes: 10 * 1024 * 1024,
      maxDecompressedBytes: 50 * 1024 * 1024,
      maxEventsPerRequest: 10_000,
      maxEventBytes: 64 * 1024,
      maxStringLength: 8 * 1024,
      maxDepth: 5,
      maxProps: 200,
      futureToleranceMs: 5 * 60_000,
      lateAfterMs: 5 * 60_000,
      maxAgeMs: 365 * 24 * 3_600_000,
      maxInFlightEvents: 200_000,
      maxCommitEvents: 50_000,
      maxConcurrentRequests: 128,
      maxInFlightBytes: 256 * 1024 * 1024,
    },
    privacy: { denyList: [...DEFAULT_DENY_LIST], detectEmails: true, detectPhones: true },
    rateLimits: {
      ingest: { ratePerSec: 2_000, burst: 4_000 },
      read: { ratePerSec: 50, burst: 100 },
      loginPerMinute: 10,
    },
    retention: { rawDays: 7, rollupDays: 30, dailyRollupDays: 400, intervalMs: 3_600_000 },
    store: { engine: 'duckdb', duckdb: { memoryLimit: '128MB' }, recoveryMs: 2000 },
    otlp: {
      userAttributes: ['user.id', 'enduser.id', 'vigil.user'],
      spaceAttributes: ['vigil.space', 'space.id', 'tenant.id'],
      contextSpanAttributes: ['gen_ai.operation.name', 'openinference.span.kind', 'vigil.span.kind'],
      contextSpanValues: ['retrieval', 'retriever', 'reranker', 'rerank', 'context'],
      contentAttributes: [...DEFAULT_CONTENT_ATTRIBUTES],
    },
    metrics: { enabled: true, public: false },
    alerts: {
      enabled: true,
      defaultIntervalMs: 30_000,
      evaluationDelayMs: 10_000,
      dailyTokenBudget: 5_000_000,
      capacityPerMinute: 1_000,
      alertmanagerResendMs: 60_000,
      delivery: {
        maxQueue: 10_000,
        concurrency: 4,
        timeoutMs: 10_000,
        maxAttempts: 6,
        retryBaseMs: 1_000,
        retryMaxMs: 60_000,
      },
    },
    telemetry: { enabled: true, publicEnabled: true, runRetentionDays: 7, collectors: [] },
    checkpoints: { enabled: true, intervalMs: 10_000, webhookTimeoutMs: 5_000 },
    llm: { prices: [] },
    auth: { localLogin: true },
    health: {
      enabled: true,
      dailyAtUtc: '00:15',
      catchUpDays: 7,
      sampleSize: 100,
      samplingTargetPercent: 99,
      volumeDeviationPercent: 30,
      baselineWeeks: 4,
      minBaselineEvents: 100,
      errorRatePercent: 5,
      versionMismatchPercent: 1,
      knownVersions: [],
      silentAfterHours: 24,
      activityLookbackDays: 7,
      zeroActivityCheckMinutes: 60,
    },
  };
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** Flags given on the command line; they win over env and the config file. */
export interface ConfigOverrides {
  host?: string | undefined;
  port?: number | undefined;
  dataDir?: string | undefined;
  configFile?: string | undefined;
  checkpointFile?: string | undefined;
  checkpointKeyFile?: string | undefined;
  /** `--postgres URL`: the metadata half on PostgreSQL. */
  postgresUrl?: string | undefined;
  /** `--clickhouse URL`: the analytical half on ClickHouse. */
  clickhouseUrl?: string | undefined;
}

/**
 * Resolves the configuration: defaults, then the config file (`--config`, `VIGIL_CONFIG`, or
 * `./vigil.config.json` when present), then `VIGIL_*` env, then flags.
 */
export function loadConfig(
  overrides: ConfigOverrides = {},
  env: NodeJS.ProcessEnv = process.env,
  cwd = process.cwd(),
): Config {
  const config = defaultConfig();
  const explicit = overrides.configFile ?? env.VIGIL_CONFIG;
  const file = explicit ? resolve(cwd, explicit) : resolve(cwd, 'vigil.config.json');
  if (explicit && !existsSync(file)) throw new ConfigError(`config file ${file} does not exist`);
  if (existsSync(file)) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(readFileSync(file, 'utf8'));
    } catch (err) {
      throw new ConfigError(`config file ${file} is not valid JSON: ${(err as Error).message}`);
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      throw new ConfigError(`config file ${file} must hold a JSON object`);
    }
    merge(config, withStoreAliases(parsed as Record<string, unknown>), ConfigSchema);
    if (config.auth.oidc?.clientSecret !== undefined) {
      throw new ConfigError(
        `config file ${file}: auth.oidc.clientSecret does not belong in a file; set VIGIL_OIDC_CLIENT_SECRET`,
      );
    }
  }
  const envPort = env.VIGIL_PORT;
  if (envPort !== undefined && envPort !== '') config.port = parsePort(envPort, 'VIGIL_PORT');
  if (env.VIGIL_HOST) config.host = env.VIGIL_HOST;
  if (env.VIGIL_DATA) config.dataDir = env.VIGIL_DATA;
  if (env.VIGIL_INSTANCE_ID) config.instanceId = env.VIGIL_INSTANCE_ID;
  if (env.VIGIL_LOG_LEVEL) config.logLevel = env.VIGIL_LOG_LEVEL as Config['logLevel'];
  if (env.VIGIL_ADMIN_TOKEN) config.adminToken = env.VIGIL_ADMIN_TOKEN;
  if (env.VIGIL_ADMIN_PASSWORD) config.adminPassword = env.VIGIL_ADMIN_PASSWORD;
  if (env.VIGIL_SECRET_KEY) config.secretKey = env.VIGIL_SECRET_KEY;
  if (env.VIGIL_METRICS_TOKEN) config.metrics.token = env.VIGIL_METRICS_TOKEN;
  if (env.VIGIL_CHECKPOINT_FILE) config.checkpoints.file = env.VIGIL_CHECKPOINT_FILE;
  if (env.VIGIL_CHECKPOINT_KEY_FILE) config.checkpoints.keyFile = env.VIGIL_CHECKPOINT_KEY_FILE;
  if (env.VIGIL_CHECKPOINT_WEBHOOK_URL) config.checkpoints.webhookUrl = env.VIGIL_CHECKPOINT_WEBHOOK_URL;
  if (env.VIGIL_CHECKPOINT_WEBHOOK_TOKEN)
    config.checkpoints.webhookToken = env.VIGIL_CHECKPOINT_WEBHOOK_TOKEN;
  if (overrides.checkpointFile !== undefined) config.checkpoints.file = overrides.checkpointFile;
  if (overrides.checkpointKeyFile !== undefined) config.checkpoints.keyFile = overrides.checkpointKeyFile;
  if (env.VIGIL_OIDC_CLIENT_SECRET && config.auth.oidc)
    config.auth.oidc.clientSecret = env.VIGIL_OIDC_CLIENT_SECRET;
  let postgresFrom = 'store.postgres.url';
  if (env.VIGIL_POSTGRES_URL) {
    config.store.postgres = { url: env.VIGIL_POSTGRES_URL };
    postgresFrom = 'VIGIL_POSTGRES_URL';
  }
  if (overrides.postgresUrl !== undefined) {
    config.store.postgres = { url: overrides.postgresUrl };
    postgresFrom = '--postgres';
  }
  let clickhouseFrom = 'store.clickhouse.url';
  if (env.VIGIL_CLICKHOUSE_URL) {
    config.store.clickhouse = { ...config.store.clickhouse, url: env.VIGIL_CLICKHOUSE_URL };
    clickhouseFrom = 'VIGIL_CLICKHOUSE_URL';
  }
  if (overrides.clickhouseUrl !== undefined) {
    config.store.clickhouse = { ...config.store.clickhouse, url: overrides.clickhouseUrl };
    clickhouseFrom = '--clickhouse';
  }
  if (env.VIGIL_CLICKHOUSE_DATABASE) {
    if (!config.store.clickhouse)
      throw new ConfigError(
        'invalid configuration: VIGIL_CLICKHOUSE_DATABASE is set but no ClickHouse is; give --clickhouse URL or VIGIL_CLICKHOUSE_URL too',
      );
    config.store.clickhouse.database = env.VIGIL_CLICKHOUSE_DATABASE;
  }
  if (overrides.host !== undefined) config.host = overrides.host;
  if (overrides.port !== undefined) config.port = overrides.port;
  if (overrides.dataDir !== undefined) config.dataDir = overrides.dataDir;
  config.dataDir = resolve(cwd, config.dataDir);
  if (typeof config.checkpoints.file === 'string')
    config.checkpoints.file = resolve(cwd, config.checkpoints.file);
  if (config.checkpoints.keyFile !== undefined)
    config.checkpoints.keyFile = resolve(cwd, config.checkpoints.keyFile);

  const errors = [...Value.Errors(ConfigSchema, config)];
  if (errors.length > 0) {
    const lines = errors.slice(0, 5).map((e) => {
      const where =
        e.path === '/adminToken'
          ? 'VIGIL_ADMIN_TOKEN'
          : e.path === '/adminPassword'
            ? 'VIGIL_ADMIN_PASSWORD'
            : e.path === '/secretKey'
              ? 'VIGIL_SECRET_KEY'
              : e.path === '/auth/oidc/clientSecret'
                ? 'VIGIL_OIDC_CLIENT_SECRET'
                : e.path;
      return `${where}: ${e.message}`;
    });
    throw new ConfigError(`invalid configuration:\n  ${lines.join('\n  ')}`);
  }
  const postgresUrl = config.store.postgres?.url;
  const postgresProblem = postgresUrl === undefined ? null : postgresUrlProblem(postgresUrl);
  if (postgresProblem) throw new ConfigError(`invalid configuration: ${postgresFrom} ${postgresProblem}`);
  const clickhouse = config.store.clickhouse;
  if (clickhouse) {
    const problem = clickhouseUrlProblem(clickhouse.url);
    if (problem) throw new ConfigError(`invalid configuration: ${clickhouseFrom} ${problem}`);
    if (postgresUrl === undefined)
      throw new ConfigError(
        `invalid configuration: ${clickhouseFrom} puts the events in ClickHouse, which needs the metadata (projects, keys, people, rules) in PostgreSQL: give --postgres URL or VIGIL_POSTGRES_URL too`,
      );
  }
  const checkpointProblem = checkpointPlacementProblem(config);
  if (checkpointProblem) throw new ConfigError(`invalid configuration: ${checkpointProblem}`);
  const names = new Set<string>();
  config.telemetry.collectors.forEach((c, i) => {
    let spec: ReturnType<typeof parseCollectorSpec>;
    try {
      spec = parseCollectorSpec(c, `telemetry.collectors[${i}]`);
    } catch (err) {
      if (err instanceof SpecError) throw new ConfigError(`invalid configuration: ${err.message}`);
      throw err;
    }
    const key = `${spec.project ?? 'default'}/${spec.name}`;
    if (names.has(key)) throw new ConfigError(`invalid configuration: two collectors named '${spec.name}'`);
    names.add(key);
  });
  try {
    configuredPrices(config.llm.prices);
  } catch (err) {
    if (err instanceof PriceError) throw new ConfigError(`invalid configuration: ${err.message}`);
    throw err;
  }
  return config;
}

/**
 * Where checkpoints are kept: the configured places, or the defaults next to the data directory
 * (none with the store on ClickHouse, which uses no data directory: the configuration names them).
 */
export function checkpointPaths(
  config: Pick<Config, 'dataDir' | 'checkpoints'> & { store?: Pick<Config['store'], 'clickhouse'> },
): {
  file: string | null;
  keyFile: string;
} {
  const dataDir = resolve(config.dataDir);
  const dir = join(dirname(dataDir), `${basename(dataDir)}-audit`);
  const local = !config.store?.clickhouse;
  const file =
    config.checkpoints.file === undefined
      ? local
        ? join(dir, 'checkpoints.jsonl')
        : null
      : config.checkpoints.file;
  const keyFile =
    config.checkpoints.keyFile ?? join(file === null ? dir : dirname(file), 'checkpoint-key.pem');
  return { file, keyFile };
}

/** A checkpoint kept with the data is deleted with it: the file and key must live elsewhere. */
function checkpointPlacementProblem(config: Config): string | null {
  if (!config.checkpoints.enabled) return null;
  if (config.store.clickhouse) {
    // Nothing on local disk: no default place next to a data directory; the operator names one.
    const { file, keyFile, webhookUrl } = config.checkpoints;
    if (keyFile === undefined || (file === undefined && !webhookUrl))
      return 'with the store on ClickHouse and PostgreSQL this machine keeps nothing, so the signed audit checkpoints need places of yours: the signing key (--checkpoint-key FILE or VIGIL_CHECKPOINT_KEY_FILE, a secret you mount; created there when missing) and where checkpoints go (VIGIL_CHECKPOINT_WEBHOOK_URL, or --checkpoint-file FILE on storage that outlives the machine); or set checkpoints.enabled to false';
    return null;
  }
  const { file, keyFile } = checkpointPaths(config);
  if (file === null && !config.checkpoints.webhookUrl)
    return 'checkpoints need a file or a webhookUrl (or set checkpoints.enabled to false)';
  const inside = (p: string) => {
    const rel = relative(config.dataDir, p);
    return rel === '' || (!rel.startsWith('..') && !rel.startsWith('/'));
  };
  for (const [what, p] of [
    ['checkpoints.file', file],
    ['checkpoints.keyFile', keyFile],
  ] as const) {
    if (p !== null && inside(p))
      return `${what} (${p}) is inside the data directory; keep it outside, where deleting or restoring the data does not reach it`;
  }
  return null;
}

export function parsePort(text: string, what: string): number {
  const port = Number(text);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new ConfigError(`${what} must be a port number 0-65535, got '${text}'`);
  }
  return port;
}

/** The older key `store.memoryLimit` sets DuckDB's limit unless `store.duckdb.memoryLimit` is given. */
function withStoreAliases(file: Record<string, unknown>): Record<string, unknown> {
  const store = file.store as { memoryLimit?: unknown; duckdb?: Record<string, unknown> } | undefined;
  if (store === null || typeof store !== 'object' || Array.isArray(store) || !('memoryLimit' in store))
    return file;
  const { memoryLimit, ...rest } = store;
  const duckdb = { memoryLimit, ...(typeof rest.duckdb === 'object' ? rest.duckdb : {}) };
  return { ...file, store: { ...rest, duckdb } };
}

/**
 * Merges the file into the defaults, key by key where both hold an object. Keys are checked
 * against the schema, so an optional section without a default (`auth.oidc`, `store.postgres`)
 * is taken whole and checked by the schema afterwards.
 */
function merge(target: Record<string, unknown>, source: Record<string, unknown>, schema: TSchema): void {
  const known = (schema as { properties?: Record<string, TSchema> }).properties;
  for (const [key, value] of Object.entries(source)) {
    const sub = known?.[key];
    if (known && !sub) throw new ConfigError(`unknown configuration key '${key}'`);
    const current = target[key];
    if (
      sub &&
      value !== null &&
      typeof value === 'object' &&
      !Array.isArray(value) &&
      current !== null &&
      typeof current === 'object' &&
      !Array.isArray(current)
    ) {
      merge(current as Record<string, unknown>, value as Record<string, unknown>, sub);
    } else {
      target[key] = value;
    }
  }
}

/** What is wrong with a ClickHouse URL (its password never repeated), or null when it is usable. */
export function clickhouseUrlProblem(url: string): string | null {
  const form = 'give http://user:password@host:8123';
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return `is not a URL; ${form}`;
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')
    return `does not start with http:// or https:// (ClickHouse is reached over HTTP); ${form}`;
  return null;
}

/** What is wrong with a PostgreSQL URL (its password never repeated), or null when it is usable. */
export function postgresUrlProblem(url: string): string | null {
  const form = 'give postgres://user:password@host:port/database';
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return `is not a URL; ${form}`;
  }
  if (parsed.protocol !== 'postgres:' && parsed.protocol !== 'postgresql:')
    return `does not start with postgres:// or postgresql://; ${form}`;
  if (!parsed.hostname) return `names no host; ${form}`;
  return null;
}
