#!/usr/bin/env node
import { parseArgs } from 'node:util';
import { CheckpointError } from '../audit/index.js';
import { FIRST_EVENT } from '../auth/index.js';
import { ConfigError, loadConfig, parsePort } from '../config/index.js';
import {
  BackupError,
  backupCommand,
  checkCommand,
  exportCommand,
  generateCommand,
  OpsError,
  repriceCommand,
  restoreCommand,
  smokeCommand,
  verifyCommand,
} from '../ops/index.js';
import { openStore, StoreError, type StoreSchema } from '../store/index.js';

type Flag = keyof ReturnType<typeof parse>['values'];
const CONFIG_FLAGS: Flag[] = [
  'port',
  'host',
  'data',
  'config',
  'checkpoint-file',
  'checkpoint-key',
  'postgres',
  'clickhouse',
];
/**
 * What each command takes: its flags (besides --help) and how many arguments. Anything else is a
 * usage error before any work starts, never silently ignored.
 */
const COMMANDS: Record<string, { flags: Flag[]; args: number }> = {
  serve: { flags: CONFIG_FLAGS, args: 0 },
  migrate: { flags: [...CONFIG_FLAGS, 'to', 'engine', 'json'], args: 1 },
  verify: { flags: [...CONFIG_FLAGS, 'rollups', 'json'], args: 0 },
  generate: { flags: [...CONFIG_FLAGS, 'events', 'days', 'no-repeat', 'json'], args: 0 },
  backup: { flags: [...CONFIG_FLAGS, 'token', 'url', 'json'], args: 1 },
  restore: { flags: [...CONFIG_FLAGS, 'force', 'json'], args: 1 },
  check: { flags: [...CONFIG_FLAGS, 'json'], args: 0 },
  smoke: { flags: ['token', 'json'], args: 1 },
  export: { flags: [...CONFIG_FLAGS, 'from', 'to', 'format', 'out', 'type', 'project', 'json'], args: 0 },
  reprice: { flags: [...CONFIG_FLAGS, 'from', 'to', 'project', 'json'], args: 0 },
};

const USAGE = `Usage: vigil <command> [options]

Commands:
  serve                      run the server (default: http://127.0.0.1:4318, data in ./vigil-data)
  migrate status|up|down     show or change the store's schema version (--to N)
  verify [--rollups]         recompute the audit chain, check it still holds its last signed checkpoint,
                             and name the first batch that does not match; --rollups also recomputes
                             the rollups from the raw events still kept and compares them
  generate --events N --days D   write N synthetic llm.request events over the last D days (benchmarks, demos)
                             (the first day folded, later days repeat it shifted; --no-repeat folds all)
  backup FILE                back up the store (through the running server when it holds the store: --token)
  restore FILE [--force]     restore a backup into the data directory (the previous data is kept aside)
  check                      configuration, data directory, store, migrations, audit chain head, disk, clock
  smoke URL --token T        test a live deployment end to end (health, auth, ingest and read back, public view)
  export --from T --to T --format parquet|csv --out FILE [--type X] [--project P]
                             write events of a time range to a file, with progress
  reprice --from T --to T [--project P]
                             recompute priced LLM costs and their rollups from the current prices
  help [COMMAND]             show this help, or a command's (also: vigil COMMAND --help)

Options:
  --port N       port to listen on (env VIGIL_PORT)
  --host H       address to bind (env VIGIL_HOST)
  --data DIR     data directory (env VIGIL_DATA)
  --config FILE  JSON config file (env VIGIL_CONFIG; default ./vigil.config.json if present)
  --postgres URL keep the metadata (projects, keys, people, rules, …) in PostgreSQL
                 (env VIGIL_POSTGRES_URL; postgres://user:password@host:port/database)
  --clickhouse URL  keep the events, rollups and samples in ClickHouse (needs --postgres; env
                 VIGIL_CLICKHOUSE_URL, http://user:password@host:8123; VIGIL_CLICKHOUSE_DATABASE,
                 default vigil): nothing on local disk, any number of instances (docs/scale-out.md)
  --to N         migration target version
  --engine E     with the metadata in PostgreSQL: the engine to migrate (duckdb, postgres or clickhouse)
  --json         machine-readable output
  --token T      admin bearer token for smoke and for a backup through the server (env VIGIL_ADMIN_TOKEN)
  --url URL      the running server to back up through (default: the configured host and port)
  --force        let restore replace existing data
  --checkpoint-file FILE  audit chain checkpoints (env VIGIL_CHECKPOINT_FILE; default DATA-audit/checkpoints.jsonl)
  --checkpoint-key FILE   their Ed25519 key, private for serve, private or public for verify
                          (env VIGIL_CHECKPOINT_KEY_FILE; default checkpoint-key.pem next to the file)
  -h, --help     show help

Env: VIGIL_ADMIN_TOKEN makes that string an admin bearer token; VIGIL_ADMIN_PASSWORD sets the
admin user's password when it is first created.`;

