import { randomBytes } from 'node:crypto';
import { uuidv7 } from 'uuidv7';

export type SmokeStatus = 'pass' | 'fail' | 'skip';

export interface SmokeStep {
  name: string;
  status: SmokeStatus;
  detail: string;
  ms: number;
}

/** Routes that must refuse a caller without credentials (method, path). */
export const PRIVATE_ROUTES: readonly [string, string][] = [
  ['GET', '/api/events'],
  ['GET', '/api/keys'],
  ['POST', '/api/keys'],
  ['GET', '/api/projects'],
  ['GET', '/api/metrics/current'],
  ['GET', '/api/decisions/summary'],
  ['GET', '/api/health/summary'],
  ['POST', '/api/query'],
  ['POST', '/v1/events'],
  ['POST', '/api/admin/backup'],
  ['GET', '/telemetry/status'],
  ['GET', '/telemetry/history'],
  ['POST', '/telemetry/collect'],
];

/** Routes that must refuse anonymous callers when they exist (404 means absent from this build). */
export const OPTIONAL_PRIVATE_ROUTES: readonly [string, string][] = [
  ['GET', '/api/metrics/alerts'],
  ['GET', '/api/alerts'],
];

/** Keys that name a person, a machine, a key or one record: none may appear in the public view. */
const IDENTIFIER_KEY =
  /^(ids?|.*_id|.*Id|users?|user_?name|admin_?user|email|phone|ip|ip_?address|address|host|hostname|instance|container|containers|container_?name|token|key|api_?key|secret|space|signal)$/i;
const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/i;
const EMAIL = /[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}/;
const IPV4 = /\b(25[0-5]|2[0-4]\d|1?\d?\d)(\.(25[0-5]|2[0-4]\d|1?\d?\d)){3}\b/;

/** Identifiers found in a public document (paths into it), or none. */
export function findIdentifiers(doc: unknown, known: readonly string[] = []): string[] {
  const found: string[] = [];
  const walk = (v: unknown, path: string) => {
    if (found.length >= 10) return;
    if (typeof v === 'string') {
      if (UUID.test(v)) found.push(`${path}: a UUID`);
      else if (EMAIL.test(v)) found.push(`${path}: an e-mail address`);
      else if (IPV4.test(v)) found.push(`${path}: an IP address`);
      else if (/\bvgl_/.test(v)) found.push(`${path}: an API key`);
      else if (known.some((k) => k !== '' && v.includes(k)))
        found.push(`${path}: a value sent by this smoke test`);
    } else if (Array.isArray(v)) {
      v.forEach((x, i) => {
        walk(x, `${path}[${i}]`);
      });
    } else if (v !== null && typeof v === 'object') {
      for (const [k, x] of Object.entries(v)) {
        // An identifier field holds names or ids (strings); `containers: {total: 3}` is an aggregate.
        const scalar = typeof x === 'string' || (Array.isArray(x) && x.some((e) => typeof e === 'string'));
        if (IDENTIFIER_KEY.test(k) && scalar) found.push(`${path}.${k}: an identifier field`);
        if (known.some((s) => s !== '' && k.includes(s)))
          found.push(`${path}.${k}: a value sent by this smoke test`);
        walk(x, `${path}.${k}`);
      }
    }
  };
  walk(doc, '$');
  return found;
}

class StepFailure extends Error {}
class StepSkip extends Error {}

/**
 * `vigil smoke URL --token T`: checks a live deployment end to end with an admin token.
 * It leaves one marked event behind (type `vigil.smoke`, prop `smoke_run`; events are
 * append-only) and a revoked ingest key named `vigil-smoke <run>`.
 */
