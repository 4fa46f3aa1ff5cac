import type { ChainExpiry, ChainLink } from './types.js';

/**
 * A chain link from a row of an engine's batches table (`chain, seq, prev_hash, hash, row_count,
 * committed_at, expiry`), its numbers read by the engine's own `num`.
 */
export function linkFromRow(r: Record<string, unknown>, num: (v: unknown) => number): ChainLink {
  const link: ChainLink = {
    chain: r.chain as string,
    seq: num(r.seq),
    prevHash: r.prev_hash as string,
    hash: r.hash as string,
    rowCount: num(r.row_count),
    committedAt: num(r.committed_at),
  };
  if (typeof r.expiry === 'string') {
    try {
      link.expiry = JSON.parse(r.expiry) as ChainExpiry;
    } catch {
      // Unreadable: the link is checked as a batch of events and its hash will not match.
    }
  }
  return link;
}
