import {
  type DuckDBConnection,
  type DuckDBDataChunk,
  type DuckDBResult,
  DuckDBTimestampValue,
  type DuckDBValue,
  listValue,
} from '@duckdb/node-api';
import duckdb from '@duckdb/node-bindings';
import { type EventRow, TYPED_FIELDS } from '../../model/index.js';
import type {
  AppendBatch,
  Appended,
  ChainLink,
  ChainPage,
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
import { appendEventChunks, type EventChunks, eventChunks } from './append.js';
import { COLUMNS_SELECT, readColumns } from './columns.js';
import { IdFilter } from './idfilter.js';
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
  /** The ids this store holds, as a filter (made at the first id check; null before or after a failed build). */
  private ids: IdFilter | null = null;
  /** Whether `ids` holds every stored id (its build from the table has finished). */
  private idsReady = false;
  private idsBuild: Promise<void> | null = null;
  private stopping = false;
  /** The newest batch key, known between this writer's transactions (null: read from the table). */
  private newestKey: number | null = null;

  /** `connect`: a connection of its own for building the id filter (none: ids are always checked in the table). */
  constructor(
    private readonly writer: Serial,
    private readonly reader: Serial,
    private readonly connect?: () => Promise<DuckDBConnection>,
  ) {}

  /** Whether the id filter holds every stored id, once its build (if one runs) has ended. */
  async idFilterReady(): Promise<boolean> {
    await this.idsBuild;
    return this.idsReady;
  }

  /** Ends the id filter's build (before the store's connections close). */
  async stop(): Promise<void> {
    this.stopping = true;
    await this.idsBuild;
  }

  /**
   * The subset of `ids` stored (in any project), on the writer's connection: only the ids the
   * filter cannot rule out are looked up in the table. The first call makes the filter, sized
   * from the table's count, and starts filling it from the table on a connection of its own;
   * until that has read every row, every id is looked up.
   */
  private async existing(conn: DuckDBConnection, ids: readonly string[]): Promise<Set<string>> {
    if (!this.ids && this.connect && !this.stopping) {
      const [r] = await rows(conn, 'SELECT count(*) AS n FROM events');
      const filter = new IdFilter(num(r?.n ?? 0));
      this.ids = filter;
      this.idsReady = false;
      // Ids committed from here on are added by the appends; the build's snapshot (taken after
      // this) holds every one committed before.
      this.idsBuild = this.buildIds(filter).catch(() => {
        // Ids go on being looked up in the table; the next check makes a new filter.
        if (this.ids === filter) this.ids = null;
      });
    }
    const filter = this.idsReady ? this.ids : null;
    return existingIds(conn, filter ? ids.filter((id) => filter.mayHave(id)) : ids);
  }

  private async buildIds(filter: IdFilter): Promise<void> {
    const conn = await (this.connect as () => Promise<DuckDBConnection>)();
    try {
      const result = await conn.stream('SELECT id FROM events');
      for (;;) {
        if (this.stopping) return;
        const chunk = await result.fetchChunk();
        if (!chunk || chunk.rowCount === 0) break;
        const n = chunk.rowCount;
        filter.addStored(duckdb.vector_get_data(duckdb.data_chunk_get_vector(chunk.chunk, 0), n * 16), n);
      }
      if (this.ids === filter) this.idsReady = true;
    } finally {
      conn.closeSync();
    }
  }

  async chainHead(chain: string): Promise<ChainLink | null> {
    const [r] = await this.reader.run((c) =>
      rows(c, `${LINK_SELECT} WHERE chain = $1 ORDER BY seq DESC LIMIT 1`, [chain]),
    );
    return r ? toLink(r) : null;
  }

  async chainLink(chain: string, seq: number): Promise<ChainLink | null> {
    const [r] = await this.reader.run((c) =>
      rows(c, `${LINK_SELECT} WHERE chain = $1 AND seq = $2`, [chain, BigInt(seq)]),
    );
    return r ? toLink(r) : null;
  }

  async chains(): Promise<ChainLink[]> {
    return (
      await this.reader.run((c) =>
        rows(
          c,
          `${LINK_SELECT} QUALIFY row_number() OVER (PARTITION BY chain ORDER BY seq DESC) = 1 ORDER BY chain`,
        ),
      )
    ).map(toLink);
  }

  async findExistingIds(ids: readonly string[]): Promise<Set<string>> {
    return this.writer.run((c) => this.existing(c, ids));
  }

  /**
   * The key the next batch takes. One process writes a DuckDB file, so after the first read of the
   * table the newest key is known here; a transaction that takes one forgets it until it commits.
   */
  private async nextBatchKey(conn: DuckDBConnection): Promise<number> {
    const newest = this.newestKey ?? (await newestBatchKey(conn));
    this.newestKey = null;
    return newest + 1;
  }

  /** A write transaction that records one link under a new batch key (`task` takes it from `key`). */
  private linkTransaction<T>(
    task: (conn: DuckDBConnection, key: () => Promise<number>) => Promise<T>,
  ): Promise<T> {
    let taken: number | null = null;
    return this.writer.transaction(
      (conn) =>
        task(conn, async () => {
          taken = await this.nextBatchKey(conn);
          return taken;
        }),
      () => {
        if (taken !== null) this.newestKey = taken;
      },
    );
  }

  /** Rows written into data chunks ahead of their append (`prepareAppend`). */
  private prepared = new WeakMap<readonly EventRow[], EventChunks>();

  prepareAppend(rows: readonly EventRow[]): void {
    this.prepared.set(rows, eventChunks(rows));
  }

  async appendBatch({ rows: candidates, seal }: AppendBatch): Promise<Appended> {
    return this.linkTransaction(async (conn, nextKey) => {
      // Idempotency inside the write: what is stored (in any project) is left out.
      const duplicates = await this.existing(
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
      const key = await nextKey();
      const appender = await conn.createAppender('events');
      const ready = kept.length === candidates.length ? this.prepared.get(candidates) : undefined;
      appendEventChunks(appender, ready ?? eventChunks(kept), key);
      appender.closeSync();
      // Before the commit: an append that reports a failure after committing leaves no id out.
      const filter = this.ids;
      if (filter) for (const r of kept) filter.add(r.id);
      const newOutcomes = kept.filter((r) => r.type === 'decision.outcome' && r.signal_id !== null);
      if (newOutcomes.length > 0) {
        await conn.run(
          `INSERT INTO signal_outcomes VALUES ${newOutcomes
            .map((r) => `(${sqlString(r.project)}, ${sqlString(r.signal_id ?? '')}, '${r.id}'::UUID)`)
            .join(',')}`,
        );
      }
      await appendLink(conn, link, key);
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

  async discardUnchained(chain: string, headSeq: number): Promise<number> {
    this.newestKey = null;
    return this.writer.transaction(async (c) => {
      // One process writes a DuckDB file: rows after the newest key of any link are the debris of
      // its failed append; the chain's batches after `headSeq` are removed with their rows.
      const [newest] = await rows(c, 'SELECT coalesce(max(batch), 0) AS k FROM batches');
      let removed = await deleteBatchRows(c, 'batch_seq > $1', [BigInt(num(newest?.k))]);
      const after = await rows(c, 'SELECT batch FROM batches WHERE chain = $1 AND seq > $2', [
        chain,
        BigInt(headSeq),
      ]);
      if (after.length > 0) {
        const keys = after.map((r) => num(r.batch));
        removed += await deleteBatchRows(c, keyFilter(keys), []);
      }
      return removed;
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
    chain: string,
    afterSeq: number,
    maxRows: number,
  ): Promise<{ batches: { seq: number; rows: EventRow[] }[]; throughSeq: number }> {
    return this.reader.run(async (c) => {
      // Whole batches only, so that the watermark can stand right after the last one read.
      const links = await rows(
        c,
        `SELECT batch, seq FROM (
           SELECT batch, seq, sum(row_count) OVER (ORDER BY seq) AS upto FROM batches
           WHERE chain = $1 AND seq > $2
         ) WHERE upto <= $3 OR seq = $2 + 1 ORDER BY seq`,
        [chain, BigInt(afterSeq), BigInt(maxRows)],
      );
      if (links.length === 0) return { batches: [], throughSeq: afterSeq };
      const byKey = await batchRows(
        c,
        links.map((r) => num(r.batch)),
      );
      const batches = links
        .map((r) => ({ seq: num(r.seq), rows: byKey.get(num(r.batch)) ?? [] }))
        .filter((b) => b.rows.length > 0);
      return { batches, throughSeq: num(links.at(-1)?.seq) };
    });
  }

  async lastBatchesBefore(project: string, before: number): Promise<Map<string, number>> {
    const found = await this.reader.run((c) =>
      rows(
        c,
        `SELECT b.chain, max(b.seq) AS seq FROM batches b
         JOIN (SELECT DISTINCT batch_seq FROM events WHERE project = $1 AND ts < ${TS('$2')}) e ON e.batch_seq = b.batch
         GROUP BY b.chain`,
        [project, before],
      ),
    );
    return new Map(found.map((r) => [r.chain as string, num(r.seq)]));
  }

  async expire(
    project: string,
    before: number,
    recorder: ExpiryRecorder,
  ): Promise<{ deleted: number; batches: number; link: ChainLink | null }> {
    return this.linkTransaction(async (c, nextKey) => {
      const touched = (
        await rows(
          c,
          `SELECT DISTINCT batch_seq AS k FROM events WHERE project = $1 AND ts < ${TS('$2')} ORDER BY k`,
          [project, before],
        )
      ).map((r) => num(r.k));
      if (touched.length === 0) return { deleted: 0, batches: 0, link: null };
      const deleted = await c.run(`DELETE FROM events WHERE project = $1 AND ts < ${TS('$2')}`, [
        project,
        before,
      ]);
      const link = recorder.link({ project, before }, await keptOf(c, touched, recorder));
      await appendLink(c, link, await nextKey());
      return { deleted: Number(deleted.rowsChanged), batches: touched.length, link };
    });
  }

  async adoptExpiredMarks(recorder: ExpiryRecorder): Promise<ChainLink | null> {
    return this.linkTransaction(async (c, nextKey) => {
      // Marks of releases with one chain: their seq is the batch's key.
      const marked = (await rows(c, 'SELECT seq FROM expired_batches ORDER BY seq')).map((r) => num(r.seq));
      if (marked.length === 0) return null;
      const link = recorder.link({ project: null, before: null }, await keptOf(c, marked, recorder));
      await appendLink(c, link, await nextKey());
      await c.run('DELETE FROM expired_batches');
      return link;
    });
  }

  async chainExpiries(): Promise<ChainLink[]> {
    return (
      await this.reader.run((c) => rows(c, `${LINK_SELECT} WHERE expiry IS NOT NULL ORDER BY chain, seq`))
    ).map(toLink);
  }

  async *readChain(): AsyncIterable<ChainPage> {
    const links = new LinkCursor(this.reader);
    const anyExpired = await this.reader.run(async (c) => {
      const [r] = await rows(c, 'SELECT count(*) AS n FROM expired_batches');
      return num(r?.n) > 0;
    });
    // The next page's rows are read by the engine while the caller checks this one. They come in
    // the order they were appended, which is chain order: sorting them would cost more than
    // everything else DuckDB does here, so the order is checked as they are read instead, and a
    // page that is not in order (never seen) is read again sorted.
    const sql = (keys: readonly number[], sorted: boolean) =>
      `SELECT ${COLUMNS_SELECT} FROM events WHERE ${keyFilter(keys)}${sorted ? ' ORDER BY batch_seq, batch_row' : ''}`;
    const read = async (page: ChainLink[] & { keys: number[] }) => {
      const [result, expired] = await this.reader.run(async (c) => [
        await fetched(c, sql(page.keys, false)),
        // Marks of releases with one chain: their seq is the batch's key.
        anyExpired
          ? new Set(
              (await rows(c, `SELECT seq FROM expired_batches WHERE ${keyFilter(page.keys, 'seq')}`)).map(
                (r) => num(r.seq),
              ),
            )
          : new Set<number>(),
      ]);
      return { page, result: result as Fetched, expired };
    };
    const first = await links.page();
    if (!first) return;
    let pending = read(first);
    try {
      for (;;) {
        const { page, result, expired } = await pending;
        const next = await links.page();
        if (next) pending = read(next);
        let { columns, keys, sorted } = readColumns(result.result, result.chunks);
        if (!sorted) {
          const again = await this.reader.run((c) => fetched(c, sql(page.keys, true)));
          ({ columns, keys, sorted } = readColumns(again.result, again.chunks));
        }
        // Rows come by batch key: each batch's are one run of them.
        const runs = new Map<number, { from: number; to: number }>();
        for (let i = 0; i < keys.length; ) {
          const key = keys[i] as number;
          const from = i;
          while (i < keys.length && keys[i] === key) i++;
          runs.set(key, { from, to: i });
        }
        yield {
          columns,
          batches: page.map((link, k) => {
            const key = page.keys[k] as number;
            const run = runs.get(key) ?? { from: 0, to: 0 };
            return { link, from: run.from, to: run.to, expired: expired.has(key) };
          }),
        };
        if (!next) return;
      }
    } finally {
      // A caller that stops early (verify at the first bad batch) leaves the next page's read
      // running: it ends before the store can be closed, and its failure is nobody's.
      await pending.catch(() => undefined);
    }
  }
}

type Fetched = { result: DuckDBResult; chunks: DuckDBDataChunk[] };

/** A query's result with every chunk fetched (the copies are made off the JS thread). */
async function fetched(conn: DuckDBConnection, sql: string): Promise<Fetched> {
  const result = await conn.run(sql);
  return { result, chunks: await result.fetchAllChunks() };
}

/** The links of every chain in chain order, a page of whole batches of about 50,000 rows at a time. */
class LinkCursor {
  private buffered: (ChainLink & { key: number })[] = [];
  private after = { chain: '', seq: 0 };
  private done = false;
  constructor(private readonly reader: Serial) {}

  async page(): Promise<(ChainLink[] & { keys: number[] }) | null> {
    const out = Object.assign([] as ChainLink[], { keys: [] as number[] });
    let inPage = 0;
    for (;;) {
      if (this.buffered.length === 0 && !this.done) await this.fill();
      const link = this.buffered[0];
      if (!link) break;
      // Whole batches up to about 50,000 rows at a time (at least one): memory stays bounded
      // whatever the batch sizes (a backfill writes 50,000-row batches).
      if (out.length > 0 && inPage + link.rowCount > 50_000) break;
      this.buffered.shift();
      const { key, ...plain } = link;
      out.push(plain);
      out.keys.push(key);
      inPage += link.rowCount;
    }
    return out.length > 0 ? out : null;
  }

  private async fill(): Promise<void> {
    const LINKS = 4_096;
    const found = await this.reader.run((c) =>
      rows(
        c,
        `${LINK_SELECT.replace('SELECT ', 'SELECT batch, ')} WHERE chain > $1 OR (chain = $1 AND seq > $2) ORDER BY chain, seq LIMIT ${LINKS}`,
        [this.after.chain, BigInt(this.after.seq)],
      ),
    );
    if (found.length < LINKS) this.done = true;
    const last = found.at(-1);
    if (last) this.after = { chain: last.chain as string, seq: num(last.seq) };
    // Front-to-back: the buffer is empty when it is filled.
    this.buffered = found.map((r) => Object.assign(toLink(r), { key: num(r.batch) }));
  }
}

/** The newest batch key in the table (0 when none). */
async function newestBatchKey(conn: DuckDBConnection): Promise<number> {
  const [r] = await rows(conn, 'SELECT coalesce(max(batch), 0) AS k FROM batches');
  return num(r?.k);
}

/**
 * Records `link` under `key`, through an appender: no statement to prepare and run, so the write
 * transaction makes no trip to DuckDB's threads for it (columns in the order migration 15 made them).
 */
async function appendLink(conn: DuckDBConnection, link: ChainLink, key: number): Promise<void> {
  const appender = await conn.createAppender('batches');
  appender.appendBigInt(BigInt(key));
  appender.appendVarchar(link.chain);
  appender.appendBigInt(BigInt(link.seq));
  appender.appendVarchar(link.prevHash);
  appender.appendVarchar(link.hash);
  appender.appendInteger(link.rowCount);
  appender.appendTimestamp(new DuckDBTimestampValue(BigInt(link.committedAt) * 1000n));
  if (link.expiry) appender.appendVarchar(JSON.stringify(link.expiry));
  else appender.appendNull();
  appender.endRow();
  appender.closeSync();
}

/** SQL selecting rows of the batches with these keys (integers: no request value), pruned to their range. */
function keyFilter(keys: readonly number[], column = 'batch_seq'): string {
  let lo = Number.POSITIVE_INFINITY;
  let hi = Number.NEGATIVE_INFINITY;
  for (const k of keys) {
    lo = Math.min(lo, k);
    hi = Math.max(hi, k);
  }
  // Every key of the range (one chain's consecutive batches): the range alone says it.
  if (new Set(keys).size === hi - lo + 1) return `${column} BETWEEN ${Math.trunc(lo)} AND ${Math.trunc(hi)}`;
  return `${column} BETWEEN ${lo} AND ${hi} AND ${column} IN (${keys.map((k) => Math.trunc(k)).join(',')})`;
}

/** Deletes the events matching `where` and their outcome index entries; returns the events deleted. */
async function deleteBatchRows(
  conn: DuckDBConnection,
  where: string,
  values: DuckDBValue[],
): Promise<number> {
  await conn.run(
    `DELETE FROM signal_outcomes WHERE event_id IN (SELECT id FROM events WHERE ${where})`,
    values,
  );
  return Number((await conn.run(`DELETE FROM events WHERE ${where}`, values)).rowsChanged);
}

/** The rows of the batches with these keys, each batch's in chain order. */
async function batchRows(conn: DuckDBConnection, keys: readonly number[]): Promise<Map<number, EventRow[]>> {
  const byKey = new Map<number, EventRow[]>();
  if (keys.length === 0) return byKey;
  const found = await rows(
    conn,
    `SELECT ${EVENT_SELECT}, batch_seq FROM events WHERE ${keyFilter(keys)} ORDER BY batch_seq, batch_row`,
  );
  for (const r of found) {
    const key = num(r.batch_seq);
    const list = byKey.get(key);
    if (list) list.push(toEventRow(r));
    else byKey.set(key, [toEventRow(r)]);
  }
  return byKey;
}

/** What each batch of `keys` keeps now, its remaining rows hashed by `recorder` (about 50,000 rows read at a time). */
async function keptOf(
  conn: DuckDBConnection,
  keys: readonly number[],
  recorder: ExpiryRecorder,
): Promise<ExpiredBatch[]> {
  const links = new Map(
    (await rows(conn, `SELECT batch, chain, seq FROM batches WHERE ${keyFilter(keys, 'batch')}`)).map((r) => [
      num(r.batch),
      { chain: r.chain as string, seq: num(r.seq) },
    ]),
  );
  const counts = new Map(
    (
      await rows(
        conn,
        `SELECT batch_seq AS k, count(*) AS n FROM events WHERE ${keyFilter(keys)} GROUP BY batch_seq`,
      )
    ).map((r) => [num(r.k), num(r.n)]),
  );
  const placeOf = (key: number) => {
    const place = links.get(key);
    if (!place) throw new Error(`expire: events of batch key ${key}, which no link records`);
    return place;
  };
  const out: ExpiredBatch[] = keys
    .filter((k) => !counts.has(k))
    .map((k) => ({ ...placeOf(k), remaining: 0, hash: null }));
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
    const byKey = await batchRows(conn, page);
    for (const key of page) {
      const remaining = byKey.get(key) ?? [];
      const { chain, seq } = placeOf(key);
      out.push({
        chain,
        seq,
        remaining: remaining.length,
        hash: recorder.remainingHash(chain, seq, remaining),
      });
    }
  }
  return out;
}
