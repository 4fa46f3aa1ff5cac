import {
  BIGINT,
  BOOLEAN,
  DOUBLE,
  type DuckDBConnection,
  DuckDBDataChunk,
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
  sampleKey,
  TYPED_FIELDS,
} from '../../model/index.js';
import type {
  AppendBatch,
  Appended,
  BatchCopy,
  ChainLink,
  EventQuery,
  EventStore,
  ExpiredBatch,
  ExpiryRecorder,
  FieldRef,
  PropEquals,
  RawAggregate,
  RawAggregateQuery,
  RawAggregateRow,
  ScrubCount,
} from '../types.js';
import { SAMPLE_KEY_SQL } from './migrations.js';
import {
  EVENT_SELECT,
  LINK_SELECT,
  num,
  numOrNull,
  rows,
  type Serial,
  TS,
  toEventRow,
  toLink,
} from './shared.js';

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

export class DuckDBEventStore implements EventStore {
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
