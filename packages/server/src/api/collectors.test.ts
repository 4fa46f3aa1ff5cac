import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { serve, type TestServer } from '../collectors/test-servers.js';
import { ConfigError, loadConfig } from '../config/index.js';
import { call, scratchDirs, startVigil, type Vigil } from '../test/harness.js';

const scratch = scratchDirs();
const servers: TestServer[] = [];
let vigils: Vigil[] = [];
afterEach(async () => {
  for (const v of vigils) await v.stop();
  vigils = [];
  await Promise.all(servers.splice(0).map((s) => s.close()));
  scratch.cleanup();
});

const KEY = 'collector-secret-key-for-tests-0123456789';
const TOKEN = 'agent-bearer-token-5f1c2d9e8a7b';
const HEADER_SECRET = 'header-secret-value-77aa66bb';

async function start(
  options: { dataDir?: string; secretKey?: string; collectors?: Record<string, unknown>[] } = {},
) {
  const vigil = await startVigil({
    dataDir: options.dataDir ?? scratch.fresh(),
    config: {
      ...(options.secretKey ? { secretKey: options.secretKey } : {}),
      telemetry: { enabled: false, collectors: options.collectors ?? [] },
    },
  });
  vigils.push(vigil);
  return vigil;
}

const code = (res: { body: unknown }) =>
  (res.body as { error: { code: string; message: string } }).error.code;
const message = (res: { body: unknown }) =>
  (res.body as { error: { code: string; message: string } }).error.message;

/** An agent that is healthy only for the right token and header. */
async function guardedAgent(): Promise<TestServer> {
  const agent = await serve((req, res) => {
    const ok = req.headers.authorization === `Bearer ${TOKEN}` && req.headers['x-api-key'] === HEADER_SECRET;
    res.writeHead(ok ? 200 : 401, { 'content-type': 'application/json' });
    res.end(JSON.stringify(ok ? { status: 'ok', version: '3.1.0' } : { error: 'unauthorized' }));
  });
  servers.push(agent);
  return agent;
}