const TIMES = 'Times: ISO-8601 (2026-01-31, 2026-01-31T12:00:00Z) or epoch milliseconds; UTC.';
const STORE =
  '--data DIR (env VIGIL_DATA), --postgres URL (env VIGIL_POSTGRES_URL), --clickhouse URL (env VIGIL_CLICKHOUSE_URL) and --config FILE (env VIGIL_CONFIG) pick the store.';

/** `vigil <command> --help`: one command, its flags and what it takes. */
const COMMAND_HELP: Record<string, string> = {
  serve: `Usage: vigil serve [--port N] [--host H] [--data DIR] [--postgres URL] [--clickhouse URL] [--config FILE]

Runs the server: HTTP API, ingestion, dashboard, schedules. On an empty data directory it creates
the default project, the admin user and a first ingest key, and prints them once.
  --port N       port (env VIGIL_PORT; default 4318; 0 = any free port)
  --host H       address to bind (env VIGIL_HOST; default 127.0.0.1)
  --data DIR     data directory (env VIGIL_DATA; default ./vigil-data)
  --postgres URL the metadata half in PostgreSQL (env VIGIL_POSTGRES_URL; docs/scale-out.md)
  --clickhouse URL  the analytical half in ClickHouse, with --postgres: nothing on local disk, as
                 many instances as you like behind a load balancer (env VIGIL_CLICKHOUSE_URL)
  --config FILE  JSON config file (env VIGIL_CONFIG; default ./vigil.config.json if present)
  --checkpoint-file FILE, --checkpoint-key FILE   signed audit checkpoints (see docs/security.md)
Env: VIGIL_ADMIN_TOKEN, VIGIL_ADMIN_PASSWORD, VIGIL_LOG_LEVEL (docs/configuration.md).`,
  migrate: `Usage: vigil migrate status|up|down [--to N] [--engine E] [--json]

Shows or changes the store's schema version. Needs the store to itself (stop the server).
  status         current and latest version (default)
  up [--to N]    apply migrations up to N (default: the latest)
  down --to N    revert to version N (with the newer release, before going back to an older one)
  --engine E     with the metadata in PostgreSQL each engine has its own versions: status and up
                 cover both, --to and down need the engine named (duckdb, postgres or clickhouse)
  --json         one JSON object on stdout
${STORE}`,
  verify: `Usage: vigil verify [--json] [--checkpoint-file FILE] [--checkpoint-key FILE]

Recomputes the audit chain over every stored batch; exit 1 and the first bad batch when it does not
match. Needs the store to itself (stop the server, or verify a restored backup).
${STORE}`,
  generate: `Usage: vigil generate [--events N] [--days D] [--no-repeat] [--json]

Writes N synthetic llm.request events (default 1000000) over the last D days (default 30), for
demos and benchmarks, with a progress bar on stderr. Writes to the store directly, so it needs the
store to itself: stop the server first.
  --no-repeat    fold every day (default: the first day is folded, later days repeat it shifted)
${STORE}`,
  backup: `Usage: vigil backup FILE [--token T] [--url URL] [--json]

Writes a consistent backup to FILE. While a server holds the store, it backs up through that server
(POST /api/admin/backup): give --token (a server-wide admin token, env VIGIL_ADMIN_TOKEN) and
--url (default: the configured host and port).
${STORE}`,
  restore: `Usage: vigil restore FILE [--force] [--json]

Checks FILE, then restores it into the data directory; the previous data is kept aside as
<data>.previous-<time>. Refuses a non-empty data directory without --force, and one a server holds.
${STORE}`,
  check: `Usage: vigil check [--json]

Checks configuration, data directory, store, migrations, audit chain head, disk space and clock;
one line per check, exit 1 on a failure. While a server runs it reads the store through a copy
of nothing: it reports the server and checks what it can without the store's lock.
${STORE}`,
  smoke: `Usage: vigil smoke URL --token T [--json]

Tests a live deployment end to end: health, auth, ingest and read back, public view. Leaves one
event of type vigil.smoke and a revoked ingest key. --token: an admin key (env VIGIL_ADMIN_TOKEN).`,
  export: `Usage: vigil export --from T --to T --format parquet|csv --out FILE [--type X] [--project P] [--json]

Writes the events of [from, to) to a Parquet or CSV file, with progress. Needs the store to
itself (export from a restored backup while the server runs).
${TIMES}
${STORE}`,
  reprice: `Usage: vigil reprice --from T --to T [--project P] [--json]

A changed price applies to events ingested afterwards. When a price was wrong, reprice recomputes
the cost of the LLM requests of [from, to) (widened to whole UTC days) from the prices as they are
now (shipped table, config file, the project's own) and rebuilds those days' LLM rollups, one day
at a time, with progress on stderr. Costs reported by the caller stand. Days whose raw events
retention has deleted are left alone (said in the output). Needs the store to itself: stop the
server, reprice, start it again.
${TIMES}
${STORE}`,
};

