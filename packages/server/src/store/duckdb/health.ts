import type { DuckDBConnection, DuckDBValue } from '@duckdb/node-api';
import { type EventRow, SAMPLE_RANK_BOUND, sampleMask } from '../../model/index.js';
import type {
  EventWindow,
  HealthStore,
  RejectionCount,
  SnapshotRecord,
  SnapshotStore,
  TypeStats,
} from '../types.js';
import { EVENT_SELECT, num, rows, TS, toEventRow } from './shared.js';

/** The part of the engine's one-task-at-a-time connection wrapper this store uses. */
interface SerialConnection {
  run<T>(task: (conn: DuckDBConnection) => Promise<T>): Promise<T>;
  transaction<T>(task: (conn: DuckDBConnection) => Promise<T>): Promise<T>;
}

const DAY = /^\d{4}-\d{2}-\d{2}$/;

function day(value: unknown): string {
  if (value instanceof Date) return value.toISOString().slice(0, 10);
  return String(value).slice(0, 10);
}

function checkDay(d: string): string {
  if (!DAY.test(d)) throw new Error(`not a day: ${d}`);
  return d;
}

/** Telemetry health on DuckDB: reads run on the reader connection, writes on the writer's queue. */
export class DuckDBHealthStore implements HealthStore {
  constructor(
    private readonly writer: SerialConnection,
    private readonly reader: SerialConnection,
  ) {}

  async addRejections(counts: readonly RejectionCount[]): Promise<void> {
    if (counts.length === 0) return;
    await this.writer.transaction(async (c) => {
      for (const r of counts) {
        await c.run(
          `INSERT INTO ingest_rejections VALUES ($1, $2::DATE, $3)
           ON CONFLICT (project, day) DO UPDATE SET count = ingest_rejections.count + excluded.count`,
          [r.project, checkDay(r.day), BigInt(r.count)],
        );
      }
    });
  }

  async rejections(project: string, fromDay: string, toDay: string): Promise<RejectionCount[]> {
    const found = await this.reader.run((c) =>
      rows(
        c,
        `SELECT day, count FROM ingest_rejections
         WHERE project = $1 AND day BETWEEN $2::DATE AND $3::DATE ORDER BY day`,
        [project, checkDay(fromDay), checkDay(toDay)],
      ),
    );
    return found.map((r) => ({ project, day: day(r.day), count: num(r.count) }));
  }

  async typeStats(w: EventWindow, knownVersions: readonly string[]): Promise<TypeStats[]> {
    const unknown =
      knownVersions.length === 0
        ? '0'
        : 'count(*) FILTER (WHERE version IS NOT NULL AND NOT list_contains(json_transform($4, \'["VARCHAR"]\'), version))';
    const values: DuckDBValue[] = [w.project, w.from, w.to];
    if (knownVersions.length > 0) values.push(JSON.stringify(knownVersions));
    const found = await this.reader.run((c) =>
      rows(
        c,
        `SELECT type, count(*) AS n, count(*) FILTER (WHERE version IS NULL) AS missing, ${unknown} AS unknown,
           epoch_ms(max(ts)) AS last_ts
         FROM events WHERE project = $1 AND ts >= ${TS('$2')} AND ts < ${TS('$3')}
         GROUP BY type ORDER BY type`,
        values,
      ),
    );
    return found.map((r) => ({
      type: r.type as string,
      count: num(r.n),
      versionMissing: num(r.missing),
      versionUnknown: num(r.unknown),
      lastTs: num(r.last_ts),
    }));
  }

  async countReceived(w: EventWindow): Promise<number> {
    const [r] = await this.reader.run((c) =>
      rows(
        c,
        `SELECT count(*) AS n FROM events
         WHERE project = $1 AND received_at >= ${TS('$2')} AND received_at < ${TS('$3')}`,
        [w.project, w.from, w.to],
      ),
    );
    return num(r?.n ?? 0);
  }

  async dailyTotals(project: string, days: readonly string[]): Promise<Map<string, number>> {
    const totals = new Map<string, number>(days.map((d) => [checkDay(d), 0]));
    if (days.length === 0) return totals;
    // One narrow range per day so zone maps on ts prune everything else.
    const ranges = days.map((d) => `(ts >= DATE '${d}' AND ts < DATE '${d}' + INTERVAL 1 DAY)`).join(' OR ');
    const found = await this.reader.run((c) =>
      rows(
        c,
        `SELECT strftime(ts, '%Y-%m-%d') AS day, count(*) AS n FROM events
         WHERE project = $1 AND (${ranges}) GROUP BY day`,
        [project],
      ),
    );
    for (const r of found) totals.set(r.day as string, num(r.n));
    return totals;
  }

