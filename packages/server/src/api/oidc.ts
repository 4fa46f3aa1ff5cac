import { createHmac, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import * as client from 'openid-client';
import {
  type ClaimedRoles,
  type Claims,
  describeRoles,
  domainAllowed,
  emailOf,
  rolesFromClaims,
  userNameOf,
} from '../auth/index.js';
import type { OidcConfig } from '../config/index.js';
import { VigilError } from '../errors/index.js';
import type { UserRecord } from '../store/index.js';
import { recordAccountEvent } from './accounts.js';
import { type AppContext, cookie, forgetAllSessions } from './context.js';
import { behindTls, openSession } from './session.js';

/** The sign-in in progress: kept by the browser in a signed, HttpOnly cookie for 10 minutes. */
const TRANSACTION_COOKIE = 'vigil_oidc';
const TRANSACTION_MS = 10 * 60_000;
const CALLBACK_PATH = '/auth/oidc/callback';

interface Transaction {
  state: string;
  nonce: string;
  verifier: string;
  expiresAt: number;
}

/**
 * The provider as discovered. Discovery starts with the server; when the provider cannot be reached
 * then, the next sign-in tries again (and says clearly that the provider is down if it still is).
 */
class Provider {
  private discovered: Promise<client.Configuration> | null = null;

  constructor(
    readonly config: OidcConfig,
    private readonly log: FastifyInstance['log'],
  ) {}

  configuration(): Promise<client.Configuration> {
    if (this.discovered) return this.discovered;
    // An issuer that is not a URL fails like an unreachable one (logged at start, said at sign-in).
    const discovered = Promise.resolve()
      .then(() => new URL(this.config.issuer))
      .then((issuer) =>
        client.discovery(issuer, this.config.clientId, undefined, this.clientAuth(), {
          timeout: 10,
          // Plain HTTP only to a provider on this machine (tests, a local Keycloak); HTTPS otherwise.
          execute: [
            ...(loopback(issuer) && issuer.protocol === 'http:' ? [client.allowInsecureRequests] : []),
            // The ID token's signature is checked against the provider's published keys (JWKS).
            client.enableNonRepudiationChecks,
          ],
        }),
      )
      .then((configuration) => {
        this.log.info({ issuer: this.config.issuer }, 'identity provider discovered');
        return configuration;
      });
    this.discovered = discovered;
    discovered.catch((err: unknown) => {
      this.log.warn({ issuer: this.config.issuer, err: String(err) }, 'identity provider not reachable');
      if (this.discovered === discovered) this.discovered = null;
    });
    return discovered;
  }

  async ready(): Promise<client.Configuration> {
    try {
      return await this.configuration();
    } catch (err) {
      throw new VigilError('oidc_unavailable', {
        message: `The identity provider at ${this.config.issuer} cannot be reached or its discovery document is not valid (${reason(err)}); try again shortly (VIGIL_ADMIN_TOKEN still works).`,
        cause: err,
      });
    }
  }

  private clientAuth(): client.ClientAuth {
    return this.config.clientSecret === undefined
      ? client.None()
      : client.ClientSecretBasic(this.config.clientSecret);
  }
}

function loopback(url: URL): boolean {
  const host = url.hostname;
  return host === 'localhost' || host === '[::1]' || /^127\./.test(host);
}

function reason(err: unknown): string {
  if (err instanceof Error) {
    const cause = err.cause instanceof Error ? `: ${err.cause.message}` : '';
    return `${err.message}${cause}`;
  }
  return String(err);
}

/** The signing key of the transaction cookie: from VIGIL_SECRET_KEY (any instance can finish a
 * sign-in another began), else one per process. */
function transactionKey(ctx: AppContext): Buffer {
  return ctx.config.secretKey === undefined
    ? randomBytes(32)
    : createHmac('sha256', ctx.config.secretKey).update('vigil-oidc-transaction').digest();
}

function seal(key: Buffer, t: Transaction): string {
  const body = Buffer.from(JSON.stringify(t)).toString('base64url');
  return `${body}.${createHmac('sha256', key).update(body).digest('base64url')}`;
}

function unseal(key: Buffer, value: string | undefined, now: number): Transaction | null {
  if (value === undefined) return null;
  const dot = value.indexOf('.');
  if (dot <= 0) return null;
  const body = value.slice(0, dot);
  const sent = Buffer.from(value.slice(dot + 1));
  const want = Buffer.from(createHmac('sha256', key).update(body).digest('base64url'));
  if (sent.length !== want.length || !timingSafeEqual(sent, want)) return null;
  try {
    const t = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as Transaction;
    if (typeof t.state !== 'string' || typeof t.nonce !== 'string' || typeof t.verifier !== 'string')
      return null;
    return t.expiresAt > now ? t : null;
  } catch {
    return null;
  }
}

/** Which catalog error a failed code exchange is. */
function callbackError(err: unknown): VigilError {
  if (err instanceof VigilError) return err;
  if (err instanceof client.ResponseBodyError || err instanceof client.AuthorizationResponseError) {
    const description = err.error_description ? ` (${err.error_description})` : '';
    return new VigilError('oidc_refused', {
      message: `The identity provider refused the sign-in: ${err.error}${description}. Start again from the login page.`,
      cause: err,
    });
  }
  const code = (err as { code?: string }).code;
  const network =
    err instanceof TypeError ||
    code === 'OAUTH_TIMEOUT' ||
    code === 'OAUTH_ABORT' ||
    code === 'OAUTH_RESPONSE_IS_NOT_CONFORM' ||
    code === 'OAUTH_RESPONSE_IS_NOT_JSON';
  if (network) {
    return new VigilError('oidc_unavailable', {
      message: `The identity provider could not be reached to finish the sign-in (${reason(err)}); try again shortly.`,
      cause: err,
    });
  }
  return new VigilError('oidc_invalid_token', {
    message: `The ID token from the identity provider was refused: ${reason(err)}. Nobody was signed in.`,
    cause: err,
  });
}

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** A refused sign-in: a readable page for a browser, the catalog's JSON otherwise; never a 5xx. */
function refuse(req: FastifyRequest, reply: FastifyReply, error: VigilError): FastifyReply {
  void reply.header('cache-control', 'no-store');
  const accept = String(req.headers.accept ?? '');
  if (!/\btext\/html\b/.test(accept)) return reply.status(error.status).send(error.toBody());
  return reply
    .status(error.status)
    .header('content-type', 'text/html; charset=utf-8')
    .header('content-security-policy', "default-src 'none'; style-src 'unsafe-inline'")
    .send(
      `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Sign-in refused · Vigil</title></head>` +
        `<body style="font-family:system-ui,sans-serif;max-width:36rem;margin:4rem auto;padding:0 1rem">` +
        `<h1>Sign-in refused</h1><p data-error="${error.code}">${escapeHtml(error.message)}</p>` +
        `<p><code>${error.code}</code></p><p><a href="/">Back to the login page</a></p></body></html>`,
    );
}

/**
 * Sign-in through an OpenID Connect provider (docs/sso.md): Authorization Code flow with PKCE,
 * `state` and `nonce`; the ID token is checked against the provider's published keys. Both routes
 * exist on every server and answer 404 `oidc_not_configured` when `auth.oidc` is not set.
 */
export async function oidcRoutes(app: FastifyInstance, ctx: AppContext): Promise<void> {
  const settings = ctx.config.auth.oidc;
  const provider = settings ? new Provider(settings, app.log.child({ component: 'oidc' })) : null;
  // Discovery at start; a failure is logged and retried at the next sign-in.
  if (provider) provider.configuration().catch(() => undefined);
  const key = transactionKey(ctx);
  const configured = (): Provider => {
    if (!provider) throw new VigilError('oidc_not_configured');
    return provider;
  };
  const redirectUrl = () =>
    settings?.redirectUrl ?? `${ctx.alerts.externalUrl.replace(/\/+$/, '')}${CALLBACK_PATH}`;
  const transactionCookie = (req: FastifyRequest, value: string, maxAgeMs: number) =>
    `${TRANSACTION_COOKIE}=${value}; HttpOnly; SameSite=Lax; Path=/auth/oidc; Max-Age=${Math.floor(maxAgeMs / 1000)}${behindTls(req) ? '; Secure' : ''}`;

  app.get('/auth/oidc/login', async (req, reply) => {
    let configuration: client.Configuration;
    try {
      configuration = await configured().ready();
    } catch (err) {
      return refuse(req, reply, callbackError(err));
    }
    const t: Transaction = {
      state: client.randomState(),
      nonce: client.randomNonce(),
      verifier: client.randomPKCECodeVerifier(),
      expiresAt: Date.now() + TRANSACTION_MS,
    };
    const target = client.buildAuthorizationUrl(configuration, {
      redirect_uri: redirectUrl(),
      scope: (settings?.scopes ?? ['openid', 'email', 'profile']).join(' '),
      state: t.state,
      nonce: t.nonce,
      code_challenge: await client.calculatePKCECodeChallenge(t.verifier),
      code_challenge_method: 'S256',
    });
    return reply
      .header('set-cookie', transactionCookie(req, seal(key, t), TRANSACTION_MS))
      .header('cache-control', 'no-store')
      .redirect(target.href, 302);
  });

  app.get('/auth/oidc/callback', async (req, reply) => {
    try {
      const p = configured();
      const transaction = unseal(key, cookie(req, TRANSACTION_COOKIE), Date.now());
      const query = new URL(req.url, 'http://vigil.invalid').searchParams;
      if (!transaction || query.get('state') !== transaction.state)
        throw new VigilError('oidc_state_mismatch');
      const configuration = await p.ready();
      // The URL the provider redirected to: the registered callback with this request's query.
      const current = new URL(redirectUrl());
      current.search = query.toString();
      const tokens = await client
        .authorizationCodeGrant(configuration, current, {
          pkceCodeVerifier: transaction.verifier,
          expectedState: transaction.state,
          expectedNonce: transaction.nonce,
          idTokenExpected: true,
        })
        .catch((err: unknown) => {
          throw callbackError(err);
        });
      const claims = tokens.claims() as Claims | undefined;
      if (!claims) throw new VigilError('oidc_invalid_token', { message: 'The provider sent no ID token.' });
      const user = await signIn(ctx, req, {
        settings: p.config,
        issuer: configuration.serverMetadata().issuer,
        claims,
      });
      await openSession(ctx, {
        req,
        reply,
        userId: user.id,
        lifetimeMs: (p.config.sessionMinutes ?? 60) * 60_000,
      });
      return reply
        .header('set-cookie', transactionCookie(req, '', 0))
        .header('cache-control', 'no-store')
        .redirect('/', 302);
    } catch (err) {
      const error = callbackError(err);
      req.log.warn(
        { code: error.code, err: reason(error.cause ?? error) },
        'identity provider sign-in refused',
      );
      return refuse(req, reply, error);
    }
  });
}

/**
 * The person behind validated claims: found by issuer + subject, created at their first sign-in;
 * their roles are replaced by what the claims give now. Refusals are recorded.
 */
async function signIn(
  ctx: AppContext,
  req: FastifyRequest,
  { settings, issuer, claims }: { settings: OidcConfig; issuer: string; claims: Claims },
): Promise<UserRecord> {
  const subject = String(claims.sub);
  const email = emailOf(claims);
  const identity = await ctx.store.meta.getIdentity(issuer, subject);
  let user = identity ? await ctx.store.meta.getUser(identity.userId) : null;
  const name = user?.name ?? userNameOf(claims);
  const actor = `oidc:${issuer}`;
  const refuse = async (code: 'oidc_domain_not_allowed' | 'oidc_no_role', detail: string) => {
    await recordAccountEvent(ctx, req, { kind: 'sign_in_refused', user: name, actor, detail });
    return new VigilError(code);
  };
  if (!domainAllowed(settings, email))
    throw await refuse('oidc_domain_not_allowed', `domain not allowed (${email ?? 'no verified email'})`);
  const roles = rolesFromClaims(settings, claims);
  if (roles.role === null && roles.projects.length === 0) {
    // Whatever the person had before is gone too: their open sessions reach nothing.
    if (user) await applyRoles(ctx, req, { user, roles, actor });
    throw await refuse('oidc_no_role', 'no role in the claims');
  }
  for (const { project } of roles.projects) await ctx.projects.ensure(project);
  if (!user) {
    user = {
      id: randomUUID(),
      name: await freeName(ctx, name),
      role: null,
      passwordHash: '',
      createdAt: Date.now(),
    };
    await ctx.store.meta.insertUserWithIdentity(user, { issuer, subject, userId: user.id, email });
    await recordAccountEvent(ctx, req, {
      kind: 'user_created',
      user: user.name,
      actor,
      detail: `first sign-in: ${describeRoles(roles.role, roles.projects)}`,
    });
    await ctx.store.meta.setUserRoles(user.id, roles);
    user = { ...user, role: roles.role };
  } else {
    await applyRoles(ctx, req, { user, roles, actor });
    if (identity && identity.email !== email) await ctx.store.meta.setIdentityEmail(issuer, subject, email);
  }
  await recordAccountEvent(ctx, req, {
    kind: 'sign_in',
    user: user.name,
    actor: `user:${user.name}`,
    detail: 'oidc',
  });
  return user;
}

async function applyRoles(
  ctx: AppContext,
  req: FastifyRequest,
  { user, roles, actor }: { user: UserRecord; roles: ClaimedRoles; actor: string },
): Promise<void> {
  const before = describeRoles(user.role, await ctx.store.meta.userProjectRoles(user.id));
  const after = describeRoles(roles.role, roles.projects);
  if (before === after) return;
  await ctx.store.meta.setUserRoles(user.id, roles);
  forgetAllSessions(ctx);
  await recordAccountEvent(ctx, req, {
    kind: 'role_change',
    user: user.name,
    actor,
    detail: `${before} → ${after}`,
  });
}

/** The name, or the name with a suffix when a local account (or another person) has it already. */
async function freeName(ctx: AppContext, name: string): Promise<string> {
  if (!(await ctx.store.meta.getUserByName(name))) return name;
  for (let i = 2; ; i++) {
    const candidate = `${name}-${i}`;
    if (!(await ctx.store.meta.getUserByName(candidate))) return candidate;
  }
}

/** What the login page needs to know: whether passwords work, and the provider's button. */
export function loginOptions(ctx: AppContext): {
  localLogin: boolean;
  oidc: { name: string; loginUrl: string } | null;
} {
  const oidc = ctx.config.auth.oidc;
  return {
    localLogin: ctx.config.auth.localLogin,
    oidc: oidc ? { name: oidc.name ?? 'your identity provider', loginUrl: '/auth/oidc/login' } : null,
  };
}