class UsageError extends Error {
  /** The command whose help follows the message (the general usage when unset). */
  constructor(
    message: string,
    readonly command?: string,
  ) {
    super(message);
  }
}

function out(json: boolean, value: unknown, text: string): void {
  console.log(json ? JSON.stringify(value) : text);
}

async function main(argv: string[]): Promise<number> {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(argv);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const { values, positionals } = parsed;
  const [command = 'help', ...rest] = positionals;
  if (command === 'help' || (values.help && !COMMAND_HELP[command])) {
    const topic = command === 'help' ? rest[0] : undefined;
    console.log((topic && COMMAND_HELP[topic]) || USAGE);
    return 0;
  }
  if (values.help) {
    console.log(COMMAND_HELP[command]);
    return 0;
  }
  const takes = COMMANDS[command];
  if (!takes) throw new UsageError(`unknown command '${command}'`);
  const wrong = (Object.keys(values) as Flag[]).filter((f) => f !== 'help' && !takes.flags.includes(f));
  if (wrong.length > 0)
    throw new UsageError(`${command} does not take ${wrong.map((f) => `--${f}`).join(', ')}`, command);
  if (rest.length > takes.args)
    throw new UsageError(
      `${command} takes ${takes.args === 0 ? 'no arguments' : 'one argument'}; got ${rest.map((a) => `'${a}'`).join(' ')}`,
      command,
    );
  const overrides = {
    host: values.host,
    port: values.port === undefined ? undefined : parsePort(values.port, '--port'),
    dataDir: values.data,
    configFile: values.config,
    checkpointFile: values['checkpoint-file'],
    checkpointKeyFile: values['checkpoint-key'],
    postgresUrl: values.postgres,
    clickhouseUrl: values.clickhouse,
  };
  const token = values.token ?? process.env.VIGIL_ADMIN_TOKEN;
  // These two must work with a broken configuration: check reports it, smoke needs none.
  if (command === 'check') return checkCommand(overrides, { json: values.json ?? false });
  if (command === 'smoke') {
    const url = rest[0];
    if (!url) throw new UsageError('smoke needs the URL of the deployment');
    if (!token) throw new UsageError('smoke needs --token (an admin key) or VIGIL_ADMIN_TOKEN');
    return smokeCommand(url, token, { json: values.json ?? false });
  }
  const config = loadConfig(overrides);
  const json = values.json ?? false;

  switch (command) {
    case 'serve':
      return serve(config);
    case 'migrate': {
      const action = rest[0] ?? 'status';
      const to = values.to === undefined ? undefined : Number(values.to);
      if (to !== undefined && (!Number.isInteger(to) || to < 0))
        throw new UsageError('--to must be a version number ≥ 0');
      if (!['status', 'up', 'down'].includes(action))
        throw new UsageError(`unknown migrate action '${action}'; use status, up or down`, command);
      const store = await openStore({
        dataDir: config.dataDir,
        ...config.store,
        migrate: false,
      });
      try {
        await migrate(store.schemas, action as 'status' | 'up' | 'down', { to, engine: values.engine, json });
      } finally {
        await store.close();
      }
      return 0;
    }
    case 'verify':
      return verifyCommand(config, { json, rollups: values.rollups ?? false });
    case 'backup':
    case 'restore': {
      const file = rest[0];
      if (!file) throw new UsageError(`${command} needs the backup FILE`);
      return command === 'backup'
        ? backupCommand(file, config, { url: values.url, token, json })
        : restoreCommand(file, config, { force: values.force ?? false, json });
    }
    case 'export':
      return exportCommand(config, {
        from: values.from,
        to: values.to,
        type: values.type,
        project: values.project,
        format: values.format,
        out: values.out,
        json,
      });
    case 'reprice':
      return repriceCommand(config, { from: values.from, to: values.to, project: values.project, json });
    case 'generate':
      return generateCommand(config, {
        events: count(values.events, '--events', 1_000_000, command),
        days: count(values.days, '--days', 30, command),
        noRepeat: values['no-repeat'] ?? false,
        json,
      });
    default:
      throw new UsageError(`unknown command '${command}'`);
  }
}

