/**
 * A real OpenID Connect provider for tests: `oidc-provider` on loopback with its own RSA key, one
 * static confidential client and accounts whose claims (email, groups) a test can change between
 * sign-ins. It sits behind a small proxy that is the issuer people see, so a test can take the
 * provider down or re-sign the ID token the token endpoint returns (expired, or signed with a key
 * the provider never published) — the client under test talks to a real provider either way.
 */
import { createSign, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { createServer, type IncomingMessage, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import Provider, { type KoaContextWithOIDC } from 'oidc-provider';

export const CLIENT_ID = 'vigil';
export const CLIENT_SECRET = 'vigil-test-client-secret-0123456789';

export interface AccountClaims {
  email?: string;
  email_verified?: boolean;
  groups?: string[];
}

export interface TestProvider {
  /** The issuer URL (the proxy in front of the provider). */
  issuer: string;
  /** Creates or changes an account (its id is what the provider's login form takes). */
  setAccount(id: string, claims: AccountClaims): void;
  /**
   * `pass`: the provider answers as it is; `down`: every request fails (502); `tamper`: the ID token
   * from the token endpoint is re-signed with `change` applied to its payload, with the provider's
   * own key, or with a `foreign` key under the same key id.
   */
  mode:
    | { kind: 'pass' }
    | { kind: 'down' }
    | { kind: 'tamper'; key: 'provider' | 'foreign'; change: (payload: Record<string, unknown>) => void };
  close(): Promise<void>;
}

const KID = 'vigil-test-key';

async function listen(server: Server, host = '127.0.0.1'): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  return (server.address() as AddressInfo).port;
}

async function close(server: Server): Promise<void> {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

function resign(idToken: string, key: KeyObject, change: (p: Record<string, unknown>) => void): string {
  const [header, payload] = idToken.split('.') as [string, string];
  const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Record<string, unknown>;
  change(claims);
  const body = `${header}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}`;
  return `${body}.${createSign('RSA-SHA256').update(body).sign(key, 'base64url')}`;
}

const readBody = (stream: IncomingMessage): Promise<Buffer> =>
  new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', () => resolve(Buffer.concat(chunks)));
    stream.on('error', reject);
  });

/**
 * Starts the proxy (the issuer) first, then the provider with `redirectUri` registered for the
 * client — call `attach` once the client under test knows its callback URL. The proxy answers 502
 * (`mode` `down`) until a test sets `mode` to `pass`.
 */
export async function startTestProvider({
  host = '127.0.0.1',
}: {
  /** The issuer's host: `localhost` makes the provider another site than a client on 127.0.0.1. */
  host?: '127.0.0.1' | 'localhost';
} = {}): Promise<{
  issuer: string;
  attach(redirectUri: string): Promise<TestProvider>;
  close(): Promise<void>;
}> {
  const own = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
  const foreign = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
  const accounts = new Map<string, AccountClaims>();
  let upstream: number | null = null;
  let inner: Server | null = null;
  // Down until a test says otherwise: a client discovering it at its start finds it unreachable.
  const state: { mode: TestProvider['mode'] } = { mode: { kind: 'down' } };

  const proxy = createServer((req, res) => {
    void (async () => {
      const body = await readBody(req);
      if (upstream === null || state.mode.kind === 'down') {
        res.writeHead(502, { 'content-type': 'text/plain' }).end('provider down');
        return;
      }
      const mode = state.mode;
      const forwarded = request(
        { host: '127.0.0.1', port: upstream, method: req.method, path: req.url, headers: req.headers },
        (answer) => {
          void (async () => {
            const isToken = (req.url ?? '').startsWith('/token');
            if (mode.kind !== 'tamper' || !isToken) {
              res.writeHead(answer.statusCode ?? 502, answer.headers);
              answer.pipe(res);
              return;
            }
            const json = JSON.parse((await readBody(answer)).toString('utf8')) as { id_token?: string };
            if (json.id_token)
              json.id_token = resign(json.id_token, mode.key === 'provider' ? own : foreign, mode.change);
            const out = Buffer.from(JSON.stringify(json));
            res.writeHead(answer.statusCode ?? 200, {
              ...answer.headers,
              'content-length': String(out.length),
            });
            res.end(out);
          })();
        },
      );
      forwarded.on('error', () => res.writeHead(502).end('provider unreachable'));
      forwarded.end(body);
    })();
  });
  const proxyPort = await listen(proxy, host);
  const issuer = `http://${host}:${proxyPort}`;

  const closeAll = async () => {
    if (inner) await close(inner);
    await close(proxy);
  };

  return {
    issuer,
    close: closeAll,
    async attach(redirectUri) {
      const jwk = { ...own.export({ format: 'jwk' }), kid: KID, alg: 'RS256', use: 'sig' };
      const provider = new Provider(issuer, {
        clients: [
          {
            client_id: CLIENT_ID,
            client_secret: CLIENT_SECRET,
            redirect_uris: [redirectUri],
            grant_types: ['authorization_code'],
            response_types: ['code'],
            token_endpoint_auth_method: 'client_secret_basic',
          },
        ],
        jwks: { keys: [jwk as never] },
        ttl: { Interaction: 600, Session: 3600, Grant: 3600, AccessToken: 600, IdToken: 600 },
        cookies: { keys: ['vigil-test-cookie-key-0123456789'] },
        claims: { openid: ['sub'], email: ['email', 'email_verified'], groups: ['groups'] },
        scopes: ['openid', 'email', 'groups', 'offline_access'],
        // Claims asked for by scope go into the ID token (as Keycloak and Entra put them there).
        conformIdTokenClaims: false,
        findAccount: (_ctx, id) => {
          const claims = accounts.get(id);
          if (!claims) return undefined;
          return { accountId: id, claims: () => ({ sub: id, ...claims }) };
        },
        // A first-party client: no consent screen, every scope it asks for is granted.
        loadExistingGrant: async (ctx: KoaContextWithOIDC) => {
          const accountId = ctx.oidc.session?.accountId;
          const clientId = ctx.oidc.client?.clientId;
          if (!accountId || !clientId) return undefined;
          const grantId = ctx.oidc.result?.consent?.grantId ?? ctx.oidc.session?.grantIdFor(clientId);
          if (grantId) {
            const found = await ctx.oidc.provider.Grant.find(grantId);
            if (found) return found;
          }
          const grant = new ctx.oidc.provider.Grant({ clientId, accountId });
          grant.addOIDCScope('openid email groups');
          await grant.save();
          return grant;
        },
      });
      // The provider explains its own refusals to the browser; a test reads the status.
      provider.on('server_error', () => undefined);
      inner = createServer(provider.callback());
      upstream = await listen(inner);
      return {
        issuer,
        setAccount: (id, claims) => accounts.set(id, claims),
        get mode() {
          return state.mode;
        },
        set mode(m) {
          state.mode = m;
        },
        close: closeAll,
      };
    },
  };
}

