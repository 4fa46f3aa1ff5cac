import { createWriteStream, existsSync, mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  BIGINT,
  BOOLEAN,
  DOUBLE,
  type DuckDBConnection,
  DuckDBDataChunk,
  DuckDBInstance,
  DuckDBTimestampValue,
  type DuckDBType,
  type DuckDBValue,
  INTEGER,
  listValue,
  TIMESTAMP,
  VARCHAR,
} from '@duckdb/node-api';
import {
  ADDED_TYPED_FIELDS,
  type EventRow,
  FIRST_TYPED_FIELDS,
  type PersonRole,
  type Role,
  sampleKey,
  TYPED_FIELDS,
} from '../../model/index.js';
import {
  type AccountEventKind,
  type AccountEventRecord,
  type AccountStore,
  type AlertStore,
  type AppendBatch,
  type Appended,
  type BatchCopy,
  type ChainLink,
  type CollectorStore,
  type EventQuery,
  type EventStore,
  type ExpiredBatch,
  type ExpiryRecorder,
  type FieldRef,
  type HealthStore,
  type IdentityRecord,
  type KeyRecord,
  type MigrationStatus,
  type Migrator,
  type ProjectRecord,
  type ProjectRoleRecord,
  type PropEquals,
  type RawAggregate,
  type RawAggregateQuery,
  type RawAggregateRow,
  type RetentionOverrides,
  type RollupStore,
  type SampleStore,
  type ScrubCount,
  type SessionRecord,
  type SnapshotStore,
  type Store,
  StoreError,
  type UserRecord,
} from '../types.js';
import { DuckDBAlertStore } from './alerts.js';
import { DuckDBCollectorStore } from './collectors.js';
import { DuckDBHealthStore, DuckDBSnapshotStore } from './health.js';
import { MIGRATIONS, SAMPLE_KEY_SQL } from './migrations.js';
import { DuckDBOpsStore } from './ops.js';
import { DuckDBRollupStore } from './rollups.js';
import { DuckDBSampleStore } from './samples.js';
import { EVENT_SELECT, LINK_SELECT, num, numOrNull, rows, Serial, TS, toEventRow, toLink } from './shared.js';

export const DUCKDB_FILE = 'vigil.duckdb';

export interface DuckDBStoreOptions {
  dataDir: string;
  /** DuckDB's buffer pool limit, e.g. '256MB'. */
  memoryLimit?: string;
  /** Apply pending migrations on open (the server does; `vigil migrate` does not). */
  migrate?: boolean;
}

const DUCK_TYPE = { double: DOUBLE, integer: INTEGER, boolean: BOOLEAN, string: VARCHAR } as const;

/** Column order of the events table, with the types the appender writes. */
const EVENT_COLUMNS: readonly {
  name: keyof EventRow | 'batch_seq' | 'batch_row' | 'sample_key';
  type: DuckDBType;
}[] = [
  // id is written as text and cast to UUID by DuckDB.
  { name: 'id', type: VARCHAR },
  { name: 'project', type: VARCHAR },
  { name: 'type', type: VARCHAR },
  { name: 'ts', type: TIMESTAMP },
  { name: 'received_at', type: TIMESTAMP },
  { name: 'late', type: BOOLEAN },
  { name: 'version', type: VARCHAR },
  ...FIRST_TYPED_FIELDS.map((name) => ({ name, type: DUCK_TYPE[TYPED_FIELDS[name].kind] })),
  { name: 'props', type: VARCHAR },
  { name: 'batch_seq', type: BIGINT },
  { name: 'batch_row', type: INTEGER },
  // Columns added by later migrations come after the batch columns (ALTER TABLE appends).
  ...ADDED_TYPED_FIELDS.map((name) => ({ name, type: DUCK_TYPE[TYPED_FIELDS[name].kind] })),
  // Migration 14 (after the typed fields of migration 11); a later column goes after it.
  { name: 'sample_key', type: BIGINT },
];

const q = (name: string) => `"${name}"`;
type Param = (v: DuckDBValue) => string;

/** SQL for a field: its typed column, or a prop of the JSON column (numeric when asked). */
function fieldSql(field: FieldRef, param: Param, numeric = false): string {
  if (typeof field === 'string') return q(field);
  const path = param(`$."${field.prop.replaceAll('"', '\\"')}"`);
  return numeric ? `TRY_CAST(json_extract(props, ${path}) AS DOUBLE)` : `json_extract_string(props, ${path})`;
}

/** SQL for `field = value`, comparing typed numbers and booleans by value. */
function propEquals(w: PropEquals, param: Param): string {
  if (typeof w.field !== 'string') return `${fieldSql(w.field, param)} = ${param(w.value)}`;
  const kind = TYPED_FIELDS[w.field].kind;
  const cast = kind === 'string' ? '' : kind === 'boolean' ? 'BOOLEAN' : 'DOUBLE';
  return cast
    ? `${q(w.field)} = TRY_CAST(${param(w.value)} AS ${cast})`
    : `${q(w.field)} = ${param(w.value)}`;
}

const AGGREGATE_SQL: Record<RawAggregate, (v: string) => string> = {
  count: () => 'count(*)',
  rate: () => 'count(*)',
  sum: (v) => `sum(${v})`,
  avg: (v) => `avg(${v})`,
  min: (v) => `min(${v})`,
  max: (v) => `max(${v})`,
  p50: (v) => `quantile_disc(${v}, 0.5)`,
  p90: (v) => `quantile_disc(${v}, 0.9)`,
  p95: (v) => `quantile_disc(${v}, 0.95)`,
  p99: (v) => `quantile_disc(${v}, 0.99)`,
};

