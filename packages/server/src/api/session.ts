import { randomUUID } from 'node:crypto';
import { type Static, Type } from '@sinclair/typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { hashSecret, randomToken, SESSION_COOKIE, sha256, verifySecret } from '../auth/index.js';
import { VigilError } from '../errors/index.js';
import {
  type AppContext,
  checkCsrf,
  cookie,
  csrfToken,
  forgetSession,
  guard,
  principalOf,
} from './context.js';

// `name`, as POST /api/users calls it (documented); `user` is kept for the clients that send it.
const UserName = Type.String({ minLength: 1, maxLength: 100 });
const Password = Type.String({ minLength: 1, maxLength: 1000 });
const Login = Type.Union([
  Type.Object({ name: UserName, password: Password }, { additionalProperties: false }),
  Type.Object({ user: UserName, password: Password }, { additionalProperties: false }),
]);

const NewUser = Type.Object(
  {
    name: Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9._@-]{0,99}$' }),
    role: Type.Union([Type.Literal('viewer'), Type.Literal('admin')]),
    password: Type.Optional(Type.String({ minLength: 12, maxLength: 1000 })),
  },
  { additionalProperties: false },
);

const SESSION_MS = 12 * 3_600_000;

/**
 * TLS reaches this server either directly or through a reverse proxy on the same machine
 * (a loopback peer is the only proxy trusted to say `X-Forwarded-Proto: https`).
 */
function behindTls(req: FastifyRequest): boolean {
  if (req.protocol === 'https') return true;
  const peer = req.socket.remoteAddress ?? '';
  const loopback = peer === '::1' || peer.startsWith('127.') || peer.startsWith('::ffff:127.');
  const forwarded = req.headers['x-forwarded-proto'];
  return loopback && typeof forwarded === 'string' && forwarded.split(',')[0]?.trim() === 'https';
}

/** Dashboard login: a session cookie (HttpOnly, SameSite=Strict, Secure behind TLS). */
export async function sessionRoutes(app: FastifyInstance, ctx: AppContext): Promise<void> {
  app.post<{ Body: Static<typeof Login> }>('/api/login', { schema: { body: Login } }, async (req, reply) => {
    const { password } = req.body;
    const name = 'name' in req.body ? req.body.name : req.body.user;
    // Limited per address and per user name, so neither one guesser nor many can hammer one account.
    const wait = Math.max(ctx.limiters.login.take(`ip:${req.ip}`), ctx.limiters.login.take(`user:${name}`));
    if (wait > 0)
      throw new VigilError('rate_limited', {
        retryAfter: wait,
        message: 'Too many login attempts; wait and try again.',
      });
    const user = await ctx.store.meta.getUserByName(name);
    if (!user || !(await verifySecret(password, user.passwordHash))) {
      req.log.warn({ user: name }, 'failed login');
      throw new VigilError('invalid_login');
    }
    const token = randomToken(32);
    const now = Date.now();
    await ctx.store.meta.insertSession({
      id: sha256(token),
      userId: user.id,
      createdAt: now,
      expiresAt: now + SESSION_MS,
    });
    const secure = behindTls(req) ? '; Secure' : '';
    void reply.header(
      'set-cookie',
      `${SESSION_COOKIE}=${token}; HttpOnly; SameSite=Strict; Path=/; Max-Age=${SESSION_MS / 1000}${secure}`,
    );
    return { user: user.name, role: user.role, csrfToken: csrfToken(token) };
  });

  // Who is calling, for the dashboard: role, and the CSRF token of a cookie session.
  app.get('/api/me', { onRequest: guard(ctx, 'read') }, async (req) => {
    const principal = principalOf(req);
    const session = req.headers.authorization === undefined ? cookie(req, SESSION_COOKIE) : undefined;
    return {
      subject: principal.subject,
      user: principal.subject.startsWith('user:') ? principal.subject.slice(5) : null,
      role: principal.role,
      project: principal.project,
      csrfToken: session === undefined ? null : csrfToken(session),
    };
  });

  // Dashboard users (server-wide: a user sees every project). A generated password is shown once.
  const serverAdmin = guard(ctx, 'server');
  app.get('/api/users', { onRequest: serverAdmin }, async () => ({
    users: (await ctx.store.meta.listUsers()).map((u) => ({
      id: u.id,
      name: u.name,
      role: u.role,
      createdAt: new Date(u.createdAt).toISOString(),
    })),
  }));
  app.post<{ Body: Static<typeof NewUser> }>(
    '/api/users',
    { onRequest: serverAdmin, schema: { body: NewUser } },
    async (req, reply) => {
      const { name, role } = req.body;
      if (await ctx.store.meta.getUserByName(name)) {
        throw new VigilError('invalid_body', {
          message: `A user named '${name}' exists; choose another name.`,
        });
      }
      const password = req.body.password ?? randomToken(12);
      const user = {
        id: randomUUID(),
        name,
        role,
        passwordHash: await hashSecret(password),
        createdAt: Date.now(),
      };
      await ctx.store.meta.insertUser(user);
      req.log.info({ user: name, role, by: principalOf(req).subject }, 'user created');
      return reply.status(201).send({
        id: user.id,
        name,
        role,
        createdAt: new Date(user.createdAt).toISOString(),
        ...(req.body.password === undefined ? { password } : {}),
      });
    },
  );

  app.post('/api/logout', async (req, reply) => {
    const token = cookie(req, SESSION_COOKIE);
    if (token) {
      checkCsrf(req, token);
      await ctx.store.meta.deleteSession(sha256(token));
      forgetSession(ctx, token);
    }
    void reply.header('set-cookie', `${SESSION_COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0`);
    return reply.status(204).send();
  });
}
