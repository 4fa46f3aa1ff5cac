import { randomUUID } from 'node:crypto';
import { type Static, Type } from '@sinclair/typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { describeRoles, hashSecret, randomToken } from '../auth/index.js';
import { VigilError } from '../errors/index.js';
import type { AccountEventKind, ProjectRoleRecord, UserRecord } from '../store/index.js';
import { type AppContext, forgetAllSessions, guard, principalOf } from './context.js';
import { Param, type QueryOf, QuerySchema } from './params.js';

const PersonRole = Type.Union([Type.Literal('viewer'), Type.Literal('admin')]);
const ProjectRoles = Type.Array(
  Type.Object(
    { project: Type.String({ minLength: 1, maxLength: 100 }), role: PersonRole },
    { additionalProperties: false },
  ),
  { maxItems: 1000 },
);

const NewUser = Type.Object(
  {
    name: Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9._@-]{0,99}$' }),
    /** Server-wide: every project. */
    role: Type.Optional(PersonRole),
    /** Or roles in some projects only. */
    projects: Type.Optional(ProjectRoles),
    password: Type.Optional(Type.String({ minLength: 12, maxLength: 1000 })),
  },
  { additionalProperties: false },
);

const RolesBody = Type.Object(
  { role: Type.Union([PersonRole, Type.Null()]), projects: ProjectRoles },
  { additionalProperties: false },
);

const PasswordReset = Type.Object(
  { password: Type.Optional(Type.String({ minLength: 12, maxLength: 1000 })) },
  { additionalProperties: false },
);

const EventsQuery = QuerySchema({
  user: Type.Optional(Param.text({ max: 200 })),
  limit: Type.Optional(Param.count({ max: 1000 })),
});

/** Records a sign-in or an account change: who, by whom, when, from which address. */
export async function recordAccountEvent(
  ctx: AppContext,
  req: FastifyRequest,
  event: { kind: AccountEventKind; user: string; actor?: string; detail?: string | null },
): Promise<void> {
  await ctx.store.meta.appendAccountEvent({
    at: Date.now(),
    kind: event.kind,
    user: event.user,
    actor: event.actor ?? req.principal?.subject ?? 'anonymous',
    address: req.ip,
    detail: event.detail ?? null,
  });
}

/** Project roles as stored and shown: one per project, every project existing. */
async function checkedProjectRoles(
  ctx: AppContext,
  roles: readonly ProjectRoleRecord[],
): Promise<ProjectRoleRecord[]> {
  const byProject = new Map<string, ProjectRoleRecord>();
  for (const r of roles) {
    if (byProject.has(r.project))
      throw new VigilError('invalid_body', { message: `projects: '${r.project}' is given twice.` });
    if (!(await ctx.store.meta.getProject(r.project)))
      throw new VigilError('invalid_body', { message: `projects: there is no project '${r.project}'.` });
    byProject.set(r.project, { project: r.project, role: r.role });
  }
  return [...byProject.values()];
}

/**
 * People and their access (server admins only: accounts span projects). A person is either
 * server-wide (`role`) or has roles in some projects (`projects`); people from the identity
 * provider get theirs from claims at every sign-in, so only local accounts are edited here.
 */