export async function runSmoke(
  baseUrl: string,
  token: string,
  { timeoutMs = 10_000 }: { timeoutMs?: number } = {},
): Promise<SmokeStep[]> {
  const url = baseUrl.replace(/\/+$/, '');
  const steps: SmokeStep[] = [];
  const run = randomBytes(6).toString('hex');

  const request = async (
    method: string,
    path: string,
    { auth, json }: { auth?: string; json?: unknown } = {},
  ): Promise<{ status: number; body: unknown }> => {
    const headers: Record<string, string> = {};
    if (auth) headers.authorization = `Bearer ${auth}`;
    if (json !== undefined) headers['content-type'] = 'application/json';
    let res: Response;
    try {
      res = await fetch(`${url}${path}`, {
        method,
        headers,
        body: json === undefined ? (method === 'POST' ? '{}' : undefined) : JSON.stringify(json),
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (err) {
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      throw new StepFailure(`${method} ${path}: ${cause?.code ?? cause?.message ?? (err as Error).message}`);
    }
    const text = await res.text();
    let body: unknown = text;
    try {
      body = text === '' ? null : JSON.parse(text);
    } catch {
      // not JSON
    }
    return { status: res.status, body };
  };
  const step = async (name: string, fn: () => Promise<string>): Promise<boolean> => {
    const started = performance.now();
    let status: SmokeStatus = 'pass';
    let detail: string;
    try {
      detail = await fn();
    } catch (err) {
      status = err instanceof StepSkip ? 'skip' : 'fail';
      detail = err instanceof StepFailure || err instanceof StepSkip ? err.message : String(err);
    }
    steps.push({ name, status, detail, ms: Math.round(performance.now() - started) });
    return status !== 'fail';
  };
  const expectStatus = (r: { status: number; body: unknown }, want: number[], what: string) => {
    if (!want.includes(r.status)) {
      const code = (r.body as { error?: { code?: string } } | null)?.error?.code;
      throw new StepFailure(
        `${what}: got ${r.status}${code ? ` (${code})` : ''}, expected ${want.join(' or ')}`,
      );
    }
  };

  if (
    !(await step('healthz', async () => {
      const r = await request('GET', '/healthz');
      expectStatus(r, [200], 'GET /healthz');
      return 'alive';
    }))
  ) {
    return steps; // nothing else can work against a server that is not there
  }
  await step('readyz', async () => {
    const r = await request('GET', '/readyz');
    expectStatus(r, [200], 'GET /readyz');
    return 'store open';
  });
  const adminOk = await step('admin token accepted', async () => {
    const r = await request('GET', '/api/keys', { auth: token });
    expectStatus(r, [200], 'GET /api/keys with the token');
    return 'the token has the admin role';
  });
  await step('anonymous refused on private routes', async () => {
    const open: string[] = [];
    for (const [method, path] of PRIVATE_ROUTES) {
      const r = await request(method, path);
      if (r.status !== 401 && r.status !== 403) open.push(`${method} ${path} → ${r.status}`);
    }
    const absent: string[] = [];
    for (const [method, path] of OPTIONAL_PRIVATE_ROUTES) {
      const r = await request(method, path);
      if (r.status === 404) absent.push(path);
      else if (r.status !== 401 && r.status !== 403) open.push(`${method} ${path} → ${r.status}`);
    }
    if (open.length > 0) throw new StepFailure(`open to anyone: ${open.join(', ')}`);
    const n = PRIVATE_ROUTES.length + OPTIONAL_PRIVATE_ROUTES.length - absent.length;
    return `${n} routes answer 401/403${absent.length > 0 ? ` (not served here: ${absent.join(', ')})` : ''}`;
  });

  let ingestKey: { id: string; key: string; project: string } | null = null;
  const eventId = uuidv7();
  try {
    await step('ingest key created', async () => {
      if (!adminOk) throw new StepSkip('needs the admin token');
      const r = await request('POST', '/api/keys', {
        auth: token,
        json: { role: 'ingest', name: `vigil-smoke ${run}` },
      });
      expectStatus(r, [201], 'POST /api/keys');
      ingestKey = r.body as { id: string; key: string; project: string };
      return `key ${ingestKey.id} in project ${ingestKey.project} (revoked at the end)`;
    });
    const key = ingestKey as { id: string; key: string; project: string } | null;
    await step('ingest key cannot read', async () => {
      if (!key) throw new StepSkip('needs the ingest key');
      for (const [method, path] of [
        ['GET', '/api/events'],
        ['GET', '/api/metrics/current'],
        ['POST', '/api/keys'],
      ] as const) {
        const r = await request(method, path, {
          auth: key.key,
          json: method === 'POST' ? { role: 'admin' } : undefined,
        });
        expectStatus(r, [403], `${method} ${path} with an ingest key`);
      }
      return 'reads and key creation answer 403';
    });
    const sent = await step('marked test event ingested', async () => {
      if (!key) throw new StepSkip('needs the ingest key');
      const r = await request('POST', '/v1/events', {
        auth: key.key,
        json: { events: [{ id: eventId, type: 'vigil.smoke', version: 'smoke', props: { smoke_run: run } }] },
      });
      expectStatus(r, [200], 'POST /v1/events');
      const body = r.body as { accepted?: number; rejected?: unknown[] };
      if (body.accepted !== 1)
        throw new StepFailure(`not accepted: ${JSON.stringify(body.rejected ?? body)}`);
      return `event ${eventId} (type vigil.smoke, smoke_run ${run}) acknowledged`;
    });
    await step('test event read back', async () => {
      if (!key || !sent) throw new StepSkip('needs the ingested event');
      const q = new URLSearchParams({
        type: 'vigil.smoke',
        'prop.smoke_run': run,
        project: key.project,
        limit: '10',
      });
      // An acknowledged event is committed: it must be readable at once; a few tries cover a slow disk.
      for (let attempt = 0; attempt < 5; attempt++) {
        const r = await request('GET', `/api/events?${q}`, { auth: token });
        expectStatus(r, [200], 'GET /api/events');
        const events = (r.body as { events: { id: string }[] }).events;
        if (events.some((e) => e.id === eventId)) return `found ${eventId} through GET /api/events`;
        await new Promise((resolve) => setTimeout(resolve, 200 * (attempt + 1)));
      }
      throw new StepFailure(`event ${eventId} was acknowledged but is not readable`);
    });
    await step('public view carries no identifiers', async () => {
      const r = await request('GET', '/telemetry/public');
      const code = (r.body as { error?: { code?: string } } | null)?.error?.code;
      // The server says which 404 this is: switched off (nothing public) or no such route in this build.
      if (r.status === 404 && code === 'public_view_disabled')
        return 'switched off (404 public_view_disabled): nothing is public';
      if (r.status === 404)
        throw new StepSkip(
          'GET /telemetry/public is not served by this build (404 not_found): nothing to check',
        );
      if (r.status === 401 || r.status === 403)
        return `requires credentials (${r.status}): nothing is public`;
      expectStatus(r, [200], 'GET /telemetry/public');
      const leaks = findIdentifiers(r.body, [eventId, run, key?.key ?? '', key?.id ?? '', token]);
      if (leaks.length > 0) throw new StepFailure(`identifiers in the public view: ${leaks.join('; ')}`);
      return `${JSON.stringify(r.body).length} bytes of aggregates, no identifiers`;
    });
  } finally {
    const key = ingestKey as { id: string; key: string } | null;
    if (key) {
      await step('ingest key revoked', async () => {
        const r = await request('DELETE', `/api/keys/${key.id}`, { auth: token });
        expectStatus(r, [200, 204], `DELETE /api/keys/${key.id}`);
        const after = await request('POST', '/v1/events', {
          auth: key.key,
          json: { events: [{ type: 'vigil.smoke' }] },
        });
        expectStatus(after, [401], 'POST /v1/events with the revoked key');
        return 'revoked and refused at once';
      });
    }
  }
  return steps;
}

const MARK: Record<SmokeStatus, string> = { pass: '✓', fail: '✗', skip: '-' };

export function formatSmoke(steps: readonly SmokeStep[]): string {
  const width = Math.max(...steps.map((s) => s.name.length));
  return steps
    .map((s) => `${MARK[s.status]} ${s.name.padEnd(width)}  ${String(s.ms).padStart(5)} ms  ${s.detail}`)
    .join('\n');
}
