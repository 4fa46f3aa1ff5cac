import { randomBytes } from 'node:crypto';
import { existsSync, rmSync, statfsSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_CHAIN, loadVerifyingKey, readCheckpoints } from '../audit/index.js';
import {
  type Config,
  ConfigError,
  type ConfigOverrides,
  checkpointPaths,
  loadConfig,
} from '../config/index.js';
import { type ChainLink, type EventStore, openStore, type Store, storeIsLocal } from '../store/index.js';

export type CheckStatus = 'ok' | 'warn' | 'fail' | 'skip';

export interface CheckResult {
  name: string;
  status: CheckStatus;
  detail: string;
  ms: number;
}

export interface CheckOptions {
  overrides: ConfigOverrides;
  env?: NodeJS.ProcessEnv;
  /** Below this many free bytes on the data directory's disk, the check fails. */
  minFreeBytes?: number;
  now?: () => number;
}

const MiB = 1024 * 1024;
const fmtBytes = (n: number) =>
  n >= 1024 * MiB ? `${(n / 1024 / MiB).toFixed(1)} GiB` : `${(n / MiB).toFixed(0)} MiB`;

/**
 * `vigil check`: what must hold before a deployment is trusted, one result per check, each
 * with a reason a person can act on. Checks that need an earlier one (the store needs the
 * data directory) are skipped when it failed, and say so.
 */
