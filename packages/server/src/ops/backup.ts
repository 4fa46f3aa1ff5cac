/**
 * Backup files: a header line, a manifest line and the compressed store.
 *
 * ```
 * VIGIL-BACKUP 1 <sha256 of the manifest line>\n
 * {"format":1,"vigilVersion":…,"schemaVersion":…,"rowCounts":{…},"payload":{"bytes","sha256",…}}\n
 * <payload: the store file, gzip>
 * ```
 *
 * The header checksums the manifest and the manifest checksums the payload, so any changed or
 * missing byte is found before anything is restored. Both are known before the first byte is
 * written, which lets the running server stream a backup to the CLI.
 */
import { createHash, randomBytes } from 'node:crypto';
import {
  createReadStream,
  createWriteStream,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
} from 'node:fs';
import { open } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { Transform, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { createGunzip, createGzip } from 'node:zlib';
import { DEFAULT_CHAIN, verifyChain } from '../audit/index.js';
import {
  type ChainLink,
  openStore,
  restoreStore,
  type Store,
  type StoreOptions,
  storeExists,
} from '../store/index.js';

export const BACKUP_MAGIC = 'VIGIL-BACKUP';
export const BACKUP_FORMAT = 1;

export interface BackupManifest {
  format: number;
  vigilVersion: string;
  engine: string;
  schemaVersion: number;
  createdAt: string;
  rowCounts: Record<string, number>;
  /** The default audit chain's newest batch when the backup was taken (null when it has none). */
  chainHead: { seq: number; hash: string } | null;
  /** Every audit chain's newest batch (one chain per instance id). */
  chains?: { chain: string; seq: number; hash: string }[];
  payload: { file: string; compression: 'gzip'; bytes: number; sha256: string; uncompressedBytes: number };
}

export class BackupError extends Error {
  override name = 'BackupError';
}

/** The server package's version (`package.json`, two levels above this file in src and dist). */
export function vigilVersion(): string {
  const file = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'package.json');
  try {
    return (JSON.parse(readFileSync(file, 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

/** Hashes and counts what flows through. */
function digest() {
  const hash = createHash('sha256');
  let bytes = 0;
  const stream = new Transform({
    transform(chunk: Buffer, _enc, done) {
      hash.update(chunk);
      bytes += chunk.length;
      done(null, chunk);
    },
  });
  return { stream, result: () => ({ sha256: hash.digest('hex'), bytes }) };
}

/** A prepared backup: the manifest and the compressed store in a scratch directory. */
export interface PreparedBackup {
  manifest: BackupManifest;
  header: string;
  /** Header, manifest and payload, in order, into `out`. */
  writeTo(out: Writable): Promise<void>;
  /** Removes the scratch directory. */
  discard(): void;
}

/**
 * Takes a consistent snapshot of `store` (it stays in use: ingestion goes on) and prepares a
 * backup of it in `scratchParent` (a directory on a disk with room for the store twice).
 */
export async function prepareBackup(store: Store, scratchParent: string): Promise<PreparedBackup> {
  removeStaleScratch(scratchParent);
  const scratch = join(scratchParent, `.vigil-backup-${Date.now()}-${randomBytes(4).toString('hex')}`);
  mkdirSync(scratch, { recursive: true });
  try {
    // Counts, schema and chain head come with the image, read from the copy, not the live store.
    const image = await store.ops.backup({ scratchDir: scratch });
    const payloadFile = join(scratch, 'payload.gz');
    const d = digest();
    try {
      await pipeline(image.read(), createGzip({ level: 3 }), d.stream, createWriteStream(payloadFile));
    } finally {
      image.discard();
    }
    const { sha256, bytes } = d.result();
    const defaultHead = image.chains.find((h) => h.chain === DEFAULT_CHAIN);
    const manifest: BackupManifest = {
      format: BACKUP_FORMAT,
      vigilVersion: vigilVersion(),
      engine: image.engine,
      schemaVersion: image.schemaVersion,
      createdAt: new Date().toISOString(),
      rowCounts: image.rowCounts,
      chainHead: defaultHead ? headOf(defaultHead) : null,
      chains: image.chains.map((h) => ({ chain: h.chain, ...headOf(h) })),
      payload: {
        file: image.name,
        compression: 'gzip',
        bytes,
        sha256,
        uncompressedBytes: image.bytes,
      },
    };
    const manifestLine = `${JSON.stringify(manifest)}\n`;
    const header = `${BACKUP_MAGIC} ${BACKUP_FORMAT} ${createHash('sha256').update(manifestLine).digest('hex')}\n`;
    return {
      manifest,
      header: header + manifestLine,
      async writeTo(out) {
        out.write(header + manifestLine);
        await pipeline(createReadStream(payloadFile), out);
      },
      discard: () => rmSync(scratch, { recursive: true, force: true }),
    };
  } catch (err) {
    rmSync(scratch, { recursive: true, force: true });
    throw err;
  }
}

/** Scratch directories of backups a crash interrupted (older than a day) are removed. */
function removeStaleScratch(parent: string): void {
  if (!existsSync(parent)) return;
  for (const name of readdirSync(parent)) {
    if (!name.startsWith('.vigil-backup-')) continue;
    const started = Number(name.split('-')[3]);
    if (Number.isFinite(started) && Date.now() - started > 86_400_000)
      rmSync(join(parent, name), { recursive: true, force: true });
  }
}

/** Writes a backup of `store` to `file` (through `file.partial`, renamed once complete and verified). */
export async function writeBackup(store: Store, file: string): Promise<BackupManifest> {
  const target = resolve(file);
  const partial = `${target}.partial`;
  const prepared = await prepareBackup(store, dirname(target));
  try {
    await prepared.writeTo(createWriteStream(partial));
    await readBackup(partial);
    renameSync(partial, target);
    return prepared.manifest;
  } catch (err) {
    rmSync(partial, { force: true });
    throw err;
  } finally {
    prepared.discard();
  }
}

/** Reads up to the end of the manifest line. */
async function readHead(
  file: string,
): Promise<{ header: string; manifestLine: string; payloadOffset: number }> {
  const fh = await open(file, 'r').catch((err: NodeJS.ErrnoException) => {
    throw new BackupError(`cannot read ${file}: ${err.code === 'ENOENT' ? 'no such file' : err.message}`);
  });
  try {
    const buf = Buffer.alloc(1024 * 1024);
    const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
    const text = buf.subarray(0, bytesRead);
    const first = text.indexOf(10);
    const second = first < 0 ? -1 : text.indexOf(10, first + 1);
    if (!text.subarray(0, BACKUP_MAGIC.length).equals(Buffer.from(BACKUP_MAGIC)))
      throw new BackupError(`${file} is not a Vigil backup (it does not start with '${BACKUP_MAGIC}')`);
    if (first < 0 || second < 0) throw new BackupError(`${file} is truncated: the manifest is incomplete`);
    return {
      header: text.subarray(0, first).toString('utf8'),
      manifestLine: text.subarray(first + 1, second + 1).toString('utf8'),
      payloadOffset: second + 1,
    };
  } finally {
    await fh.close();
  }
}

/**
 * Checks a backup file end to end (manifest checksum, payload length and checksum) without
 * changing anything; returns its manifest or throws a `BackupError` that says what is wrong.
 */
export async function readBackup(file: string): Promise<BackupManifest> {
  const { header, manifestLine, payloadOffset } = await readHead(file);
  const [, format, expected] = header.split(' ');
  if (Number(format) !== BACKUP_FORMAT)
    throw new BackupError(`${file} is backup format ${format}; this Vigil reads format ${BACKUP_FORMAT}`);
  const actual = createHash('sha256').update(manifestLine).digest('hex');
  if (actual !== expected)
    throw new BackupError(
      `${file} is damaged: the manifest does not match its checksum (altered or corrupt)`,
    );
  const manifest = JSON.parse(manifestLine) as BackupManifest;
  const size = statSync(file).size - payloadOffset;
  if (size < manifest.payload.bytes)
    throw new BackupError(
      `${file} is truncated: the store payload has ${size} of ${manifest.payload.bytes} bytes (an interrupted copy?)`,
    );
  if (size > manifest.payload.bytes)
    throw new BackupError(`${file} is damaged: ${size - manifest.payload.bytes} bytes follow the payload`);
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file, { start: payloadOffset })) hash.update(chunk as Buffer);
  if (hash.digest('hex') !== manifest.payload.sha256)
    throw new BackupError(
      `${file} is damaged: the store payload does not match its checksum (altered or corrupt)`,
    );
  return manifest;
}

export interface RestoreResult {
  manifest: BackupManifest;
  dataDir: string;
  /** Where the data that was in the directory before was moved (null when it was empty). */
  previous: string | null;
}

const headOf = (h: ChainLink) => ({ seq: h.seq, hash: h.hash });

const isEmptyDir = (dir: string) => !existsSync(dir) || readdirSync(dir).length === 0;

/**
 * Restores a backup into `dataDir`: verifies the file first, refuses a non-empty directory
 * unless `force`, unpacks and checks the store (row counts, audit chain) beside the data, and
 * only then moves the previous data aside (`<dataDir>.previous-<time>`) and the restored store in.
 * On any failure the data directory is as it was.
 */
export async function restoreBackup(
  file: string,
  store: StoreOptions,
  { force = false, latestSchema }: { force?: boolean; latestSchema: number },
): Promise<RestoreResult> {
  const manifest = await readBackup(file);
  if (manifest.schemaVersion > latestSchema)
    throw new BackupError(
      `the backup is at schema version ${manifest.schemaVersion} but this Vigil knows only up to ${latestSchema}; restore it with Vigil ${manifest.vigilVersion} or newer`,
    );
  const target = resolve(store.dataDir);
  if (!isEmptyDir(target) && !force)
    throw new BackupError(
      `${target} already holds data; restoring would replace it. Pass --force to replace it (the current data is kept aside as ${basename(target)}.previous-<time>)`,
    );
  if (existsSync(target) && !statSync(target).isDirectory())
    throw new BackupError(`${target} is not a directory`);

  // A running server holds the store locked: never swap a store from under it.
  if (storeExists({ ...store, dataDir: target })) {
    try {
      const current = await openStore({ ...store, dataDir: target, migrate: false });
      await current.close();
    } catch (err) {
      if ((err as { code?: string }).code === 'locked')
        throw new BackupError(`${target} is in use by a running Vigil server; stop it before restoring`);
      // A damaged current store is what --force is for: it is replaced.
    }
  }

  // Staged inside the data directory: the same file system, so the swap is renames even when the
  // directory is a mount point (a container volume) that cannot itself be renamed.
  const created = !existsSync(target);
  mkdirSync(target, { recursive: true });
  const stamp = new Date()
    .toISOString()
    .replaceAll(':', '')
    .replace(/\.\d+Z$/, 'Z');
  const staging = join(target, `.vigil-restore-${stamp}-${randomBytes(3).toString('hex')}`);
  mkdirSync(staging);
  const undoStaging = () => {
    rmSync(staging, { recursive: true, force: true });
    if (created) rmSync(target, { recursive: true, force: true });
  };
  try {
    const { payloadOffset } = await readHead(file);
    if (manifest.engine !== (store.engine ?? 'duckdb'))
      throw new BackupError(
        `the backup was taken from a ${manifest.engine} store; this configuration keeps data in ${store.engine ?? 'duckdb'}`,
      );
    const image = createGunzip();
    await Promise.all([
      pipeline(createReadStream(file, { start: payloadOffset }), image),
      restoreStore({ ...store, dataDir: staging }, image),
    ]);
    // The chain check sorts each page of batches: it gets the memory the server would have.
    const restored = await openStore({ ...store, dataDir: staging, migrate: false });
    try {
      const counts = await restored.ops.rowCounts();
      for (const [table, n] of Object.entries(manifest.rowCounts)) {
        if (counts[table] !== n)
          throw new BackupError(
            `the restored store does not match the manifest: table ${table} has ${counts[table] ?? 'no'} rows, expected ${n}`,
          );
      }
      const chain = await verifyChain(restored.events);
      if (!chain.ok)
        throw new BackupError(
          `the restored audit chain does not verify at batch ${chain.firstBad?.seq}: ${chain.firstBad?.reason}`,
        );
    } finally {
      await restored.close();
    }
  } catch (err) {
    undoStaging();
    if (err instanceof BackupError) throw err;
    throw new BackupError(`the backup could not be unpacked: ${(err as Error).message}`);
  }

  // Swap: the current data aside, the restored store in; undone if a step fails.
  const current = readdirSync(target).filter((name) => join(target, name) !== staging);
  let previous: string | null = null;
  const moved: [string, string][] = [];
  const move = (from: string, to: string) => {
    renameSync(from, to);
    moved.push([from, to]);
  };
  try {
    if (current.length > 0) {
      previous = `${target}.previous-${stamp}`;
      try {
        mkdirSync(previous);
        for (const name of current) move(join(target, name), join(previous, name));
      } catch (err) {
        // Another file system beside a mount point: keep it aside inside the data directory.
        if ((err as NodeJS.ErrnoException).code !== 'EXDEV') throw err;
        for (const [from, to] of moved.splice(0).reverse()) renameSync(to, from);
        rmSync(previous, { recursive: true, force: true });
        previous = join(target, `.previous-${stamp}`);
        mkdirSync(previous);
        for (const name of current) move(join(target, name), join(previous, name));
      }
    }
    for (const name of readdirSync(staging)) move(join(staging, name), join(target, name));
    rmSync(staging, { recursive: true, force: true });
  } catch (err) {
    for (const [from, to] of moved.reverse()) renameSync(to, from);
    if (previous && existsSync(previous) && readdirSync(previous).length === 0)
      rmSync(previous, { recursive: true });
    undoStaging();
    throw new BackupError(`could not move the restored store into ${target}: ${(err as Error).message}`);
  }
  return { manifest, dataDir: target, previous };
}
