import { randomUUID } from 'node:crypto';
import { type TSchema, Type } from '@sinclair/typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import {
  type AlertRule,
  metricCatalog,
  parseDuration,
  type Receiver,
  ReceiversInputSchema,
  type RuleInput,
  RuleInputSchema,
  RuleNotFound,
  RuleProblem,
  receiverView,
  ruleView,
  schemaProblems,
} from '../alerts/index.js';
import { projectFor, reaches } from '../auth/index.js';
import { VigilError } from '../errors/index.js';
import { parseTs } from '../ingest/index.js';
import type { AlertSilenceRecord } from '../store/index.js';
import { type AppContext, guard, principalOf } from './context.js';
import { Param, ProjectQuery, type QueryOf, QuerySchema } from './params.js';

const AlertsQuery = QuerySchema({
  project: Type.Optional(Param.project),
  limit: Type.Optional(Param.count({ max: 1000 })),
  from: Type.Optional(Param.time()),
});
type Project = { Querystring: QueryOf<typeof ProjectQuery> };

/** Validates a body against a schema; the error names each field and why. */
function checked<T>(schema: TSchema, body: unknown): T {
  const problems = schemaProblems(schema, body ?? undefined);
  if (problems.length > 0) throw new VigilError('invalid_body', { message: problems.join('; ') });
  return body as T;
}

function ruleProblem(err: unknown): never {
  if (err instanceof RuleProblem) throw new VigilError('invalid_body', { message: err.message });
  if (err instanceof RuleNotFound)
    throw new VigilError('not_found', { message: `No alert rule '${err.message}'.` });
  throw err;
}

const SilenceInput = Type.Object(
  {
    ruleId: Type.Optional(Type.String({ minLength: 1, maxLength: 100, why: 'must be a rule id' })),
    duration: Type.Optional(
      Type.String({
        pattern: '^[0-9]+(\\.[0-9]+)?(ms|s|m|h|d)$',
        maxLength: 20,
        why: 'must be a duration like 30m, 2h or 1d',
      }),
    ),
    until: Type.Optional(Type.String({ minLength: 1, maxLength: 40, why: 'must be an ISO-8601 time' })),
    comment: Type.Optional(
      Type.String({ maxLength: 1000, why: 'must be a string of at most 1000 characters' }),
    ),
  },
  { additionalProperties: false },
);
interface SilenceBody {
  ruleId?: string;
  duration?: string;
  until?: string;
  comment?: string;
}

const MAX_SILENCE = 90 * 86_400_000;

function silenceEnd(body: SilenceBody, now: number): number {
  if ((body.duration === undefined) === (body.until === undefined))
    throw new VigilError('invalid_body', { message: 'duration or until: give exactly one of them.' });
  const end =
    body.duration !== undefined
      ? now + (parseDuration(body.duration) as number)
      : parseTs(body.until as string);
  if (end === null) throw new VigilError('invalid_body', { message: 'until: must be an ISO-8601 time.' });
  if (end <= now) throw new VigilError('invalid_body', { message: 'until: must be in the future.' });
  if (end - now > MAX_SILENCE)
    throw new VigilError('invalid_body', { message: 'duration: at most 90 days.' });
  return end;
}

const silenceView = (s: AlertSilenceRecord) => ({
  id: s.id,
  project: s.project,
  ruleId: s.ruleId,
  createdAt: new Date(s.createdAt).toISOString(),
  endsAt: new Date(s.endsAt).toISOString(),
  createdBy: s.createdBy,
  comment: s.comment,
});

/**
 * Alerting: rules (`/api/alerts/rules`, admin), the project's default receivers
 * (`/api/alerts/receivers`, admin), silences (admin), and the alerts themselves
 * (`GET /api/metrics/alerts`, viewer; acknowledge and silence, admin).
 */