const BUCKET_SQL = {
  minute: "time_bucket(INTERVAL '1 minute', ts)",
  hour: "time_bucket(INTERVAL '1 hour', ts)",
  day: "time_bucket(INTERVAL '1 day', ts)",
  week: "date_trunc('week', ts)",
  month: "date_trunc('month', ts)",
} as const;

/** Groups sorted UUIDs whose leading 48 bits (UUIDv7 milliseconds) lie within an hour, so each
 * lookup is a narrow range that DuckDB's zone maps can prune. */
export function idRanges(ids: readonly string[]): { lo: string; hi: string; ids: string[] }[] {
  const sorted = [...ids].sort();
  const ranges: { lo: string; hi: string; ids: string[] }[] = [];
  const HOUR = 3_600_000;
  const msOf = (id: string) => Number.parseInt(id.slice(0, 8) + id.slice(9, 13), 16);
  for (const id of sorted) {
    const last = ranges.at(-1);
    if (last && msOf(id) - msOf(last.lo) <= HOUR) {
      last.hi = id;
      last.ids.push(id);
    } else {
      ranges.push({ lo: id, hi: id, ids: [id] });
    }
  }
  if (ranges.length <= 16) return ranges;
  return [{ lo: sorted[0] ?? '', hi: sorted.at(-1) ?? '', ids: sorted }];
}

const sqlString = (s: string) => `'${s.replaceAll("'", "''")}'`;

/** The subset of `ids` (lowercase UUIDs) stored, in any project. */
async function existingIds(conn: DuckDBConnection, ids: readonly string[]): Promise<Set<string>> {
  const found = new Set<string>();
  if (ids.length === 0) return found;
  // One bound string per narrow range: no SQL text grows with the batch, and zone maps prune.
  for (const g of idRanges([...new Set(ids)])) {
    const hits = await rows(
      conn,
      `SELECT e.id::VARCHAR AS id FROM events e SEMI JOIN (SELECT unnest(string_split($1, ','))::UUID AS id) b
       ON e.id = b.id WHERE e.id BETWEEN $2::UUID AND $3::UUID`,
      [g.ids.join(','), g.lo, g.hi],
    );
    for (const r of hits) found.add(r.id as string);
  }
  return found;
}

/** The subset of `signalIds` that have a decision.outcome in the project. */
async function outcomeSignals(
  conn: DuckDBConnection,
  project: string,
  signalIds: readonly string[],
): Promise<Set<string>> {
  if (signalIds.length === 0) return new Set();
  const found = await rows(
    conn,
    'SELECT signal_id FROM signal_outcomes WHERE project = $1 AND signal_id IN (SELECT unnest($2::VARCHAR[]))',
    [project, listValue([...new Set(signalIds)])],
  );
  return new Set(found.map((r) => r.signal_id as string));
}

class DuckDBEventStore implements EventStore {
  constructor(
    private readonly writer: Serial,
    private readonly reader: Serial,
  ) {}

  async chainHead(): Promise<ChainLink | null> {
    const [r] = await this.reader.run((c) => rows(c, `${LINK_SELECT} ORDER BY seq DESC LIMIT 1`));
    return r ? toLink(r) : null;
  }

  async chainLink(seq: number): Promise<ChainLink | null> {
    const [r] = await this.reader.run((c) => rows(c, `${LINK_SELECT} WHERE seq = $1`, [BigInt(seq)]));
    return r ? toLink(r) : null;
  }

  async findExistingIds(ids: readonly string[]): Promise<Set<string>> {
    return this.writer.run((c) => existingIds(c, ids));
  }

  async appendBatch({ rows: candidates, seal }: AppendBatch): Promise<Appended> {
    return this.writer.transaction(async (conn) => {
      // Idempotency inside the write: what is stored (in any project) is left out.
      const duplicates = await existingIds(
        conn,
        candidates.map((r) => r.id),
      );
      const duplicateOutcomes = new Set<string>();
      const outcomes = candidates.filter(
        (r) => r.type === 'decision.outcome' && r.signal_id !== null && !duplicates.has(r.id),
      );
      for (const project of new Set(outcomes.map((r) => r.project))) {
        const mine = outcomes.filter((r) => r.project === project);
        const taken = await outcomeSignals(
          conn,
          project,
          mine.map((r) => r.signal_id as string),
        );
        for (const r of mine) if (taken.has(r.signal_id as string)) duplicateOutcomes.add(r.id);
      }
      const kept = candidates.filter((r) => !duplicates.has(r.id) && !duplicateOutcomes.has(r.id));
      if (kept.length === 0) return { link: null, duplicates, duplicateOutcomes };
      const { link, scrubbed } = seal(kept);
      const appender = await conn.createAppender('events');
      const types = EVENT_COLUMNS.map((c) => c.type);
      for (let start = 0; start < kept.length; start += 2048) {
        const part = kept.slice(start, start + 2048);
        const chunk = DuckDBDataChunk.create(types, part.length);
        chunk.setColumns(EVENT_COLUMNS.map(({ name }) => columnValues(name, part, link.seq, start)));
        appender.appendDataChunk(chunk);
      }
      appender.closeSync();
      const newOutcomes = kept.filter((r) => r.type === 'decision.outcome' && r.signal_id !== null);
      if (newOutcomes.length > 0) {
        await conn.run(
          `INSERT INTO signal_outcomes VALUES ${newOutcomes
            .map((r) => `(${sqlString(r.project)}, ${sqlString(r.signal_id ?? '')}, '${r.id}'::UUID)`)
            .join(',')}`,
        );
      }
      await insertLink(conn, link);
      for (const s of scrubbed) {
        await conn.run(
          `INSERT INTO scrub_counts VALUES ($1, $2, $3)
           ON CONFLICT (project, reason) DO UPDATE SET count = scrub_counts.count + excluded.count`,
          [s.project, s.reason, BigInt(s.count)],
        );
      }
      return { link, duplicates, duplicateOutcomes };
    });
  }

