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
import { type Db, MS, num, numOrNull, type Row, TS, textOrNull, type Value } from './shared.js';

const RULE_SELECT = `SELECT id, project, ${MS('created_at')} AS created_at, ${MS('updated_at')} AS updated_at,
  document FROM alert_rules`;
const ALERT_SELECT = `SELECT alert_id, project, rule_id, state, ${MS('started_at')} AS started_at,
  ${MS('updated_at')} AS updated_at, document, ${MS('acknowledged_at')} AS acknowledged_at, acknowledged_by
  FROM alerts`;
const SILENCE_SELECT = `SELECT id, project, rule_id, ${MS('created_at')} AS created_at, ${MS('ends_at')} AS ends_at,
  created_by, comment FROM alert_silences`;

/** Many rows in one statement: each column one array parameter, unnested together. */
const ms = (t: number) => Math.trunc(t);

const toRule = (r: Row): AlertRuleRecord => ({
  id: r.id as string,
  project: r.project as string,
  createdAt: num(r.created_at),
  updatedAt: num(r.updated_at),
  document: r.document as string,
});

const toAlert = (r: Row): AlertRecord => ({
  alertId: r.alert_id as string,
  project: r.project as string,
  ruleId: r.rule_id as string,
  state: r.state as string,
  startedAt: num(r.started_at),
  updatedAt: num(r.updated_at),
  document: r.document as string,
  acknowledgedAt: numOrNull(r.acknowledged_at),
  acknowledgedBy: textOrNull(r.acknowledged_by),
});

const toSilence = (r: Row): AlertSilenceRecord => ({
  id: r.id as string,
  project: r.project as string,
  ruleId: r.rule_id as string,
  createdAt: num(r.created_at),
  endsAt: num(r.ends_at),
  createdBy: r.created_by as string,
  comment: textOrNull(r.comment),
});

const INSERT_RULES = `INSERT INTO alert_rules (id, project, created_at, updated_at, document)
  SELECT id, project, ${TS('c')}, ${TS('u')}, document
  FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[], $5::text[]) AS r(id, project, c, u, document)`;

const ruleColumns = (rules: readonly AlertRuleRecord[]): Value[] => [
  rules.map((r) => r.id),
  rules.map((r) => r.project),
  rules.map((r) => ms(r.createdAt)),
  rules.map((r) => ms(r.updatedAt)),
  rules.map((r) => r.document),
];

/** Alerting metadata on PostgreSQL. */
export class PostgresAlertStore implements AlertStore {
  constructor(private readonly db: Db) {}

  async rules(project: string | null): Promise<AlertRuleRecord[]> {
    const found =
      project === null
        ? await this.db.all(`${RULE_SELECT} ORDER BY created_at, id`)
        : await this.db.all(`${RULE_SELECT} WHERE project = $1 ORDER BY created_at, id`, [project]);
    return found.map(toRule);
  }

  async rule(id: string): Promise<AlertRuleRecord | null> {
    const [r] = await this.db.all(`${RULE_SELECT} WHERE id = $1`, [id]);
    return r ? toRule(r) : null;
  }

  async putRule(rule: AlertRuleRecord): Promise<void> {
    await this.db.run(
      `${INSERT_RULES}
       ON CONFLICT (id) DO UPDATE SET updated_at = excluded.updated_at, document = excluded.document`,
      ruleColumns([rule]),
    );
  }

  async deleteRule(id: string): Promise<boolean> {
    return this.db.transaction(async (tx) => {
      const gone = await tx.run('DELETE FROM alert_rules WHERE id = $1', [id]);
      await tx.run('DELETE FROM alert_states WHERE rule_id = $1', [id]);
      await tx.run('DELETE FROM alert_silences WHERE rule_id = $1', [id]);
      return gone > 0;
    });
  }

