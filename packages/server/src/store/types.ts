import type { EventRow, Role, TypedField } from '../model/index.js';

/**
 * The store behind one narrow interface. Callers never see SQL: each engine (DuckDB now,
 * ClickHouse for events + PostgreSQL for metadata later) implements these parts.
 */
export interface Store {
  readonly engine: string;
  readonly events: EventStore;
  readonly meta: MetadataStore;
  readonly migrations: Migrator;
  /** Bytes the store occupies on disk. */
  sizeBytes(): Promise<number>;
  close(): Promise<void>;
}

/** One committed batch of the audit chain. */
export interface ChainLink {
  seq: number;
  prevHash: string;
  hash: string;
  rowCount: number;
  committedAt: number;
}

export interface ScrubCount {
  project: string;
  reason: string;
  count: number;
}

export interface AppendBatch {
  link: ChainLink;
  /** Rows in chain order; their position in this array is their position in the batch. */
  rows: readonly EventRow[];
  scrubbed: readonly ScrubCount[];
}

export interface PropEquals {
  field: TypedField | { prop: string };
  value: string;
}

export interface EventQuery {
  project: string;
  types?: readonly string[];
  /** Epoch ms, inclusive. */
  from?: number;
  /** Epoch ms, exclusive. */
  to?: number;
  where?: readonly PropEquals[];
  /** Keyset position: only events strictly older than this (ts, id) pair. */
  before?: { ts: number; id: string };
  limit: number;
}

export interface EventStore {
  /** The newest link of the audit chain, or null for an empty chain. */
  chainHead(): Promise<ChainLink | null>;
  /** The subset of `ids` (lowercase UUIDs) already stored, in any project. */
  findExistingIds(ids: readonly string[]): Promise<Set<string>>;
  /** The subset of `signalIds` that already have a decision.outcome in the project. */
  findOutcomeSignals(project: string, signalIds: readonly string[]): Promise<Set<string>>;
  /** Appends one batch atomically: its rows, its chain link, its outcome index, its scrub counts. */
  appendBatch(batch: AppendBatch): Promise<void>;
  /** Newest first by (ts, id). */
  listEvents(query: EventQuery): Promise<EventRow[]>;
  countEvents(project?: string): Promise<number>;
  scrubCounts(project?: string): Promise<ScrubCount[]>;
  /** Every batch in chain order with its rows as stored, for `vigil verify`. */
  readChain(): AsyncIterable<{ link: ChainLink; rows: EventRow[] }>;
}

export interface ProjectRecord {
  id: string;
  name: string;
  /** Reject event types other than the built-in ones. */
  strictTypes: boolean;
  createdAt: number;
}

export interface KeyRecord {
  id: string;
  project: string;
  role: Role;
  name: string | null;
  /** `scrypt$…` string; the secret itself is never stored. */
  secretHash: string;
  createdAt: number;
  revokedAt: number | null;
}

export interface UserRecord {
  id: string;
  name: string;
  role: Role;
  passwordHash: string;
  createdAt: number;
}

export interface SessionRecord {
  /** SHA-256 of the session token. */
  id: string;
  userId: string;
  createdAt: number;
  expiresAt: number;
}

export interface MetadataStore {
  getProject(id: string): Promise<ProjectRecord | null>;
  listProjects(): Promise<ProjectRecord[]>;
  /** Inserts the project unless one with the same id exists; returns the stored record. */
  ensureProject(project: ProjectRecord): Promise<ProjectRecord>;
  setProjectStrict(id: string, strictTypes: boolean): Promise<void>;

  insertKey(key: KeyRecord): Promise<void>;
  getKey(id: string): Promise<KeyRecord | null>;
  /** Keys of one project, or of every project when `project` is null. */
  listKeys(project: string | null): Promise<KeyRecord[]>;
  /** Marks the key revoked; false when no such live key exists. */
  revokeKey(id: string, at: number): Promise<boolean>;

  insertUser(user: UserRecord): Promise<void>;
  getUserByName(name: string): Promise<UserRecord | null>;
  getUser(id: string): Promise<UserRecord | null>;
  countUsers(): Promise<number>;

  insertSession(session: SessionRecord): Promise<void>;
  getSession(id: string): Promise<SessionRecord | null>;
  deleteSession(id: string): Promise<void>;
}

export interface MigrationInfo {
  version: number;
  name: string;
  appliedAt: number | null;
}

export interface MigrationStatus {
  current: number;
  latest: number;
  migrations: MigrationInfo[];
}

export interface Migrator {
  status(): Promise<MigrationStatus>;
  /** Applies pending migrations up to `to` (default: latest). Returns the versions applied. */
  up(to?: number): Promise<number[]>;
  /** Reverts applied migrations down to `to` (default: one step). Returns the versions reverted. */
  down(to?: number): Promise<number[]>;
}

export class StoreError extends Error {
  override name = 'StoreError';
  constructor(
    readonly code: 'locked' | 'schema_mismatch' | 'corrupt' | 'invalid_migration_target',
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
