import { type DuckDBConnection, type DuckDBValue, listValue } from '@duckdb/node-api';
import type {
  AlertCycleWrite,
  AlertProjectRecord,
  AlertRecord,
  AlertRuleRecord,
  AlertSilenceRecord,
  AlertStateRecord,
  AlertStore,
  AlertTransitionRecord,
} from '../types.js';
import { num, numOrNull, rows, TS } from './shared.js';

/** The part of the engine's one-task-at-a-time connection wrapper this store uses. */
interface SerialConnection {
  run<T>(task: (conn: DuckDBConnection) => Promise<T>): Promise<T>;
  transaction<T>(task: (conn: DuckDBConnection) => Promise<T>): Promise<T>;
}

/** Rows per multi-row statement (DuckDB binds every value as its own parameter). */
const CHUNK = 400;

/** Runs one multi-row INSERT per chunk: `tuple` gives the placeholders of one row, numbered from `base`. */
async function insertMany<T>(
  c: DuckDBConnection,
  items: readonly T[],
  head: string,
  tail: string,
  width: number,
  tuple: (base: number) => string,
  values: (item: T) => DuckDBValue[],
): Promise<void> {
  for (let start = 0; start < items.length; start += CHUNK) {
    const part = items.slice(start, start + CHUNK);
    const sql = `${head} VALUES ${part.map((_, i) => tuple(i * width + 1)).join(', ')} ${tail}`;
    await c.run(sql, part.flatMap(values));
  }
}

const RULE_SELECT = `SELECT id, project, epoch_ms(created_at) AS created_at, epoch_ms(updated_at) AS updated_at,
  document FROM alert_rules`;
const ALERT_SELECT = `SELECT alert_id, project, rule_id, state, epoch_ms(started_at) AS started_at,
  epoch_ms(updated_at) AS updated_at, document, epoch_ms(acknowledged_at) AS acknowledged_at, acknowledged_by
  FROM alerts`;
const SILENCE_SELECT = `SELECT id, project, rule_id, epoch_ms(created_at) AS created_at, epoch_ms(ends_at) AS ends_at,
  created_by, comment FROM alert_silences`;

const toRule = (r: Record<string, unknown>): AlertRuleRecord => ({
  id: r.id as string,
  project: r.project as string,
  createdAt: num(r.created_at),
  updatedAt: num(r.updated_at),
  document: r.document as string,
});

const toAlert = (r: Record<string, unknown>): AlertRecord => ({
  alertId: r.alert_id as string,
  project: r.project as string,
  ruleId: r.rule_id as string,
  state: r.state as string,
  startedAt: num(r.started_at),
  updatedAt: num(r.updated_at),
  document: r.document as string,
  acknowledgedAt: numOrNull(r.acknowledged_at),
  acknowledgedBy: (r.acknowledged_by as string | null) ?? null,
});

const toSilence = (r: Record<string, unknown>): AlertSilenceRecord => ({
  id: r.id as string,
  project: r.project as string,
  ruleId: r.rule_id as string,
  createdAt: num(r.created_at),
  endsAt: num(r.ends_at),
  createdBy: r.created_by as string,
  comment: (r.comment as string | null) ?? null,
});

/** Alerting metadata on DuckDB, on the metadata connection (small, mutable tables). */
export class DuckDBAlertStore implements AlertStore {
  constructor(private readonly conn: SerialConnection) {}

  private all(sql: string, values?: DuckDBValue[]) {
    return this.conn.run((c) => rows(c, sql, values));
  }

  async rules(project: string | null): Promise<AlertRuleRecord[]> {
    const found =
      project === null
        ? await this.all(`${RULE_SELECT} ORDER BY created_at, id`)
        : await this.all(`${RULE_SELECT} WHERE project = $1 ORDER BY created_at, id`, [project]);
    return found.map(toRule);
  }

  async rule(id: string): Promise<AlertRuleRecord | null> {
    const [r] = await this.all(`${RULE_SELECT} WHERE id = $1`, [id]);
    return r ? toRule(r) : null;
  }

  async putRule(rule: AlertRuleRecord): Promise<void> {
    await this.all(
      `INSERT INTO alert_rules VALUES ($1, $2, ${TS('$3')}, ${TS('$4')}, $5)
       ON CONFLICT (id) DO UPDATE SET updated_at = excluded.updated_at, document = excluded.document`,
      [rule.id, rule.project, rule.createdAt, rule.updatedAt, rule.document],
    );
  }