  async discardUnchained(headSeq: number): Promise<number> {
    return this.writer.transaction(async (c) => {
      const after = [BigInt(headSeq)];
      await c.run(
        'DELETE FROM signal_outcomes WHERE event_id IN (SELECT id FROM events WHERE batch_seq > $1)',
        after,
      );
      const deleted = await c.run('DELETE FROM events WHERE batch_seq > $1', after);
      return Number(deleted.rowsChanged);
    });
  }

  async listEvents(query: EventQuery): Promise<EventRow[]> {
    const where = ['project = $1'];
    const values: DuckDBValue[] = [query.project];
    const param = (v: DuckDBValue) => {
      values.push(v);
      return `$${values.length}`;
    };
    if (query.types && query.types.length > 0)
      where.push(`type IN (${query.types.map((t) => param(t)).join(',')})`);
    if (query.from !== undefined) where.push(`ts >= ${TS(param(query.from))}`);
    if (query.to !== undefined) where.push(`ts < ${TS(param(query.to))}`);
    for (const w of query.where ?? []) where.push(propEquals(w, param));
    if (query.before) {
      const ts = TS(param(query.before.ts));
      const id = `${param(query.before.id)}::UUID`;
      where.push(`(ts < ${ts} OR (ts = ${ts} AND id < ${id}))`);
    }
    const sql = `SELECT ${EVENT_SELECT} FROM events WHERE ${where.join(' AND ')} ORDER BY ts DESC, id DESC LIMIT ${param(query.limit)}`;
    return (await this.reader.run((c) => rows(c, sql, values))).map(toEventRow);
  }

  async aggregateRaw(query: RawAggregateQuery): Promise<RawAggregateRow[]> {
    const values: DuckDBValue[] = [query.project, query.type, query.from, query.to];
    const param: Param = (v) => {
      values.push(v);
      return `$${values.length}`;
    };
    const value = query.field === undefined ? 'NULL' : fieldSql(query.field, param, true);
    const groups = query.groupBy.map((g, i) => `${fieldSql(g, param)} AS g${i}`);
    const where = [
      `project = $1`,
      `type = $2`,
      `ts >= ${TS('$3')}`,
      `ts < ${TS('$4')}`,
      ...query.filters.map((f) => propEquals(f, param)),
    ];
    const bucket = query.bucket ? `epoch_ms(${BUCKET_SQL[query.bucket]})` : '$3::BIGINT';
    const sql = `SELECT ${bucket} AS bucket, ${[...groups, `${AGGREGATE_SQL[query.aggregate]('v')} AS value`, 'count(*) AS n'].join(', ')}
      FROM (SELECT *, ${value} AS v FROM events WHERE ${where.join(' AND ')})
      GROUP BY ALL ORDER BY ALL`;
    return (await this.reader.run((c) => rows(c, sql, values))).map((r) => ({
      bucket: num(r.bucket),
      groups: query.groupBy.map((_, i) => {
        const g = r[`g${i}`];
        return g === null || g === undefined ? null : String(g);
      }),
      value: numOrNull(r.value),
      count: num(r.n),
    }));
  }

  async countEvents(project?: string): Promise<number> {
    const [r] = await this.reader.run((c) =>
      project === undefined
        ? rows(c, 'SELECT count(*) AS n FROM events')
        : rows(c, 'SELECT count(*) AS n FROM events WHERE project = $1', [project]),
    );
    return num(r?.n ?? 0);
  }

  async scrubCounts(project?: string): Promise<ScrubCount[]> {
    const found = await this.reader.run((c) =>
      project === undefined
        ? rows(c, 'SELECT project, reason, count FROM scrub_counts ORDER BY project, reason')
        : rows(c, 'SELECT project, reason, count FROM scrub_counts WHERE project = $1 ORDER BY reason', [
            project,
          ]),
    );
    return found.map((r) => ({
      project: r.project as string,
      reason: r.reason as string,
      count: num(r.count),
    }));
  }

  async readCommitted(
    afterSeq: number,
    maxRows: number,
  ): Promise<{ batches: { seq: number; rows: EventRow[] }[]; throughSeq: number }> {
    // Whole batches only, so that the watermark can stand right after the last one read.
    const [range] = await this.reader.run((c) =>
      rows(
        c,
        `SELECT max(seq) AS through FROM (
           SELECT seq, sum(row_count) OVER (ORDER BY seq) AS upto FROM batches WHERE seq > $1
         ) WHERE upto <= $2 OR seq = $1 + 1`,
        [BigInt(afterSeq), BigInt(maxRows)],
      ),
    );
    const through = range?.through === null || range?.through === undefined ? afterSeq : num(range.through);
    if (through <= afterSeq) return { batches: [], throughSeq: afterSeq };
    const found = await this.reader.run((c) =>
      rows(
        c,
        `SELECT ${EVENT_SELECT}, batch_seq FROM events WHERE batch_seq > $1 AND batch_seq <= $2 ORDER BY batch_seq, batch_row`,
        [BigInt(afterSeq), BigInt(through)],
      ),
    );
    const batches: { seq: number; rows: EventRow[] }[] = [];
    for (const r of found) {
      const seq = num(r.batch_seq);
      const last = batches.at(-1);
      if (last && last.seq === seq) last.rows.push(toEventRow(r));
      else batches.push({ seq, rows: [toEventRow(r)] });
    }
    return { batches, throughSeq: through };
  }

