import { type Static, Type } from '@sinclair/typebox';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { hashSecret, randomToken, SESSION_COOKIE, sha256, verifySecret } from '../auth/index.js';
import { VigilError } from '../errors/index.js';
import { recordAccountEvent } from './accounts.js';
import {
  type AppContext,
  checkCsrf,
  cookie,
  csrfToken,
  forgetAllSessions,
  forgetSession,
  guard,
  principalOf,
} from './context.js';
import { loginOptions } from './oidc.js';

// `name`, as POST /api/users calls it (documented); `user` is kept for the clients that send it.
const UserName = Type.String({ minLength: 1, maxLength: 100 });
const Password = Type.String({ minLength: 1, maxLength: 1000 });
const Login = Type.Union([
  Type.Object({ name: UserName, password: Password }, { additionalProperties: false }),
  Type.Object({ user: UserName, password: Password }, { additionalProperties: false }),
]);

const PasswordChange = Type.Object(
  {
    currentPassword: Password,
    newPassword: Type.String({ minLength: 12, maxLength: 1000 }),
  },
  { additionalProperties: false },
);

/** Local sessions last a working day; sessions from the identity provider are shorter (see oidc). */
export const SESSION_MS = 12 * 3_600_000;

/**
 * TLS reaches this server either directly or through a reverse proxy on the same machine
 * (a loopback peer is the only proxy trusted to say `X-Forwarded-Proto: https`).
 */
export function behindTls(req: FastifyRequest): boolean {
  if (req.protocol === 'https') return true;
  const peer = req.socket.remoteAddress ?? '';
  const loopback = peer === '::1' || peer.startsWith('127.') || peer.startsWith('::ffff:127.');
  const forwarded = req.headers['x-forwarded-proto'];
  return loopback && typeof forwarded === 'string' && forwarded.split(',')[0]?.trim() === 'https';
}

/** Starts a dashboard session for the user (cookie HttpOnly, SameSite=Strict, Secure behind TLS);
 * returns the session token. */
export async function openSession(
  ctx: AppContext,
  {
    req,
    reply,
    userId,
    lifetimeMs,
  }: { req: FastifyRequest; reply: FastifyReply; userId: string; lifetimeMs: number },
): Promise<string> {
  const token = randomToken(32);
  const now = Date.now();
  await ctx.store.meta.insertSession({
    id: sha256(token),
    userId,
    createdAt: now,
    expiresAt: now + lifetimeMs,
  });
  const secure = behindTls(req) ? '; Secure' : '';
  void reply.header(
    'set-cookie',
    `${SESSION_COOKIE}=${token}; HttpOnly; SameSite=Strict; Path=/; Max-Age=${Math.floor(lifetimeMs / 1000)}${secure}`,
  );
  return token;
}

/** `local` (a password), `oidc` (the identity provider), or null when the caller is not a person. */
async function signInOf(ctx: AppContext, subject: string): Promise<'local' | 'oidc' | null> {
  if (!subject.startsWith('user:')) return null;
  const user = await ctx.store.meta.getUserByName(subject.slice(5));
  if (!user) return null;
  const identities = await ctx.store.meta.listIdentities();
  return identities.some((i) => i.userId === user.id) ? 'oidc' : 'local';
}

/** Dashboard login: a session cookie (HttpOnly, SameSite=Strict, Secure behind TLS). */
export async function sessionRoutes(app: FastifyInstance, ctx: AppContext): Promise<void> {
  app.post<{ Body: Static<typeof Login> }>('/api/login', { schema: { body: Login } }, async (req, reply) => {
    const { password } = req.body;
    const name = 'name' in req.body ? req.body.name : req.body.user;
    // Limited per address, and per user for wrong passwords without locking the person out (LoginThrottle).
    const wait = ctx.limiters.login.attempt(name, req.ip);
    if (wait > 0)
      throw new VigilError('rate_limited', {
        retryAfter: wait,
        message: 'Too many login attempts; wait and try again.',
      });
    if (!ctx.config.auth.localLogin) {
      throw new VigilError('forbidden', {
        message: 'Password login is switched off on this server; sign in through the identity provider.',
      });
    }
    const user = await ctx.store.meta.getUserByName(name);
    if (!user || !(await verifySecret(password, user.passwordHash))) {
      req.log.warn({ user: name }, 'failed login');
      ctx.limiters.login.failed(name);
      if (user)
        await recordAccountEvent(ctx, req, { kind: 'sign_in_refused', user: name, detail: 'password' });
      throw new VigilError('invalid_login');
    }
    ctx.limiters.login.succeeded(name, req.ip);
    const token = await openSession(ctx, { req, reply, userId: user.id, lifetimeMs: SESSION_MS });
    await recordAccountEvent(ctx, req, {
      kind: 'sign_in',
      user: user.name,
      actor: `user:${user.name}`,
      detail: 'password',
    });
    return { user: user.name, role: user.role, csrfToken: csrfToken(token) };
  });

  // What the login page offers: the password form, the identity provider's button.
  app.get('/api/login', async (_req, reply) => {
    void reply.header('cache-control', 'no-store');
    return loginOptions(ctx);
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
      // A person with roles per project: each project they may see, with their role there.
      projects: principal.projects ? Object.fromEntries(principal.projects) : null,
      csrfToken: session === undefined ? null : csrfToken(session),
      // How the person signs in (`local`: with a password they can change), null for keys.
      signIn: await signInOf(ctx, principal.subject),
    };
  });

  // A person changes their own password: the current one first; their other sessions end.
  app.post<{ Body: Static<typeof PasswordChange> }>(
    '/api/me/password',
    { onRequest: guard(ctx, 'read'), schema: { body: PasswordChange } },
    async (req) => {
      const principal = principalOf(req);
      const session = cookie(req, SESSION_COOKIE);
      if (!principal.subject.startsWith('user:') || session === undefined || req.headers.authorization)
        throw new VigilError('not_a_person');
      const name = principal.subject.slice(5);
      // Guessing the current password is limited as password logins are (LoginThrottle).
      const wait = ctx.limiters.login.attempt(name, req.ip);
      if (wait > 0)
        throw new VigilError('rate_limited', {
          retryAfter: wait,
          message: 'Too many password attempts; wait and try again.',
        });
      const user = await ctx.store.meta.getUserByName(name);
      if (!user) throw new VigilError('unauthorized');
      if ((await signInOf(ctx, principal.subject)) !== 'local')
        throw new VigilError('not_a_person', {
          message: 'You sign in through the identity provider; change your password there.',
        });
      if (!(await verifySecret(req.body.currentPassword, user.passwordHash))) {
        req.log.warn({ user: name }, 'wrong current password at a password change');
        ctx.limiters.login.failed(name);
        throw new VigilError('wrong_password');
      }
      await ctx.store.meta.setUserPassword(user.id, await hashSecret(req.body.newPassword));
      // Sessions opened with the old password end; this one goes on.
      const current = await ctx.store.meta.getSession(sha256(session));
      await ctx.store.meta.deleteUserSessions(user.id);
      if (current) await ctx.store.meta.insertSession(current);
      forgetAllSessions(ctx);
      await recordAccountEvent(ctx, req, { kind: 'password_change', user: name });
      return { user: name, changed: true };
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
