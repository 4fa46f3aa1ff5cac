/**
 * The operations commands of the `vigil` CLI (backup, restore, check, smoke, export); `cli/main.ts`
 * parses the arguments and dispatches here. Each returns the process exit code.
 */
import { createWriteStream, renameSync, rmSync } from 'node:fs';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { resolve } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { FastifyBaseLogger } from 'fastify';
import { pino } from 'pino';
import { RepriceError, reprice } from '../analytics/index.js';
import type { Config, ConfigOverrides } from '../config/index.js';
import { PriceCatalog, PriceError } from '../pricing/index.js';
import { latestSchemaVersion, openStore, StoreError, storeExists } from '../store/index.js';
import { BackupError, type BackupManifest, readBackup, restoreBackup, writeBackup } from './backup.js';
import { formatChecks, runChecks } from './check.js';
import { generateEvents } from './generate.js';
import { formatSmoke, runSmoke } from './smoke.js';
import { checkpointRestoredHead } from './verify.js';

/** An error the user can fix: printed as `vigil: message`, exit 1. */
export class OpsError extends Error {
  override name = 'OpsError';
}

const print = (json: boolean, value: unknown, text: string) =>
  console.log(json ? JSON.stringify(value) : text);

const describe = (m: BackupManifest) => {
  const events = m.rowCounts.events ?? 0;
  return `schema version ${m.schemaVersion}, ${events} events, ${Object.keys(m.rowCounts).length} tables, Vigil ${m.vigilVersion}, taken ${m.createdAt}`;
};

/** Commands that read a store must not create an empty one where none is. */
function requireStore(config: Config): void {
  if (!storeExists({ ...config.store, dataDir: config.dataDir }))
    throw new OpsError(`there is no Vigil store in ${config.dataDir}; check --data / VIGIL_DATA`);
}

/** Where a server of this configuration answers. */
function configuredUrl(config: Config): string {
  const host = config.host.includes(':') ? `[${config.host}]` : config.host;
  return `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${config.port}`;
}

/** `vigil backup FILE`: from the store when it is free, else through the running server. */
export async function backupCommand(
  file: string,
  config: Config,
  { url, token, json }: { url?: string | undefined; token?: string | undefined; json: boolean },
): Promise<number> {
  const out = resolve(file);
  let manifest: BackupManifest;
  let via: string;
  if (url === undefined) {
    requireStore(config);
    let store: Awaited<ReturnType<typeof openStore>> | undefined;
    try {
      store = await openStore({
        dataDir: config.dataDir,
        ...config.store,
        migrate: false,
      });
    } catch (err) {
      if (!(err instanceof StoreError && err.code === 'locked')) throw err;
    }
    if (store) {
      try {
        manifest = await writeBackup(store, out);
      } finally {
        await store.close();
      }
      via = `the store in ${config.dataDir}`;
      print(
        json,
        { file: out, via: 'store', manifest },
        `backed up ${describe(manifest)}\n  to ${out} (from ${via})`,
      );
      return 0;
    }
    // The server holds the store: ask it, on the address the configuration gives.
    url = configuredUrl(config);
    if (!token)
      throw new OpsError(
        `the store in ${config.dataDir} is in use by a running server; pass --token (an admin key, or set VIGIL_ADMIN_TOKEN) to back up through it at ${url}, or --url to name another address`,
      );
  }
  if (!token) throw new OpsError('--url needs --token (an admin key) or VIGIL_ADMIN_TOKEN');
  manifest = await downloadBackup(url, token, out);
  via = `the running server at ${url}`;
  print(
    json,
    { file: out, via: 'server', manifest },
    `backed up ${describe(manifest)}\n  to ${out} (from ${via})`,
  );
  return 0;
}

async function downloadBackup(url: string, token: string, out: string): Promise<BackupManifest> {
  const target = new URL('/api/admin/backup', url);
  // node:http, not fetch: the server answers only once its snapshot is packed, which for a large
  // store takes longer than fetch waits for response headers.
  const res = await new Promise<IncomingMessage>((resolve, reject) => {
    const req = httpRequest(
      target,
      { method: 'POST', headers: { authorization: `Bearer ${token}` } },
      resolve,
    );
    req.on('error', (err: NodeJS.ErrnoException) =>
      reject(new OpsError(`cannot reach ${url}: ${err.code ?? err.message}`)),
    );
    req.end();
  });
  if (res.statusCode !== 200) {
    let text = '';
    for await (const chunk of res) text += (chunk as Buffer).toString();
    throw new OpsError(`the server refused the backup: ${res.statusCode} ${text.slice(0, 300)}`);
  }
  const partial = `${out}.partial`;
  try {
    await pipeline(res, createWriteStream(partial));
    // The file is checked as written: a cut connection is never mistaken for a backup.
    const manifest = await readBackup(partial);
    renameSync(partial, out);
    return manifest;
  } catch (err) {
    rmSync(partial, { force: true });
    throw err;
  }
}