  async copyBatches({ fromSeq, toSeq, shiftMs, links, ids }: BatchCopy): Promise<void> {
    if (links.length !== toSeq - fromSeq + 1) throw new Error('copyBatches: one link per source batch');
    const total = links.reduce((n, l) => n + l.rowCount, 0);
    if (total !== ids.length) throw new Error(`copyBatches: ${ids.length} ids for ${total} rows`);
    const seqShift = (links[0]?.seq ?? fromSeq) - fromSeq;
    const shift = `INTERVAL (${Math.trunc(shiftMs)}) MILLISECOND`;
    const copied = EVENT_COLUMNS.map(({ name }) => {
      if (name === 'id') return 'c.id::UUID';
      if (name === 'sample_key') return SAMPLE_KEY_SQL('c.id');
      if (name === 'ts' || name === 'received_at') return `e.${name} + ${shift}`;
      if (name === 'batch_seq') return `e.batch_seq + ${seqShift}`;
      return `e.${q(name)}`;
    });
    // Whole batches up to about 50,000 rows at a time (at least one), each group with its links
    // in a transaction of its own: the join and the insert stay within the memory limit at any
    // size, and the chain is whole after every commit.
    let first = 0;
    let next = 0;
    while (first < links.length) {
      let last = first;
      let size = links[first]?.rowCount ?? 0;
      while (last + 1 < links.length && size + (links[last + 1]?.rowCount ?? 0) <= 50_000) {
        last += 1;
        size += links[last]?.rowCount ?? 0;
      }
      const group = links.slice(first, last + 1);
      const groupIds = ids.slice(next, next + size);
      await this.copyGroup(fromSeq + first, group, groupIds, copied);
      first = last + 1;
      next += size;
    }
  }

  private async copyGroup(
    fromSeq: number,
    links: readonly ChainLink[],
    ids: readonly string[],
    copied: readonly string[],
  ): Promise<void> {
    await this.writer.transaction(async (conn) => {
      // Each copy's id by its place in the chain (batch, row): a hash join, no sort.
      await conn.run(
        'CREATE OR REPLACE TEMP TABLE copy_ids (batch_seq BIGINT, batch_row INTEGER, id VARCHAR)',
      );
      const appender = await conn.createAppender('copy_ids', 'main', 'temp');
      let next = 0;
      for (const [i, link] of links.entries()) {
        const seq = BigInt(fromSeq + i);
        for (let start = 0; start < link.rowCount; start += 2048) {
          const size = Math.min(2048, link.rowCount - start);
          const chunk = DuckDBDataChunk.create([BIGINT, INTEGER, VARCHAR], size);
          chunk.setColumns([
            Array.from({ length: size }, () => seq),
            Array.from({ length: size }, (_, r) => start + r),
            ids.slice(next, next + size),
          ]);
          appender.appendDataChunk(chunk);
          next += size;
        }
      }
      appender.closeSync();
      const inserted = await conn.run(
        `INSERT INTO events
         SELECT ${copied.join(', ')}
         FROM events e JOIN copy_ids c USING (batch_seq, batch_row)
         WHERE e.batch_seq BETWEEN $1 AND $2`,
        [BigInt(fromSeq), BigInt(fromSeq + links.length - 1)],
      );
      if (Number(inserted.rowsChanged) !== ids.length) {
        throw new Error(`copyBatches: ${inserted.rowsChanged} rows copied for ${ids.length} ids`);
      }
      for (const link of links) {
        await insertLink(conn, link);
      }
      await conn.run('DROP TABLE copy_ids');
    });
  }

  async lastBatchBefore(project: string, before: number): Promise<number> {
    const [r] = await this.reader.run((c) =>
      rows(c, `SELECT max(batch_seq) AS seq FROM events WHERE project = $1 AND ts < ${TS('$2')}`, [
        project,
        before,
      ]),
    );
    return numOrNull(r?.seq) ?? 0;
  }

  async expire(
    project: string,
    before: number,
    recorder: ExpiryRecorder,
  ): Promise<{ deleted: number; batches: number; link: ChainLink | null }> {
    return this.writer.transaction(async (c) => {
      const touched = (
        await rows(
          c,
          `SELECT DISTINCT batch_seq AS seq FROM events WHERE project = $1 AND ts < ${TS('$2')} ORDER BY seq`,
          [project, before],
        )
      ).map((r) => num(r.seq));
      if (touched.length === 0) return { deleted: 0, batches: 0, link: null };
      const deleted = await c.run(`DELETE FROM events WHERE project = $1 AND ts < ${TS('$2')}`, [
        project,
        before,
      ]);
      const link = recorder.link({ project, before }, await keptOf(c, touched, recorder));
      await insertLink(c, link);
      return { deleted: Number(deleted.rowsChanged), batches: touched.length, link };
    });
  }

  async adoptExpiredMarks(recorder: ExpiryRecorder): Promise<ChainLink | null> {
    return this.writer.transaction(async (c) => {
      const marked = (await rows(c, 'SELECT seq FROM expired_batches ORDER BY seq')).map((r) => num(r.seq));
      if (marked.length === 0) return null;
      const link = recorder.link({ project: null, before: null }, await keptOf(c, marked, recorder));
      await insertLink(c, link);
      await c.run('DELETE FROM expired_batches');
      return link;
    });
  }

  async chainExpiries(): Promise<ChainLink[]> {
    return (
      await this.reader.run((c) => rows(c, `${LINK_SELECT} WHERE expiry IS NOT NULL ORDER BY seq`))
    ).map(toLink);
  }