export async function runChecks({
  overrides,
  env = process.env,
  minFreeBytes = 256 * MiB,
  now = Date.now,
}: CheckOptions): Promise<CheckResult[]> {
  const results: CheckResult[] = [];
  const step = async (name: string, run: () => Promise<[CheckStatus, string]> | [CheckStatus, string]) => {
    const started = performance.now();
    let status: CheckStatus;
    let detail: string;
    try {
      [status, detail] = await run();
    } catch (err) {
      status = 'fail';
      detail = (err as Error).message;
    }
    results.push({ name, status, detail, ms: Math.round(performance.now() - started) });
    return status;
  };
  const skip = (name: string, why: string) => results.push({ name, status: 'skip', detail: why, ms: 0 });

  let config: Config | undefined;
  await step('config', () => {
    try {
      config = loadConfig(overrides, env);
    } catch (err) {
      if (err instanceof ConfigError) return ['fail', err.message.replaceAll('\n', ' ')];
      throw err;
    }
    const where = storeIsLocal(config.store)
      ? `data directory ${config.dataDir}`
      : `store on ClickHouse and PostgreSQL, instance ${config.instanceId}`;
    return ['ok', `valid; ${where}, listening on ${config.host}:${config.port}`];
  });
  if (!config) {
    for (const n of [
      'data directory',
      'store',
      'migrations',
      'audit chain',
      'checkpoint',
      'disk space',
      'clock',
    ])
      skip(n, 'needs a valid configuration');
    return results;
  }
  const dataDir = config.dataDir;

  const local = storeIsLocal(config.store);
  const dirStatus = await step('data directory', () => {
    if (!local) return ['ok', 'not used: the store is on its database servers'];
    if (!existsSync(dataDir))
      return [
        'fail',
        `${dataDir} does not exist; create it (a first 'vigil serve' does), restore a backup into it, or point --data / VIGIL_DATA at the right place`,
      ];
    if (!statSync(dataDir).isDirectory()) return ['fail', `${dataDir} is not a directory`];
    // A real write, not an access() check: root passes access() even on a read-only mount.
    const probe = join(dataDir, `.vigil-check-${randomBytes(4).toString('hex')}`);
    try {
      writeFileSync(probe, 'probe');
      rmSync(probe);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      const why =
        code === 'EROFS'
          ? 'is on a read-only file system'
          : code === 'EACCES' || code === 'EPERM'
            ? 'is not writable by this user'
            : code === 'ENOSPC'
              ? 'is on a full disk'
              : `cannot be written (${(err as Error).message})`;
      return ['fail', `${dataDir} ${why}; the server must write its store there`];
    }
    return ['ok', `${dataDir} exists and is writable`];
  });

  let store: Store | undefined;
  let serverHolds: string | null = null;
  if (dirStatus !== 'ok') {
    for (const n of ['store', 'migrations', 'audit chain']) skip(n, 'needs a usable data directory');
    await step('checkpoint', () => checkpointStatus(config as Config, null));
  } else {
    await step('store', async () => {
      try {
        store = await openStore({ ...config?.store, dataDir, migrate: false });
      } catch (err) {
        const code = (err as { code?: string }).code;
        if (code === 'locked') {
          // Held by a server of this configuration: that is a running deployment, not a fault.
          const url = `http://${config?.host === '0.0.0.0' ? '127.0.0.1' : config?.host}:${config?.port}`;
          const ready = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(3_000) }).then(
            (r) => r.ok,
            () => false,
          );
          if (ready) {
            serverHolds = url;
            return ['ok', `held by the running server at ${url} (ready)`];
          }
          return [
            'fail',
            `the store is in use by another process (a running server?); stop it to check the store, or test the live server with 'vigil smoke URL --token T'`,
          ];
        }
        if (code === 'schema_mismatch') return ['fail', (err as Error).message];
        throw err;
      }
      return ['ok', `opens (${store.engine}, ${fmtBytes(await store.sizeBytes())})`];
    });
  }
  let lastCommit: number | null = null;
  try {
    if (store) {
      const s = store;
      await step('migrations', async () => {
        const parts: string[] = [];
        let behind = false;
        for (const schema of s.schemas) {
          const { current, latest } = await schema.migrations.status();
          const title = s.schemas.length > 1 ? `${schema.engine}: ` : '';
          behind ||= current < latest;
          parts.push(`${title}schema version ${current} of ${latest}${current < latest ? '' : ' (current)'}`);
        }
        if (behind) return ['fail', `${parts.join('; ')}; run 'vigil migrate up' (take a backup first)`];
        return ['ok', parts.join('; ')];
      });
      await step('audit chain', async () => {
        const heads = await s.events.chains();
        if (heads.length === 0) return ['ok', 'empty (no batch committed yet)'];
        lastCommit = Math.max(...heads.map((h) => h.committedAt));
        const at = (h: ChainLink) =>
          `batch ${h.seq} (${h.hash.slice(0, 12)}…), committed ${new Date(h.committedAt).toISOString()}`;
        const [only] = heads;
        if (only && heads.length === 1)
          return [
            'ok',
            `${only.chain === DEFAULT_CHAIN ? '' : `chain '${only.chain}': `}head is ${at(only)}; 'vigil verify' checks every batch`,
          ];
        return [
          'ok',
          `${heads.length} chains (one per instance id): ${heads.map((h) => `'${h.chain}' at ${at(h)}`).join('; ')}; 'vigil verify' checks every batch`,
        ];
      });
      await step('checkpoint', () => checkpointStatus(config as Config, s.events));
    } else if (serverHolds) {
      // The server applied migrations on start and keeps the chain; smoke tests it live.
      for (const n of ['migrations', 'audit chain'])
        skip(
          n,
          `the server at ${serverHolds} holds the store ('vigil smoke ${serverHolds} --token T' tests it live)`,
        );
      await step('checkpoint', () => checkpointStatus(config as Config, null));
    } else if (dirStatus === 'ok') {
      for (const n of ['migrations', 'audit chain']) skip(n, 'needs the store');
      await step('checkpoint', () => checkpointStatus(config as Config, null));
    }
  } finally {
    await store?.close();
  }

  if (!local) skip('disk space', 'the store keeps nothing on this machine');
  else if (dirStatus === 'fail' && !existsSync(dataDir)) skip('disk space', 'needs the data directory');
  else
    await step('disk space', () => {
      const fs = statfsSync(dataDir);
      const free = fs.bavail * fs.bsize;
      const total = fs.blocks * fs.bsize;
      const detail = `${fmtBytes(free)} free of ${fmtBytes(total)} on the data directory's disk`;
      if (free < minFreeBytes) return ['fail', `${detail}; below the ${fmtBytes(minFreeBytes)} minimum`];
      return [free < total * 0.1 ? 'warn' : 'ok', free < total * 0.1 ? `${detail} (under 10%)` : detail];
    });

  await step('clock', () => {
    const t = now();
    const year = new Date(t).getUTCFullYear();
    const iso = new Date(t).toISOString();
    if (year < 2024 || year > 2100) return ['fail', `the system clock says ${iso}; set the time (NTP)`];
    // Event times and the audit chain assume time moves forward.
    if (lastCommit !== null && t + 60_000 < lastCommit)
      return [
        'fail',
        `the system clock (${iso}) is behind the last committed batch (${new Date(lastCommit).toISOString()}); fix the time before serving`,
      ];
    return ['ok', `${iso}${lastCommit !== null ? ', after the last commit' : ''}`];
  });
  return results;
}

