import { existsSync } from 'node:fs';
import { checkRollups, type RollupCheckReport } from '../analytics/index.js';
import {
  appendCheckpoint,
  type CheckpointLog,
  DEFAULT_CHAIN,
  genesisHash,
  loadOrCreateSigningKey,
  loadVerifyingKey,
  readCheckpoints,
  signCheckpoint,
  type VerifyReport,
  verifyChain,
} from '../audit/index.js';
import { type Config, checkpointPaths } from '../config/index.js';
import { type ChainLink, openStore } from '../store/index.js';

export interface VerifyResult extends VerifyReport {
  /** With `--rollups`: the rollups recomputed from the raw events still kept. */
  rollups?: RollupCheckReport;
  /** Where the checkpoints were read from, or why none were. */
  checkpoints: { file: string | null; lines: number; chains: number; note?: string };
}

/** The signed checkpoints to check the chain against (none when they are off or not kept yet). */
async function keptCheckpoints(
  config: Config,
): Promise<{ log: CheckpointLog | null; file: string | null; note?: string }> {
  if (!config.checkpoints.enabled) return { log: null, file: null, note: 'checkpoints are off' };
  const { file, keyFile } = checkpointPaths(config);
  if (file === null)
    return { log: null, file, note: 'checkpoints go to the webhook only; no file to check against' };
  if (!existsSync(file)) return { log: null, file, note: `no checkpoint file at ${file} yet` };
  return { log: await readCheckpoints(file, loadVerifyingKey(keyFile)), file };
}

/** `vigil verify`: the chain recomputed from the stored rows and checked against the last checkpoints. */
export async function verifyCommand(
  config: Config,
  { json, rollups = false }: { json: boolean; rollups?: boolean },
): Promise<number> {
  const kept = await keptCheckpoints(config);
  const store = await openStore({
    dataDir: config.dataDir,
    ...config.store,
    migrate: false,
  });
  let report: VerifyReport;
  let rollupReport: RollupCheckReport | undefined;
  try {
    const progress = !json && process.stderr.isTTY;
    report = await verifyChain(store.events, {
      checkpoints: kept.log?.latest ?? new Map(),
      onProgress: (batches, events) => {
        if (progress && batches % 100 === 0)
          process.stderr.write(`\rverified ${batches} batches, ${events} events…`);
      },
    });
    if (progress) process.stderr.write('\r\x1b[K');
    if (rollups) {
      rollupReport = await checkRollups(store, {
        onDay: (day) => {
          if (progress)
            process.stderr.write(`\rrollups: checked ${new Date(day).toISOString().slice(0, 10)}…`);
        },
      });
      if (progress) process.stderr.write('\r\x1b[K');
    }
  } finally {
    await store.close();
  }
  const bad = kept.log?.badLines ?? [];
  if (report.ok && bad.length > 0) {
    report = {
      ...report,
      ok: false,
      firstBad: {
        chain: config.instanceId,
        seq: 0,
        reason: `the checkpoint file ${kept.file} has lines that are not checkpoints signed by this key (line ${bad.slice(0, 5).join(', ')}${bad.length > 5 ? ', …' : ''})`,
      },
    };
  }
  const result: VerifyResult = {
    ...report,
    ...(rollupReport ? { rollups: rollupReport } : {}),
    checkpoints: {
      file: kept.file,
      lines: kept.log?.lines ?? 0,
      chains: kept.log?.latest.size ?? 0,
      ...(kept.note ? { note: kept.note } : {}),
    },
  };
  const against = report.checkpoint
    ? `it holds the checkpoint signed at ${new Date(report.checkpoint.at).toISOString()} (batch ${report.checkpoint.seq})`
    : `no checkpoint to check its head against (${kept.note ?? 'none kept yet'}): deleting the newest batches would not show`;
  const chains = report.chains ? ` in ${report.chains} chains (one per instance id)` : '';
  const where = (bad: NonNullable<typeof report.firstBad>) =>
    `batch ${bad.seq}${bad.chain === DEFAULT_CHAIN ? '' : ` of chain '${bad.chain}'`}`;
  const lines = [
    report.ok
      ? `ok: ${report.batches} batches, ${report.events} events${chains}; the audit ${chains ? 'chains are' : 'chain is'} intact and ${against}`
      : !report.firstBad || report.firstBad.seq === 0
        ? `FAILED: ${report.firstBad?.reason}`
        : `FAILED at ${where(report.firstBad)}: ${report.firstBad.reason} (${report.batches} batches before it verified)`,
  ];
  if (rollupReport?.ok)
    lines.push(
      `ok: ${rollupReport.rows} rollup rows over ${rollupReport.days} days match the raw events they were made of`,
    );
  else if (rollupReport && !rollupReport.checked)
    lines.push(`FAILED: rollups not checked: ${rollupReport.reason}`);
  else if (rollupReport)
    lines.push(
      `FAILED: rollup rows differ from the raw events they were made of:`,
      ...rollupReport.mismatches.map((m) => `  ${m.key}: ${m.reason}`),
    );
  const text = lines.join('\n');
  console.log(json ? JSON.stringify(result) : text);
  return report.ok && (rollupReport?.ok ?? true) ? 0 : 1;
}

/**
 * After a restore each chain of the store legitimately ends where the backup's did, before the
 * last checkpoint: a signed `restore` checkpoint of each restored head (and of the empty start of a
 * chain the file knows but the backup lacks) says so, so that the server does not continue after
 * the old head and `vigil verify` checks against the restored one. Returns the file written to,
 * or null when checkpoints are not kept in a file.
 */
export async function checkpointRestoredHead(config: Config, dataDir: string): Promise<string | null> {
  if (!config.checkpoints.enabled) return null;
  const { file, keyFile } = checkpointPaths(config);
  if (file === null) return null;
  const store = await openStore({ ...config.store, dataDir, migrate: false });
  let heads: ChainLink[];
  try {
    heads = await store.events.chains();
  } finally {
    await store.close();
  }
  const key = loadOrCreateSigningKey(keyFile);
  const known = existsSync(file) ? (await readCheckpoints(file, key)).latest.keys() : [];
  const restored = new Map(heads.map((h) => [h.chain, h]));
  for (const chain of new Set([...restored.keys(), ...known, config.instanceId])) {
    const at = restored.get(chain) ?? { seq: 0, hash: genesisHash(chain), committedAt: 0 };
    await appendCheckpoint(
      file,
      signCheckpoint({ chain, seq: at.seq, hash: at.hash, committedAt: at.committedAt }, key, {
        reason: 'restore',
      }),
    );
  }
  return file;
}
