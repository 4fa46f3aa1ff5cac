import type {
  CollectorLatest,
  CollectorRecord,
  CollectorRunRecord,
  CollectorStore,
  DeploymentRecord,
} from '../types.js';
import { type Db, MS, num, numOrNull, type Row, TS, textOrNull, type Value } from './shared.js';

const RUN_SELECT = `snapshot_id, project, collector, type, ${MS('started_at')} AS started_at, duration_ms,
  outcome, error, samples, result`;

const COLLECTOR_SELECT = `SELECT id, project, name, type, spec, secret,
  ${MS('created_at')} AS created_at, ${MS('updated_at')} AS updated_at FROM collectors`;

const limitOf = (n: number) => Math.max(0, Math.trunc(n));

function toRun(r: Row): CollectorRunRecord {
  return {
    snapshotId: r.snapshot_id as string,
    project: r.project as string,
    collector: r.collector as string,
    type: r.type as string,
    startedAt: num(r.started_at),
    durationMs: num(r.duration_ms),
    outcome: r.outcome as CollectorRunRecord['outcome'],
    error: textOrNull(r.error),
    samples: num(r.samples),
    result: textOrNull(r.result),
  };
}

/** Run columns as array parameters $1..$10, in the table's order. */
function runColumns(runs: readonly CollectorRunRecord[]): Value[] {
  return [
    runs.map((r) => r.snapshotId),
    runs.map((r) => r.project),
    runs.map((r) => r.collector),
    runs.map((r) => r.type),
    runs.map((r) => Math.round(r.startedAt)),
    runs.map((r) => r.durationMs),
    runs.map((r) => r.outcome),
    runs.map((r) => r.error),
    runs.map((r) => Math.trunc(r.samples)),
    runs.map((r) => r.result),
  ];
}

const UNNEST_RUNS = `unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[], $6::float8[],
  $7::text[], $8::text[], $9::integer[], $10::text[])
  AS r(snapshot_id, project, collector, type, started, duration_ms, outcome, error, samples, result)`;

/** Infrastructure telemetry metadata on PostgreSQL: collectors, their runs, deployments, the public switch. */
export class PostgresCollectorStore implements CollectorStore {
  constructor(private readonly db: Db) {}

  async listCollectors(project: string | null): Promise<CollectorRecord[]> {
    const found =
      project === null
        ? await this.db.all(`${COLLECTOR_SELECT} ORDER BY project, name`)
        : await this.db.all(`${COLLECTOR_SELECT} WHERE project = $1 ORDER BY name`, [project]);
    return found.map((r) => ({
      id: r.id as string,
      project: r.project as string,
      name: r.name as string,
      type: r.type as string,
      spec: r.spec as string,
      secret: textOrNull(r.secret),
      createdAt: num(r.created_at),
      updatedAt: num(r.updated_at),
    }));
  }

  async insertCollector(record: CollectorRecord): Promise<boolean> {
    const added = await this.db.run(
      `INSERT INTO collectors (id, project, name, type, spec, secret, created_at, updated_at)
       VALUES ($1, $2, $3, $4, $5, $6, ${TS('$7')}, ${TS('$8')}) ON CONFLICT DO NOTHING`,
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
    );
    return added > 0;
  }

  async deleteCollector(project: string, name: string): Promise<boolean> {
    return (
      (await this.db.run('DELETE FROM collectors WHERE project = $1 AND name = $2', [project, name])) > 0
    );
  }

