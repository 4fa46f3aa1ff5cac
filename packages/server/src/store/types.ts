import type { Readable } from 'node:stream';
import type { EventColumns, EventRow, MetricSample, PersonRole, Role, TypedField } from '../model/index.js';
import type { Resolution, RollupFamily, RollupField, RollupRow } from '../model/rollup.js';

/*
 * Semantics every engine keeps (the suite in ./contract checks them on every engine):
 *
 * - Idempotency is part of the append: `appendBatch` leaves out rows whose id is stored and
 *   outcomes whose signal has one inside its own atomic write, and says what it left out; the
 *   chain link is sealed over the rows kept. Measured on DuckDB: the duplicate check is one
 *   semi-join over the batch's id ranges, the same inside the append as before it
 *   (bench/store.ts); removing duplicates where events are read instead made reads 12-70x slower
 *   over 1 M events, so duplicates are never stored. An engine without transactions checks and
 *   writes in that order per writer; two writers storing one id in the same instant is the one
 *   duplicate it cannot rule out.
 * - The health sample: the `size` events of the window of lowest rank, `sampleRank` of
 *   model/sampling.ts (the sample key stored with each event at append, the random tail of its
 *   id, XOR a mask of the seed; ties by id), so every engine picks the same events and a test can
 *   recompute the sample from the ids alone. Measured over 1 M events (one-off query timings in
 *   the issue 15 note): recomputing SHA-256 of `seed:id` on every read is 12x DuckDB's own
 *   hash(id, seed) (3974 vs 335 ms), parsing the key out of the id text on every read 10x
 *   (~1000-1600 ms vs 20-130 ms), while the stored key costs what hash() does (246 ms); a
 *   SHA-256 of each id at append would cost ingestion 2-7 us per event, the key parsed from the
 *   id well under one.
 * - Order. There is no order across writers. Each writer (a server instance, named by its
 *   instance id, `DEFAULT_CHAIN` unless configured) keeps its own audit chain: its batches are
 *   numbered 1, 2, … in its own sequence, each link hashing the one before it in that chain, and
 *   the rollup watermark is kept per chain (the maintainer of an instance folds its own chain).
 *   Readers never assume more order than "a chain's batches in its order"; `vigil verify` checks
 *   every chain. How an engine ties rows to their batch is its own (DuckDB: a store-wide batch
 *   key in the events table, the chain and its sequence number in the batches table).
 * - Rollup rows are deltas: several writes of one key are merged where they are read (counts and
 *   sums added, min/max taken, sketches merged), so writers never coordinate on a row. Merging is
 *   a pure function of the model (`mergeRollupRows` in model/rollup.ts), not a callback: an engine
 *   that merges in the background (ClickHouse) follows the same definition.
 */

/**
 * The analytical half of the store: events and their audit chain, rollups, metric samples, and
 * the figures telemetry health reads off events. Append-heavy, never updated in place (save the
 * cost Vigil derived for an LLM request, which `vigil reprice` recomputes); in a scale-out
 * deployment ClickHouse keeps it.
 */
export interface AnalyticalStore {
  readonly events: EventStore;
  readonly rollups: RollupStore;
  readonly samples: SampleStore;
  readonly health: HealthStore;
  /** The half's schema (an engine keeping both halves in one database has one migrator). */
  readonly migrations: Migrator;
  close(): Promise<void>;
}

/**
 * The metadata half: small mutable records (projects, keys, users, sessions, alert rules, state,
 * silences and receivers, collectors and their runs, deployments, integrity snapshots). In a
 * scale-out deployment PostgreSQL keeps it.
 */
export interface MetadataStore {
  readonly meta: AccountStore;
  readonly snapshots: SnapshotStore;
  readonly alerts: AlertStore;
  readonly collectors: CollectorStore;
  readonly leases: LeaseStore;
  readonly notices: NoticeStore;
  readonly migrations: Migrator;
  close(): Promise<void>;
}

/**
 * The store behind one narrow interface: both halves, and the operations on the whole store.
 * Callers never see SQL: each engine (DuckDB keeps both halves in one file; ClickHouse the
 * analytical half with PostgreSQL the metadata half) implements these parts.
 */
export interface Store extends AnalyticalStore, MetadataStore {
  readonly engine: string;
  /**
   * Which halves other processes may write at the same time (the instances of a cluster: the
   * metadata on PostgreSQL, the analytical half on ClickHouse). What a process wrote to a shared
   * half is all it knows of by itself: it must read again what it caches, or learn of the others'
   * writes through `notices`. Neither for a store one process opens (DuckDB).
   */
  readonly shared: { readonly analytical: boolean; readonly metadata: boolean };
  /**
   * The schema of each engine the store uses, with its own migrator and versions: one for a store
   * on one engine (then the same as `migrations`), one per half when the halves are on different
   * engines (then `migrations` is the analytical half's). `vigil migrate` and `vigil check` go
   * through these.
   */
  readonly schemas: readonly StoreSchema[];
  /** Whole-store operations: backup images, row counts, event export. */
  readonly ops: OpsStore;
  /** Bytes the store occupies on disk (0 when it keeps nothing locally). */
  sizeBytes(): Promise<number>;
  close(): Promise<void>;
}