export async function alertRoutes(app: FastifyInstance, ctx: AppContext): Promise<void> {
  const admin = guard(ctx, 'admin');
  const read = guard(ctx, 'read');

  const project = async (req: FastifyRequest, requested: string | undefined) => {
    const id = projectFor(principalOf(req), requested);
    if (!(await ctx.projects.get(id))) throw new VigilError('not_found', { message: `No project '${id}'.` });
    return id;
  };
  /** A rule the caller may see; another project's rule is reported as missing. */
  const ownRule = (req: FastifyRequest, id: string): AlertRule => {
    const rule = ctx.alerts.rule(id);
    const principal = principalOf(req);
    if (!rule || !reaches(principal, rule.project))
      throw new VigilError('not_found', { message: `No alert rule '${id}'.` });
    return rule;
  };
  const withStatus = (rule: AlertRule) => ({ ...ruleView(rule), status: ctx.alerts.ruleStatus(rule.id) });

  app.get<Project>(
    '/api/alerts/rules',
    { onRequest: admin, schema: { querystring: ProjectQuery } },
    async (req) => {
      const id = await project(req, req.query.project);
      await ctx.alerts.ensureDefaults(id);
      return { project: id, rules: ctx.alerts.rules(id).map(withStatus) };
    },
  );

  app.post<{ Body: unknown }>('/api/alerts/rules', { onRequest: admin }, async (req, reply) => {
    const body = checked<RuleInput>(RuleInputSchema, req.body);
    const id = await project(req, body.project);
    await ctx.alerts.ensureDefaults(id);
    const rule = await ctx.alerts.createRule(id, body).catch(ruleProblem);
    return reply.status(201).send(withStatus(rule));
  });

  app.get<{ Params: { id: string } }>('/api/alerts/rules/:id', { onRequest: admin }, async (req) =>
    withStatus(ownRule(req, req.params.id)),
  );

  app.put<{ Params: { id: string }; Body: unknown }>(
    '/api/alerts/rules/:id',
    { onRequest: admin },
    async (req) => {
      const existing = ownRule(req, req.params.id);
      const body = checked<RuleInput>(RuleInputSchema, req.body);
      if (body.project !== undefined && body.project !== existing.project)
        throw new VigilError('invalid_body', { message: 'project: a rule cannot move to another project.' });
      return withStatus(await ctx.alerts.updateRule(existing.id, body).catch(ruleProblem));
    },
  );

  app.delete<{ Params: { id: string } }>('/api/alerts/rules/:id', { onRequest: admin }, async (req) => {
    const existing = ownRule(req, req.params.id);
    return ruleView(await ctx.alerts.deleteRule(existing.id).catch(ruleProblem));
  });

  // The same for every project: the names a rule's metric can take and the filters of each.
  app.get('/api/alerts/metrics', { onRequest: read }, async () => ({ metrics: metricCatalog() }));

  app.get<Project>(
    '/api/alerts/receivers',
    { onRequest: admin, schema: { querystring: ProjectQuery } },
    async (req) => {
      const id = await project(req, req.query.project);
      return { project: id, receivers: (await ctx.alerts.defaultReceivers(id)).map(receiverView) };
    },
  );

  app.put<{ Body: unknown }>('/api/alerts/receivers', { onRequest: admin }, async (req) => {
    const body = checked<{ project?: string; receivers: Receiver[] }>(ReceiversInputSchema, req.body);
    const id = await project(req, body.project);
    const receivers = await ctx.alerts.setDefaultReceivers(id, body.receivers).catch(ruleProblem);
    return { project: id, receivers: receivers.map(receiverView) };
  });

  app.get<{ Querystring: QueryOf<typeof AlertsQuery> }>(
    '/api/metrics/alerts',
    { onRequest: read, schema: { querystring: AlertsQuery } },
    async (req) => {
      const { limit = 100, from } = req.query;
      const id = await project(req, req.query.project);
      return {
        project: id,
        ...(await ctx.alerts.alerts(id, { limit, ...(from !== undefined ? { from } : {}) })),
      };
    },
  );

  const ownAlert = async (req: FastifyRequest, alertId: string) => {
    const alert = await ctx.alerts.alert(alertId);
    const principal = principalOf(req);
    if (!alert || !reaches(principal, alert.project))
      throw new VigilError('not_found', { message: `No alert '${alertId}'.` });
    return alert;
  };

  app.get<{ Params: { alertId: string } }>('/api/metrics/alerts/:alertId', { onRequest: read }, async (req) =>
    ownAlert(req, req.params.alertId),
  );

  app.post<{ Params: { alertId: string } }>(
    '/api/metrics/alerts/:alertId/ack',
    { onRequest: admin },
    async (req) => {
      const alert = await ownAlert(req, req.params.alertId);
      await ctx.store.alerts.acknowledge(alert.alertId, principalOf(req).subject, Date.now());
      req.log.info({ alertId: alert.alertId, by: principalOf(req).subject }, 'alert acknowledged');
      return ownAlert(req, alert.alertId);
    },
  );

  const createSilence = async (req: FastifyRequest, projectId: string, ruleId: string, body: SilenceBody) => {
    const now = Date.now();
    const silence: AlertSilenceRecord = {
      id: randomUUID(),
      project: projectId,
      ruleId,
      createdAt: now,
      endsAt: silenceEnd(body, now),
      createdBy: principalOf(req).subject,
      comment: body.comment ?? null,
    };
    await ctx.store.alerts.putSilence(silence);
    req.log.info(
      { silenceId: silence.id, ruleId, endsAt: silence.endsAt, by: silence.createdBy },
      'alert rule silenced',
    );
    return silenceView(silence);
  };

  app.post<{ Params: { alertId: string }; Body: unknown }>(
    '/api/metrics/alerts/:alertId/silence',
    { onRequest: admin },
    async (req, reply) => {
      const alert = await ownAlert(req, req.params.alertId);
      const body = checked<SilenceBody>(SilenceInput, req.body ?? {});
      return reply.status(201).send(await createSilence(req, alert.project, alert.ruleId, body));
    },
  );

  app.get<Project>(
    '/api/alerts/silences',
    { onRequest: admin, schema: { querystring: ProjectQuery } },
    async (req) => {
      const id = await project(req, req.query.project);
      return { project: id, silences: (await ctx.store.alerts.silences(id, Date.now())).map(silenceView) };
    },
  );

  app.post<{ Body: unknown }>('/api/alerts/silences', { onRequest: admin }, async (req, reply) => {
    const body = checked<SilenceBody>(SilenceInput, req.body);
    if (body.ruleId === undefined) throw new VigilError('invalid_body', { message: 'ruleId: is required.' });
    const rule = ownRule(req, body.ruleId);
    return reply.status(201).send(await createSilence(req, rule.project, rule.id, body));
  });

  app.delete<{ Params: { id: string } }>('/api/alerts/silences/:id', { onRequest: admin }, async (req) => {
    const principal = principalOf(req);
    const found = (await ctx.store.alerts.silences(principal.projects ? null : principal.project)).find(
      (s) => s.id === req.params.id && reaches(principal, s.project),
    );
    if (!found) throw new VigilError('not_found', { message: `No silence '${req.params.id}'.` });
    await ctx.store.alerts.deleteSilence(found.id);
    req.log.info({ silenceId: found.id, by: principal.subject }, 'alert silence removed');
    return silenceView(found);
  });
}