  async *readChain(): AsyncIterable<{ link: ChainLink; rows: EventRow[]; expired: boolean }> {
    const PAGE = 64;
    let after = -1;
    for (;;) {
      const links = (
        await this.reader.run((c) =>
          rows(c, `${LINK_SELECT} WHERE seq > $1 ORDER BY seq LIMIT ${PAGE}`, [BigInt(after)]),
        )
      ).map(toLink);
      // Whole batches up to about 50,000 rows at a time (at least one): memory stays bounded
      // whatever the batch sizes (a backfill writes 50,000-row batches).
      let keep = 0;
      for (let inPage = 0; keep < links.length; keep++) {
        inPage += (links[keep] as ChainLink).rowCount;
        if (keep > 0 && inPage > 50_000) break;
      }
      links.length = keep;
      const first = links[0];
      const last = links.at(-1);
      if (!first || !last) return;
      const found = await this.reader.run((c) =>
        rows(
          c,
          `SELECT ${EVENT_SELECT}, batch_seq FROM events WHERE batch_seq BETWEEN $1 AND $2 ORDER BY batch_seq, batch_row`,
          [BigInt(first.seq), BigInt(last.seq)],
        ),
      );
      const bySeq = new Map<number, EventRow[]>();
      for (const r of found) {
        const seq = num(r.batch_seq);
        const list = bySeq.get(seq) ?? [];
        if (list.length === 0) bySeq.set(seq, list);
        list.push(toEventRow(r));
      }
      const expired = new Set(
        (
          await this.reader.run((c) =>
            rows(c, 'SELECT seq FROM expired_batches WHERE seq BETWEEN $1 AND $2', [
              BigInt(first.seq),
              BigInt(last.seq),
            ]),
          )
        ).map((r) => num(r.seq)),
      );
      for (const link of links)
        yield { link, rows: bySeq.get(link.seq) ?? [], expired: expired.has(link.seq) };
      after = last.seq;
    }
  }
}

function columnValues(
  name: (typeof EVENT_COLUMNS)[number]['name'],
  part: readonly EventRow[],
  seq: number,
  start: number,
): DuckDBValue[] {
  if (name === 'batch_seq') {
    const s = BigInt(seq);
    return part.map(() => s);
  }
  if (name === 'batch_row') return part.map((_, i) => start + i);
  if (name === 'sample_key') return part.map((r) => sampleKey(r.id));
  if (name === 'ts' || name === 'received_at') {
    return part.map((r) => new DuckDBTimestampValue(BigInt(r[name]) * 1000n));
  }
  return part.map((r) => r[name]);
}

async function insertLink(conn: DuckDBConnection, link: ChainLink): Promise<void> {
  await conn.run(
    `INSERT INTO batches (seq, prev_hash, hash, row_count, committed_at, expiry) VALUES ($1, $2, $3, $4, ${TS('$5')}, $6)`,
    [
      BigInt(link.seq),
      link.prevHash,
      link.hash,
      link.rowCount,
      link.committedAt,
      link.expiry ? JSON.stringify(link.expiry) : null,
    ],
  );
}

/** What each of `seqs` keeps now, its remaining rows hashed by `recorder` (about 50,000 rows read at a time). */
async function keptOf(
  conn: DuckDBConnection,
  seqs: readonly number[],
  recorder: ExpiryRecorder,
): Promise<ExpiredBatch[]> {
  const list = seqs.join(',');
  const counts = new Map(
    (
      await rows(
        conn,
        `SELECT batch_seq AS seq, count(*) AS n FROM events
         WHERE batch_seq IN (SELECT unnest(string_split($1, ','))::BIGINT) GROUP BY batch_seq`,
        [list],
      )
    ).map((r) => [num(r.seq), num(r.n)]),
  );
  const out: ExpiredBatch[] = seqs
    .filter((s) => !counts.has(s))
    .map((seq) => ({ seq, remaining: 0, hash: null }));
  const kept = [...counts.keys()].sort((a, b) => a - b);
  for (let i = 0; i < kept.length; ) {
    const page: number[] = [];
    for (
      let n = 0;
      i < kept.length && (page.length === 0 || n + (counts.get(kept[i] as number) ?? 0) <= 50_000);
      i++
    ) {
      page.push(kept[i] as number);
      n += counts.get(kept[i] as number) ?? 0;
    }
    const found = await rows(
      conn,
      `SELECT ${EVENT_SELECT}, batch_seq FROM events
       WHERE batch_seq IN (SELECT unnest(string_split($1, ','))::BIGINT) ORDER BY batch_seq, batch_row`,
      [page.join(',')],
    );
    const bySeq = new Map<number, EventRow[]>();
    for (const r of found) {
      const seq = num(r.batch_seq);
      const list = bySeq.get(seq) ?? [];
      if (list.length === 0) bySeq.set(seq, list);
      list.push(toEventRow(r));
    }
    for (const seq of page) {
      const remaining = bySeq.get(seq) ?? [];
      out.push({ seq, remaining: remaining.length, hash: recorder.remainingHash(seq, remaining) });
    }
  }
  return out;
}

class DuckDBAccountStore implements AccountStore {
  constructor(private readonly conn: Serial) {}

  private all(sql: string, values?: DuckDBValue[]) {
    return this.conn.run((c) => rows(c, sql, values));
  }

  async getProject(id: string): Promise<ProjectRecord | null> {
    const [r] = await this.all(`${PROJECT_SELECT} WHERE id = $1`, [id]);
    return r ? toProject(r) : null;
  }