/** One engine's schema within a store. */
export interface StoreSchema {
  engine: string;
  /** What the engine keeps of the store. */
  holds: 'both halves' | 'analytical half' | 'metadata half';
  migrations: Migrator;
}

/** One committed batch of an audit chain. */
export interface ChainLink {
  /** The chain (one per writer: its instance id) the link belongs to. */
  chain: string;
  /** Its place in that chain: 1, 2, … */
  seq: number;
  prevHash: string;
  hash: string;
  rowCount: number;
  committedAt: number;
  /** Set on a link that records a deletion (retention) instead of a batch of events. */
  expiry?: ChainExpiry;
}

/**
 * A deletion of events, recorded as a link of the chain: what each batch it touched keeps. Batches
 * left with no events are listed as ranges; the others with their remaining count and the hash of
 * what remains (`audit/expiry.ts`).
 */
export interface ChainExpiry {
  /** The project whose events were deleted (null: several, e.g. marks adopted from an older release). */
  project: string | null;
  /** Events older than this (epoch ms) were deleted (null when not one cut-off). */
  before: number | null;
  emptied: { chain: string; from: number; to: number }[];
  kept: { chain: string; seq: number; remaining: number; hash: string }[];
}

/** What one batch keeps after an expiry; `hash` of the remaining rows (null when none remain). */
export interface ExpiredBatch {
  chain: string;
  seq: number;
  remaining: number;
  hash: string | null;
}

/** How the chain's writer records an expiry: the engine deletes, then asks for the link. */
export interface ExpiryRecorder {
  /** The hash of what a batch keeps, given its remaining rows in chain order. */
  remainingHash(chain: string, seq: number, rows: readonly EventRow[]): string;
  /** The link recording the expiry (in the recorder's chain), appended by the engine in the same transaction. */
  link(scope: { project: string | null; before: number | null }, batches: readonly ExpiredBatch[]): ChainLink;
}

/** Whole batches of the chain and their rows as stored, as columns (`EventStore.readChain`). */
export interface ChainPage {
  /** The rows of the page's batches. */
  columns: EventColumns;
  /** The batches in chain order: rows `from`..`to` (exclusive) of `columns` are each one's, in
   * order; `expired` batches lost rows to retention (marks of releases before chained expiries). */
  batches: { link: ChainLink; from: number; to: number; expired: boolean }[];
}

export interface ScrubCount {
  project: string;
  reason: string;
  count: number;
}

export interface AppendBatch {
  /** Candidate rows in chain order, ids unique among them. */
  rows: readonly EventRow[];
  /**
   * Called once, inside the append, with the rows the store keeps (in order; their position is
   * their position in the batch): their chain link and scrub counts. Not called when none is kept.
   */
  seal(kept: readonly EventRow[]): { link: ChainLink; scrubbed: readonly ScrubCount[] };
}

