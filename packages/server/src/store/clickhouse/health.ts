import { type EventRow, SAMPLE_RANK_BOUND, sampleMask } from '../../model/index.js';
import type { EventWindow, HealthStore, RejectionCount, TypeStats } from '../types.js';
import type { ClickHouseConnection } from './connection.js';
import { EVENT_SELECT, toEventRow } from './events.js';
import { num, withinDays } from './shared.js';
import { bigint, limit, ms, type Sql, sql, str, strings } from './sql.js';

const DAY = /^\d{4}-\d{2}-\d{2}$/;

function checkDay(d: string): string {
  if (!DAY.test(d)) throw new Error(`not a day: ${d}`);
  return d;
}

/** Telemetry health on ClickHouse: figures computed by the engine over the events table. */
export class ClickHouseHealthStore implements HealthStore {
  constructor(private readonly conn: ClickHouseConnection) {}

  private window(w: EventWindow, column = 'ts'): Sql {
    const col = column === 'ts' ? sql`ts` : sql`received_at`;
    // Partitions are days of `ts`: a window of receipt times may hold events of any day.
    const days = column === 'ts' ? sql` AND ${withinDays(this.conn, w.from, w.to)}` : sql``;
    return sql`project = ${str(w.project)} AND ${col} >= ${ms(w.from)} AND ${col} < ${ms(w.to)}${days}`;
  }

  async addRejections(counts: readonly RejectionCount[]): Promise<void> {
    if (counts.length === 0) return;
    await this.conn.insert(
      'ingest_rejections',
      counts.map((r) => ({ project: r.project, day: checkDay(r.day), count: r.count })),
    );
  }

  async rejections(project: string, fromDay: string, toDay: string): Promise<RejectionCount[]> {
    const found = await this.conn.rows<{ r_day: string; n: string }>(
      sql`SELECT toString(day) AS r_day, sum(count) AS n FROM ${this.conn.table('ingest_rejections')}
          WHERE project = ${str(project)} AND day >= toDate(${str(checkDay(fromDay))}) AND day <= toDate(${str(checkDay(toDay))})
          GROUP BY day HAVING n > 0 ORDER BY day`,
    );
    return found.map((r) => ({ project, day: r.r_day, count: num(r.n) }));
  }

  async typeStats(w: EventWindow, knownVersions: readonly string[]): Promise<TypeStats[]> {
    const unknown =
      knownVersions.length === 0
        ? sql`toUInt64(0)`
        : sql`countIf(version IS NOT NULL AND NOT has(${strings(knownVersions)}, assumeNotNull(version)))`;
    const found = await this.conn.rows<Record<string, unknown>>(
      sql`SELECT type, count() AS t_n, countIf(version IS NULL) AS t_missing, ${unknown} AS t_unknown, max(ts) AS t_last
          FROM ${this.conn.table('events')} WHERE ${this.window(w)} GROUP BY type ORDER BY type`,
    );
    return found.map((r) => ({
      type: r.type as string,
      count: num(r.t_n),
      versionMissing: num(r.t_missing),
      versionUnknown: num(r.t_unknown),
      lastTs: num(r.t_last),
    }));
  }

  async countReceived(w: EventWindow): Promise<number> {
    const [r] = await this.conn.rows<{ n: string }>(
      sql`SELECT count() AS n FROM ${this.conn.table('events')} WHERE ${this.window(w, 'received_at')}`,
    );
    return num(r?.n ?? 0);
  }

  async dailyTotals(project: string, days: readonly string[]): Promise<Map<string, number>> {
    const totals = new Map<string, number>(days.map((d) => [checkDay(d), 0]));
    if (days.length === 0) return totals;
    const found = await this.conn.rows<{ d: string; n: string }>(
      sql`SELECT toString(toDate(intDiv(ts, 86400000))) AS d, count() AS n FROM ${this.conn.table('events')}
          WHERE project = ${str(project)} AND has(${strings(days)}, toString(toDate(intDiv(ts, 86400000)))) GROUP BY d`,
    );
    for (const r of found) totals.set(r.d, num(r.n));
    return totals;
  }

  async sample(w: EventWindow, seed: string, size: number, population?: number): Promise<EventRow[]> {
    const mask = bigint(sampleMask(seed));
    const query = (threshold: bigint | null) =>
      this.conn.rows(
        sql`SELECT ${EVENT_SELECT} FROM ${this.conn.table('events')} WHERE ${this.window(w)}
            ${threshold === null ? sql`` : sql`AND bitXor(sample_key, ${mask}) < ${bigint(threshold)}`}
            ORDER BY bitXor(sample_key, ${mask}), id LIMIT ${limit(Math.max(0, Math.trunc(size)))}`,
      );
    if (population !== undefined && population > size * 20) {
      const threshold = (SAMPLE_RANK_BOUND * BigInt(size * 3)) / BigInt(population);
      const found = await query(threshold);
      if (found.length === size) return found.map(toEventRow);
    }
    return (await query(null)).map(toEventRow);
  }

  async recommendedSignals(
    project: string,
    signalIds: readonly string[],
    before: number,
  ): Promise<Set<string>> {
    if (signalIds.length === 0) return new Set();
    const found = await this.conn.rows<{ signal_id: string }>(
      sql`SELECT DISTINCT signal_id FROM ${this.conn.table('events')}
          WHERE project = ${str(project)} AND type = 'decision.recommendation' AND ts <= ${ms(before)}
            AND has(${strings(signalIds)}, assumeNotNull(signal_id))`,
    );
    return new Set(found.map((r) => r.signal_id));
  }

  async firstEventTs(project: string): Promise<number | null> {
    const [r] = await this.conn.rows<{ n: string; first: string }>(
      sql`SELECT count() AS n, min(ts) AS first FROM ${this.conn.table('events')} WHERE project = ${str(project)}`,
    );
    return !r || num(r.n) === 0 ? null : num(r.first);
  }
}