describe('collector configuration API', () => {
  it('validates specs with errors that name the field, and guards every route for admins', async () => {
    const vigil = await start({
      collectors: [{ type: 'http-health', name: 'from-file', url: 'http://127.0.0.1:9/h' }],
    });
    const admin = vigil.adminToken;
    const post = (json: unknown, token = admin) => call(vigil, 'POST', '/api/collectors', { token, json });
    const cases: [unknown, RegExp][] = [
      [
        { name: 'x', url: 'http://127.0.0.1:1/' },
        /collector\.type must be one of prometheus, http-health, docker, deployments/,
      ],
      [{ type: 'snmp', name: 'x' }, /\(got 'snmp'\)/],
      [{ type: 'prometheus', name: 'x' }, /collector\.url|url/],
      [
        { type: 'prometheus', name: 'x', url: 'ftp://host/metrics' },
        /collector\.url: must be an http:\/\/ or https:\/\/ URL/,
      ],
      [
        { type: 'prometheus', name: 'bad name!', url: 'http://127.0.0.1:1/m' },
        /collector\.name: must be 1-64 letters/,
      ],
      [
        { type: 'prometheus', name: 'x', url: 'http://127.0.0.1:1/m', intervalMs: 5000, timeoutMs: 6000 },
        /timeoutMs \(6000\) must not exceed intervalMs \(5000\)/,
      ],
      [
        { type: 'prometheus', name: 'x', url: 'http://127.0.0.1:1/m', intervalMs: 10 },
        /collector\.intervalMs: .*1000/,
      ],
      [
        { type: 'prometheus', name: 'x', url: 'http://127.0.0.1:1/m', colour: 'red' },
        /unknown field\(s\) colour for type prometheus/,
      ],
      [{ type: 'prometheus', name: 'x', url: 'http://user:pw@127.0.0.1:1/m' }, /must not carry credentials/],
      [
        { type: 'docker', name: 'x', url: 'http://127.0.0.1:2375', socketPath: '/s' },
        /either url or socketPath/,
      ],
      [[1, 2], /must be a JSON object/],
    ];
    for (const [spec, text] of cases) {
      const res = await post(spec);
      expect(res.status, JSON.stringify(spec)).toBe(400);
      expect(code(res)).toBe('invalid_collector');
      expect(message(res)).toMatch(text);
    }
    expect(
      code(
        await call(vigil, 'POST', '/api/collectors', {
          token: admin,
          body: '{',
          headers: { 'content-type': 'application/json' },
        }),
      ),
    ).toBe('invalid_json');

    const ok = await post({ type: 'prometheus', name: 'target', url: 'http://127.0.0.1:1/metrics' });
    expect(ok.status).toBe(201);
    expect(ok.body).toMatchObject({
      name: 'target',
      type: 'prometheus',
      origin: 'api',
      hasCredentials: false,
      project: 'default',
      intervalMs: 30000,
      timeoutMs: 5000,
    });
    expect(code(await post({ type: 'prometheus', name: 'target', url: 'http://127.0.0.1:2/metrics' }))).toBe(
      'collector_exists',
    );
    expect(code(await post({ type: 'deployments', name: 'from-file' }))).toBe('collector_exists');

    const viewer = (await call(vigil, 'POST', '/api/keys', { token: admin, json: { role: 'viewer' } }))
      .body as { key: string };
    expect((await post({ type: 'deployments', name: 'v' }, viewer.key)).status).toBe(403);
    expect((await call(vigil, 'GET', '/api/collectors', { token: viewer.key })).status).toBe(403);
    expect((await call(vigil, 'GET', '/api/collectors')).status).toBe(401);
    expect((await call(vigil, 'DELETE', '/api/collectors/target', { token: viewer.key })).status).toBe(403);

    const list = await call(vigil, 'GET', '/api/collectors', { token: admin });
    expect(
      (list.body as { collectors: { name: string; origin: string }[] }).collectors.map((c) => [
        c.name,
        c.origin,
      ]),
    ).toEqual([
      ['from-file', 'config'],
      ['target', 'api'],
    ]);
    const readonly = await call(vigil, 'DELETE', '/api/collectors/from-file', { token: admin });
    expect([readonly.status, code(readonly)]).toEqual([409, 'collector_readonly']);
    expect((await call(vigil, 'DELETE', '/api/collectors/target', { token: admin })).status).toBe(204);
    expect(code(await call(vigil, 'DELETE', '/api/collectors/target', { token: admin }))).toBe('not_found');
  });

  it('refuses credentials without VIGIL_SECRET_KEY, and stores none in clear', async () => {
    const vigil = await start();
    const res = await call(vigil, 'POST', '/api/collectors', {
      token: vigil.adminToken,
      json: { type: 'http-health', name: 'a', url: 'http://127.0.0.1:1/h', credentials: { token: TOKEN } },
    });
    expect([res.status, code(res)]).toEqual([400, 'credentials_unavailable']);
    expect(message(res)).toMatch(/VIGIL_SECRET_KEY/);
    expect(await vigil.server.context.store.collectors.listCollectors(null)).toEqual([]);
  });

  it('seals credentials at rest, never returns them, sends them to the target, and survives restarts only with the key', async () => {
    const agent = await guardedAgent();
    const dataDir = scratch.fresh();
    let vigil = await start({ dataDir, secretKey: KEY });
    const spec = {
      type: 'http-health',
      name: 'guarded',
      url: `${agent.url}/health`,
      credentials: { token: TOKEN, headers: { 'x-api-key': HEADER_SECRET } },
    };
    const created = await call(vigil, 'POST', '/api/collectors', { token: vigil.adminToken, json: spec });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ hasCredentials: true });
    const collect = async (v: Vigil) =>
      (await call(v, 'POST', '/telemetry/collect', { token: v.adminToken })).body as {
        collectors: {
          name: string;
          outcome: string;
          error: string | null;
          result: { status: string; version: string } | null;
        }[];
      };
    const first = await collect(vigil);
    expect(first.collectors[0]).toMatchObject({ outcome: 'ok', result: { status: 'up', version: '3.1.0' } });

    // Nowhere in what the API returns.
    for (const path of ['/api/collectors', '/telemetry/status']) {
      const text = JSON.stringify((await call(vigil, 'GET', path, { token: vigil.adminToken })).body);
      expect(text).not.toContain(TOKEN);
      expect(text).not.toContain(HEADER_SECRET);
    }
    // Sealed in the store: AES-GCM text, not the secret.
    const [stored] = await vigil.server.context.store.collectors.listCollectors(null);
    expect(stored?.secret).toMatch(/^v1\.[\w-]{8}\.[\w-]+\.[\w-]+\.[\w-]+$/);
    expect(`${stored?.spec}${stored?.secret}`).not.toContain(TOKEN);
    await vigil.stop();
    vigils = [];
    // Nor in any file the store left in the data directory.
    for (const name of readdirSync(dataDir, { recursive: true, encoding: 'utf8' })) {
      const path = join(dataDir, name);
      if (statSync(path).isDirectory()) continue;
      const file = readFileSync(path);
      expect(file.includes(Buffer.from(TOKEN))).toBe(false);
      expect(file.includes(Buffer.from(HEADER_SECRET))).toBe(false);
    }

    // Same key after a restart: still works.
    vigil = await start({ dataDir, secretKey: KEY });
    expect((await collect(vigil)).collectors[0]?.outcome).toBe('ok');
    await vigil.stop();
    vigils = [];

    // No key, or another key: the collector cannot run, and says why (as data, not a crash).
    for (const secretKey of [undefined, 'a-completely-different-key-000000']) {
      vigil = await start({ dataDir, ...(secretKey ? { secretKey } : {}) });
      const run = (await collect(vigil)).collectors[0];
      expect(run?.outcome).toBe('error');
      expect(run?.error).toMatch(secretKey ? /another VIGIL_SECRET_KEY/ : /VIGIL_SECRET_KEY is not set/);
      const status = (await call(vigil, 'GET', '/telemetry/status', { token: vigil.adminToken })).body as {
        collectors: { name: string; problem: string | null }[];
        agents: { status: string }[];
      };
      expect(status.collectors[0]?.problem).toMatch(/credentials cannot be opened/);
      expect(status.agents[0]?.status).toBe('down');
      await vigil.stop();
      vigils = [];
    }
    // Exactly the runs that had the right credentials reached the agent with them.
    expect(agent.requests.map((r) => r.headers.authorization === `Bearer ${TOKEN}`)).toEqual([true, true]);
  });

  it('checks config-file collectors when the configuration loads', () => {
    const dir = scratch.fresh();
    const file = join(dir, 'vigil.config.json');
    const load = (collectors: unknown[]) => {
      writeFileSync(file, JSON.stringify({ telemetry: { collectors } }));
      return () => loadConfig({ configFile: file }, {}, dir);
    };
    expect(
      load([{ type: 'prometheus', name: 'n', url: 'http://127.0.0.1:9100/metrics' }])().telemetry.collectors,
    ).toHaveLength(1);
    expect(load([{ type: 'prometheus', name: 'n' }])).toThrow(ConfigError);
    expect(
      load([{ type: 'prometheus', name: 'n', url: 'http://x/m', timeoutMs: 9000, intervalMs: 5000 }]),
    ).toThrow(/telemetry\.collectors\[0\]\.timeoutMs \(9000\) must not exceed intervalMs/);
    expect(
      load([
        { type: 'deployments', name: 'd' },
        { type: 'deployments', name: 'd' },
      ]),
    ).toThrow(/two collectors named 'd'/);
    expect(() => loadConfig({}, { VIGIL_SECRET_KEY: 'short' }, dir)).toThrow(/VIGIL_SECRET_KEY/);
  });
});
