import {
  EventColumnsBuilder,
  type EventRow,
  emptyRow,
  sampleKey,
  TYPED_FIELD_NAMES,
  TYPED_FIELDS,
} from '../../model/index.js';
import { linkFromRow } from '../links.js';
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
import type { ClickHouseConnection } from './connection.js';
import { expireByDay, num, withinDays } from './shared.js';
import { float, ident, int, join, limit, ms, raw, type Sql, sql, str, stringSet, strings } from './sql.js';

/** Ids per lookup: a literal list stays well under 18.16's max_query_size (256 KiB). */
const LOOKUP_SLICE = 2_000;
/** Rows read at a time when a read walks whole batches. */
const PAGE_ROWS = 50_000;

/** The columns of an event row, as `toEventRow` reads them. */
export const EVENT_SELECT = raw(
  ['id', 'project', 'type', 'ts', 'received_at', 'late', 'version', ...TYPED_FIELD_NAMES, 'props']
    .map((c) => `\`${c}\``)
    .join(', '),
);

export function toEventRow(r: Record<string, unknown>): EventRow {
  const row = emptyRow();
  row.id = r.id as string;
  row.project = r.project as string;
  row.type = r.type as string;
  row.ts = num(r.ts);
  row.received_at = num(r.received_at);
  row.late = num(r.late) === 1;
  row.version = (r.version as string | null) ?? null;
  const typed = row as unknown as Record<string, unknown>;
  for (const name of TYPED_FIELD_NAMES) {
    const v = r[name];
    const kind = TYPED_FIELDS[name].kind;
    typed[name] =
      v === undefined || v === null
        ? null
        : kind === 'boolean'
          ? num(v) === 1
          : kind === 'string'
            ? v
            : num(v);
  }
  row.props = (r.props as string | null) ?? null;
  return row;
}

/** The top-level props as text: strings as they are, other values as their JSON. */
function flatProps(props: string | null): { prop_keys: string[]; prop_values: string[] } {
  const keys: string[] = [];
  const values: string[] = [];
  if (props) {
    try {
      const parsed = JSON.parse(props) as unknown;
      if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) {
        for (const [k, v] of Object.entries(parsed as Record<string, unknown>)) {
          if (v === null || v === undefined) continue;
          keys.push(k);
          values.push(typeof v === 'string' ? v : JSON.stringify(v));
        }
      }
    } catch {
      // Not JSON: nothing to filter on (the text is kept as it is).
    }
  }
  return { prop_keys: keys, prop_values: values };
}

function eventData(r: EventRow, link: ChainLink, row: number): Record<string, unknown> {
  const out: Record<string, unknown> = {
    id: r.id,
    project: r.project,
    type: r.type,
    ts: Math.trunc(r.ts),
    received_at: Math.trunc(r.received_at),
    late: r.late ? 1 : 0,
    version: r.version,
    props: r.props,
    ...flatProps(r.props),
    chain: link.chain,
    batch_seq: link.seq,
    batch_row: row,
    sample_key: sampleKey(r.id).toString(),
  };
  const typed = r as unknown as Record<string, unknown>;
  for (const name of TYPED_FIELD_NAMES) {
    const v = typed[name];
    out[name] = typeof v === 'boolean' ? (v ? 1 : 0) : (v ?? null);
  }
  return out;
}

const LINK_SELECT = raw('chain, seq, prev_hash, hash, row_count, committed_at, expiry');

const toLink = (r: Record<string, unknown>): ChainLink => linkFromRow(r, num);

/** A prop's text (NULL when the event has no such prop). */
const propText = (prop: string) =>
  sql`if(has(prop_keys, ${str(prop)}), prop_values[indexOf(prop_keys, ${str(prop)})], NULL)`;

/** SQL for a field: its typed column, or a top-level prop (numeric when asked). */
function fieldSql(field: FieldRef, numeric = false): Sql {
  if (typeof field === 'string') return ident(field);
  return numeric ? sql`toFloat64OrNull(${propText(field.prop)})` : propText(field.prop);
}

/** SQL for `field = value`, comparing typed numbers and booleans by value. */
function propEquals(w: PropEquals): Sql {
  if (typeof w.field !== 'string') return sql`${propText(w.field.prop)} = ${str(w.value)}`;
  const kind = TYPED_FIELDS[w.field].kind;
  if (kind === 'string') return sql`${ident(w.field)} = ${str(w.value)}`;
  if (kind === 'boolean') {
    const v = w.value.trim().toLowerCase();
    const b = ['true', 't', '1', 'yes', 'y', 'on'].includes(v)
      ? 1
      : ['false', 'f', '0', 'no', 'n', 'off'].includes(v)
        ? 0
        : null;
    return b === null ? sql`0` : sql`${ident(w.field)} = ${int(b)}`;
  }
  const n = Number(w.value.trim());
  return w.value.trim() === '' || Number.isNaN(n) ? sql`0` : sql`${ident(w.field)} = ${float(n)}`;
}