/** What an append stored and what it left out (idempotency is part of the append). */
export interface Appended {
  /** The link appended; null when no row was kept (nothing was written). */
  link: ChainLink | null;
  /** Ids left out because an event with that id is stored (in any project). */
  duplicates: ReadonlySet<string>;
  /** Ids of decision.outcome rows left out because their signal has an outcome in the project. */
  duplicateOutcomes: ReadonlySet<string>;
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
  /** The newest link of the chain, or null for an empty (or unknown) chain. */
  chainHead(chain: string): Promise<ChainLink | null>;
  /** The link of the chain's batch `seq`, or null when the chain holds no such batch. */
  chainLink(chain: string, seq: number): Promise<ChainLink | null>;
  /** The head of every chain the store holds, by chain name. */
  chains(): Promise<ChainLink[]>;
  /** The subset of `ids` (lowercase UUIDs) already stored, in any project. */
  findExistingIds(ids: readonly string[]): Promise<Set<string>>;
  /**
   * Appends one batch atomically: leaves out rows whose id is stored and outcomes whose signal
   * has one, then writes the kept rows, their chain link (in the link's chain), the outcome index
   * and the scrub counts.
   */
  appendBatch(batch: AppendBatch): Promise<Appended>;
  /**
   * Work an engine may do ahead for rows it will be given to append (the same array, as
   * `AppendBatch.rows`), while the append before them commits. Results are the same without it:
   * an engine may do nothing here.
   */
  prepareAppend(rows: readonly EventRow[]): void;
  /**
   * Removes rows the chain's writer stored under a batch after `headSeq`: debris of an append
   * that failed and so never joined the chain (an engine may keep part of a failed write, e.g.
   * when the disk fills during a checkpoint). Only that writer calls it. Returns the event rows
   * removed.
   */
  discardUnchained(chain: string, headSeq: number): Promise<number>;
  /** Newest first by (ts, id). */
  listEvents(query: EventQuery): Promise<EventRow[]>;
  /** An exact aggregate over raw events (for questions the rollups cannot answer). */
  aggregateRaw(query: RawAggregateQuery): Promise<RawAggregateRow[]>;
  countEvents(project?: string): Promise<number>;
  scrubCounts(project?: string): Promise<ScrubCount[]>;
  /** The chain's batches after `afterSeq`, oldest first, up to about `maxRows` rows (whole batches). */
  readCommitted(
    chain: string,
    afterSeq: number,
    maxRows: number,
  ): Promise<{ batches: { seq: number; rows: EventRow[] }[]; throughSeq: number }>;
  /** Every batch of every chain with its rows as stored, for `vigil verify`: chain by chain (by
   * name), each in its order, a page of whole batches at a time with their rows as columns. */
  readChain(): AsyncIterable<ChainPage>;
  /** For each chain, its newest batch holding an event of the project older than `before` (chains
   * without one are left out). */
  lastBatchesBefore(project: string, before: number): Promise<Map<string, number>>;
  /**
   * Deletes the project's events older than `before` (in batches of any chain) and, in the same
   * transaction, appends the link `recorder` makes of what each touched batch keeps (nothing is
   * appended when nothing was deleted). Only the writer of the recorder's chain may call it (the
   * link takes that chain's next sequence number).
   */
  expire(
    project: string,
    before: number,
    recorder: ExpiryRecorder,
  ): Promise<{ deleted: number; batches: number; link: ChainLink | null }>;
  /**
   * Batches marked expired by releases that did not record expiries in the chain, recorded now as
   * one link (`recorder`), their marks removed in the same transaction; null when there are none.
   */
  adoptExpiredMarks(recorder: ExpiryRecorder): Promise<ChainLink | null>;
  /** The links that record expiries, in every chain, each chain's oldest first (`vigil verify`
   * needs them before the batches they touch). */
  chainExpiries(): Promise<ChainLink[]>;
}

/** Events of one project refused at ingestion on one UTC day (by receive time). */
export interface RejectionCount {
  project: string;
  /** UTC day, `YYYY-MM-DD`. */
  day: string;
  count: number;
}

/** A window of event time: epoch ms, `from` inclusive, `to` exclusive. */
export interface EventWindow {
  project: string;
  from: number;
  to: number;
}

export interface TypeStats {
  type: string;
  count: number;
  /** Events without a version tag. */
  versionMissing: number;
  /** Events whose version tag is not among the known ones (0 when no versions are known). */
  versionUnknown: number;
  /** Newest event time of the type in the window (epoch ms). */
  lastTs: number;
}

/** One stored integrity snapshot: key columns plus the snapshot as JSON text. */
export interface SnapshotRecord {
  project: string;
  /** UTC day, `YYYY-MM-DD`. */
  date: string;
  /** 1 for the first snapshot of a day; a re-run adds the next revision and keeps the old ones. */
  revision: number;
  createdAt: number;
  document: string;
}

/** The figures telemetry health reads off stored events (and the rejection counters); every figure
 * is computed by the engine. */
export interface HealthStore {
  /** Adds to the per-project, per-day rejection counters (durably, before the ack). */
  addRejections(counts: readonly RejectionCount[]): Promise<void>;
  /** Rejections of the project on each day in [fromDay, toDay] that has any. */
  rejections(project: string, fromDay: string, toDay: string): Promise<RejectionCount[]>;
  /** Per-type counts, version tags and newest time of the events whose `ts` is in the window. */
  typeStats(window: EventWindow, knownVersions: readonly string[]): Promise<TypeStats[]>;
  /** Events stored with `received_at` in the window (acceptance is judged by receive time). */
  countReceived(window: EventWindow): Promise<number>;
  /** Event counts per UTC day (by `ts`) for the given days; days without events are 0. */
  dailyTotals(project: string, days: readonly string[]): Promise<Map<string, number>>;
  /**
   * `size` events of the window chosen by hashing each id with `seed`: the same events and
   * the same seed always give the same sample, in the same order. `population` (the window's
   * event count, when known) only makes it faster.
   */
  sample(window: EventWindow, seed: string, size: number, population?: number): Promise<EventRow[]>;
  /** The subset of `signalIds` with a decision.recommendation in the project at or before `before`. */
  recommendedSignals(project: string, signalIds: readonly string[], before: number): Promise<Set<string>>;
  /** Time of the oldest stored event of the project, or null when it has none. */
  firstEventTs(project: string): Promise<number | null>;
}