export async function accountRoutes(app: FastifyInstance, ctx: AppContext): Promise<void> {
  const serverAdmin = guard(ctx, 'server');
  const iso = (ms: number | undefined) => (ms === undefined ? null : new Date(ms).toISOString());

  const findUser = async (id: string): Promise<UserRecord> => {
    const user = await ctx.store.meta.getUser(id);
    if (!user) throw new VigilError('not_found', { message: `No user '${id}'.` });
    return user;
  };
  const localOnly = async (user: UserRecord, what: string): Promise<void> => {
    const identities = await ctx.store.meta.listIdentities();
    if (identities.some((i) => i.userId === user.id)) {
      throw new VigilError('invalid_body', {
        message: `'${user.name}' signs in through the identity provider, which decides their ${what}; change it there.`,
      });
    }
  };

  app.get('/api/users', { onRequest: serverAdmin }, async () => {
    const [users, identities, lastSignIns] = await Promise.all([
      ctx.store.meta.listUsers(),
      ctx.store.meta.listIdentities(),
      ctx.store.meta.lastSignIns(),
    ]);
    const identityOf = new Map(identities.map((i) => [i.userId, i]));
    return {
      users: await Promise.all(
        users.map(async (u) => {
          const identity = identityOf.get(u.id);
          return {
            id: u.id,
            name: u.name,
            role: u.role,
            projects: await ctx.store.meta.userProjectRoles(u.id),
            signIn: identity ? 'oidc' : 'local',
            email: identity?.email ?? null,
            lastSignInAt: iso(lastSignIns.get(u.name)),
            createdAt: new Date(u.createdAt).toISOString(),
          };
        }),
      ),
    };
  });

  // A generated password is shown once.
  app.post<{ Body: Static<typeof NewUser> }>(
    '/api/users',
    { onRequest: serverAdmin, schema: { body: NewUser } },
    async (req, reply) => {
      const { name } = req.body;
      if (req.body.role !== undefined && req.body.projects !== undefined)
        throw new VigilError('invalid_body', {
          message: 'Give either role (every project) or projects (roles in some projects), not both.',
        });
      if (req.body.role === undefined && req.body.projects === undefined)
        throw new VigilError('invalid_body', {
          message: 'Give role (every project) or projects (roles in some projects).',
        });
      if (await ctx.store.meta.getUserByName(name)) {
        throw new VigilError('invalid_body', {
          message: `A user named '${name}' exists; choose another name.`,
        });
      }
      const projects = await checkedProjectRoles(ctx, req.body.projects ?? []);
      const role = req.body.role ?? null;
      const password = req.body.password ?? randomToken(12);
      const user = {
        id: randomUUID(),
        name,
        role,
        passwordHash: await hashSecret(password),
        createdAt: Date.now(),
      };
      await ctx.store.meta.insertUser(user);
      if (projects.length > 0) await ctx.store.meta.setUserRoles(user.id, { role, projects });
      await recordAccountEvent(ctx, req, {
        kind: 'user_created',
        user: name,
        detail: describeRoles(role, projects),
      });
      req.log.info({ user: name, role, by: principalOf(req).subject }, 'user created');
      return reply.status(201).send({
        id: user.id,
        name,
        role,
        projects,
        createdAt: new Date(user.createdAt).toISOString(),
        ...(req.body.password === undefined ? { password } : {}),
      });
    },
  );

  app.put<{ Params: { id: string }; Body: Static<typeof RolesBody> }>(
    '/api/users/:id/roles',
    { onRequest: serverAdmin, schema: { body: RolesBody } },
    async (req) => {
      const user = await findUser(req.params.id);
      await localOnly(user, 'roles');
      if (req.body.role !== null && req.body.projects.length > 0)
        throw new VigilError('invalid_body', {
          message: 'A server-wide role covers every project; give role null to set roles per project.',
        });
      const projects = await checkedProjectRoles(ctx, req.body.projects);
      const before = describeRoles(user.role, await ctx.store.meta.userProjectRoles(user.id));
      await ctx.store.meta.setUserRoles(user.id, { role: req.body.role, projects });
      forgetAllSessions(ctx);
      const after = describeRoles(req.body.role, projects);
      await recordAccountEvent(ctx, req, {
        kind: 'role_change',
        user: user.name,
        detail: `${before} → ${after}`,
      });
      return { id: user.id, name: user.name, role: req.body.role, projects };
    },
  );

  app.delete<{ Params: { id: string } }>(
    '/api/users/:id/sessions',
    { onRequest: serverAdmin },
    async (req) => {
      const user = await findUser(req.params.id);
      const ended = await ctx.store.meta.deleteUserSessions(user.id);
      forgetAllSessions(ctx);
      await recordAccountEvent(ctx, req, { kind: 'sessions_ended', user: user.name, detail: String(ended) });
      return { ended };
    },
  );

  app.post<{ Params: { id: string }; Body: Static<typeof PasswordReset> }>(
    '/api/users/:id/password',
    { onRequest: serverAdmin, schema: { body: PasswordReset } },
    async (req) => {
      const user = await findUser(req.params.id);
      await localOnly(user, 'password');
      const password = req.body.password ?? randomToken(12);
      await ctx.store.meta.setUserPassword(user.id, await hashSecret(password));
      // A reset password also ends the sessions opened with the old one.
      await ctx.store.meta.deleteUserSessions(user.id);
      forgetAllSessions(ctx);
      await recordAccountEvent(ctx, req, { kind: 'password_reset', user: user.name });
      return { id: user.id, name: user.name, ...(req.body.password === undefined ? { password } : {}) };
    },
  );

  app.get<{ Querystring: QueryOf<typeof EventsQuery> }>(
    '/api/accounts/events',
    { onRequest: serverAdmin, schema: { querystring: EventsQuery } },
    async (req) => ({
      events: (
        await ctx.store.meta.accountEvents({
          limit: req.query.limit ?? 200,
          ...(req.query.user === undefined ? {} : { user: req.query.user }),
        })
      ).map((e) => ({ ...e, at: new Date(e.at).toISOString() })),
    }),
  );
}