  async settings(project: string): Promise<AlertProjectRecord | null> {
    const [r] = await this.db.all(
      `SELECT project, ${MS('defaults_created_at')} AS defaults_created_at, receivers
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
    await this.db.run(
      `INSERT INTO alert_projects (project, defaults_created_at, receivers) VALUES ($1, NULL, $2)
       ON CONFLICT (project) DO UPDATE SET receivers = excluded.receivers`,
      [project, receivers],
    );
  }

  async createDefaults(project: string, rules: readonly AlertRuleRecord[], at: number): Promise<boolean> {
    return this.db.transaction(async (tx) => {
      // One conditional upsert marks the project: of several instances at once, one gets the row.
      const marked = await tx.all(
        `INSERT INTO alert_projects (project, defaults_created_at, receivers) VALUES ($1, ${TS('$2')}, '[]')
         ON CONFLICT (project) DO UPDATE SET defaults_created_at = excluded.defaults_created_at
           WHERE alert_projects.defaults_created_at IS NULL
         RETURNING project`,
        [project, at],
      );
      if (marked.length === 0) return false;
      if (rules.length > 0) await tx.run(INSERT_RULES, ruleColumns(rules));
      return true;
    });
  }

  async states(): Promise<AlertStateRecord[]> {
    const found = await this.db.all(
      `SELECT rule_id, project, ${MS('updated_at')} AS updated_at, document FROM alert_states ORDER BY rule_id`,
    );
    return found.map((r) => ({
      ruleId: r.rule_id as string,
      project: r.project as string,
      updatedAt: num(r.updated_at),
      document: r.document as string,
    }));
  }

  async writeCycle(write: AlertCycleWrite): Promise<void> {
    const { states, alerts, transitions } = write;
    if (states.length === 0 && alerts.length === 0 && transitions.length === 0) return;
    await this.db.transaction(async (tx) => {
      if (states.length > 0) {
        await tx.run(
          `INSERT INTO alert_states (rule_id, project, updated_at, document)
           SELECT rule_id, project, ${TS('u')}, document
           FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[]) AS s(rule_id, project, u, document)
           ON CONFLICT (rule_id) DO UPDATE SET updated_at = excluded.updated_at, document = excluded.document`,
          [
            states.map((s) => s.ruleId),
            states.map((s) => s.project),
            states.map((s) => ms(s.updatedAt)),
            states.map((s) => s.document),
          ],
        );
      }
      if (alerts.length > 0) {
        await tx.run(
          `INSERT INTO alerts (alert_id, project, rule_id, state, started_at, updated_at, document)
           SELECT alert_id, project, rule_id, state, ${TS('s')}, ${TS('u')}, document
           FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[], $6::bigint[], $7::text[])
             AS a(alert_id, project, rule_id, state, s, u, document)
           ON CONFLICT (alert_id) DO UPDATE SET state = excluded.state, updated_at = excluded.updated_at,
             document = excluded.document`,
          [
            alerts.map((a) => a.alertId),
            alerts.map((a) => a.project),
            alerts.map((a) => a.ruleId),
            alerts.map((a) => a.state),
            alerts.map((a) => ms(a.startedAt)),
            alerts.map((a) => ms(a.updatedAt)),
            alerts.map((a) => a.document),
          ],
        );
      }
      if (transitions.length > 0) {
        // WITH ORDINALITY keeps the order of the list in the serial ids (transitions() reads by it).
        await tx.run(
          `INSERT INTO alert_transitions (project, alert_id, rule_id, from_state, to_state, at_time, value)
           SELECT project, alert_id, rule_id, from_state, to_state, ${TS('at')}, value
           FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bigint[],
             $7::double precision[]) WITH ORDINALITY
             AS t(project, alert_id, rule_id, from_state, to_state, at, value, n)
           ORDER BY n`,
          [
            transitions.map((t) => t.project),
            transitions.map((t) => t.alertId),
            transitions.map((t) => t.ruleId),
            transitions.map((t) => t.from),
            transitions.map((t) => t.to),
            transitions.map((t) => ms(t.at)),
            transitions.map((t) => t.value),
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
    const values: Value[] = [query.project];
    const where = ['project = $1'];
    if (query.states) {
      if (query.states.length === 0) return [];
      where.push(`state = ANY($${values.push([...query.states])}::text[])`);
    }
    if (query.from !== undefined) where.push(`started_at >= ${TS(`$${values.push(query.from)}`)}`);
    const found = await this.db.all(
      `${ALERT_SELECT} WHERE ${where.join(' AND ')} ORDER BY started_at DESC, alert_id DESC
       LIMIT $${values.push(Math.max(0, Math.trunc(query.limit)))}`,
      values,
    );
    return found.map(toAlert);
  }

  async alert(alertId: string): Promise<AlertRecord | null> {
    const [r] = await this.db.all(`${ALERT_SELECT} WHERE alert_id = $1`, [alertId]);
    return r ? toAlert(r) : null;
  }

  async acknowledge(alertId: string, by: string, at: number): Promise<boolean> {
    const changed = await this.db.run(
      `UPDATE alerts SET acknowledged_at = ${TS('$2')}, acknowledged_by = $3 WHERE alert_id = $1`,
      [alertId, at, by],
    );
    return changed > 0;
  }

  async transitions(alertId: string): Promise<AlertTransitionRecord[]> {
    const found = await this.db.all(
      `SELECT project, alert_id, rule_id, from_state, to_state, ${MS('at_time')} AS at, value
       FROM alert_transitions WHERE alert_id = $1 ORDER BY at_time, id`,
      [alertId],
    );
    return found.map((r) => ({
      project: r.project as string,
      alertId: r.alert_id as string,
      ruleId: r.rule_id as string,
      from: r.from_state as string,
      to: r.to_state as string,
      at: num(r.at),
      value: numOrNull(r.value),
    }));
  }

  async silences(project: string | null, activeAt?: number): Promise<AlertSilenceRecord[]> {
    const values: Value[] = [];
    const where: string[] = [];
    if (project !== null) where.push(`project = $${values.push(project)}`);
    if (activeAt !== undefined) where.push(`ends_at > ${TS(`$${values.push(activeAt)}`)}`);
    const found = await this.db.all(
      `${SILENCE_SELECT} ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY created_at, id`,
      values,
    );
    return found.map(toSilence);
  }

  async putSilence(s: AlertSilenceRecord): Promise<void> {
    await this.db.run(
      `INSERT INTO alert_silences (id, project, rule_id, created_at, ends_at, created_by, comment)
       VALUES ($1, $2, $3, ${TS('$4')}, ${TS('$5')}, $6, $7)
       ON CONFLICT (id) DO UPDATE SET ends_at = excluded.ends_at, comment = excluded.comment`,
      [s.id, s.project, s.ruleId, s.createdAt, s.endsAt, s.createdBy, s.comment],
    );
  }

  async deleteSilence(id: string): Promise<boolean> {
    return (await this.db.run('DELETE FROM alert_silences WHERE id = $1', [id])) > 0;
  }
}