/** A named lease on scheduled work: who holds it and until when. */
export interface Lease {
  name: string;
  /** The instance holding it (an id it chose at start). */
  holder: string;
  /** Epoch ms; the lease is free from this moment on. */
  expiresAt: number;
  /**
   * Grows by one each time the lease is taken anew (by another holder, or by the same one after it
   * expired or was released); the same while its holder renews it. Work stamped with an older
   * term than the lease's is a former holder's.
   */
  term: number;
}

/**
 * Leases for work that runs once per cluster (alert evaluation, collectors, snapshots,
 * retention): one holder at a time, taken over when its holder stops renewing. Times are the
 * callers' clocks (`now`, epoch ms): instances keep them in sync (NTP) to well within a lease's
 * length. Every call is atomic: of several instances taking a free lease at once, one gets it.
 */
export interface LeaseStore {
  /**
   * Takes the lease for `holder` until `now + ttlMs` when nobody holds it, its expiry is at or
   * before `now`, or `holder` holds it already (then it is renewed). Null when another holds it.
   */
  take(request: { name: string; holder: string; now: number; ttlMs: number }): Promise<Lease | null>;
  /** Extends the lease `holder` holds (unexpired at `now`) to `now + ttlMs`; null when it does not. */
  renew(request: { name: string; holder: string; now: number; ttlMs: number }): Promise<Lease | null>;
  /** Frees the lease at once when `holder` holds it (anyone may take it next); false otherwise. */
  release(request: { name: string; holder: string }): Promise<boolean>;
  /** The lease as stored (expired or not), or null when it was never taken. */
  get(name: string): Promise<Lease | null>;
}

/** A notice of committed events: from which instance, of which projects (null: any, too many to name). */
export interface CommitNotice {
  from: string;
  /** Projects with newly committed events; null: too many to name (any project). */
  projects: readonly string[] | null;
  /**
   * Rollup buckets the sender wrote or deleted, so the others drop what they cached of them; null:
   * too many to name (forget every cached bucket). Absent: none.
   */
  rollups?: readonly RollupSpan[] | null;
}

/** The buckets in [from, to) of one project's rollup family at one resolution. */
export interface RollupSpan {
  project: string;
  family: string;
  res: string;
  from: number;
  to: number;
}

/**
 * Notices between the instances sharing the store, for what each must learn at once (the live
 * view's commits). Best effort and never stored: a notice published while an instance is away is
 * not replayed to it. An engine keeping one process per store (DuckDB) delivers within the process.
 */
export interface NoticeStore {
  /** Delivers the notice to every subscriber of the store, this instance's included. */
  publish(notice: CommitNotice): Promise<void>;
  /** Calls `listener` with every notice published from now on; resolves with the way to stop. */
  subscribe(listener: (notice: CommitNotice) => void): Promise<() => Promise<void>>;
}

/** Integrity snapshots: one immutable record per project, day and revision. */
export interface SnapshotStore {
  /** Stores a snapshot as the next revision of its day; returns the record as stored. */
  append(snapshot: Omit<SnapshotRecord, 'revision'>): Promise<SnapshotRecord>;
  /** Snapshots with `date` in [fromDay, toDay], oldest day first; the newest revision of each day
   * unless `allRevisions`. */
  list(
    project: string,
    fromDay: string,
    toDay: string,
    options?: { allRevisions?: boolean },
  ): Promise<SnapshotRecord[]>;
}

export interface ProjectRecord {
  id: string;
  name: string;
  /** Reject event types other than the built-in ones. */
  strictTypes: boolean;
  createdAt: number;
  /** Days to keep each kind of data; null means the server's default. */
  retention: RetentionOverrides;
}

export interface RetentionOverrides {
  rawDays: number | null;
  rollupDays: number | null;
  dailyRollupDays: number | null;
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
  /** Server-wide role (every project); null for a person with roles per project only. */
  role: PersonRole | null;
  /** `scrypt$…`; empty for a person who signs in only through the identity provider. */
  passwordHash: string;
  createdAt: number;
}

/** A person's role in one project. */
export interface ProjectRoleRecord {
  project: string;
  role: PersonRole;
}

/** A person as the identity provider knows them: `issuer` + `subject` find the user. */
export interface IdentityRecord {
  issuer: string;
  subject: string;
  userId: string;
  email: string | null;
}

export type AccountEventKind =
  | 'sign_in'
  | 'sign_in_refused'
  | 'user_created'
  | 'role_change'
  | 'password_change'
  | 'password_reset'
  | 'sessions_ended';

/** One recorded sign-in or account change: who (`user`), by whom (`actor`), when, from where. */
export interface AccountEventRecord {
  at: number;
  kind: AccountEventKind;
  user: string;
  actor: string;
  /** The client address of the request. */
  address: string | null;
  detail: string | null;
}

export interface SessionRecord {
  /** SHA-256 of the session token. */
  id: string;
  userId: string;
  createdAt: number;
  expiresAt: number;
}