/** A cookie jar for fetch: names and values only (paths and expiry do not matter in a test). */
export class CookieJar {
  private readonly cookies = new Map<string, string>();
  take(res: Response): void {
    for (const line of res.headers.getSetCookie()) {
      const [pair] = line.split(';');
      const eq = (pair ?? '').indexOf('=');
      if (eq <= 0) continue;
      const name = (pair as string).slice(0, eq).trim();
      const value = (pair as string).slice(eq + 1).trim();
      if (value === '' || /max-age=0\b/i.test(line)) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
  }
  get(name: string): string | undefined {
    return this.cookies.get(name);
  }
  header(): string {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }
}

/**
 * A sign-in as a browser would do it, over HTTP: Vigil's login route, the provider's login form
 * (the account id typed in), back to Vigil's callback URL — returned without calling it, with
 * Vigil's cookies (the sign-in in progress), so a test can call it as it wants.
 */
export async function startSignIn(
  vigilUrl: string,
  account: string,
  options: { vigil?: CookieJar; provider?: CookieJar } = {},
): Promise<{ callback: string; vigil: CookieJar; provider: CookieJar }> {
  const vigil = options.vigil ?? new CookieJar();
  const provider = options.provider ?? new CookieJar();
  const start = await fetch(`${vigilUrl}/auth/oidc/login`, {
    redirect: 'manual',
    headers: { cookie: vigil.header() },
  });
  if (start.status !== 302) throw new Error(`login answered ${start.status}: ${await start.text()}`);
  vigil.take(start);
  let next = start.headers.get('location') as string;
  let body: URLSearchParams | undefined;
  for (let hop = 0; hop < 20; hop++) {
    if (next.startsWith(vigilUrl)) return { callback: next, vigil, provider };
    const res = await fetch(next, {
      method: body ? 'POST' : 'GET',
      redirect: 'manual',
      headers: {
        cookie: provider.header(),
        ...(body ? { 'content-type': 'application/x-www-form-urlencoded' } : {}),
      },
      ...(body ? { body: body.toString() } : {}),
    });
    provider.take(res);
    body = undefined;
    const location = res.headers.get('location');
    if (location) {
      next = new URL(location, next).href;
      continue;
    }
    const page = await res.text();
    if (res.status === 200 && page.includes('name="login"')) {
      // The provider's login form: its action, the account id, any password.
      const action = /<form[^>]*action="([^"]+)"/.exec(page)?.[1] ?? new URL(next).pathname;
      next = new URL(action, next).href;
      body = new URLSearchParams({ prompt: 'login', login: account, password: 'any' });
      continue;
    }
    throw new Error(`the provider answered ${res.status} at ${next}: ${page.slice(0, 300)}`);
  }
  throw new Error('too many redirects between Vigil and the provider');
}