  async listProjects(): Promise<ProjectRecord[]> {
    return (await this.all(`${PROJECT_SELECT} ORDER BY id`)).map(toProject);
  }

  async ensureProject(p: Omit<ProjectRecord, 'retention'>): Promise<ProjectRecord> {
    await this.all(
      `INSERT INTO projects (id, name, strict_types, created_at) VALUES ($1, $2, $3, ${TS('$4')}) ON CONFLICT DO NOTHING`,
      [p.id, p.name, p.strictTypes, p.createdAt],
    );
    return (
      (await this.getProject(p.id)) ?? {
        ...p,
        retention: { rawDays: null, rollupDays: null, dailyRollupDays: null },
      }
    );
  }

  async updateProject(
    id: string,
    patch: { strictTypes?: boolean; retention?: RetentionOverrides },
  ): Promise<void> {
    if (patch.strictTypes !== undefined) {
      await this.all('UPDATE projects SET strict_types = $2 WHERE id = $1', [id, patch.strictTypes]);
    }
    if (patch.retention) {
      const r = patch.retention;
      await this.all(
        'UPDATE projects SET retention_raw_days = $2, retention_rollup_days = $3, retention_daily_rollup_days = $4 WHERE id = $1',
        [id, r.rawDays, r.rollupDays, r.dailyRollupDays],
      );
    }
  }

  async insertKey(k: KeyRecord): Promise<void> {
    await this.all(`INSERT INTO api_keys VALUES ($1, $2, $3, $4, $5, ${TS('$6')}, NULL)`, [
      k.id,
      k.project,
      k.role,
      k.name,
      k.secretHash,
      k.createdAt,
    ]);
  }

  async getKey(id: string): Promise<KeyRecord | null> {
    const [r] = await this.all(`${KEY_SELECT} WHERE id = $1`, [id]);
    return r ? toKey(r) : null;
  }

  async listKeys(project: string | null): Promise<KeyRecord[]> {
    const found =
      project === null
        ? await this.all(`${KEY_SELECT} ORDER BY created_at, id`)
        : await this.all(`${KEY_SELECT} WHERE project = $1 ORDER BY created_at, id`, [project]);
    return found.map(toKey);
  }

  async revokeKey(id: string, at: number): Promise<boolean> {
    const found = await this.all(
      `UPDATE api_keys SET revoked_at = ${TS('$2')} WHERE id = $1 AND revoked_at IS NULL RETURNING id`,
      [id, at],
    );
    return found.length > 0;
  }

  async insertUser(u: UserRecord): Promise<void> {
    await this.all(`INSERT INTO users VALUES ($1, $2, $3, $4, ${TS('$5')})`, [
      u.id,
      u.name,
      u.role,
      u.passwordHash,
      u.createdAt,
    ]);
  }

  async getUserByName(name: string): Promise<UserRecord | null> {
    const [r] = await this.all(`${USER_SELECT} WHERE name = $1`, [name]);
    return r ? toUser(r) : null;
  }

  async getUser(id: string): Promise<UserRecord | null> {
    const [r] = await this.all(`${USER_SELECT} WHERE id = $1`, [id]);
    return r ? toUser(r) : null;
  }

  async listUsers(): Promise<UserRecord[]> {
    return (await this.all(`${USER_SELECT} ORDER BY created_at, name`)).map(toUser);
  }

  async countUsers(): Promise<number> {
    const [r] = await this.all('SELECT count(*) AS n FROM users');
    return num(r?.n ?? 0);
  }

  async insertSession(s: SessionRecord): Promise<void> {
    await this.all(`INSERT INTO sessions VALUES ($1, $2, ${TS('$3')}, ${TS('$4')})`, [
      s.id,
      s.userId,
      s.createdAt,
      s.expiresAt,
    ]);
  }

  async getSession(id: string): Promise<SessionRecord | null> {
    const [r] = await this.all(
      'SELECT id, user_id, epoch_ms(created_at) AS created_at, epoch_ms(expires_at) AS expires_at FROM sessions WHERE id = $1',
      [id],
    );
    return r
      ? {
          id: r.id as string,
          userId: r.user_id as string,
          createdAt: num(r.created_at),
          expiresAt: num(r.expires_at),
        }
      : null;
  }

  async deleteSession(id: string): Promise<void> {
    await this.all('DELETE FROM sessions WHERE id = $1', [id]);
  }

  async llmPrices(project: string): Promise<string | null> {
    const [r] = await this.all('SELECT document FROM llm_prices WHERE project = $1', [project]);
    return r ? (r.document as string) : null;
  }

  async putLlmPrices(project: string, document: string, at: number): Promise<void> {
    await this.all(
      `INSERT INTO llm_prices VALUES ($1, ${TS('$2')}, $3)
       ON CONFLICT (project) DO UPDATE SET updated_at = excluded.updated_at, document = excluded.document`,
      [project, at, document],
    );
  }

  async deleteUserSessions(userId: string): Promise<number> {
    return (await this.all('DELETE FROM sessions WHERE user_id = $1 RETURNING id', [userId])).length;
  }

  async userProjectRoles(userId: string): Promise<ProjectRoleRecord[]> {
    const found = await this.all(
      'SELECT project, role FROM user_project_roles WHERE user_id = $1 ORDER BY project',
      [userId],
    );
    return found.map((r) => ({ project: r.project as string, role: r.role as PersonRole }));
  }

  async setUserRoles(
    userId: string,
    roles: { role: PersonRole | null; projects: readonly ProjectRoleRecord[] },
  ): Promise<void> {
    await this.conn.transaction(async (c) => {
      await rows(c, 'UPDATE users SET role = $2 WHERE id = $1', [userId, roles.role]);
      await rows(c, 'DELETE FROM user_project_roles WHERE user_id = $1', [userId]);
      for (const p of roles.projects) {
        await rows(c, 'INSERT INTO user_project_roles VALUES ($1, $2, $3)', [userId, p.project, p.role]);
      }
    });
  }