  async recordRuns(runs: readonly CollectorRunRecord[]): Promise<void> {
    if (runs.length === 0) return;
    // The latest row of each collector takes its last run of the batch.
    const last = new Map<string, CollectorRunRecord>();
    for (const run of runs) last.set(`${run.project}\u0000${run.collector}`, run);
    await this.db.transaction(async (tx) => {
      await tx.run(
        `INSERT INTO collector_runs SELECT snapshot_id, project, collector, type, ${TS('started')},
           duration_ms, outcome, error, samples, result FROM ${UNNEST_RUNS}`,
        runColumns(runs),
      );
      await tx.run(
        `INSERT INTO collector_latest
         SELECT snapshot_id, project, collector, type, ${TS('started')}, duration_ms, outcome, error, samples,
           result, CASE WHEN outcome = 'ok' THEN ${TS('started')} END, CASE WHEN outcome = 'ok' THEN 0 ELSE 1 END
         FROM ${UNNEST_RUNS}
         ON CONFLICT (project, collector) DO UPDATE SET
           snapshot_id = excluded.snapshot_id, type = excluded.type, started_at = excluded.started_at,
           duration_ms = excluded.duration_ms, outcome = excluded.outcome, error = excluded.error,
           samples = excluded.samples, result = excluded.result,
           last_ok_at = CASE WHEN excluded.outcome = 'ok' THEN excluded.started_at ELSE collector_latest.last_ok_at END,
           consecutive_failures = CASE WHEN excluded.outcome = 'ok' THEN 0
                                       ELSE collector_latest.consecutive_failures + 1 END`,
        runColumns([...last.values()]),
      );
    });
  }

  async latest(project: string): Promise<CollectorLatest[]> {
    const found = await this.db.all(
      `SELECT ${RUN_SELECT}, ${MS('last_ok_at')} AS last_ok_at, consecutive_failures
       FROM collector_latest WHERE project = $1 ORDER BY collector`,
      [project],
    );
    return found.map((r) => ({
      run: toRun(r),
      lastOkAt: numOrNull(r.last_ok_at),
      consecutiveFailures: num(r.consecutive_failures),
    }));
  }

  async runs(project: string, options: { collector?: string; limit: number }): Promise<CollectorRunRecord[]> {
    const values: Value[] = [project];
    let where = 'project = $1';
    if (options.collector !== undefined) where += ` AND collector = $${values.push(options.collector)}`;
    const found = await this.db.all(
      `SELECT ${RUN_SELECT} FROM collector_runs WHERE ${where}
       ORDER BY started_at DESC, collector LIMIT $${values.push(limitOf(options.limit))}`,
      values,
    );
    return found.map(toRun);
  }

  async forgetLatest(project: string, collector: string): Promise<void> {
    await this.db.run('DELETE FROM collector_latest WHERE project = $1 AND collector = $2', [
      project,
      collector,
    ]);
  }

  async expireRuns(before: number): Promise<number> {
    return this.db.run(`DELETE FROM collector_runs WHERE started_at < ${TS('$1')}`, [before]);
  }

  async insertDeployment(d: DeploymentRecord): Promise<void> {
    await this.db.run(
      `INSERT INTO deployments (id, project, service, version, status, started_at, finished_at, received_at, source)
       VALUES ($1, $2, $3, $4, $5, ${TS('$6')}, ${TS('$7')}, ${TS('$8')}, $9)`,
      [d.id, d.project, d.service, d.version, d.status, d.startedAt, d.finishedAt, d.receivedAt, d.source],
    );
  }

  async deployments(
    project: string,
    options: { service?: string; limit: number },
  ): Promise<DeploymentRecord[]> {
    const values: Value[] = [project];
    let where = 'project = $1';
    if (options.service !== undefined) where += ` AND service = $${values.push(options.service)}`;
    const found = await this.db.all(
      `SELECT id, project, service, version, status, ${MS('started_at')} AS started_at,
              ${MS('finished_at')} AS finished_at, ${MS('received_at')} AS received_at, source
       FROM deployments WHERE ${where} ORDER BY started_at DESC, received_at DESC
       LIMIT $${values.push(limitOf(options.limit))}`,
      values,
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
    const [r] = await this.db.all('SELECT public_enabled FROM telemetry_settings WHERE project = $1', [
      project,
    ]);
    return r ? (r.public_enabled as boolean) : true;
  }

  async setPublicEnabled(project: string, enabled: boolean): Promise<void> {
    await this.db.run(
      `INSERT INTO telemetry_settings (project, public_enabled) VALUES ($1, $2)
       ON CONFLICT (project) DO UPDATE SET public_enabled = excluded.public_enabled`,
      [project, enabled],
    );
  }
}