/** Exact discrete quantile: the element at floor(q·(n−1)) of the sorted values (as DuckDB's quantile_disc). */
const quantile = (v: string, q: number) =>
  `if(count(${v}) = 0, NULL, arraySort(groupArray(${v}))[toUInt64(floor(${q} * (count(${v}) - 1))) + 1])`;

const AGGREGATE_SQL: Record<RawAggregate, (v: string) => string> = {
  count: () => 'count()',
  rate: () => 'count()',
  sum: (v) => `sum(${v})`,
  avg: (v) => `avg(${v})`,
  min: (v) => `min(${v})`,
  max: (v) => `max(${v})`,
  p50: (v) => quantile(v, 0.5),
  p90: (v) => quantile(v, 0.9),
  p95: (v) => quantile(v, 0.95),
  p99: (v) => quantile(v, 0.99),
};

const BUCKET_SQL = {
  minute: 'intDiv(ts, 60000) * 60000',
  hour: 'intDiv(ts, 3600000) * 3600000',
  day: 'intDiv(ts, 86400000) * 86400000',
  week: 'toInt64(toMonday(toDate(intDiv(ts, 86400000)))) * 86400000',
  month: 'toInt64(toStartOfMonth(toDate(intDiv(ts, 86400000)))) * 86400000',
} as const;

/** Splits a list into slices of `size`. */
function slices<T>(list: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < list.length; i += size) out.push(list.slice(i, i + size));
  return out;
}

/**
 * Events and their audit chain on ClickHouse. No transactions: an append checks idempotency, then
 * writes the events, the id and outcome indexes and the scrub counts, and the chain link last; a
 * failure before the link leaves rows after the chain head, which `discardUnchained` removes.
 */
export class ClickHouseEventStore implements EventStore {
  constructor(private readonly conn: ClickHouseConnection) {}

  private t(name: string): Sql {
    return this.conn.table(name);
  }

  async chainHead(chain: string): Promise<ChainLink | null> {
    const [r] = await this.conn.rows(
      sql`SELECT ${LINK_SELECT} FROM ${this.t('batches')} WHERE chain = ${str(chain)} ORDER BY seq DESC LIMIT 1`,
    );
    return r ? toLink(r) : null;
  }

  async chainLink(chain: string, seq: number): Promise<ChainLink | null> {
    const [r] = await this.conn.rows(
      sql`SELECT ${LINK_SELECT} FROM ${this.t('batches')} WHERE chain = ${str(chain)} AND seq = ${int(seq)}`,
    );
    return r ? toLink(r) : null;
  }

  async chains(): Promise<ChainLink[]> {
    return (
      await this.conn.rows(
        sql`SELECT ${LINK_SELECT} FROM ${this.t('batches')}
            WHERE (chain, seq) GLOBAL IN (SELECT chain, max(seq) FROM ${this.t('batches')} GROUP BY chain) ORDER BY chain`,
      )
    ).map(toLink);
  }

  async findExistingIds(ids: readonly string[]): Promise<Set<string>> {
    const found = new Set<string>();
    for (const part of slices([...new Set(ids)], LOOKUP_SLICE)) {
      const hits = await this.conn.rows<{ id: string }>(
        sql`SELECT DISTINCT id FROM ${this.t('event_ids')} WHERE id IN ${stringSet(part)}`,
      );
      for (const h of hits) found.add(h.id);
    }
    return found;
  }

  private async outcomeSignals(project: string, signalIds: readonly string[]): Promise<Set<string>> {
    const found = new Set<string>();
    for (const part of slices([...new Set(signalIds)], LOOKUP_SLICE)) {
      const hits = await this.conn.rows<{ signal_id: string }>(
        sql`SELECT DISTINCT signal_id FROM ${this.t('signal_outcomes')}
            WHERE project = ${str(project)} AND signal_id IN ${stringSet(part)}`,
      );
      for (const h of hits) found.add(h.signal_id);
    }
    return found;
  }

  /** Nothing to ready: the insert's body is made in the append, from the rows it keeps. */
  prepareAppend(): void {}

