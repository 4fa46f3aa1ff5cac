import { createHash } from 'node:crypto';
import { CHAINED_FIELDS, type EventColumns, type EventRow, wellFormed } from '../model/index.js';
import type { ChainExpiry, ChainLink, EventStore } from '../store/index.js';
import { type Checkpoint, DEFAULT_CHAIN } from './checkpoint.js';
import { hashColumnRows } from './columns.js';
import { ExpiryIndex, hashExpiry, remainingHashColumns } from './expiry.js';

export type { Checkpoint, CheckpointLog, CheckpointReason } from './checkpoint.js';
export {
  appendCheckpoint,
  CheckpointError,
  checkpointSignedBy,
  DEFAULT_CHAIN,
  loadOrCreateSigningKey,
  loadVerifyingKey,
  publicKeyId,
  readCheckpoints,
  signCheckpoint,
} from './checkpoint.js';
export type { CheckpointerOptions, CheckpointWebhook } from './checkpointer.js';
export { Checkpointer } from './checkpointer.js';
export { hashColumnRows } from './columns.js';
export { expireOffline, expiryRecorder, hashExpiry, remainingHash, remainingHashColumns } from './expiry.js';

/** The hash that precedes the first batch of the default chain. */
export const GENESIS_HASH = '0'.repeat(64);

/**
 * The hash that precedes a chain's first batch: the default chain's is all zeros (as every chain
 * before there were several); another chain's is bound to its name, so a chain's batches cannot
 * pass for another's.
 */
export function genesisHash(chain: string): string {
  return chain === DEFAULT_CHAIN
    ? GENESIS_HASH
    : createHash('sha256').update(`vigil chain\n${chain}`).digest('hex');
}

/**
 * One line per row: a JSON array of the first schema's columns in a fixed order, then each field
 * added since as a name and a value, only when set (rows stored before it was added hash as they
 * did). A priced `cost_usd` is derived and `vigil reprice` may rewrite it, so only a reported one
 * (its prompt/completion split is null) is hashed; the split itself never is.
 */
export function canonicalRow(row: EventRow): string {
  let line = '[';
  for (let i = 0; i < CHAINED_FIELDS.length; i++) {
    const v = row[CHAINED_FIELDS[i] as keyof EventRow];
    if (i > 0) line += ',';
    // Same text as JSON.stringify of the array, built without allocating the array; strings as
    // stored (well-formed), so the encoding is total over whatever a store gives back.
    line += typeof v === 'string' ? JSON.stringify(wellFormed(v)) : v === null ? 'null' : String(v);
  }
  if (row.cache_read_tokens !== null) line += `,"cache_read_tokens",${row.cache_read_tokens}`;
  if (row.cost_usd !== null && row.prompt_cost_usd === null) line += `,"cost_usd",${row.cost_usd}`;
  return `${line}]`;
}

const batchHeader = (prevHash: string, seq: number, committedAt: number, count: number) =>
  `${prevHash}\n${seq}\n${committedAt}\n${count}\n`;

/** SHA-256 over the previous hash, the batch's position and its rows' canonical encoding. */
export function hashBatch(
  prevHash: string,
  seq: number,
  committedAt: number,
  rows: readonly EventRow[],
): string {
  const hash = createHash('sha256');
  hash.update(batchHeader(prevHash, seq, committedAt, rows.length));
  for (const row of rows) hash.update(`${canonicalRow(row)}\n`);
  return hash.digest('hex');
}

/** `hashBatch` of rows `from`..`to` (exclusive) of the columns. */
export function hashBatchColumns(
  prevHash: string,
  seq: number,
  committedAt: number,
  columns: EventColumns,
  from: number,
  to: number,
): string {
  return hashColumnRows(batchHeader(prevHash, seq, committedAt, to - from), columns, from, to);
}

/** The link of the batch after `prev` in `chain` (prev null: the chain's first). */
export function nextLink(
  prev: ChainLink | null,
  rows: readonly EventRow[],
  committedAt: number,
  chain = prev?.chain ?? DEFAULT_CHAIN,
): ChainLink {
  const seq = (prev?.seq ?? 0) + 1;
  const prevHash = prev?.hash ?? genesisHash(chain);
  return {
    chain,
    seq,
    prevHash,
    hash: hashBatch(prevHash, seq, committedAt, rows),
    rowCount: rows.length,
    committedAt,
  };
}

export interface VerifyReport {
  ok: boolean;
  batches: number;
  events: number;
  /** How many chains were checked, when more than one (one per writer). */
  chains?: number;
  /** Batches that lost events to retention: checked against what the expiry link recorded they keep. */
  expiredBatches?: number;
  /** The first batch that does not match (its chain and place in it), and why. */
  firstBad?: { chain: string; seq: number; reason: string };
  /** The checkpoint the chain's head was checked against (when one was given). */
  checkpoint?: { chain: string; seq: number; at: number };
}

export interface VerifyOptions {
  onProgress?: (batches: number, events: number) => void;
  /** The last signed checkpoint of each chain, kept outside the store: the store must still hold
   * each checkpointed batch, with the same hash (deleting the newest batches shows only here). */
  checkpoints?: ReadonlyMap<string, Checkpoint>;
}

const when = (ms: number) => new Date(ms).toISOString();