/** Projects, API keys, dashboard users and their sessions. */
export interface AccountStore {
  getProject(id: string): Promise<ProjectRecord | null>;
  listProjects(): Promise<ProjectRecord[]>;
  /** Inserts the project unless one with the same id exists; returns the stored record. */
  ensureProject(project: Omit<ProjectRecord, 'retention'>): Promise<ProjectRecord>;
  updateProject(id: string, patch: { strictTypes?: boolean; retention?: RetentionOverrides }): Promise<void>;

  insertKey(key: KeyRecord): Promise<void>;
  getKey(id: string): Promise<KeyRecord | null>;
  /** Keys of one project, or of every project when `project` is null. */
  listKeys(project: string | null): Promise<KeyRecord[]>;
  /** Marks the key revoked; false when no such live key exists. */
  revokeKey(id: string, at: number): Promise<boolean>;

  insertUser(user: UserRecord): Promise<void>;
  getUserByName(name: string): Promise<UserRecord | null>;
  getUser(id: string): Promise<UserRecord | null>;
  /** Every dashboard user, oldest first. */
  listUsers(): Promise<UserRecord[]>;
  countUsers(): Promise<number>;

  /** The person's roles per project, by project id. */
  userProjectRoles(userId: string): Promise<ProjectRoleRecord[]>;
  /** Replaces the person's server-wide role and every role per project, atomically. */
  setUserRoles(
    userId: string,
    roles: { role: PersonRole | null; projects: readonly ProjectRoleRecord[] },
  ): Promise<void>;
  setUserPassword(userId: string, passwordHash: string): Promise<void>;
  getIdentity(issuer: string, subject: string): Promise<IdentityRecord | null>;
  /** Every identity-provider link, to tell how each person signs in. */
  listIdentities(): Promise<IdentityRecord[]>;
  /** Creates the user and their identity together (a first sign-in through the provider). */
  insertUserWithIdentity(user: UserRecord, identity: IdentityRecord): Promise<void>;
  /** The email the provider gave at the latest sign-in (it may change there). */
  setIdentityEmail(issuer: string, subject: string, email: string | null): Promise<void>;
  appendAccountEvent(event: AccountEventRecord): Promise<void>;
  /** Newest first; only events about `user` when given. */
  accountEvents(query: { limit: number; user?: string }): Promise<AccountEventRecord[]>;
  /** The newest sign-in of each person who has signed in, by user name. */
  lastSignIns(): Promise<Map<string, number>>;

  insertSession(session: SessionRecord): Promise<void>;
  getSession(id: string): Promise<SessionRecord | null>;
  deleteSession(id: string): Promise<void>;
  /** Ends every session of the user; returns how many there were. */
  deleteUserSessions(userId: string): Promise<number>;

