import { createHash } from 'node:crypto';

/**
 * The health sample, the same on every engine: an event's sample key is the random tail of its
 * UUID (the 62 bits after the variant: random in v4 and v7, and in the ids the SDK, the OTLP
 * mapping and the server make), stored with the event when it is appended. A seed's sample is
 * the events of lowest rank, key XOR the seed's mask (62 bits of SHA-256 of the seed), ties by
 * id. Plain integer operations: any engine ranks alike, at the cost of reading one column. A
 * client that sends ids without random tails biases only its own project's sample.
 */
const KEY_BITS = (1n << 62n) - 1n;

/** The sample key of an event id (a lowercase UUID): its last 62 bits. */
export function sampleKey(id: string): bigint {
  return BigInt(`0x${id.slice(19, 23)}${id.slice(24, 36)}`) & KEY_BITS;
}

/** The mask a seed ranks keys with. */
export function sampleMask(seed: string): bigint {
  return (
    BigInt(`0x${createHash('sha256').update(`vigil-sample\n${seed}`).digest('hex').slice(0, 16)}`) & KEY_BITS
  );
}

/** An event's rank in the sample of a seed (lower first). */
export function sampleRank(id: string, seed: string): bigint {
  return sampleKey(id) ^ sampleMask(seed);
}

/** Ranks are uniform below this bound (2^62). */
export const SAMPLE_RANK_BOUND = 1n << 62n;
