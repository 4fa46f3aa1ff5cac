import {
  DOUBLE,
  DuckDBDataChunk,
  DuckDBTimestampValue,
  type DuckDBValue,
  INTEGER,
  TIMESTAMP,
  VARCHAR,
} from '@duckdb/node-api';
import type {
  CollectorLatest,
  CollectorRecord,
  CollectorRunRecord,
  CollectorStore,
  DeploymentRecord,
} from '../types.js';
import { num, numOrNull, rows, type Serial, TS } from './shared.js';

/** Column types of collector_runs as the appender writes them (the JSON result as text). */
const RUN_COLUMNS = [
  VARCHAR,
  VARCHAR,
  VARCHAR,
  VARCHAR,
  TIMESTAMP,
  DOUBLE,
  VARCHAR,
  VARCHAR,
  INTEGER,
  VARCHAR,
];

const RUN_SELECT = `snapshot_id, project, collector, type, epoch_ms(started_at) AS started_at, duration_ms,
  outcome, error, samples, result::VARCHAR AS result`;

function toRun(r: Record<string, unknown>): CollectorRunRecord {
  return {
    snapshotId: r.snapshot_id as string,
    project: r.project as string,
    collector: r.collector as string,
    type: r.type as string,
    startedAt: num(r.started_at),
    durationMs: r.duration_ms as number,
    outcome: r.outcome as CollectorRunRecord['outcome'],
    error: (r.error as string | null) ?? null,
    samples: num(r.samples),
    result: (r.result as string | null) ?? null,
  };
}

function runValues(run: CollectorRunRecord): DuckDBValue[] {
  return [
    run.snapshotId,
    run.project,
    run.collector,
    run.type,
    run.startedAt,
    run.durationMs,
    run.outcome,
    run.error,
    run.samples,
    run.result,
  ];
}

/**
 * Infrastructure telemetry metadata on DuckDB: collector configs,
 * the append-only run log, one latest-run row per collector (what `/telemetry/status` reads),
 * deployments and the public-view switch.
 */
export class DuckDBCollectorStore implements CollectorStore {
  /** Writes and most reads on the metadata connection; the latest runs on `reader`, so the two
   * queries of the status view run side by side. */
  constructor(
    private readonly conn: Serial,
    private readonly reader: Serial = conn,
  ) {}

  async listCollectors(project: string | null): Promise<CollectorRecord[]> {
    const found = await this.conn.run((c) =>
      project === null
        ? rows(c, `${COLLECTOR_SELECT} ORDER BY project, name`)
        : rows(c, `${COLLECTOR_SELECT} WHERE project = $1 ORDER BY name`, [project]),
    );
    return found.map((r) => ({
      id: r.id as string,
      project: r.project as string,
      name: r.name as string,
      type: r.type as string,
      spec: r.spec as string,
      secret: (r.secret as string | null) ?? null,
      createdAt: num(r.created_at),
      updatedAt: num(r.updated_at),
    }));
  }

  async insertCollector(record: CollectorRecord): Promise<boolean> {
    const found = await this.conn.run((c) =>
      rows(
        c,
        `INSERT INTO collectors VALUES ($1, $2, $3, $4, $5, $6, ${TS('$7')}, ${TS('$8')})
         ON CONFLICT DO NOTHING RETURNING id`,
        [
          record.id,
          record.project,
          record.name,
          record.type,
          record.spec,
          record.secret,
          record.createdAt,
          record.updatedAt,
        ],
      ),
    );
    return found.length > 0;
  }

  async deleteCollector(project: string, name: string): Promise<boolean> {
    const found = await this.conn.run((c) =>
      rows(c, 'DELETE FROM collectors WHERE project = $1 AND name = $2 RETURNING id', [project, name]),
    );
    return found.length > 0;
  }

  async recordRuns(runs: readonly CollectorRunRecord[]): Promise<void> {
    if (runs.length === 0) return;
    // The log through an appender, the latest rows in one upsert (one run per collector, the
    // last): a round of 50 collectors costs one statement, not a hundred.
    const last = new Map<string, CollectorRunRecord>();
    for (const run of runs) last.set(`${run.project}\u0000${run.collector}`, run);
    const values: DuckDBValue[] = [];
    const tuples = [...last.values()]
      .map((run) => {
        const at = values.length;
        values.push(...runValues(run));
        const p = (k: number) => `$${at + k}`;
        const ok = run.outcome === 'ok';
        const cols = [p(1), p(2), p(3), p(4), TS(p(5)), p(6), p(7), p(8), p(9), p(10)];
        cols.push(ok ? TS(p(5)) : 'NULL', ok ? '0' : '1');
        return `(${cols.join(', ')})`;
      })
      .join(', ');
    await this.conn.transaction(async (c) => {
      const appender = await c.createAppender('collector_runs');
      const chunk = DuckDBDataChunk.create(RUN_COLUMNS, runs.length);
      chunk.setColumns([
        runs.map((r) => r.snapshotId),
        runs.map((r) => r.project),
        runs.map((r) => r.collector),
        runs.map((r) => r.type),
        runs.map((r) => new DuckDBTimestampValue(BigInt(Math.trunc(r.startedAt)) * 1000n)),
        runs.map((r) => r.durationMs),
        runs.map((r) => r.outcome),
        runs.map((r) => r.error),
        runs.map((r) => r.samples),
        runs.map((r) => r.result),
      ]);
      appender.appendDataChunk(chunk);
      appender.closeSync();
      await c.run(
        `INSERT INTO collector_latest VALUES ${tuples}
         ON CONFLICT (project, collector) DO UPDATE SET
           snapshot_id = excluded.snapshot_id, type = excluded.type, started_at = excluded.started_at,
           duration_ms = excluded.duration_ms, outcome = excluded.outcome, error = excluded.error,
           samples = excluded.samples, result = excluded.result,
           last_ok_at = CASE WHEN excluded.outcome = 'ok' THEN excluded.started_at ELSE collector_latest.last_ok_at END,
           consecutive_failures = CASE WHEN excluded.outcome = 'ok' THEN 0
                                       ELSE collector_latest.consecutive_failures + 1 END`,
        values,
      );
    });
  }