/** `vigil restore FILE [--force]`. */
export async function restoreCommand(
  file: string,
  config: Config,
  { force, json }: { force: boolean; json: boolean },
): Promise<number> {
  try {
    const latestSchema = latestSchemaVersion(config.store);
    const result = await restoreBackup(
      file,
      { ...config.store, dataDir: config.dataDir },
      { force, latestSchema },
    );
    const lines = [
      `restored ${describe(result.manifest)}`,
      `  into ${result.dataDir}; the audit chain verifies and every table has the rows the manifest lists`,
    ];
    const checkpoints = await checkpointRestoredHead(config, result.dataDir);
    if (checkpoints)
      lines.push(
        `  a signed checkpoint of the restored audit chain head is in ${checkpoints}: verify checks against it from now on`,
      );
    if (result.previous)
      lines.push(
        `  the data that was there is kept in ${result.previous} (remove it once you are satisfied)`,
      );
    if (result.manifest.schemaVersion < latestSchema)
      lines.push(
        `  schema version ${result.manifest.schemaVersion} of ${latestSchema}: 'vigil serve' migrates it up on start`,
      );
    print(json, result, lines.join('\n'));
    return 0;
  } catch (err) {
    if (err instanceof BackupError) {
      print(json, { error: err.message }, `vigil: restore refused: ${err.message}\n  nothing was changed`);
      return 1;
    }
    throw err;
  }
}

/** `vigil check [--json]`. */
export async function checkCommand(overrides: ConfigOverrides, { json }: { json: boolean }): Promise<number> {
  const results = await runChecks({ overrides });
  const failed = results.filter((r) => r.status === 'fail');
  print(
    json,
    { ok: failed.length === 0, checks: results },
    `${formatChecks(results)}\n${failed.length === 0 ? 'all checks passed' : `${failed.length} check(s) failed`}`,
  );
  return failed.length === 0 ? 0 : 1;
}

/** `vigil smoke URL --token T [--json]`. */
export async function smokeCommand(url: string, token: string, { json }: { json: boolean }): Promise<number> {
  const started = performance.now();
  const steps = await runSmoke(url, token);
  const failed = steps.filter((s) => s.status === 'fail');
  const total = Math.round(performance.now() - started);
  print(
    json,
    { ok: failed.length === 0, url, ms: total, steps },
    `smoke test of ${url}\n${formatSmoke(steps)}\n${failed.length === 0 ? `passed in ${total} ms` : `FAILED: ${failed.length} of ${steps.length} steps (${total} ms)`}`,
  );
  return failed.length === 0 ? 0 : 1;
}

/** Epoch ms from ISO-8601 (date or date-time) or epoch milliseconds. */
export function parseTime(text: string, flag: string): number {
  const ms = /^\d+$/.test(text) ? Number(text) : Date.parse(text);
  if (!Number.isFinite(ms))
    throw new OpsError(`${flag} must be an ISO-8601 date or time, or epoch milliseconds; got '${text}'`);
  return ms;
}

/** `vigil export --from --to [--type] [--project] --format parquet|csv --out FILE`. */
export async function exportCommand(
  config: Config,
  options: {
    from?: string | undefined;
    to?: string | undefined;
    type?: string | undefined;
    project?: string | undefined;
    format?: string | undefined;
    out?: string | undefined;
    json: boolean;
  },
): Promise<number> {
  if (!options.from || !options.to || !options.out)
    throw new OpsError('export needs --from, --to and --out (and --format parquet|csv)');
  const format = options.format ?? 'parquet';
  if (format !== 'parquet' && format !== 'csv')
    throw new OpsError(`--format must be parquet or csv; got '${format}'`);
  const from = parseTime(options.from, '--from');
  const to = parseTime(options.to, '--to');
  if (to <= from) throw new OpsError('--to must be after --from');
  const out = resolve(options.out);
  const store = await openOwnStore(
    config,
    "export from a backup instead: 'vigil backup B', 'vigil restore B --data DIR', 'vigil export --data DIR …'",
  );
  const started = Date.now();
  const bar = progress('exporting', started);
  try {
    const result = await store.ops.exportEvents(
      {
        from,
        to,
        format,
        out,
        ...(options.type ? { type: options.type } : {}),
        ...(options.project ? { project: options.project } : {}),
      },
      bar,
    );
    if (process.stderr.isTTY) process.stderr.write('\n');
    print(
      options.json,
      { file: out, format, rows: result.rows, ms: Date.now() - started },
      `wrote ${result.rows} events to ${out} (${format}, ${((Date.now() - started) / 1000).toFixed(1)} s)`,
    );
    return 0;
  } finally {
    await store.close();
  }
}