  async appendBatch({ rows: candidates, seal }: AppendBatch): Promise<Appended> {
    const duplicates = await this.findExistingIds(candidates.map((r) => r.id));
    const duplicateOutcomes = new Set<string>();
    const outcomes = candidates.filter(
      (r) => r.type === 'decision.outcome' && r.signal_id !== null && !duplicates.has(r.id),
    );
    for (const project of new Set(outcomes.map((r) => r.project))) {
      const mine = outcomes.filter((r) => r.project === project);
      const taken = await this.outcomeSignals(
        project,
        mine.map((r) => r.signal_id as string),
      );
      for (const r of mine) if (taken.has(r.signal_id as string)) duplicateOutcomes.add(r.id);
    }
    const kept = candidates.filter((r) => !duplicates.has(r.id) && !duplicateOutcomes.has(r.id));
    if (kept.length === 0) return { link: null, duplicates, duplicateOutcomes };
    const { link, scrubbed } = seal(kept);
    await this.writeBatch(kept, link, scrubbed);
    await this.insertLink(link);
    return { link, duplicates, duplicateOutcomes };
  }

  /** The rows of one batch and their index entries (the link is written by the caller, after). */
  /**
   * The rows of one batch, their index entries and scrub counts, one insert after another (four
   * synchronous Distributed inserts at once crashed an 18.16 shard); the caller writes the link
   * after. Every row carries the batch number, so a failed write's debris is found and removed.
   */
  private async writeBatch(
    kept: readonly EventRow[],
    link: ChainLink,
    scrubbed: readonly ScrubCount[] = [],
  ): Promise<void> {
    const outcomes = kept.filter((r) => r.type === 'decision.outcome' && r.signal_id !== null);
    await this.conn.insert('events', kept, (r, i) => eventData(r, link, i));
    await this.conn.insert(
      'event_ids',
      kept.map((r) => ({
        id: r.id,
        project: r.project,
        ts: Math.trunc(r.ts),
        chain: link.chain,
        batch_seq: link.seq,
      })),
    );
    await this.conn.insert(
      'signal_outcomes',
      outcomes.map((r) => ({
        project: r.project,
        signal_id: r.signal_id,
        event_id: r.id,
        chain: link.chain,
        batch_seq: link.seq,
      })),
    );
    await this.conn.insert(
      'scrub_counts',
      scrubbed.map((c) => ({ ...c, chain: link.chain, batch_seq: link.seq })),
    );
  }

  private async insertLink(link: ChainLink): Promise<void> {
    await this.conn.insert('batches', [
      {
        chain: link.chain,
        seq: link.seq,
        prev_hash: link.prevHash,
        hash: link.hash,
        row_count: link.rowCount,
        committed_at: Math.trunc(link.committedAt),
        expiry: link.expiry ? JSON.stringify(link.expiry) : null,
      },
    ]);
  }

  async discardUnchained(chain: string, headSeq: number): Promise<number> {
    let events = 0;
    // Mutations, but only after a failed append (never on a schedule), and only where debris is.
    for (const table of ['events', 'event_ids', 'signal_outcomes', 'scrub_counts']) {
      const [r] = await this.conn.rows<{ n: string }>(
        sql`SELECT count() AS n FROM ${this.t(table)} WHERE chain = ${str(chain)} AND batch_seq > ${int(headSeq)}`,
      );
      const n = num(r?.n ?? 0);
      if (table === 'events') events = n;
      if (n === 0) continue;
      await this.conn.onEveryShard(
        sql`ALTER TABLE ${this.conn.localTable(table)} DELETE WHERE chain = ${str(chain)} AND batch_seq > ${int(headSeq)}`,
      );
      await this.conn.awaitMutations(table);
    }
    return events;
  }

  async listEvents(query: EventQuery): Promise<EventRow[]> {
    const where = [sql`project = ${str(query.project)}`];
    if (query.types && query.types.length > 0) where.push(sql`has(${strings(query.types)}, type)`);
    if (query.from !== undefined) where.push(sql`ts >= ${ms(query.from)}`);
    if (query.to !== undefined) where.push(sql`ts < ${ms(query.to)}`);
    where.push(withinDays(this.conn, query.from, query.to));
    for (const w of query.where ?? []) where.push(propEquals(w));
    if (query.before) {
      const ts = ms(query.before.ts);
      where.push(sql`(ts < ${ts} OR (ts = ${ts} AND id < ${str(query.before.id)}))`);
    }
    const found = await this.conn.rows(
      sql`SELECT ${EVENT_SELECT} FROM ${this.t('events')} WHERE ${join(where, ' AND ')}
          ORDER BY ts DESC, id DESC LIMIT ${limit(Math.max(0, Math.trunc(query.limit)))}`,
    );
    return found.map(toEventRow);
  }