  async sample(w: EventWindow, seed: string, size: number, population?: number): Promise<EventRow[]> {
    // The rank of model/sampling.ts: the stored key XOR the seed's mask, ties by id.
    const mask = sampleMask(seed);
    const query = (threshold: bigint | null) =>
      this.reader.run((c) =>
        rows(
          c,
          `SELECT ${EVENT_SELECT} FROM events
           WHERE project = $1 AND ts >= ${TS('$2')} AND ts < ${TS('$3')}
             ${threshold === null ? '' : 'AND xor(sample_key, $4::BIGINT) < $6::BIGINT'}
           ORDER BY xor(sample_key, $4::BIGINT), id LIMIT $5`,
          threshold === null
            ? [w.project, w.from, w.to, mask, size]
            : [w.project, w.from, w.to, mask, size, threshold],
        ),
      );
    // Ranks are uniform: the `size` smallest lie below a threshold that about 3×size rows pass. A
    // pre-filter on it keeps the other columns of all the other rows unread; the result is the
    // same as without it whenever at least `size` rows pass.
    if (population !== undefined && population > size * 20) {
      const threshold = (SAMPLE_RANK_BOUND * BigInt(size * 3)) / BigInt(population);
      const found = await query(threshold);
      if (found.length === size) return found.map(toEventRow);
    }
    // Otherwise (no population given, or keys that are not uniform: ids whose tail is a counter, as
    // some UUIDv7 generators make them) the threshold is read from the rank column alone: the
    // `size`-th smallest rank. Every event of the sample ranks at or below it, so the pre-filtered
    // query gives the plain query's result without reading every column of the window (on a day of
    // 1 M events: ~20 ms and a few rows' columns, against ~0.6 s for all of them).
    const [kth] = await this.reader.run((c) =>
      rows(
        c,
        `SELECT max(r) AS k FROM (
           SELECT xor(sample_key, $4::BIGINT) AS r FROM events
           WHERE project = $1 AND ts >= ${TS('$2')} AND ts < ${TS('$3')} ORDER BY r LIMIT $5)`,
        [w.project, w.from, w.to, mask, size],
      ),
    );
    const k = kth?.k;
    return (await query(k === null || k === undefined ? null : BigInt(k as bigint) + 1n)).map(toEventRow);
  }

  async recommendedSignals(
    project: string,
    signalIds: readonly string[],
    before: number,
  ): Promise<Set<string>> {
    if (signalIds.length === 0) return new Set();
    const found = await this.reader.run((c) =>
      rows(
        c,
        `SELECT DISTINCT signal_id FROM events
         WHERE signal_id IN (${signalIds.map((_, i) => `$${i + 3}`).join(', ')})
           AND project = $1 AND type = 'decision.recommendation' AND ts <= ${TS('$2')}`,
        [project, before, ...signalIds],
      ),
    );
    return new Set(found.map((r) => r.signal_id as string));
  }

  async firstEventTs(project: string): Promise<number | null> {
    const [r] = await this.reader.run((c) =>
      rows(c, 'SELECT epoch_ms(min(ts)) AS first FROM events WHERE project = $1', [project]),
    );
    return r?.first === null || r?.first === undefined ? null : num(r.first);
  }
}

/** Integrity snapshots (metadata): written on the metadata connection's queue. */
export class DuckDBSnapshotStore implements SnapshotStore {
  constructor(private readonly conn: SerialConnection) {}

  async append(s: Omit<SnapshotRecord, 'revision'>): Promise<SnapshotRecord> {
    const [r] = await this.conn.transaction((c) =>
      rows(
        c,
        `INSERT INTO health_snapshots
         SELECT $1, $2::DATE, coalesce(max(revision), 0) + 1, ${TS('$3')}, $4
         FROM health_snapshots WHERE project = $1 AND day = $2::DATE
         RETURNING revision`,
        [s.project, checkDay(s.date), s.createdAt, s.document],
      ),
    );
    return { ...s, revision: num(r?.revision) };
  }

  async list(
    project: string,
    fromDay: string,
    toDay: string,
    { allRevisions = false }: { allRevisions?: boolean } = {},
  ): Promise<SnapshotRecord[]> {
    const found = await this.conn.run((c) =>
      rows(
        c,
        `SELECT day, revision, epoch_ms(created_at) AS created_at, document::VARCHAR AS document
         FROM health_snapshots WHERE project = $1 AND day BETWEEN $2::DATE AND $3::DATE
         ${allRevisions ? '' : 'QUALIFY revision = max(revision) OVER (PARTITION BY day)'}
         ORDER BY day, revision`,
        [project, checkDay(fromDay), checkDay(toDay)],
      ),
    );
    return found.map((r) => ({
      project,
      date: day(r.day),
      revision: num(r.revision),
      createdAt: num(r.created_at),
      document: r.document as string,
    }));
  }
}