  async latest(project: string): Promise<CollectorLatest[]> {
    const found = await this.reader.run((c) =>
      rows(
        c,
        `SELECT ${RUN_SELECT}, epoch_ms(last_ok_at) AS last_ok_at, consecutive_failures
         FROM collector_latest WHERE project = $1 ORDER BY collector`,
        [project],
      ),
    );
    return found.map((r) => ({
      run: toRun(r),
      lastOkAt: numOrNull(r.last_ok_at),
      consecutiveFailures: num(r.consecutive_failures),
    }));
  }

  async runs(project: string, options: { collector?: string; limit: number }): Promise<CollectorRunRecord[]> {
    const values: DuckDBValue[] = [project];
    let where = 'project = $1';
    if (options.collector !== undefined) {
      values.push(options.collector);
      where += ' AND collector = $2';
    }
    const found = await this.conn.run((c) =>
      rows(
        c,
        `SELECT ${RUN_SELECT} FROM collector_runs WHERE ${where}
         ORDER BY started_at DESC, collector LIMIT $${values.push(Math.max(0, Math.trunc(options.limit)))}`,
        values,
      ),
    );
    return found.map(toRun);
  }

  async forgetLatest(project: string, collector: string): Promise<void> {
    await this.conn.run((c) =>
      c.run('DELETE FROM collector_latest WHERE project = $1 AND collector = $2', [project, collector]),
    );
  }

  async expireRuns(before: number): Promise<number> {
    return this.conn.run(async (c) => {
      const result = await c.run(`DELETE FROM collector_runs WHERE started_at < ${TS('$1')}`, [before]);
      return Number(result.rowsChanged);
    });
  }

  async insertDeployment(d: DeploymentRecord): Promise<void> {
    await this.conn.run((c) =>
      c.run(
        `INSERT INTO deployments VALUES ($1, $2, $3, $4, $5, ${TS('$6')},
           CASE WHEN $7::BIGINT IS NULL THEN NULL ELSE ${TS('$7')} END, ${TS('$8')}, $9)`,
        [d.id, d.project, d.service, d.version, d.status, d.startedAt, d.finishedAt, d.receivedAt, d.source],
      ),
    );
  }

  async deployments(
    project: string,
    options: { service?: string; limit: number },
  ): Promise<DeploymentRecord[]> {
    const values: DuckDBValue[] = [project];
    let where = 'project = $1';
    if (options.service !== undefined) {
      values.push(options.service);
      where += ' AND service = $2';
    }
    const found = await this.conn.run((c) =>
      rows(
        c,
        `SELECT id, project, service, version, status, epoch_ms(started_at) AS started_at,
                epoch_ms(finished_at) AS finished_at, epoch_ms(received_at) AS received_at, source
         FROM deployments WHERE ${where} ORDER BY started_at DESC, received_at DESC
         LIMIT $${values.push(Math.max(0, Math.trunc(options.limit)))}`,
        values,
      ),
    );
    return found.map((r) => ({
      id: r.id as string,
      project: r.project as string,
      service: r.service as string,
      version: r.version as string,
      status: r.status as DeploymentRecord['status'],
      startedAt: num(r.started_at),
      finishedAt: numOrNull(r.finished_at),
      receivedAt: num(r.received_at),
      source: r.source as string,
    }));
  }

  async publicEnabled(project: string): Promise<boolean> {
    const [r] = await this.conn.run((c) =>
      rows(c, 'SELECT public_enabled FROM telemetry_settings WHERE project = $1', [project]),
    );
    return r ? (r.public_enabled as boolean) : true;
  }

  async setPublicEnabled(project: string, enabled: boolean): Promise<void> {
    await this.conn.run((c) =>
      c.run(
        `INSERT INTO telemetry_settings VALUES ($1, $2)
         ON CONFLICT (project) DO UPDATE SET public_enabled = excluded.public_enabled`,
        [project, enabled],
      ),
    );
  }
}

const COLLECTOR_SELECT = `SELECT id, project, name, type, spec::VARCHAR AS spec, secret,
  epoch_ms(created_at) AS created_at, epoch_ms(updated_at) AS updated_at FROM collectors`;