  async aggregateRaw(query: RawAggregateQuery): Promise<RawAggregateRow[]> {
    // Both pick SQL written here: only their own keys.
    if (!Object.hasOwn(AGGREGATE_SQL, query.aggregate))
      throw new Error(`not an aggregate: ${query.aggregate}`);
    if (query.bucket !== undefined && !Object.hasOwn(BUCKET_SQL, query.bucket))
      throw new Error(`not a bucket: ${query.bucket}`);
    const value = query.field === undefined ? sql`NULL` : fieldSql(query.field, true);
    const groups = query.groupBy.map((g, i) => sql`${fieldSql(g)} AS ${ident(`g${i}`)}`);
    const groupNames = query.groupBy.map((_, i) => `g${i}`);
    const where = join(
      [
        sql`project = ${str(query.project)}`,
        sql`type = ${str(query.type)}`,
        sql`ts >= ${ms(query.from)}`,
        sql`ts < ${ms(query.to)}`,
        withinDays(this.conn, query.from, query.to),
        ...query.filters.map(propEquals),
      ],
      ' AND ',
    );
    const bucket = query.bucket ? raw(BUCKET_SQL[query.bucket]) : ms(query.from);
    const keys = raw(['a_bucket', ...groupNames].join(', '));
    const found = await this.conn.rows(
      sql`SELECT ${bucket} AS a_bucket, ${join([...groups, raw(`${AGGREGATE_SQL[query.aggregate]('a_v')} AS a_value`), raw('count() AS a_n')], ', ')}
          FROM (SELECT *, ${value} AS a_v FROM ${this.t('events')} WHERE ${where})
          GROUP BY ${keys} ORDER BY ${keys}`,
    );
    return found.map((r) => ({
      bucket: num(r.a_bucket),
      groups: query.groupBy.map((g, i) => {
        const v = r[`g${i}`];
        if (v === null || v === undefined) return null;
        if (typeof g === 'string' && TYPED_FIELDS[g].kind === 'boolean')
          return num(v) === 1 ? 'true' : 'false';
        return String(v);
      }),
      value: r.a_value === null || r.a_value === undefined ? null : num(r.a_value),
      count: num(r.a_n),
    }));
  }

  async countEvents(project?: string): Promise<number> {
    const where = project === undefined ? sql`1` : sql`project = ${str(project)}`;
    const [r] = await this.conn.rows<{ n: string }>(
      sql`SELECT count() AS n FROM ${this.t('events')} WHERE ${where}`,
    );
    return num(r?.n ?? 0);
  }

  async scrubCounts(project?: string): Promise<ScrubCount[]> {
    const where = project === undefined ? sql`1` : sql`project = ${str(project)}`;
    const found = await this.conn.rows<{ project: string; reason: string; s_count: string }>(
      sql`SELECT project, reason, sum(count) AS s_count FROM ${this.t('scrub_counts')} WHERE ${where}
          GROUP BY project, reason ORDER BY project, reason`,
    );
    return found.map((r) => ({ project: r.project, reason: r.reason, count: num(r.s_count) }));
  }

  /** The chain's links after `after` whose rows add up to about `maxRows` (at least one link). */
  private async linksAfter(chain: string, after: number, maxRows: number): Promise<ChainLink[]> {
    const found = (
      await this.conn.rows(
        sql`SELECT ${LINK_SELECT} FROM ${this.t('batches')} WHERE chain = ${str(chain)} AND seq > ${int(after)}
            ORDER BY seq LIMIT ${limit(Math.min(Math.max(1, maxRows) + 1, 10_000))}`,
      )
    ).map(toLink);
    const out: ChainLink[] = [];
    let rows = 0;
    for (const link of found) {
      if (out.length > 0 && rows + link.rowCount > maxRows) break;
      out.push(link);
      rows += link.rowCount;
    }
    return out;
  }

  /** The rows of the chain's batches `fromSeq`..`toSeq`, by batch, in chain order. */
  private async batchRows(chain: string, fromSeq: number, toSeq: number): Promise<Map<number, EventRow[]>> {
    const found = await this.conn.rows(
      sql`SELECT ${EVENT_SELECT}, batch_seq FROM ${this.t('events')}
          WHERE chain = ${str(chain)} AND batch_seq >= ${int(fromSeq)} AND batch_seq <= ${int(toSeq)}
          ORDER BY batch_seq, batch_row`,
    );
    const bySeq = new Map<number, EventRow[]>();
    for (const r of found) {
      const seq = num(r.batch_seq);
      const list = bySeq.get(seq) ?? [];
      if (list.length === 0) bySeq.set(seq, list);
      list.push(toEventRow(r));
    }
    return bySeq;
  }

