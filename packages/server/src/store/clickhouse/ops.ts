import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { EVENT_FIELDS, type EventRow, TYPED_FIELDS } from '../../model/index.js';
import { type EventExport, type OpsStore, StoreError, type StoreImage } from '../types.js';
import type { ClickHouseConnection } from './connection.js';
import { EVENT_SELECT, toEventRow } from './events.js';
import { MIGRATIONS } from './migrations.js';
import { num } from './shared.js';
import { join, limit, ms, type Sql, sql, str } from './sql.js';

/** Rows read from ClickHouse at a time while exporting. */
const EXPORT_PAGE = 10_000;

/** A timestamp as DuckDB's CSV writes it (`2026-11-01 12:00:00.5`), so both engines' exports read alike. */
function timestampText(ms: number): string {
  const iso = new Date(ms).toISOString();
  const [date, time] = [iso.slice(0, 10), iso.slice(11, 23)];
  return `${date} ${time.replace(/\.?0+$/, '')}`;
}

function csvField(v: unknown): string {
  if (v === null || v === undefined) return '';
  const text = typeof v === 'boolean' ? (v ? 'true' : 'false') : String(v);
  return /[",\n\r]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

/** A DOUBLE as DuckDB writes it: integral values with `.0`. */
const doubleText = (v: number) => (Number.isInteger(v) && Math.abs(v) < 1e15 ? `${v}.0` : String(v));

function csvLine(row: EventRow): string {
  const fields = row as unknown as Record<string, unknown>;
  return `${EVENT_FIELDS.map((f) => {
    const v = fields[f];
    if (f === 'ts' || f === 'received_at') return csvField(timestampText(v as number));
    const kind = (TYPED_FIELDS as Record<string, { kind: string } | undefined>)[f]?.kind;
    return csvField(kind === 'double' && typeof v === 'number' ? doubleText(v) : v);
  }).join(',')}\n`;
}

/**
 * Whole-store operations of the ClickHouse half: row counts and CSV exports. A backup is
 * ClickHouse's own business (its BACKUP command, `clickhouse-backup`, or ALTER TABLE … FREEZE on
 * each shard); `vigil backup` refuses rather than pretend one file holds a cluster.
 */
export class ClickHouseOps implements OpsStore {
  constructor(private readonly conn: ClickHouseConnection) {}

  async backup(_options: { scratchDir: string }): Promise<StoreImage> {
    throw new StoreError(
      'unsupported',
      `the events are in ClickHouse (database ${this.conn.database}); back them up with ClickHouse's own tools (BACKUP, clickhouse-backup, or ALTER TABLE … FREEZE on each shard)`,
    );
  }

  async rowCounts(): Promise<Record<string, number>> {
    const counts: Record<string, number> = {};
    const tables = [...new Set(MIGRATIONS.flatMap((m) => m.tables.map((t) => t.name)))].sort();
    for (const table of tables) {
      const [r] = await this.conn.rows<{ n: string }>(
        sql`SELECT count() AS n FROM ${this.conn.table(table)}`,
      );
      counts[table] = num(r?.n ?? 0);
    }
    return counts;
  }

  async exportEvents(
    query: EventExport,
    onProgress?: (done: number, total: number) => void,
  ): Promise<{ rows: number }> {
    if (query.format !== 'csv') {
      throw new StoreError('unsupported', 'ClickHouse 18.16 writes no Parquet: export the events as CSV');
    }
    const parts: Sql[] = [sql`ts >= ${ms(query.from)}`, sql`ts < ${ms(query.to)}`];
    if (query.type !== undefined) parts.push(sql`type = ${str(query.type)}`);
    if (query.project !== undefined) parts.push(sql`project = ${str(query.project)}`);
    const where = join(parts, ' AND ');
    const [total] = await this.conn.rows<{ n: string }>(
      sql`SELECT count() AS n FROM ${this.conn.table('events')} WHERE ${where}`,
    );
    const totalRows = num(total?.n ?? 0);
    const out = createWriteStream(query.out);
    let done = 0;
    try {
      out.write(`${EVENT_FIELDS.join(',')}\n`);
      onProgress?.(0, totalRows);
      // Keyset pages in (ts, id) order: memory stays bounded, progress is rows really written.
      let after: { ts: number; id: string } | null = null;
      for (;;) {
        const position: Sql = after
          ? sql` AND (ts > ${ms(after.ts)} OR (ts = ${ms(after.ts)} AND id > ${str(after.id)}))`
          : sql``;
        const page = (
          await this.conn.rows(
            sql`SELECT ${EVENT_SELECT} FROM ${this.conn.table('events')} WHERE ${where}${position}
                ORDER BY ts, id LIMIT ${limit(EXPORT_PAGE)}`,
          )
        ).map(toEventRow);
        for (const row of page) if (!out.write(csvLine(row))) await once(out, 'drain');
        done += page.length;
        const last = page.at(-1);
        if (last) onProgress?.(done, totalRows);
        if (!last || page.length < EXPORT_PAGE) break;
        after = { ts: last.ts, id: last.id };
      }
    } finally {
      await new Promise<void>((resolve, reject) =>
        out.end((err?: Error | null) => (err ? reject(err) : resolve())),
      );
    }
    return { rows: done };
  }
}