/**
 * `vigil migrate`: on a store of one engine as it always was; on two (the metadata in PostgreSQL)
 * status and up cover each engine, while a target version or a step down needs the engine named.
 */
async function migrate(
  schemas: readonly StoreSchema[],
  action: 'status' | 'up' | 'down',
  { to, engine, json }: { to: number | undefined; engine: string | undefined; json: boolean },
): Promise<void> {
  const names = schemas.map((s) => `${s.engine} (${s.holds})`).join(', ');
  const chosen = engine === undefined ? schemas : schemas.filter((s) => s.engine === engine);
  if (chosen.length === 0)
    throw new UsageError(`--engine ${engine}: this store's engines are ${names}`, 'migrate');
  if (chosen.length > 1 && (action === 'down' || to !== undefined))
    throw new UsageError(
      `this store keeps its halves on ${names}, each with its own schema versions; name the one to ${action === 'down' ? 'revert' : 'migrate'} with --engine`,
      'migrate',
    );
  const titled = chosen.length > 1 || schemas.length > 1;
  const results: Record<string, unknown>[] = [];
  const lines: string[] = [];
  for (const schema of chosen) {
    const title = titled ? `${schema.engine} (${schema.holds}): ` : '';
    if (action === 'status') {
      const s = await schema.migrations.status();
      const rows = s.migrations.map(
        (m) =>
          `  ${m.appliedAt ? '✓' : ' '} ${m.version}  ${m.name}${m.appliedAt ? `  (applied ${new Date(m.appliedAt).toISOString()})` : ''}`,
      );
      results.push({ engine: schema.engine, holds: schema.holds, ...s });
      lines.push(`${title}schema version ${s.current} of ${s.latest}`, ...rows);
    } else {
      const done = action === 'up' ? await schema.migrations.up(to) : await schema.migrations.down(to);
      const s = await schema.migrations.status();
      const key = action === 'up' ? 'applied' : 'reverted';
      results.push({ engine: schema.engine, [key]: done, current: s.current, latest: s.latest });
      lines.push(
        done.length === 0
          ? `${title}nothing to do: schema version ${s.current} of ${s.latest}`
          : `${title}${key} ${done.join(', ')}; schema version now ${s.current} of ${s.latest}`,
      );
    }
  }
  // One engine: the shape this command always printed; several: one entry per engine.
  const single = results.length === 1 && !titled;
  const value = single ? withoutEngine(results[0] as Record<string, unknown>) : { schemas: results };
  out(json, value, lines.join('\n'));
}

function withoutEngine({ engine: _e, holds: _h, ...rest }: Record<string, unknown>): Record<string, unknown> {
  return rest;
}

/** A URL with its password hidden. */
function redactedUrl(url: string): string {
  const u = new URL(url);
  if (u.password) u.password = '***';
  return u.toString();
}

/** A whole number ≥ 1 from a flag (digits only: '1e3' or '10.5' are refused, not read as something else). */
function count(text: string | undefined, flag: string, fallback: number, command: string): number {
  if (text === undefined) return fallback;
  if (!/^[0-9]+$/.test(text) || Number(text) < 1 || !Number.isSafeInteger(Number(text)))
    throw new UsageError(`${flag} must be a whole number of at least 1; got '${text}'`, command);
  return Number(text);
}