  async readCommitted(
    chain: string,
    afterSeq: number,
    maxRows: number,
  ): Promise<{ batches: { seq: number; rows: EventRow[] }[]; throughSeq: number }> {
    const links = await this.linksAfter(chain, afterSeq, maxRows);
    const first = links[0];
    const last = links.at(-1);
    if (!first || !last) return { batches: [], throughSeq: afterSeq };
    const bySeq = await this.batchRows(chain, first.seq, last.seq);
    const batches = links
      .filter((l) => bySeq.has(l.seq))
      .map((l) => ({ seq: l.seq, rows: bySeq.get(l.seq) as EventRow[] }));
    return { batches, throughSeq: last.seq };
  }

  async *readChain(): AsyncIterable<ChainPage> {
    for (const head of await this.chains()) {
      let after = 0;
      for (;;) {
        const links = await this.linksAfter(head.chain, after, PAGE_ROWS);
        const first = links[0];
        const last = links.at(-1);
        if (!first || !last) break;
        const bySeq = await this.batchRows(head.chain, first.seq, last.seq);
        const columns = new EventColumnsBuilder(links.reduce((n, l) => n + l.rowCount, 0));
        const batches = links.map((link) => {
          const from = columns.length;
          for (const row of bySeq.get(link.seq) ?? []) columns.addRow(row);
          // This engine never kept expiry marks outside the chain: nothing is marked expired.
          return { link, from, to: columns.length, expired: false };
        });
        yield { columns: columns.done(), batches };
        after = last.seq;
      }
    }
  }

  async lastBatchesBefore(project: string, before: number): Promise<Map<string, number>> {
    const found = await this.conn.rows<{ chain: string; s: string }>(
      sql`SELECT chain, max(batch_seq) AS s FROM ${this.t('events')}
          WHERE project = ${str(project)} AND ts < ${ms(before)} GROUP BY chain`,
    );
    return new Map(found.map((r) => [r.chain, num(r.s)]));
  }

  async expire(
    project: string,
    before: number,
    recorder: ExpiryRecorder,
  ): Promise<{ deleted: number; batches: number; link: ChainLink | null }> {
    const touched = (
      await this.conn.rows<{ chain: string; seq: string; n: string }>(
        sql`SELECT chain, batch_seq AS seq, count() AS n FROM ${this.t('events')}
            WHERE project = ${str(project)} AND ts < ${ms(before)}
            GROUP BY chain, batch_seq ORDER BY chain, batch_seq`,
      )
    ).map((r) => ({ chain: r.chain, seq: num(r.seq), n: num(r.n) }));
    if (touched.length === 0) return { deleted: 0, batches: 0, link: null };
    const deleted = touched.reduce((a, t) => a + t.n, 0);
    await expireByDay(this.conn, 'events', { project, before, time: 'ts' });
    await expireByDay(this.conn, 'event_ids', { project, before, time: 'ts' });
    const link = recorder.link({ project, before }, await this.keptOf(touched, recorder));
    await this.insertLink(link);
    return { deleted, batches: touched.length, link };
  }

  /** What each touched batch keeps now, its remaining rows hashed by `recorder`. */
  private async keptOf(
    batches: readonly { chain: string; seq: number }[],
    recorder: ExpiryRecorder,
  ): Promise<ExpiredBatch[]> {
    const out: ExpiredBatch[] = [];
    for (const { chain, seq } of batches) {
      const remaining = (await this.batchRows(chain, seq, seq)).get(seq) ?? [];
      out.push(
        remaining.length === 0
          ? { chain, seq, remaining: 0, hash: null }
          : { chain, seq, remaining: remaining.length, hash: recorder.remainingHash(chain, seq, remaining) },
      );
    }
    return out;
  }

  async adoptExpiredMarks(_recorder: ExpiryRecorder): Promise<ChainLink | null> {
    // Expiry marks outside the chain are from DuckDB releases before chained expiries: none here.
    return null;
  }

  async chainExpiries(): Promise<ChainLink[]> {
    return (
      await this.conn.rows(
        sql`SELECT ${LINK_SELECT} FROM ${this.t('batches')} WHERE expiry IS NOT NULL ORDER BY chain, seq`,
      )
    ).map(toLink);
  }
}
