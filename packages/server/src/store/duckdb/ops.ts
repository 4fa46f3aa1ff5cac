import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createReadStream, createWriteStream, mkdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { DuckDBConnection, DuckDBInstance, DuckDBValue } from '@duckdb/node-api';
import { EVENT_FIELDS } from '../../model/index.js';
import { type EventExport, type OpsStore, StoreError, type StoreImage } from '../types.js';
import { duckdbSaid, LINK_SELECT, num, numOrNull, rows, storeErrorOf, TS, toLink } from './shared.js';

const sqlPath = (p: string) => `'${p.replaceAll("'", "''")}'`;
const ident = (name: string) => `"${name.replaceAll('"', '""')}"`;

/** Rows in each table of the database `db` (the store's own, or an attached copy). */
async function countRows(conn: DuckDBConnection, db: string): Promise<Record<string, number>> {
  const tables = await rows(
    conn,
    `SELECT table_name FROM duckdb_tables() WHERE database_name = $1 AND schema_name = 'main' ORDER BY table_name`,
    [db],
  );
  const counts: Record<string, number> = {};
  for (const t of tables) {
    const [r] = await rows(conn, `SELECT count(*) AS n FROM ${ident(db)}.${ident(String(t.table_name))}`);
    counts[String(t.table_name)] = num(r?.n);
  }
  return counts;
}

/**
 * The exported columns: what a person analysing events needs, without chain bookkeeping, in the
 * order of the CSV header (EVENT_FIELDS: the added typed fields after props).
 */
const EXPORT_SELECT = EVENT_FIELDS.map((f) =>
  f === 'id' ? 'id::VARCHAR AS id' : f === 'props' ? 'props::VARCHAR AS props' : `"${f}"`,
).join(', ');

/**
 * Operations on the whole store: consistent snapshots (backup), row counts (backup manifest,
 * restore check) and event export. Each operation runs on a connection of its own, so a
 * long backup or export never holds up ingestion or reads.
 */
export class DuckDBOpsStore implements OpsStore {
  private readonly running = new Set<Promise<unknown>>();
  /** Operations running single-threaded, and the thread count to restore after them. */
  private narrowed = 0;
  private narrowing: Promise<void> | null = null;
  private threads = 1;

  constructor(
    private readonly instance: DuckDBInstance,
    /** The store file's name (the image's name in a backup). */
    private readonly copies: { file: string },
  ) {}

  /** Waits for running operations (the store closes after this). */
  async drain(): Promise<void> {
    while (this.running.size > 0) await Promise.allSettled([...this.running]);
  }

  private async withConnection<T>(task: (conn: DuckDBConnection) => Promise<T>): Promise<T> {
    const work = (async () => {
      const conn = await this.instance.connect().catch((err: unknown) => {
        throw storeErrorOf(err);
      });
      try {
        return await task(conn);
      } catch (err) {
        throw storeErrorOf(err);
      } finally {
        conn.closeSync();
      }
    })();
    this.running.add(work);
    try {
      return await work;
    } finally {
      this.running.delete(work);
    }
  }

  async backup({ scratchDir }: { scratchDir: string }): Promise<StoreImage> {
    const dir = join(scratchDir, 'store');
    mkdirSync(dir, { recursive: true });
    const file = join(dir, this.copies.file);
    try {
      const facts = await this.snapshot(file);
      return {
        engine: 'duckdb',
        name: this.copies.file,
        ...facts,
        bytes: statSync(file).size,
        read: () => createReadStream(file),
        discard: () => rmSync(dir, { recursive: true, force: true }),
      };
    } catch (err) {
      rmSync(dir, { recursive: true, force: true });
      if (err instanceof StoreError && err.code === 'out_of_memory')
        throw new StoreError(
          'out_of_memory',
          `the backup ran out of memory: it copies one row group of a table at a time, on one thread, and that needs more than store.duckdb.memoryLimit allows here (DuckDB: ${duckdbSaid(err.cause)}); raise store.duckdb.memoryLimit (the default 128MB is enough) and retry`,
          { cause: err },
        );
      throw err;
    }
  }

  /**
   * Copies every table into `file` as of one moment (MVCC: writers go on) and reads what the
   * copy holds (row counts, schema version, chain head) from the copy itself, in the same
   * instance: the backup needs no memory beyond the store's own limit.
   */
  private snapshot(file: string): Promise<Pick<StoreImage, 'rowCounts' | 'schemaVersion' | 'chains'>> {
    return this.withConnection(async (conn) => {
      const [db] = await rows(conn, 'SELECT current_database() AS name');
      const source = ident(String(db?.name));
      // A name of its own: two backups may run at once.
      const copy = `vigil_snapshot_${randomBytes(6).toString('hex')}`;
      await conn.run(`ATTACH ${sqlPath(file)} AS ${copy}`);
      try {
        await this.singleThreaded(conn, async () => {
          // One transaction: every table is copied as of the same moment (MVCC), while writers go on.
          await conn.run('BEGIN TRANSACTION');
          try {
            await conn.run(`COPY FROM DATABASE ${source} TO ${copy}`);
            await conn.run('COMMIT');
          } catch (err) {
            await conn.run('ROLLBACK').catch(() => undefined);
            throw err;
          }
        });
        const [schema] = await rows(conn, `SELECT max(version) AS v FROM ${copy}.vigil_migrations`);
        const heads = await rows(
          conn,
          `${LINK_SELECT.replace(/FROM batches$/, `FROM ${copy}.batches`)}
           QUALIFY row_number() OVER (PARTITION BY chain ORDER BY seq DESC) = 1 ORDER BY chain`,
        );
        return {
          rowCounts: await countRows(conn, copy),
          schemaVersion: numOrNull(schema?.v) ?? 0,
          chains: heads.map(toLink),
        };
      } finally {
        // Detaching checkpoints the copy: the file stands alone.
        await conn.run(`DETACH ${copy}`);
      }
    });
  }