function parse(argv: string[]) {
  return parseArgs({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: {
      port: { type: 'string' },
      host: { type: 'string' },
      data: { type: 'string' },
      config: { type: 'string' },
      to: { type: 'string' },
      events: { type: 'string' },
      days: { type: 'string' },
      json: { type: 'boolean' },
      token: { type: 'string' },
      url: { type: 'string' },
      force: { type: 'boolean' },
      from: { type: 'string' },
      type: { type: 'string' },
      project: { type: 'string' },
      format: { type: 'string' },
      'no-repeat': { type: 'boolean' },
      'checkpoint-file': { type: 'string' },
      rollups: { type: 'boolean' },
      'checkpoint-key': { type: 'string' },
      out: { type: 'string' },
      postgres: { type: 'string' },
      clickhouse: { type: 'string' },
      engine: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
}

async function serve(config: ReturnType<typeof loadConfig>): Promise<number> {
  // Loaded only to serve: the other commands start faster without the HTTP stack.
  const { startServer } = await import('../server.js');
  // A log redirected to a full disk must not kill the server: lines are lost, the service is not.
  for (const out of [process.stdout, process.stderr]) out.on('error', () => undefined);
  const server = await startServer(config);
  const { created } = server.bootstrap;
  const lines = [
    '',
    `Vigil is running at ${server.url}`,
    ...(config.store.clickhouse
      ? [
          `  events: ClickHouse at ${redactedUrl(config.store.clickhouse.url)} (instance ${config.instanceId})`,
        ]
      : [`  data directory: ${config.dataDir}`]),
    ...(config.store.postgres ? [`  metadata: PostgreSQL at ${redactedUrl(config.store.postgres.url)}`] : []),
    `  dashboard: ${server.url}/   (log in as user 'admin')`,
  ];
  if (config.adminToken !== undefined && config.adminToken.length < 16) {
    lines.push('  warning: VIGIL_ADMIN_TOKEN is shorter than 16 characters; anyone who guesses it is admin');
  }
  if (created) {
    lines.push(
      created.passwordWasGiven
        ? `  admin password: the one given in VIGIL_ADMIN_PASSWORD${created.adminPassword.length < 8 ? ' (warning: shorter than 8 characters)' : ''}`
        : `  admin password: ${created.adminPassword}   (shown once; keep it)`,
      `  ingest key:     ${created.ingestKey}   (shown once; keep it)`,
      '',
      '  send a first event (an LLM request; the Overview shows it at once):',
      `    curl -X POST ${server.url}/v1/events -H 'Authorization: Bearer ${created.ingestKey}' \\`,
      `      -H 'Content-Type: application/json' -d '${JSON.stringify(FIRST_EVENT)}'`,
      '',
      '  docs: README.md and docs/ (events and their fields: docs/events.md)',
    );
  } else {
    lines.push(
      '  (the admin password and first ingest key were shown on the first start; create keys with POST /api/keys)',
    );
  }
  console.log(`${lines.join('\n')}\n`);

  let signals = 0;
  const stop = (signal: string) => {
    signals += 1;
    if (signals > 1) {
      server.app.log.warn('second signal: exiting now');
      process.exit(1);
    }
    server.app.log.info({ signal }, 'shutting down: finishing in-flight commits');
    server.close().then(
      () => process.exit(0),
      (err: unknown) => {
        server.app.log.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  return new Promise<number>(() => undefined);
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    if (err instanceof UsageError) {
      console.error(`vigil: ${err.message}\n\n${(err.command && COMMAND_HELP[err.command]) || USAGE}`);
      process.exitCode = 2;
    } else if (err instanceof StoreError) {
      // The code is stable (scripts may match it); the message says what to do.
      console.error(`vigil: ${err.message} [store: ${err.code}]`);
      process.exitCode = 1;
    } else if (
      err instanceof ConfigError ||
      err instanceof OpsError ||
      err instanceof CheckpointError ||
      err instanceof BackupError
    ) {
      console.error(`vigil: ${err.message}`);
      process.exitCode = 1;
    } else {
      console.error('vigil: unexpected error:', err);
      process.exitCode = 1;
    }
  },
);