/**
 * The last signed checkpoint of the audit chain: when it was taken, which head it holds, and (when
 * the store can be read here) whether the chain still extends it — the checkpointed batch is
 * still stored with the same hash. A chain that no longer holds it was cut or altered.
 */
async function checkpointStatus(config: Config, events: EventStore | null): Promise<[CheckStatus, string]> {
  if (!config.checkpoints.enabled)
    return ['warn', 'checkpoints are off (checkpoints.enabled); deleting the newest batches would go unseen'];
  const { file, keyFile } = checkpointPaths(config);
  if (file === null) return ['ok', 'checkpoints go to the webhook only; no file to read here'];
  if (!existsSync(file))
    return ['warn', `no checkpoint file at ${file} yet (the server writes one on start and on its interval)`];
  const log = await readCheckpoints(file, loadVerifyingKey(keyFile));
  const chain = config.instanceId;
  const last = log.latest.get(chain);
  const bad =
    log.badLines.length > 0
      ? `; ${file} has lines not signed by this key (line ${log.badLines.slice(0, 5).join(', ')}${log.badLines.length > 5 ? ', …' : ''})`
      : '';
  if (!last) return ['warn', `${file} holds no signed checkpoint yet${bad}`];
  const held = `the last signed checkpoint (${last.reason}, ${new Date(last.at).toISOString()}) holds batch ${last.seq} (${last.hash.slice(0, 12)}…)`;
  if (events === null) return [bad ? 'fail' : 'ok', `${held}; the chain is not read here${bad}`];
  const link = await events.chainLink(chain, last.seq);
  if (!link) {
    const head = await events.chainHead(chain);
    return [
      'fail',
      `${held}, but the store's chain ${head ? `ends at batch ${head.seq}` : 'is empty'}: batches were deleted, or an older store restored without a new checkpoint; run 'vigil verify'`,
    ];
  }
  if (link.hash !== last.hash)
    return [
      'fail',
      `${held}, but the store's batch ${last.seq} has hash ${link.hash.slice(0, 12)}…: the chain was altered; run 'vigil verify'`,
    ];
  const head = await events.chainHead(chain);
  const since = (head?.seq ?? last.seq) - last.seq;
  return [
    bad ? 'fail' : 'ok',
    `${held}; the chain extends it (${since === 0 ? 'it is the head' : `${since} batch${since === 1 ? '' : 'es'} since`})${bad}`,
  ];
}

const MARK: Record<CheckStatus, string> = { ok: '✓', warn: '!', fail: '✗', skip: '-' };

export function formatChecks(results: readonly CheckResult[]): string {
  const width = Math.max(...results.map((r) => r.name.length));
  return results
    .map((r) => `${MARK[r.status]} ${r.name.padEnd(width)}  ${r.detail}${r.ms > 0 ? `  (${r.ms} ms)` : ''}`)
    .join('\n');
}