/** Recomputes every chain from the stored rows and names the first batch that does not match. */
export async function verifyChain(
  events: EventStore,
  { onProgress, checkpoints = new Map() }: VerifyOptions = {},
): Promise<VerifyReport> {
  // Expiry links come after the batches they touch: read them first (they are few), each checked
  // in its own place in its chain like any link.
  const expiries = new ExpiryIndex();
  const invalidExpiry = new Map<string, string>();
  for (const link of await events.chainExpiries()) {
    const problem = link.expiry ? expiries.add(link as ChainLink & { expiry: ChainExpiry }) : null;
    if (problem) invalidExpiry.set(`${link.chain}\n${link.seq}`, problem);
  }
  let batches = 0;
  let count = 0;
  let expired = 0;
  const seen = new Set<string>();
  const report = (firstBad?: VerifyReport['firstBad'], checkpoint?: Checkpoint): VerifyReport => ({
    ok: firstBad === undefined,
    batches,
    events: count,
    ...(seen.size > 1 ? { chains: seen.size } : {}),
    ...(firstBad === undefined && expired > 0 ? { expiredBatches: expired } : {}),
    ...(firstBad ? { firstBad } : {}),
    ...(checkpoint
      ? { checkpoint: { chain: checkpoint.chain, seq: checkpoint.seq, at: checkpoint.at } }
      : {}),
  });
  // The chain being walked: where it stands, and its checkpoint.
  let chain: string | null = null;
  let prevHash = '';
  let expectedSeq = 1;
  /** A chain ends: the checkpoint must not be past its end (newest batches deleted). */
  const endOf = (name: string, nextSeq: number): VerifyReport | null => {
    const c = checkpoints.get(name);
    if (!c || c.seq < nextSeq) return null;
    const lost = c.seq === nextSeq ? `batch ${nextSeq}` : `batches ${nextSeq}–${c.seq}`;
    const end =
      nextSeq === 1
        ? `the store holds no batch of chain '${name}'`
        : `the chain ends at batch ${nextSeq - 1}`;
    const reason = `${end}, but the checkpoint signed at ${when(c.at)} records batch ${c.seq}: ${lost} were deleted`;
    return report({ chain: name, seq: nextSeq, reason }, c);
  };
  for await (const { columns, batches: page } of events.readChain()) {
    for (const { link, from, to } of page) {
      const rowCount = to - from;
      if (link.chain !== chain) {
        if (chain !== null) {
          const cut = endOf(chain, expectedSeq);
          if (cut) return cut;
        }
        chain = link.chain;
        seen.add(chain);
        prevHash = genesisHash(chain);
        expectedSeq = 1;
      }
      const checkpoint = checkpoints.get(link.chain);
      const bad = (reason: string) => report({ chain: link.chain, seq: link.seq, reason }, checkpoint);
      if (link.seq !== expectedSeq)
        return bad(`expected batch ${expectedSeq} next, found ${link.seq} (a batch is missing)`);
      if (link.prevHash !== prevHash) return bad('its previous-hash does not match the batch before it');
      if (checkpoint && link.seq === checkpoint.seq && link.hash !== checkpoint.hash) {
        return bad(
          `its hash differs from the checkpoint signed at ${when(checkpoint.at)} (the batch was replaced)`,
        );
      }
      const touched = expiries.stateOf(link.chain, link.seq);
      if (link.expiry) {
        if (rowCount > 0) return bad(`it records an expiry but ${rowCount} events are stored in it`);
        if (hashExpiry(prevHash, link.seq, link.committedAt, link.expiry) !== link.hash)
          return bad('the expiry it records does not match its hash (the record was altered)');
        const problem = invalidExpiry.get(`${link.chain}\n${link.seq}`);
        if (problem) return bad(`the expiry it records cannot be: ${problem}`);
      } else if (touched) {
        // Retention deleted some of its events: what it keeps must be what the expiry recorded.
        const by = `the expiry recorded in batch ${touched.by.seq}${touched.by.chain === link.chain ? '' : ` of chain '${touched.by.chain}'`}`;
        if (rowCount !== touched.remaining)
          return bad(`${rowCount} of its events are stored but ${by} leaves ${touched.remaining}`);
        if (
          'hash' in touched &&
          remainingHashColumns(link.chain, link.seq, columns, from, to) !== touched.hash
        )
          return bad(`its events kept after ${by} do not match it (an event was altered)`);
        expired += 1;
      } else {
        if (rowCount !== link.rowCount)
          return bad(`it records ${link.rowCount} events but ${rowCount} are stored`);
        if (hashBatchColumns(prevHash, link.seq, link.committedAt, columns, from, to) !== link.hash) {
          return bad('its stored events do not match its hash (an event was altered)');
        }
      }
      prevHash = link.hash;
      expectedSeq += 1;
      batches += 1;
      count += rowCount;
      onProgress?.(batches, count);
    }
  }
  if (chain !== null) {
    const cut = endOf(chain, expectedSeq);
    if (cut) return cut;
  }
  // A checkpoint of a chain the store does not hold at all: all of its batches were deleted.
  for (const name of [...checkpoints.keys()].sort()) {
    if (seen.has(name)) continue;
    const cut = endOf(name, 1);
    if (cut) return cut;
  }
  const stored = await events.countEvents();
  if (stored !== count) {
    const last = chain ?? DEFAULT_CHAIN;
    return report(
      {
        chain: last,
        seq: expectedSeq,
        reason: `${stored - count} stored events belong to no batch of any chain`,
      },
      checkpoints.get(last),
    );
  }
  return report(undefined, checkpoints.get(chain ?? DEFAULT_CHAIN));
}