/** The store, held by this command alone; `instead` says what to do while a server holds it. */
async function openOwnStore(config: Config, instead: string) {
  requireStore(config);
  try {
    return await openStore({ dataDir: config.dataDir, ...config.store, migrate: false });
  } catch (err) {
    if (err instanceof StoreError && err.code === 'locked')
      throw new OpsError(`the store in ${config.dataDir} is in use by a running server; ${instead}`);
    throw err;
  }
}

/** `vigil reprice --from T --to T [--project P]`: priced costs and LLM rollups from today's prices. */
export async function repriceCommand(
  config: Config,
  options: {
    from?: string | undefined;
    to?: string | undefined;
    project?: string | undefined;
    json: boolean;
  },
): Promise<number> {
  if (!options.from || !options.to) throw new OpsError('reprice needs --from and --to');
  const from = parseTime(options.from, '--from');
  const to = parseTime(options.to, '--to');
  if (to <= from) throw new OpsError('--to must be after --from');
  const store = await openOwnStore(config, 'stop it, reprice, and start it again');
  const started = Date.now();
  try {
    let prices: PriceCatalog;
    try {
      prices = new PriceCatalog(store.meta, config.llm.prices);
    } catch (err) {
      if (err instanceof PriceError) throw new OpsError(err.message);
      throw err;
    }
    const report = await reprice(store, {
      from,
      to,
      ...(options.project ? { project: options.project } : {}),
      book: (project) => prices.book(project),
      onProgress: progress('repricing', started, 'days'),
    }).catch((err: unknown) => {
      throw err instanceof RepriceError ? new OpsError(err.message) : err;
    });
    if (process.stderr.isTTY) process.stderr.write('\n');
    const day = (ms: number) => new Date(ms).toISOString().slice(0, 10);
    const skipped = report.skipped.map(
      (s) => `\n  ${s.project}: days before ${day(s.before)} left alone (retention deleted raw events)`,
    );
    print(
      options.json,
      { ...report, ms: Date.now() - started },
      `repriced ${report.requests} LLM requests over ${report.days} days from ${day(report.from)} to ${day(report.to)} (exclusive): ${report.changed} changed, ${report.unpriced} without a price${skipped.join('')}`,
    );
    return 0;
  } finally {
    await store.close();
  }
}

/**
 * `vigil generate`: synthetic llm.request events written straight into the store. The arguments
 * are checked by the caller; here the store must be free: a server holding it is named, and
 * nothing is written.
 */
export async function generateCommand(
  config: Config,
  { events, days, noRepeat, json }: { events: number; days: number; noRepeat: boolean; json: boolean },
): Promise<number> {
  let store: Awaited<ReturnType<typeof openStore>>;
  try {
    store = await openStore({ dataDir: config.dataDir, ...config.store, migrate: true });
  } catch (err) {
    if (!(err instanceof StoreError && err.code === 'locked')) throw err;
    const url = configuredUrl(config);
    const ready = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(3_000) }).then(
      (r) => r.ok,
      () => false,
    );
    const holder = ready
      ? `the server running at ${url} holds it`
      : 'another process holds it (a Vigil server on another port?)';
    throw new OpsError(
      `generate cannot run beside a server on the same data directory: it writes events straight into the store in ${config.dataDir} (folding rollups and extending the audit chain as a server would), a store opens in one process at a time, and ${holder}. Nothing was written. Stop the server, run generate, start the server again; or generate into another directory (--data DIR) and serve that one; or send events to the running server (POST /v1/events, the SDK).`,
    );
  }
  try {
    const started = Date.now();
    const log = pino({ level: config.logLevel }, process.stderr) as unknown as FastifyBaseLogger;
    const result = await generateEvents(store, {
      events,
      days,
      log,
      noRepeat,
      chain: config.instanceId,
      onProgress: progress('generating', started, 'events'),
      onPhase: (what) => process.stderr.write(`${process.stderr.isTTY ? '\n' : ''}${what}…\n`),
    });
    if (process.stderr.isTTY) process.stderr.write('\n');
    print(
      json,
      result,
      `wrote ${result.events} events in ${result.batches} batches over ${days} days (${((Date.now() - started) / 1000).toFixed(0)} s)`,
    );
    return 0;
  } finally {
    await store.close();
  }
}

/** Progress on stderr: a redrawn bar on a terminal, otherwise a line per step (at most one per 10%). */
function progress(label: string, started: number, unit = 'rows') {
  let lastDecile = -1;
  return (done: number, total: number) => {
    const frac = total === 0 ? 1 : done / total;
    const secs = Math.max(0.001, (Date.now() - started) / 1000);
    const line = `${label} ${'#'.repeat(Math.round(frac * 30)).padEnd(30, '.')} ${(frac * 100).toFixed(1)}% ${done}/${total} ${unit} ${Math.round(done / secs)}/s`;
    if (process.stderr.isTTY) process.stderr.write(`\r${line}`);
    else if (Math.floor(frac * 10) > lastDecile) {
      lastDecile = Math.floor(frac * 10);
      process.stderr.write(`${line}\n`);
    }
  };
}