  async setUserPassword(userId: string, passwordHash: string): Promise<void> {
    await this.all('UPDATE users SET password_hash = $2 WHERE id = $1', [userId, passwordHash]);
  }

  async getIdentity(issuer: string, subject: string): Promise<IdentityRecord | null> {
    const [r] = await this.all(`${IDENTITY_SELECT} WHERE issuer = $1 AND subject = $2`, [issuer, subject]);
    return r ? toIdentity(r) : null;
  }

  async listIdentities(): Promise<IdentityRecord[]> {
    return (await this.all(`${IDENTITY_SELECT} ORDER BY issuer, subject`)).map(toIdentity);
  }

  async insertUserWithIdentity(user: UserRecord, identity: IdentityRecord): Promise<void> {
    await this.conn.transaction(async (c) => {
      await rows(c, `INSERT INTO users VALUES ($1, $2, $3, $4, ${TS('$5')})`, [
        user.id,
        user.name,
        user.role,
        user.passwordHash,
        user.createdAt,
      ]);
      await rows(c, 'INSERT INTO user_identities VALUES ($1, $2, $3, $4)', [
        identity.issuer,
        identity.subject,
        identity.userId,
        identity.email,
      ]);
    });
  }

  async appendAccountEvent(e: AccountEventRecord): Promise<void> {
    await this.all(`INSERT INTO account_events VALUES (${TS('$1')}, $2, $3, $4, $5, $6)`, [
      e.at,
      e.kind,
      e.user,
      e.actor,
      e.address,
      e.detail,
    ]);
  }

  async accountEvents(query: { limit: number; user?: string }): Promise<AccountEventRecord[]> {
    const found = await this.all(
      `SELECT epoch_ms(occurred_at) AS at, kind, user_name, actor, address, detail FROM account_events
       ${query.user === undefined ? '' : 'WHERE user_name = $2'} ORDER BY occurred_at DESC LIMIT $1`,
      query.user === undefined ? [query.limit] : [query.limit, query.user],
    );
    return found.map((r) => ({
      at: num(r.at),
      kind: r.kind as AccountEventKind,
      user: r.user_name as string,
      actor: r.actor as string,
      address: (r.address as string | null) ?? null,
      detail: (r.detail as string | null) ?? null,
    }));
  }

  async lastSignIns(): Promise<Map<string, number>> {
    const found = await this.all(
      "SELECT user_name, epoch_ms(max(occurred_at)) AS at FROM account_events WHERE kind = 'sign_in' GROUP BY user_name",
    );
    return new Map(found.map((r) => [r.user_name as string, num(r.at)]));
  }
}

const IDENTITY_SELECT = 'SELECT issuer, subject, user_id, email FROM user_identities';

function toIdentity(r: Record<string, unknown>): IdentityRecord {
  return {
    issuer: r.issuer as string,
    subject: r.subject as string,
    userId: r.user_id as string,
    email: (r.email as string | null) ?? null,
  };
}

const KEY_SELECT =
  'SELECT id, project, role, name, secret_hash, epoch_ms(created_at) AS created_at, epoch_ms(revoked_at) AS revoked_at FROM api_keys';
const USER_SELECT = 'SELECT id, name, role, password_hash, epoch_ms(created_at) AS created_at FROM users';

const PROJECT_SELECT = `SELECT id, name, strict_types, epoch_ms(created_at) AS created_at,
  retention_raw_days, retention_rollup_days, retention_daily_rollup_days FROM projects`;

function toProject(r: Record<string, unknown>): ProjectRecord {
  return {
    id: r.id as string,
    name: r.name as string,
    strictTypes: r.strict_types as boolean,
    createdAt: num(r.created_at),
    retention: {
      rawDays: numOrNull(r.retention_raw_days),
      rollupDays: numOrNull(r.retention_rollup_days),
      dailyRollupDays: numOrNull(r.retention_daily_rollup_days),
    },
  };
}

function toKey(r: Record<string, unknown>): KeyRecord {
  return {
    id: r.id as string,
    project: r.project as string,
    role: r.role as Role,
    name: (r.name as string | null) ?? null,
    secretHash: r.secret_hash as string,
    createdAt: num(r.created_at),
    revokedAt: numOrNull(r.revoked_at),
  };
}

function toUser(r: Record<string, unknown>): UserRecord {
  return {
    id: r.id as string,
    name: r.name as string,
    role: (r.role as PersonRole | null) ?? null,
    passwordHash: r.password_hash as string,
    createdAt: num(r.created_at),
  };
}

class DuckDBMigrator implements Migrator {
  constructor(private readonly conn: Serial) {}

  async status(): Promise<MigrationStatus> {
    const applied = new Map(
      (
        await this.conn.run((c) =>
          rows(c, 'SELECT version, epoch_ms(applied_at) AS applied_at FROM vigil_migrations'),
        )
      ).map((r) => [num(r.version), num(r.applied_at)]),
    );
    const latest = MIGRATIONS.at(-1)?.version ?? 0;
    const current = Math.max(0, ...applied.keys());
    if (current > latest) {
      throw new StoreError(
        'schema_mismatch',
        `the store is at schema version ${current} but this Vigil knows only up to ${latest}; run the newer Vigil or 'vigil migrate down --to ${latest}' with it`,
      );
    }
    return {
      current,
      latest,
      migrations: MIGRATIONS.map((m) => ({
        version: m.version,
        name: m.name,
        appliedAt: applied.get(m.version) ?? null,
      })),
    };
  }