  /**
   * Runs `task` with DuckDB on one thread. A whole-store copy holds a row group of every column
   * per thread (tens of MB for the events table); on one thread it fits the default limit at any
   * store size. `threads` is instance-wide: concurrent operations share one count, and the last
   * to finish restores the setting.
   */
  private async singleThreaded<T>(conn: DuckDBConnection, task: () => Promise<T>): Promise<T> {
    if (this.narrowed++ === 0) {
      this.narrowing = (async () => {
        const [t] = await rows(conn, "SELECT current_setting('threads') AS n");
        this.threads = num(t?.n);
        await conn.run('SET threads = 1');
      })();
    }
    try {
      await this.narrowing;
      return await task();
    } finally {
      if (--this.narrowed === 0) await conn.run(`SET threads = ${Math.max(1, this.threads)}`);
    }
  }

  rowCounts(): Promise<Record<string, number>> {
    return this.withConnection(async (conn) => {
      const [db] = await rows(conn, 'SELECT current_database() AS name');
      return countRows(conn, String(db?.name));
    });
  }

  exportEvents(
    query: EventExport,
    onProgress?: (done: number, total: number) => void,
  ): Promise<{ rows: number }> {
    return this.withConnection(async (conn) => {
      const values: DuckDBValue[] = [query.from, query.to];
      const where = [`ts >= ${TS('$1')}`, `ts < ${TS('$2')}`];
      if (query.type !== undefined) {
        values.push(query.type);
        where.push(`type = $${values.length}`);
      }
      if (query.project !== undefined) {
        values.push(query.project);
        where.push(`project = $${values.length}`);
      }
      const filter = where.join(' AND ');
      const [total] = await rows(
        conn,
        `SELECT count(*) AS n, epoch_ms(min(ts)) AS lo, epoch_ms(max(ts)) AS hi FROM events WHERE ${filter}`,
        values,
      );
      const totalRows = num(total?.n);
      // Slices span the events' own time range, not the requested one (which may be far wider).
      const lo = totalRows > 0 ? num(total?.lo) : query.from;
      const hi = totalRows > 0 ? num(total?.hi) + 1 : query.from + 1;
      // Written in time slices so that progress is rows really written; a slice is a part file,
      // and the parts are joined into the one output file at the end.
      const slices = Math.max(1, Math.min(query.slices ?? 20, Math.ceil(totalRows / 50_000)));
      const width = Math.ceil((hi - lo) / slices);
      const parts = `${query.out}.parts`;
      rmSync(parts, { recursive: true, force: true });
      mkdirSync(parts, { recursive: true });
      const ext = query.format === 'parquet' ? 'parquet' : 'csv';
      const format = query.format === 'parquet' ? 'FORMAT parquet' : 'FORMAT csv, HEADER false';
      try {
        let done = 0;
        onProgress?.(0, totalRows);
        const files: string[] = [];
        for (let i = 0; i < slices; i++) {
          const from = lo + i * width;
          const to = i === slices - 1 ? hi : Math.min(hi, from + width);
          if (from >= to) break;
          const part = join(parts, `part-${String(i).padStart(4, '0')}.${ext}`);
          const sliceValues = [from, to, ...values.slice(2)];
          const sql = `COPY (SELECT ${EXPORT_SELECT} FROM events WHERE ${filter} ORDER BY ts, id) TO ${sqlPath(part)} (${format})`;
          const reader = await conn.runAndReadAll(sql, sliceValues);
          const written = Number(reader.getRows()[0]?.[0] ?? 0);
          files.push(part);
          done += written;
          onProgress?.(done, totalRows);
        }
        if (query.format === 'parquet') {
          const list = `[${files.map(sqlPath).join(', ')}]`;
          await conn.run(`COPY (SELECT * FROM read_parquet(${list})) TO ${sqlPath(query.out)} (${format})`);
        } else {
          // CSV parts carry no header: the output is the header line and the parts in order.
          const out = createWriteStream(query.out);
          out.write(`${EVENT_FIELDS.join(',')}\n`);
          for (const f of files) {
            for await (const chunk of createReadStream(f)) {
              if (!out.write(chunk)) await once(out, 'drain');
            }
          }
          await new Promise<void>((resolve, reject) =>
            out.end((err?: Error | null) => (err ? reject(err) : resolve())),
          );
        }
        return { rows: done };
      } finally {
        rmSync(parts, { recursive: true, force: true });
      }
    });
  }
}
