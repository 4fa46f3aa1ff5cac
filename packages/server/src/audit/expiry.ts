/**
 * Retention in the chain. Deleting expired events changes batches that are already chained, so
 * their hashes can no longer be recomputed. Instead of trusting a mark in the store ("this batch
 * lost events"), the deletion itself is a link of the chain: it records, for each batch it touched,
 * how many events remain and the hash of those that remain. `vigil verify` checks a touched batch
 * against the last expiry that touched it, and an expiry link is checked like any other link, so
 * hiding an edit behind a deletion needs a new link, which the next checkpoint pins.
 */
import { createHash } from 'node:crypto';
import type { EventColumns, EventRow } from '../model/index.js';
import type { ChainExpiry, ChainLink, EventStore, ExpiredBatch, ExpiryRecorder } from '../store/index.js';
import { DEFAULT_CHAIN } from './checkpoint.js';
import { hashColumnRows } from './columns.js';
// A cycle with index.ts, used only at call time: the canonical row encoding lives there.
import { canonicalRow, genesisHash } from './index.js';

const DAY = 86_400_000;

/** The hash of what a batch keeps after an expiry: its remaining rows, in chain order (a batch of
 * a chain other than the default one names its chain: there are as many batches 1 as chains). */
export function remainingHash(chain: string, seq: number, rows: readonly EventRow[]): string {
  const hash = createHash('sha256');
  hash.update(remainingHeader(chain, seq, rows.length));
  for (const row of rows) hash.update(`${canonicalRow(row)}\n`);
  return hash.digest('hex');
}

function remainingHeader(chain: string, seq: number, count: number): string {
  const place = chain === DEFAULT_CHAIN ? `${seq}` : `${chain}\n${seq}`;
  return `remaining\n${place}\n${count}\n`;
}

/** `remainingHash` of rows `from`..`to` (exclusive) of the columns. */
export function remainingHashColumns(
  chain: string,
  seq: number,
  columns: EventColumns,
  from: number,
  to: number,
): string {
  return hashColumnRows(remainingHeader(chain, seq, to - from), columns, from, to);
}

/** The expiry's text as hashed: fixed key order, so the same expiry always hashes the same. */
function canonicalExpiry(e: ChainExpiry): string {
  return JSON.stringify({
    project: e.project,
    before: e.before,
    emptied: e.emptied.map((r) => ({ chain: r.chain, from: r.from, to: r.to })),
    kept: e.kept.map((k) => ({ chain: k.chain, seq: k.seq, remaining: k.remaining, hash: k.hash })),
  });
}

/** SHA-256 over the previous hash, the link's position and the expiry it records. */
export function hashExpiry(prevHash: string, seq: number, committedAt: number, expiry: ChainExpiry): string {
  return createHash('sha256')
    .update(`${prevHash}\n${seq}\n${committedAt}\n0\nexpiry\n${canonicalExpiry(expiry)}\n`)
    .digest('hex');
}

/** What the touched batches keep, as an expiry: batches left empty as ranges, the others one by one. */
export function expiryOf(
  scope: { project: string | null; before: number | null },
  batches: readonly ExpiredBatch[],
): ChainExpiry {
  const expiry: ChainExpiry = { ...scope, emptied: [], kept: [] };
  const order = (x: ExpiredBatch, y: ExpiredBatch) =>
    x.chain < y.chain ? -1 : x.chain > y.chain ? 1 : x.seq - y.seq;
  for (const b of [...batches].sort(order)) {
    if (b.remaining > 0) {
      expiry.kept.push({ chain: b.chain, seq: b.seq, remaining: b.remaining, hash: b.hash as string });
      continue;
    }
    const last = expiry.emptied.at(-1);
    if (last && last.chain === b.chain && last.to === b.seq - 1) last.to = b.seq;
    else expiry.emptied.push({ chain: b.chain, from: b.seq, to: b.seq });
  }
  return expiry;
}

