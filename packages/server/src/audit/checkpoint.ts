/**
 * Signed checkpoints of the audit chain, kept outside the store.
 *
 * The chain makes every batch depend on the one before, so an edit inside the chain shows. What
 * the chain alone cannot show is its own end being cut off (the newest batches deleted, or all of
 * them): a shorter chain is still a valid chain. A checkpoint records a chain's head (seq and
 * hash) signed with Ed25519, appended as one JSON line to a file outside the data directory
 * and/or posted to a webhook; `vigil verify` then insists the store still holds that head.
 *
 * One line per checkpoint:
 * `{"v":1,"chain","seq","hash","committedAt","at","reason","key","sig"}` where `key` is the raw
 * public key (base64url) and `sig` the signature (base64url) of `signedText(record)`.
 */
import {
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
  sign,
  verify,
} from 'node:crypto';
import { createReadStream, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { dirname } from 'node:path';
import { createInterface } from 'node:readline';

/** The chain a single-writer store keeps (every batch so far belongs to it). */
export const DEFAULT_CHAIN = 'default';

/** Why a checkpoint was taken: on the interval, at shutdown, or after a restore replaced the data. */
export type CheckpointReason = 'interval' | 'start' | 'shutdown' | 'restore';

export interface Checkpoint {
  v: 1;
  /** The chain (one per writer) whose head this is. */
  chain: string;
  seq: number;
  hash: string;
  /** When the head batch was committed (epoch ms). */
  committedAt: number;
  /** When the checkpoint was signed (epoch ms). */
  at: number;
  reason: CheckpointReason;
  /** The signer's raw Ed25519 public key, base64url. */
  key: string;
  /** Ed25519 signature of `signedText`, base64url. */
  sig: string;
}

export class CheckpointError extends Error {
  override name = 'CheckpointError';
}

/** The exact bytes signed: every field but the signature, in a fixed order. */
function signedText(c: Omit<Checkpoint, 'sig'>): string {
  return `vigil-checkpoint ${c.v}\n${c.chain}\n${c.seq}\n${c.hash}\n${c.committedAt}\n${c.at}\n${c.reason}\n${c.key}`;
}

/** The raw public key as base64url (what a checkpoint's `key` holds). */
export function publicKeyId(key: KeyObject): string {
  const jwk = key.export({ format: 'jwk' }) as { x?: string };
  if (!jwk.x) throw new CheckpointError('not an Ed25519 key');
  return jwk.x;
}

/** The signing key: read from `file` (PKCS#8 PEM), or created there (mode 0600) when missing. */
export function loadOrCreateSigningKey(file: string): KeyObject {
  if (!existsSync(file)) {
    const { privateKey } = generateKeyPairSync('ed25519');
    mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
    // 'wx': never replace a key another process created meanwhile.
    try {
      writeFileSync(file, privateKey.export({ format: 'pem', type: 'pkcs8' }), { mode: 0o600, flag: 'wx' });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
  }
  let key: KeyObject;
  try {
    key = createPrivateKey(readFileSync(file));
  } catch (err) {
    throw new CheckpointError(
      `the checkpoint key ${file} is not a private key in PEM: ${(err as Error).message}`,
    );
  }
  if (key.asymmetricKeyType !== 'ed25519') {
    throw new CheckpointError(
      `the checkpoint key ${file} is a ${key.asymmetricKeyType} key; Ed25519 is needed`,
    );
  }
  return key;
}

/** The key that checks signatures: the public half of a private key file, or a public key file. */
export function loadVerifyingKey(file: string): KeyObject {
  let text: Buffer;
  try {
    text = readFileSync(file);
  } catch (err) {
    throw new CheckpointError(`cannot read the checkpoint key ${file}: ${(err as Error).message}`);
  }
  try {
    const key = createPublicKey(text);
    if (key.asymmetricKeyType !== 'ed25519') throw new Error(`a ${key.asymmetricKeyType} key`);
    return key;
  } catch (err) {
    throw new CheckpointError(`the checkpoint key ${file} is not an Ed25519 key: ${(err as Error).message}`);
  }
}

export function signCheckpoint(
  head: { chain: string; seq: number; hash: string; committedAt: number },
  key: KeyObject,
  options: { reason: CheckpointReason; at?: number },
): Checkpoint {
  const body: Omit<Checkpoint, 'sig'> = {
    v: 1,
    chain: head.chain,
    seq: head.seq,
    hash: head.hash,
    committedAt: head.committedAt,
    at: options.at ?? Date.now(),
    reason: options.reason,
    key: publicKeyId(createPublicKey(key)),
  };
  const sig = sign(null, Buffer.from(signedText(body)), key).toString('base64url');
  return { ...body, sig };
}

/** Whether the checkpoint was signed by `key` and not changed since. */
export function checkpointSignedBy(c: Checkpoint, key: KeyObject): boolean {
  if (c.key !== publicKeyId(key)) return false;
  try {
    return verify(null, Buffer.from(signedText(c)), key, Buffer.from(c.sig, 'base64url'));
  } catch {
    return false;
  }
}

function parseLine(line: string): Checkpoint | null {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch {
    return null;
  }
  if (typeof v !== 'object' || v === null) return null;
  const c = v as Record<string, unknown>;
  const ok =
    c.v === 1 &&
    typeof c.chain === 'string' &&
    Number.isSafeInteger(c.seq) &&
    typeof c.hash === 'string' &&
    Number.isSafeInteger(c.committedAt) &&
    Number.isSafeInteger(c.at) &&
    typeof c.reason === 'string' &&
    typeof c.key === 'string' &&
    typeof c.sig === 'string';
  return ok ? (c as unknown as Checkpoint) : null;
}

/** What a checkpoint file holds: the last validly signed checkpoint of each chain, and what was not. */
export interface CheckpointLog {
  latest: Map<string, Checkpoint>;
  lines: number;
  /** Lines that are not checkpoints or whose signature does not verify with the key (1-based). */
  badLines: number[];
}

/**
 * Reads a checkpoint file line by line (it grows by one line per checkpoint). A missing file is an
 * empty log. Lines not signed by `key` are reported, never trusted.
 */
export async function readCheckpoints(file: string, key: KeyObject): Promise<CheckpointLog> {
  const log: CheckpointLog = { latest: new Map(), lines: 0, badLines: [] };
  if (!existsSync(file)) return log;
  const lines = createInterface({
    input: createReadStream(file, 'utf8'),
    crlfDelay: Number.POSITIVE_INFINITY,
  });
  for await (const line of lines) {
    log.lines += 1;
    if (line.trim() === '') continue;
    const c = parseLine(line);
    if (!c || !checkpointSignedBy(c, key)) {
      log.badLines.push(log.lines);
      continue;
    }
    log.latest.set(c.chain, c);
  }
  return log;
}

/** Appends one checkpoint as a line and waits until it is on disk. */
export async function appendCheckpoint(file: string, c: Checkpoint): Promise<void> {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  const handle = await open(file, 'a', 0o600);
  try {
    await handle.write(`${JSON.stringify(c)}\n`);
    await handle.datasync();
  } finally {
    await handle.close();
  }
}