  async deleteRule(id: string): Promise<boolean> {
    return this.conn.transaction(async (c) => {
      const gone = await c.run('DELETE FROM alert_rules WHERE id = $1', [id]);
      await c.run('DELETE FROM alert_states WHERE rule_id = $1', [id]);
      await c.run('DELETE FROM alert_silences WHERE rule_id = $1', [id]);
      return Number(gone.rowsChanged) > 0;
    });
  }

  async settings(project: string): Promise<AlertProjectRecord | null> {
    const [r] = await this.all(
      `SELECT project, epoch_ms(defaults_created_at) AS defaults_created_at, receivers
       FROM alert_projects WHERE project = $1`,
      [project],
    );
    return r
      ? {
          project: r.project as string,
          defaultsCreatedAt: numOrNull(r.defaults_created_at),
          receivers: r.receivers as string,
        }
      : null;
  }

  async putReceivers(project: string, receivers: string): Promise<void> {
    await this.all(
      `INSERT INTO alert_projects VALUES ($1, NULL, $2)
       ON CONFLICT (project) DO UPDATE SET receivers = excluded.receivers`,
      [project, receivers],
    );
  }

  async createDefaults(project: string, rules: readonly AlertRuleRecord[], at: number): Promise<boolean> {
    return this.conn.transaction(async (c) => {
      const [marked] = await rows(
        c,
        'SELECT defaults_created_at IS NOT NULL AS done FROM alert_projects WHERE project = $1',
        [project],
      );
      if (marked?.done === true) return false;
      await c.run(
        `INSERT INTO alert_projects VALUES ($1, ${TS('$2')}, '[]')
         ON CONFLICT (project) DO UPDATE SET defaults_created_at = excluded.defaults_created_at`,
        [project, at],
      );
      await insertMany(
        c,
        rules,
        'INSERT INTO alert_rules',
        '',
        5,
        (b) => `($${b}, $${b + 1}, ${TS(`$${b + 2}`)}, ${TS(`$${b + 3}`)}, $${b + 4})`,
        (r) => [r.id, r.project, r.createdAt, r.updatedAt, r.document],
      );
      return true;
    });
  }

  async states(): Promise<AlertStateRecord[]> {
    const found = await this.all(
      'SELECT rule_id, project, epoch_ms(updated_at) AS updated_at, document FROM alert_states',
    );
    return found.map((r) => ({
      ruleId: r.rule_id as string,
      project: r.project as string,
      updatedAt: num(r.updated_at),
      document: r.document as string,
    }));
  }

  async writeCycle(write: AlertCycleWrite): Promise<void> {
    if (write.states.length === 0 && write.alerts.length === 0 && write.transitions.length === 0) return;
    // Each part is one statement over list parameters: binding thousands of scalar parameters
    // costs far more than the write itself.
    const list = <T>(items: readonly T[], pick: (item: T) => DuckDBValue) => listValue(items.map(pick));
    const ms = (t: number) => BigInt(Math.trunc(t));
    await this.conn.transaction(async (c) => {
      const { states, alerts, transitions } = write;
      if (states.length > 0) {
        await c.run(
          `INSERT INTO alert_states SELECT unnest($1::VARCHAR[]), unnest($2::VARCHAR[]),
             make_timestamp(unnest($3::BIGINT[]) * 1000), unnest($4::VARCHAR[])
           ON CONFLICT (rule_id) DO UPDATE SET updated_at = excluded.updated_at, document = excluded.document`,
          [
            list(states, (s) => s.ruleId),
            list(states, (s) => s.project),
            list(states, (s) => ms(s.updatedAt)),
            list(states, (s) => s.document),
          ],
        );
      }
      if (alerts.length > 0) {
        await c.run(
          `INSERT INTO alerts (alert_id, project, rule_id, state, started_at, updated_at, document)
           SELECT unnest($1::VARCHAR[]), unnest($2::VARCHAR[]), unnest($3::VARCHAR[]), unnest($4::VARCHAR[]),
             make_timestamp(unnest($5::BIGINT[]) * 1000), make_timestamp(unnest($6::BIGINT[]) * 1000),
             unnest($7::VARCHAR[])
           ON CONFLICT (alert_id) DO UPDATE SET state = excluded.state, updated_at = excluded.updated_at,
             document = excluded.document`,
          [
            list(alerts, (a) => a.alertId),
            list(alerts, (a) => a.project),
            list(alerts, (a) => a.ruleId),
            list(alerts, (a) => a.state),
            list(alerts, (a) => ms(a.startedAt)),
            list(alerts, (a) => ms(a.updatedAt)),
            list(alerts, (a) => a.document),
          ],
        );
      }
      if (transitions.length > 0) {
        await c.run(
          `INSERT INTO alert_transitions SELECT unnest($1::VARCHAR[]), unnest($2::VARCHAR[]),
             unnest($3::VARCHAR[]), unnest($4::VARCHAR[]), unnest($5::VARCHAR[]),
             make_timestamp(unnest($6::BIGINT[]) * 1000), unnest($7::VARCHAR[])::DOUBLE`,
          [
            list(transitions, (t) => t.project),
            list(transitions, (t) => t.alertId),
            list(transitions, (t) => t.ruleId),
            list(transitions, (t) => t.from),
            list(transitions, (t) => t.to),
            list(transitions, (t) => ms(t.at)),
            // As text: a list mixing integers and fractions would be typed by its first element.
            list(transitions, (t) => (t.value === null ? null : String(t.value))),
          ],
        );
      }
    });
  }