/**
 * Builds the links that record expiries after `head` in `chain` (the chain's writer calls it, one
 * at a time); the batches an expiry touches may be of any chain.
 */
export function expiryRecorder(chain: string, head: () => ChainLink | null): ExpiryRecorder {
  return {
    remainingHash,
    link(scope, batches) {
      const prev = head();
      const seq = (prev?.seq ?? 0) + 1;
      const prevHash = prev?.hash ?? genesisHash(chain);
      const committedAt = Date.now();
      const expiry = expiryOf(scope, batches);
      return {
        chain,
        seq,
        prevHash,
        hash: hashExpiry(prevHash, seq, committedAt, expiry),
        rowCount: 0,
        committedAt,
        expiry,
      };
    },
  };
}

/**
 * Deletes a project's events older than `before` and records it as the next link of `chain`, when
 * no writer holds the chain (offline; a running server goes through its committer).
 */
export async function expireOffline(
  events: EventStore,
  chain: string,
  project: string,
  before: number,
): Promise<{ deleted: number; batches: number; link: ChainLink | null }> {
  const head = await events.chainHead(chain);
  return events.expire(
    project,
    before,
    expiryRecorder(chain, () => head),
  );
}

/** Where each batch touched by expiries stands now: the final state the store must show. */
export class ExpiryIndex {
  /** Per chain: ranges of batches emptied, each with the expiry link that emptied it. */
  private readonly emptied = new Map<string, { from: number; to: number; by: Place }[]>();
  private sorted = true;
  private readonly kept = new Map<string, { remaining: number; hash: string; by: Place }>();

  /** Adds an expiry link's record; returns why it cannot be, or null. */
  add(link: ChainLink & { expiry: ChainExpiry }): string | null {
    // Retention keeps at least a day: a cut-off later than that is not retention's doing.
    const { before } = link.expiry;
    if (before !== null && before > link.committedAt - DAY)
      return `its cut-off ${new Date(before).toISOString()} is less than a day before it was recorded`;
    const by = { chain: link.chain, seq: link.seq };
    // In its own chain an expiry can only name batches before it (another chain has its own numbers).
    const after = (chain: string, seq: number) => chain === link.chain && seq >= link.seq;
    for (const r of link.expiry.emptied) {
      if (r.from > r.to || after(r.chain, r.to))
        return `it empties batches ${r.from}–${r.to}, which are not before it`;
      const list = this.emptied.get(r.chain) ?? [];
      if (list.length === 0) this.emptied.set(r.chain, list);
      list.push({ from: r.from, to: r.to, by });
      this.sorted = false;
    }
    for (const k of link.expiry.kept) {
      if (after(k.chain, k.seq)) return `it names batch ${k.seq}, which is not before it`;
      const key = `${k.chain}\n${k.seq}`;
      const seen = this.kept.get(key);
      // Expiries only remove: the one leaving the fewest events is the latest.
      if (!seen || k.remaining < seen.remaining)
        this.kept.set(key, { remaining: k.remaining, hash: k.hash, by });
    }
    return null;
  }

  /** What the chain's batch must hold now, or null when no expiry touched it. */
  stateOf(
    chain: string,
    seq: number,
  ): { remaining: 0; by: Place } | { remaining: number; hash: string; by: Place } | null {
    if (!this.sorted) {
      for (const list of this.emptied.values()) list.sort((a, b) => a.from - b.from);
      this.sorted = true;
    }
    // A batch is emptied once (an empty batch has nothing more to expire): ranges do not overlap.
    const ranges = this.emptied.get(chain) ?? [];
    let lo = 0;
    let hi = ranges.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const r = ranges[mid] as { from: number; to: number; by: Place };
      if (seq < r.from) hi = mid - 1;
      else if (seq > r.to) lo = mid + 1;
      else return { remaining: 0, by: r.by };
    }
    return this.kept.get(`${chain}\n${seq}`) ?? null;
  }
}

/** A link's place: its chain and number in it. */
interface Place {
  chain: string;
  seq: number;
}