  /** The project's own LLM price list as JSON text (checked by the pricing layer), or null. */
  llmPrices(project: string): Promise<string | null>;
  /** Replaces the project's own LLM price list. */
  putLlmPrices(project: string, document: string, at: number): Promise<void>;
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
    /**
     * `unavailable`: the engine cannot serve until it is reopened (e.g. the disk filled up).
     * `out_of_memory`: one operation needed more memory than the store's limit allows; the store
     * stays usable and the message says which limit to raise.
     * `unreachable`: the engine's server could not be used at open (a bad URL, no server there,
     * credentials or database refused); the message says which and what to check.
     * `unsupported`: the operation is not one this store's engines offer (the message names the
     * tool that does it, e.g. pg_dump for a backup of PostgreSQL).
     */
    readonly code:
      | 'locked'
      | 'unreachable'
      | 'unsupported'
      | 'schema_mismatch'
      | 'corrupt'
      | 'invalid_migration_target'
      | 'unavailable'
      | 'out_of_memory',
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** Bucket ranges of one resolution, [from, to) in epoch ms. */
export interface RollupTile {
  res: Resolution;
  from: number;
  to: number;
}

export interface RollupQuery {
  project: string;
  family: RollupFamily;
  grp: string;
  /** Only these dim values; all when absent. */
  dims?: readonly string[];
  tiles: readonly RollupTile[];
  /** Counters and field statistics only (no sketches), summed by the engine per dim, or per
   * dim and bucket: far fewer rows for questions that need no percentiles. */
  scalarOnly?: 'by_dim' | 'by_bucket';
  /** With `by_dim`: only the `limit` dims with the largest sum of these fields. */
  top?: { fields: readonly RollupField[]; limit: number };
}

/** Several groups of one family read together (one scan of the rollup tables instead of one each). */
export interface RollupGroup {
  grp: string;
  /** Only these dim values; all when absent. */
  dims?: readonly string[];
}

export interface WindowSumQuery {
  project: string;
  family: RollupFamily;
  groups: readonly RollupGroup[];
  /** Each window as tiles that do not overlap one another; every group is summed over each. */
  windows: readonly (readonly RollupTile[])[];
}

export interface GroupsQuery {
  project: string;
  family: RollupFamily;
  groups: readonly RollupGroup[];
  tiles: readonly RollupTile[];
  /** Only these fields (with their sketches); all of the family's when absent. */
  fields?: readonly RollupField[];
}

export interface SignalDims {
  project: string;
  signal_id: string;
  recommendation_type: string;
  explanation_version: string;
}

/** Every event of the batches up to `seq` is folded, and the first `rows` rows of batch seq + 1. */
/** How far a chain's batches are folded into the stored rollups: through batch `seq`, and `rows`
 * rows of the batch after it. */
export interface RollupWatermark {
  chain: string;
  seq: number;
  rows: number;
}

export interface RollupStore {
  /** How far the stored rollups reach in the chain (seq 0, rows 0 when nothing is folded). */
  watermark(chain: string): Promise<RollupWatermark>;
  /** Appends delta rows, the signals first seen, and moves the watermark's chain to it, atomically. */
  write(
    rows: readonly RollupRow[],
    signals: readonly SignalDims[],
    watermark: RollupWatermark,
  ): Promise<void>;
  /** Every stored row (deltas not yet merged included) matching the query. */
  read(query: RollupQuery): Promise<RollupRow[]>;
  /**
   * Counters and field statistics (no sketches) summed per group and dim for each of several
   * windows (each a list of tiles) in one read: `window` is the index into `windows`. Many windows
   * over several groups cost one query instead of one each (alert rules read many at once).
   */
  sumWindows(query: WindowSumQuery): Promise<{ window: number; row: RollupRow }[]>;
  /** Every stored row of several groups over the tiles (like `read`, in one query). */
  readGroups(query: GroupsQuery): Promise<RollupRow[]>;
  /** The recommendation dimensions of signals, for grouping their outcomes. */
  signals(project: string, signalIds: readonly string[]): Promise<SignalDims[]>;
  /** Deletes the project's rows of these resolutions in buckets before `before`. */
  expire(project: string, resolutions: readonly Resolution[], before: number): Promise<number>;
  /**
   * Merges rows that share a key into one, as `mergeRollupRows` (model/rollup.ts) defines it;
   * returns how many rows were merged away. An engine may merge in the background instead.
   */
  compact(): Promise<number>;
  /**
   * `vigil reprice`: sets the priced cost of the given events of the project and replaces the
   * project's `llm` rows of every resolution in [from, to) (whole days) with `rows`, recomputed
   * from those days' events, in one transaction.
   */
  reprice(change: CostRewrite): Promise<void>;
}

/** A priced cost recomputed for one stored event (null: no price, the request is unpriced). */
export interface CostUpdate {
  id: string;
  cost_usd: number | null;
  prompt_cost_usd: number | null;
  completion_cost_usd: number | null;
}

export interface CostRewrite {
  project: string;
  /** Whole UTC days: `from` and `to` are multiples of a day. */
  from: number;
  to: number;
  costs: readonly CostUpdate[];
  /** Every `llm` rollup row of the days, at every resolution. */
  rows: readonly RollupRow[];
}

export type RawAggregate = 'count' | 'sum' | 'avg' | 'min' | 'max' | 'p50' | 'p90' | 'p95' | 'p99' | 'rate';

/** A field of the event: a typed column, or a prop of the JSON column. */
export type FieldRef = TypedField | { prop: string };

export interface RawAggregateQuery {
  project: string;
  type: string;
  /** Absent for count and rate. */
  field?: FieldRef;
  aggregate: RawAggregate;
  from: number;
  to: number;
  /** Bucket width; absent for one value over the whole range. */
  bucket?: 'minute' | 'hour' | 'day' | 'week' | 'month';
  groupBy: readonly FieldRef[];
  filters: readonly PropEquals[];
}

export interface RawAggregateRow {
  /** Bucket start (epoch ms), or `from` when there is no bucketing. */
  bucket: number;
  groups: (string | null)[];
  value: number | null;
  count: number;
}

export interface SampleQuery {
  project: string;
  /** Exact metric name; every name when absent. */
  name?: string;
  /** Epoch ms, `from` inclusive, `to` exclusive. */
  from: number;
  to: number;
  /** Only series carrying every one of these label values. */
  labels?: Readonly<Record<string, string>>;
  /** Newest first; at most this many. */
  limit: number;
}

/** One series (name + label set) and its newest sample. */
export interface SeriesInfo {
  name: string;
  labels: Record<string, string>;
  kind: MetricSample['kind'];
  source: string;
  samples: number;
  lastTs: number;
  lastValue: number;
}

/** Metric samples: append-only like events, outside the audit chain (they are measurements). */
export interface SampleStore {
  /** Appends the samples atomically; returns how many were written. */
  append(samples: readonly MetricSample[]): Promise<number>;
  /** Samples of the range, newest first. */
  list(query: SampleQuery): Promise<MetricSample[]>;
  /** The series with a sample in the range (optionally of one name or name prefix), with their newest sample. */
  series(query: Omit<SampleQuery, 'limit'> & { namePrefix?: string }): Promise<SeriesInfo[]>;
  /** Deletes the project's samples older than `before`; returns how many. */
  expire(project: string, before: number): Promise<number>;
  /** Per-series buckets of one metric, read from the sample rollups (never from raw samples). */
  history(query: SampleHistoryQuery): Promise<SampleHistoryRow[]>;
  /** Merges rollup delta rows that share a key (buckets at or after `since`); returns rows merged away. */
  compactRollups(since: number): Promise<number>;
  /** Deletes the project's rollup rows of these resolutions in buckets before `before`. */
  expireRollups(project: string, resolutions: readonly SampleResolution[], before: number): Promise<number>;
}

/** Resolutions of the sample rollups: every append adds a delta row per series to each. */
export type SampleResolution = '1m' | '1h' | '1d';

export interface SampleHistoryQuery {
  project: string;
  name: string;
  /** Epoch ms; `from` is floored to the bucket of `bucket`. */
  from: number;
  to: number;
  /** Bucket width; week (ISO, Monday) and month are merged from daily rollups. */
  bucket: 'minute' | 'hour' | 'day' | 'week' | 'month';
  labels?: Readonly<Record<string, string>>;
  /** At most this many series (by label set order). */
  maxSeries: number;
}

/** One bucket of one series: finite values only (NaN and ±Inf are kept raw, not rolled up). */
export interface SampleHistoryRow {
  labels: Record<string, string>;
  kind: MetricSample['kind'];
  bucket: number;
  count: number;
  sum: number;
  min: number;
  max: number;
  lastTs: number;
  lastValue: number;
}

/** A collector configured through the API; `secret` is the sealed credentials (never plain). */
export interface CollectorRecord {
  id: string;
  project: string;
  name: string;
  type: string;
  /** The spec as JSON text, credentials removed. */
  spec: string;
  secret: string | null;
  createdAt: number;
  updatedAt: number;
}

/** One collector's run in one collection round. */
export interface CollectorRunRecord {
  snapshotId: string;
  project: string;
  collector: string;
  type: string;
  startedAt: number;
  durationMs: number;
  /** `ok`, `error` or `timeout`. */
  outcome: 'ok' | 'error' | 'timeout';
  error: string | null;
  samples: number;
  /** The typed result as JSON text (null when the run failed). */
  result: string | null;
}

/** The newest run of a collector, with its streaks. */
export interface CollectorLatest {
  run: CollectorRunRecord;
  lastOkAt: number | null;
  consecutiveFailures: number;
}

export interface DeploymentRecord {
  id: string;
  project: string;
  service: string;
  version: string;
  status: 'started' | 'succeeded' | 'failed' | 'rolled_back';
  startedAt: number;
  finishedAt: number | null;
  receivedAt: number;
  source: string;
}

/** Infrastructure telemetry metadata: collector configs, run log, latest runs, deployments, settings. */
export interface CollectorStore {
  listCollectors(project: string | null): Promise<CollectorRecord[]>;
  /** Inserts; false when the project already has a collector of that name. */
  insertCollector(record: CollectorRecord): Promise<boolean>;
  deleteCollector(project: string, name: string): Promise<boolean>;
  /** Appends the runs to the log and makes each its collector's latest, atomically. */
  recordRuns(runs: readonly CollectorRunRecord[]): Promise<void>;
  /** The latest run of every collector of the project that ever ran. */
  latest(project: string): Promise<CollectorLatest[]>;
  /** Runs of the project, newest first. */
  runs(project: string, options: { collector?: string; limit: number }): Promise<CollectorRunRecord[]>;
  /** Forgets the latest-run entry of a deleted collector (its log stays). */
  forgetLatest(project: string, collector: string): Promise<void>;
  /** Deletes runs older than `before`; returns how many. */
  expireRuns(before: number): Promise<number>;
  insertDeployment(record: DeploymentRecord): Promise<void>;
  /** Deployments of the project, newest start first. */
  deployments(project: string, options: { service?: string; limit: number }): Promise<DeploymentRecord[]>;
  /** Whether the anonymous public view of the project is on (default true). */
  publicEnabled(project: string): Promise<boolean>;
  setPublicEnabled(project: string, enabled: boolean): Promise<void>;
}

/** An alert rule: key columns plus the rule as JSON text (validated by the alerts layer). */
export interface AlertRuleRecord {
  id: string;
  project: string;
  createdAt: number;
  updatedAt: number;
  document: string;
}

/** Per-project alerting settings: default receivers (JSON) and when the default rules were made. */
export interface AlertProjectRecord {
  project: string;
  /** Set once the default rules were created; they are never created twice. */
  defaultsCreatedAt: number | null;
  receivers: string;
}

/** The evaluation state of one rule (status, violations in a row, …) as JSON text. */
export interface AlertStateRecord {
  ruleId: string;
  project: string;
  updatedAt: number;
  document: string;
}

/** One alert (an incident of a rule, from pending to resolved); `document` is its JSON view. */
export interface AlertRecord {
  alertId: string;
  project: string;
  ruleId: string;
  state: string;
  startedAt: number;
  updatedAt: number;
  document: string;
  acknowledgedAt: number | null;
  acknowledgedBy: string | null;
}

/** One state change of an alert, kept as a log. */
export interface AlertTransitionRecord {
  project: string;
  alertId: string;
  ruleId: string;
  from: string;
  to: string;
  at: number;
  value: number | null;
}

/** Notifications of a rule are held back until `endsAt`. */
export interface AlertSilenceRecord {
  id: string;
  project: string;
  ruleId: string;
  createdAt: number;
  endsAt: number;
  createdBy: string;
  comment: string | null;
}

/** What one evaluation cycle changed; written atomically. */
export interface AlertCycleWrite {
  states: readonly AlertStateRecord[];
  alerts: readonly Omit<AlertRecord, 'acknowledgedAt' | 'acknowledgedBy'>[];
  transitions: readonly AlertTransitionRecord[];
}

/** Alerting metadata: rules, per-project settings, evaluation state, alerts and their log, silences. */
export interface AlertStore {
  /** Rules of one project, or of every project when `project` is null; oldest first. */
  rules(project: string | null): Promise<AlertRuleRecord[]>;
  rule(id: string): Promise<AlertRuleRecord | null>;
  /** Inserts or replaces the rule. */
  putRule(rule: AlertRuleRecord): Promise<void>;
  /** Deletes the rule, its state and its silences; false when there was no such rule. */
  deleteRule(id: string): Promise<boolean>;
  settings(project: string): Promise<AlertProjectRecord | null>;
  /** Sets the project's default receivers (JSON), keeping its defaults marker. */
  putReceivers(project: string, receivers: string): Promise<void>;
  /** Inserts the rules and marks the project in one transaction, unless it is marked already
   * (then nothing is written and false is returned). */
  createDefaults(project: string, rules: readonly AlertRuleRecord[], at: number): Promise<boolean>;
  /** Every rule's stored evaluation state. */
  states(): Promise<AlertStateRecord[]>;
  writeCycle(write: AlertCycleWrite): Promise<void>;
  /** Alerts of the project, newest first: only those in `states` when given, started at or after `from`. */
  alerts(query: {
    project: string;
    states?: readonly string[];
    from?: number;
    limit: number;
  }): Promise<AlertRecord[]>;
  alert(alertId: string): Promise<AlertRecord | null>;
  /** Marks the alert acknowledged; false when there is no such alert. */
  acknowledge(alertId: string, by: string, at: number): Promise<boolean>;
  transitions(alertId: string): Promise<AlertTransitionRecord[]>;
  /** Silences of the project (or every project when null) that end after `activeAt` (all when absent). */
  silences(project: string | null, activeAt?: number): Promise<AlertSilenceRecord[]>;
  putSilence(silence: AlertSilenceRecord): Promise<void>;
  deleteSilence(id: string): Promise<boolean>;
}

/** Events to export: `ts` in [from, to) (epoch ms), optionally of one type and one project. */
export interface EventExport {
  from: number;
  to: number;
  type?: string;
  project?: string;
  format: 'parquet' | 'csv';
  /** The output file (replaced). */
  out: string;
  /** Progress granularity: the range is written in this many time slices (default 20). */
  slices?: number;
}

/**
 * A consistent copy of the whole store, taken for a backup: what it holds is read from the copy
 * itself (not the live store), and its bytes are the engine's own image, which `restoreStore` of
 * the same engine turns back into a store.
 */
export interface StoreImage {
  engine: string;
  /** The image's name in the backup manifest (`payload.file`). */
  name: string;
  schemaVersion: number;
  rowCounts: Record<string, number>;
  /** The head of every audit chain in the image. */
  chains: ChainLink[];
  /** Size of the image in bytes (uncompressed). */
  bytes: number;
  /** The image's bytes (may be read more than once until `discard`). */
  read(): Readable;
  /** Removes the copy. */
  discard(): void;
}

/** Operations on the whole store (`vigil backup`, `restore`, `export`); none blocks ingestion. */
export interface OpsStore {
  /** Takes a consistent copy of the whole store (every table as of one moment) while the store
   * stays in use. `scratchDir` is a directory the engine may use for the copy (with room for it). */
  backup(options: { scratchDir: string }): Promise<StoreImage>;
  /** Rows in each table of the store. */
  rowCounts(): Promise<Record<string, number>>;
  /** Writes the matching events to `out`, reporting rows written after each slice. */
  exportEvents(
    query: EventExport,
    onProgress?: (done: number, total: number) => void,
  ): Promise<{ rows: number }>;
}
