import { type Static, Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { randomToken, SESSION_COOKIE, sha256, verifySecret } from '../auth/index.js';
import { VigilError } from '../errors/index.js';
import { type AppContext, cookie } from './context.js';

const Login = Type.Object(
  {
    user: Type.String({ minLength: 1, maxLength: 100 }),
    password: Type.String({ minLength: 1, maxLength: 1000 }),
  },
  { additionalProperties: false },
);

const SESSION_MS = 12 * 3_600_000;

/** Dashboard login: a session cookie (HttpOnly, SameSite=Strict, Secure behind TLS). */
export async function sessionRoutes(app: FastifyInstance, ctx: AppContext): Promise<void> {
  app.post<{ Body: Static<typeof Login> }>('/api/login', { schema: { body: Login } }, async (req, reply) => {
    const { user: name, password } = req.body;
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
    const secure = req.protocol === 'https' ? '; Secure' : '';
    void reply.header(
      'set-cookie',
      `${SESSION_COOKIE}=${token}; HttpOnly; SameSite=Strict; Path=/; Max-Age=${SESSION_MS / 1000}${secure}`,
    );
    return { user: user.name, role: user.role };
  });

  app.post('/api/logout', async (req, reply) => {
    const token = cookie(req, SESSION_COOKIE);
    if (token) await ctx.store.meta.deleteSession(sha256(token));
    void reply.header('set-cookie', `${SESSION_COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0`);
    return reply.status(204).send();
  });
}