  async alerts(query: {
    project: string;
    states?: readonly string[];
    from?: number;
    limit: number;
  }): Promise<AlertRecord[]> {
    const values: DuckDBValue[] = [query.project];
    const where = ['project = $1'];
    if (query.states) {
      if (query.states.length === 0) return [];
      where.push(`state IN (${query.states.map((s) => `$${values.push(s)}`).join(', ')})`);
    }
    if (query.from !== undefined) where.push(`started_at >= ${TS(`$${values.push(query.from)}`)}`);
    const found = await this.all(
      `${ALERT_SELECT} WHERE ${where.join(' AND ')} ORDER BY started_at DESC, alert_id DESC
       LIMIT $${values.push(Math.max(0, Math.trunc(query.limit)))}`,
      values,
    );
    return found.map(toAlert);
  }

  async alert(alertId: string): Promise<AlertRecord | null> {
    const [r] = await this.all(`${ALERT_SELECT} WHERE alert_id = $1`, [alertId]);
    return r ? toAlert(r) : null;
  }

  async acknowledge(alertId: string, by: string, at: number): Promise<boolean> {
    const found = await this.all(
      `UPDATE alerts SET acknowledged_at = ${TS('$2')}, acknowledged_by = $3 WHERE alert_id = $1 RETURNING alert_id`,
      [alertId, at, by],
    );
    return found.length > 0;
  }

  async transitions(alertId: string): Promise<AlertTransitionRecord[]> {
    const found = await this.all(
      `SELECT project, alert_id, rule_id, from_state, to_state, epoch_ms(at_time) AS at, value
       FROM alert_transitions WHERE alert_id = $1 ORDER BY at_time, rowid`,
      [alertId],
    );
    return found.map((r) => ({
      project: r.project as string,
      alertId: r.alert_id as string,
      ruleId: r.rule_id as string,
      from: r.from_state as string,
      to: r.to_state as string,
      at: num(r.at),
      value: (r.value as number | null) ?? null,
    }));
  }

  async silences(project: string | null, activeAt?: number): Promise<AlertSilenceRecord[]> {
    const values: DuckDBValue[] = [];
    const where: string[] = [];
    if (project !== null) where.push(`project = $${values.push(project)}`);
    if (activeAt !== undefined) where.push(`ends_at > ${TS(`$${values.push(activeAt)}`)}`);
    const found = await this.all(
      `${SILENCE_SELECT} ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY created_at, id`,
      values,
    );
    return found.map(toSilence);
  }

  async putSilence(s: AlertSilenceRecord): Promise<void> {
    await this.all(
      `INSERT INTO alert_silences VALUES ($1, $2, $3, ${TS('$4')}, ${TS('$5')}, $6, $7)
       ON CONFLICT (id) DO UPDATE SET ends_at = excluded.ends_at, comment = excluded.comment`,
      [s.id, s.project, s.ruleId, s.createdAt, s.endsAt, s.createdBy, s.comment],
    );
  }

  async deleteSilence(id: string): Promise<boolean> {
    const found = await this.all('DELETE FROM alert_silences WHERE id = $1 RETURNING id', [id]);
    return found.length > 0;
  }
}