  async up(to?: number): Promise<number[]> {
    const { current, latest } = await this.status();
    const target = to ?? latest;
    if (target < current || target > latest) {
      throw new StoreError(
        'invalid_migration_target',
        `cannot migrate up from ${current} to ${target} (latest is ${latest})`,
      );
    }
    const done: number[] = [];
    for (const m of MIGRATIONS.filter((m) => m.version > current && m.version <= target)) {
      await this.conn.transaction(async (c) => {
        for (const sql of m.up) await c.run(sql);
        await c.run(`INSERT INTO vigil_migrations VALUES ($1, $2, ${TS('$3')})`, [
          m.version,
          m.name,
          Date.now(),
        ]);
      });
      done.push(m.version);
    }
    return done;
  }

  async down(to?: number): Promise<number[]> {
    const { current } = await this.status();
    const target = to ?? Math.max(0, current - 1);
    if (target > current || target < 0) {
      throw new StoreError('invalid_migration_target', `cannot migrate down from ${current} to ${target}`);
    }
    const done: number[] = [];
    for (const m of MIGRATIONS.filter((m) => m.version > target && m.version <= current).reverse()) {
      await this.conn.transaction(async (c) => {
        for (const sql of m.down) await c.run(sql);
        await c.run('DELETE FROM vigil_migrations WHERE version = $1', [m.version]);
      });
      done.push(m.version);
    }
    return done;
  }
}

class DuckDBStore implements Store {
  readonly engine = 'duckdb';
  readonly events: EventStore;
  readonly meta: AccountStore;
  readonly snapshots: SnapshotStore;
  readonly migrations: Migrator;
  readonly ops: DuckDBOpsStore;
  readonly rollups: RollupStore;
  readonly health: HealthStore;
  readonly samples: SampleStore;
  readonly alerts: AlertStore;
  readonly collectors: CollectorStore;
  private closed = false;

  constructor(
    private readonly instance: DuckDBInstance,
    private readonly connections: Serial[],
    private readonly file: string,
  ) {
    const [writer, meta, reader, rollups] = connections as [Serial, Serial, Serial, Serial];
    this.events = new DuckDBEventStore(writer, reader);
    this.rollups = new DuckDBRollupStore(rollups);
    this.health = new DuckDBHealthStore(writer, reader);
    this.samples = new DuckDBSampleStore(writer, reader);
    this.alerts = new DuckDBAlertStore(meta);
    this.collectors = new DuckDBCollectorStore(meta, reader);
    this.meta = new DuckDBAccountStore(meta);
    this.snapshots = new DuckDBSnapshotStore(meta);
    this.migrations = new DuckDBMigrator(meta);
    this.ops = new DuckDBOpsStore(instance, { file: DUCKDB_FILE });
  }

  async sizeBytes(): Promise<number> {
    let total = 0;
    for (const f of [this.file, `${this.file}.wal`]) {
      try {
        total += statSync(f).size;
      } catch {
        // no WAL right after a checkpoint
      }
    }
    return total;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.ops.drain();
    // Wait for queued work on every connection, then checkpoint so the file stands alone.
    await Promise.all(this.connections.map((s) => s.run(async () => undefined)));
    await this.connections[0]?.run((c) => c.run('CHECKPOINT')).catch(() => undefined);
    for (const s of this.connections) s.conn.closeSync();
    this.instance.closeSync();
  }
}

export async function openDuckDBStore({
  dataDir,
  memoryLimit = '128MB',
  migrate = true,
}: DuckDBStoreOptions): Promise<Store> {
  mkdirSync(dataDir, { recursive: true });
  const file = join(dataDir, DUCKDB_FILE);
  let instance: DuckDBInstance;
  try {
    instance = await DuckDBInstance.create(file, { memory_limit: memoryLimit });
  } catch (err) {
    const message = (err as Error).message;
    if (/lock/i.test(message)) {
      throw new StoreError(
        'locked',
        `the data directory ${dataDir} is in use by another process (is a Vigil server running on it?): ${message}`,
        { cause: err },
      );
    }
    throw new StoreError('corrupt', `cannot open ${file}: ${message}`, { cause: err });
  }
  // Event writes, metadata, reads and rollup writes each on a connection of their own.
  const connections = await Promise.all(Array.from({ length: 4 }, () => instance.connect()));
  const serials = connections.map((c) => new Serial(c));
  await serials[1]?.run((c) =>
    c.run(
      'CREATE TABLE IF NOT EXISTS vigil_migrations (version INTEGER PRIMARY KEY, name VARCHAR NOT NULL, applied_at TIMESTAMP NOT NULL)',
    ),
  );
  const store = new DuckDBStore(instance, serials, file);
  try {
    if (migrate) await store.migrations.up();
    else await store.migrations.status();
  } catch (err) {
    await store.close();
    throw err;
  }
  return store;
}

/** Whether the data directory holds a DuckDB store. */
export function duckdbStoreExists(dataDir: string): boolean {
  return existsSync(join(dataDir, DUCKDB_FILE));
}

/** Writes a backup image (as `ops.backup` made it) into `dataDir` as its store. */
export async function restoreDuckDBImage(dataDir: string, image: Readable): Promise<void> {
  mkdirSync(dataDir, { recursive: true });
  await pipeline(image, createWriteStream(join(dataDir, DUCKDB_FILE)));
}

/** The newest schema version this build's DuckDB migrations reach. */
export const DUCKDB_LATEST_SCHEMA = MIGRATIONS.at(-1)?.version ?? 0;
