import { createHash } from 'node:crypto';
import { EVENT_FIELDS, type EventRow, wellFormed } from '../model/index.js';
import type { ChainLink, EventStore } from '../store/index.js';

/** The hash that precedes the first batch. */
export const GENESIS_HASH = '0'.repeat(64);

/** One line per row: a JSON array of every stored column in a fixed order. */
function canonicalRow(row: EventRow): string {
  let line = '[';
  for (let i = 0; i < EVENT_FIELDS.length; i++) {
    const v = row[EVENT_FIELDS[i] as keyof EventRow];
    if (i > 0) line += ',';
    // Same text as JSON.stringify of the array, built without allocating the array; strings as
    // stored (well-formed), so the encoding is total over whatever a store gives back.
    line += typeof v === 'string' ? JSON.stringify(wellFormed(v)) : v === null ? 'null' : String(v);
  }
  return `${line}]`;
}

/** SHA-256 over the previous hash, the batch's position and its rows' canonical encoding. */
export function hashBatch(
  prevHash: string,
  seq: number,
  committedAt: number,
  rows: readonly EventRow[],
): string {
  const hash = createHash('sha256');
  hash.update(`${prevHash}\n${seq}\n${committedAt}\n${rows.length}\n`);
  for (const row of rows) hash.update(`${canonicalRow(row)}\n`);
  return hash.digest('hex');
}

export function nextLink(prev: ChainLink | null, rows: readonly EventRow[], committedAt: number): ChainLink {
  const seq = (prev?.seq ?? 0) + 1;
  const prevHash = prev?.hash ?? GENESIS_HASH;
  return {
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
  /** Batches that lost events to retention: chained, but their rows can no longer be hashed. */
  expiredBatches?: number;
  /** The first batch that does not match, and why. */
  firstBad?: { seq: number; reason: string };
}

/** Recomputes the chain from the stored rows and names the first batch that does not match. */
export async function verifyChain(
  events: EventStore,
  onProgress?: (batches: number, events: number) => void,
): Promise<VerifyReport> {
  let prevHash = GENESIS_HASH;
  let expectedSeq = 1;
  let batches = 0;
  let count = 0;
  let expired = 0;
  for await (const { link, rows, expired: isExpired } of events.readChain()) {
    const bad = (reason: string): VerifyReport => ({
      ok: false,
      batches,
      events: count,
      firstBad: { seq: link.seq, reason },
    });
    if (link.seq !== expectedSeq)
      return bad(`expected batch ${expectedSeq} next, found ${link.seq} (a batch is missing)`);
    if (link.prevHash !== prevHash) return bad('its previous-hash does not match the batch before it');
    if (isExpired) {
      // Retention removed some of its events: its place in the chain is checked, its rows cannot be.
      prevHash = link.hash;
      expectedSeq += 1;
      batches += 1;
      expired += 1;
      count += rows.length;
      onProgress?.(batches, count);
      continue;
    }
    if (rows.length !== link.rowCount)
      return bad(`it records ${link.rowCount} events but ${rows.length} are stored`);
    if (hashBatch(prevHash, link.seq, link.committedAt, rows) !== link.hash) {
      return bad('its stored events do not match its hash (an event was altered)');
    }
    prevHash = link.hash;
    expectedSeq += 1;
    batches += 1;
    count += rows.length;
    onProgress?.(batches, count);
  }
  const stored = await events.countEvents();
  if (stored !== count) {
    return {
      ok: false,
      batches,
      events: count,
      firstBad: {
        seq: expectedSeq,
        reason: `${stored - count} stored events belong to no batch of the chain`,
      },
    };
  }
  return { ok: true, batches, events: count, ...(expired > 0 ? { expiredBatches: expired } : {}) };
}
