import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import type { CollectorLatest, DeploymentRecord } from '../store/index.js';
import { call, scratchDirs, startVigil, type Vigil } from '../test/harness.js';
import type { ContainerInfo } from './docker.js';
import type { HttpHealthResult } from './http-health.js';
import type { CollectorEntry } from './orchestrator.js';
import { resolveSpec } from './spec.js';
import { json, serve, type TestServer } from './test-servers.js';
import { buildStatus, publicView, type TelemetryStatus } from './views.js';

/**
 * The public view must never carry an identifier that the status view holds: collector and
 * agent names, services, URLs, hosts and ports, container ids, names and images, error texts,
 * snapshot ids, non-numeric version tags. Identifiers here start with a letter (a purely numeric
 * name would be indistinguishable from a numeric version tag, which the public view does show).
 */
const ident = fc.stringMatching(/^[a-z][a-z0-9_.-]{3,20}$/);
const versionTag = fc.oneof(
  fc.tuple(fc.nat(20), fc.nat(20), fc.nat(99)).map(([a, b, c]) => `${a}.${b}.${c}`),
  ident.map((s) => `v1-${s}`),
);

const Agent = fc.record({
  name: ident,
  service: ident,
  host: fc.stringMatching(/^[a-z][a-z0-9-]{2,12}\.(internal|lan|example)$/),
  port: fc.integer({ min: 1024, max: 65535 }),
  status: fc.constantFrom('up', 'degraded', 'down', 'timeout', 'error'),
  version: fc.option(versionTag, { nil: null }),
  reason: ident,
});
const Container = fc.record({
  id: fc.stringMatching(/^[a-f][0-9a-f]{11}$/),
  name: ident,
  image: ident,
  state: fc.constantFrom('running', 'exited', 'restarting'),
});

/** Every string leaf of a JSON value. */
function strings(value: unknown, out: string[] = []): string[] {
  if (typeof value === 'string') out.push(value);
  else if (Array.isArray(value)) for (const v of value) strings(v, out);
  else if (value && typeof value === 'object') for (const v of Object.values(value)) strings(v, out);
  return out;
}

/** Identifiers the status view shows (strings a person could recognise something by). */
function identifiers(status: TelemetryStatus): Set<string> {
  const ids = new Set<string>();
  const add = (s: string | null | undefined) => {
    if (s && /[a-z]/i.test(s) && s.length >= 3) ids.add(s);
  };
  for (const c of status.collectors) {
    add(c.name);
    add(c.target);
    add(c.problem);
    add(c.lastRun?.snapshotId);
    add(c.lastRun?.error);
    if (c.target?.startsWith('http') && URL.canParse(c.target)) {
      const u = new URL(c.target);
      add(u.hostname);
      add(u.host);
    }
  }
  for (const a of status.agents) {
    add(a.collector);
    add(a.service);
    add(a.url);
    add(a.reason);
    if (a.version && !/^v?\d+(\.\d+)*$/.test(a.version)) add(a.version);
  }
  for (const c of status.containers) {
    add(c.id);
    add(c.name);
    add(c.image);
    add(c.collector);
  }
  for (const d of status.deployments) add(d.service);
  for (const r of status.rollout) add(r.service);
  return ids;
}

function expectNoLeak(status: TelemetryStatus, pub: unknown): void {
  const leaves = strings(pub);
  const text = JSON.stringify(pub);
  for (const id of identifiers(status)) {
    expect(text.includes(id), `public view leaks '${id}'`).toBe(false);
  }
  // The only strings the public view holds: times and numeric version tags (or 'other').
  for (const s of leaves) {
    expect(
      /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/.test(s) || /^v?\d+(\.\d+)*$/.test(s) || s === 'other',
      s,
    ).toBe(true);
  }
}

const T0 = Date.UTC(2026, 10, 1, 12);

describe('public telemetry view', () => {
  it('never carries an identifier of the status view (random fleets)', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(Agent, { minLength: 0, maxLength: 12, selector: (a) => a.name }),
        fc.uniqueArray(Container, { maxLength: 8, selector: (c) => c.name }),
        ident,
        fc.array(fc.record({ service: ident, version: versionTag }), { maxLength: 3 }),
        (agents, containers, engineName, deployed) => {
          fc.pre(!agents.some((a) => a.name === engineName));
          const entries: CollectorEntry[] = [];
          const latest: CollectorLatest[] = [];
          const run = (
            name: string,
            type: string,
            outcome: 'ok' | 'error' | 'timeout',
            result: unknown,
            error: string | null,
          ) =>
            latest.push({
              run: {
                snapshotId: `snap-${name}`,
                project: 'p',
                collector: name,
                type,
                startedAt: T0,
                durationMs: 5,
                outcome,
                error,
                samples: 3,
                result: result === null ? null : JSON.stringify(result),
              },
              lastOkAt: outcome === 'ok' ? T0 : null,
              consecutiveFailures: outcome === 'ok' ? 0 : 2,
            });
          for (const a of agents) {
            const url = `http://${a.host}:${a.port}/health`;
            entries.push({
              spec: resolveSpec({ type: 'http-health', name: a.name, service: a.service, url }, 'p'),
              origin: 'api',
              id: `id-${a.name}`,
              collector: null,
              problem: null,
              nextDue: 0,
            });
            const ok = a.status === 'up' || a.status === 'degraded' || a.status === 'down';
            const result: HttpHealthResult | null = ok
              ? {
                  url,
                  service: a.service,
                  status: a.status as HttpHealthResult['status'],
                  httpStatus: 200,
                  version: a.version,
                  uptimeSeconds: 5,
                  fields: {},
                  latencyMs: 3,
                  reason: a.status === 'up' ? null : a.reason,
                }
              : null;
            run(
              a.name,
              'http-health',
              ok ? 'ok' : (a.status as 'error' | 'timeout'),
              result,
              ok ? null : a.reason,
            );
          }
          entries.push({
            spec: resolveSpec(
              { type: 'docker', name: engineName, socketPath: `/run/${engineName}.sock` },
              'p',
            ),
            origin: 'config',
            id: null,
            collector: null,
            problem: null,
            nextDue: 0,
          });
          const infos: ContainerInfo[] = containers.map((c) => ({
            ...c,
            health: null,
            restarts: 1,
            cpuPercent: 1.5,
            memoryBytes: 10,
            memoryLimitBytes: 100,
          }));
          run(engineName, 'docker', 'ok', { engine: '24.0.7', containers: infos }, null);
          const deployments: DeploymentRecord[] = deployed.map((d, i) => ({
            id: `dep-${i}`,
            project: 'p',
            service: d.service,
            version: d.version,
            status: 'succeeded',
            startedAt: T0 - 1000,
            finishedAt: T0,
            receivedAt: T0,
            source: 'webhook:admin',
          }));
          const status = buildStatus('p', entries, latest, deployments);
          const pub = publicView(status);
          expectNoLeak(status, pub);
          // Aggregates still add up.
          expect(pub.agents.up + pub.agents.degraded + pub.agents.down + pub.agents.unknown).toBe(
            agents.length,
          );
          expect(pub.containers.total).toBe(containers.length);
          const shares = pub.versions.reduce((s, v) => s + v.share, 0);
          if (pub.versions.length > 0) expect(Math.abs(shares - 100)).toBeLessThan(0.1 * pub.versions.length);
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('public telemetry view over HTTP', () => {
  const scratch = scratchDirs();
  const servers: TestServer[] = [];
  let vigil: Vigil | null = null;
  afterEach(async () => {
    await vigil?.stop();
    vigil = null;
    await Promise.all(servers.splice(0).map((s) => s.close()));
    scratch.cleanup();
  });

  it('GET /telemetry/public holds none of the identifiers GET /telemetry/status shows, and can be switched off', async () => {
    const [sample] = fc.sample(
      fc.uniqueArray(fc.record({ name: ident, service: ident, version: versionTag }), {
        minLength: 4,
        maxLength: 6,
        selector: (a) => a.name,
      }),
      { numRuns: 1, seed: 9 },
    );
    const agents = sample ?? [];
    const collectors = [];
    for (const [i, a] of agents.entries()) {
      const s = await serve(json({ status: i % 3 === 2 ? 'degraded' : 'ok', version: a.version }));
      servers.push(s);
      collectors.push({
        type: 'http-health',
        name: a.name,
        service: a.service,
        url: `${s.url}/${a.name}/health`,
      });
    }
    collectors.push({
      type: 'http-health',
      name: 'unreachable-agent',
      url: 'http://127.0.0.1:9/health',
      timeoutMs: 500,
    });
    vigil = await startVigil({
      dataDir: scratch.fresh(),
      config: { telemetry: { enabled: false, collectors } },
    });
    await call(vigil, 'POST', '/telemetry/collect', { token: vigil.adminToken });
    await call(vigil, 'POST', '/telemetry/deployments', {
      token: vigil.ingestKey,
      json: { service: agents[0]?.service ?? 'svc', version: 'release-candidate-x', status: 'started' },
    });
    const status = (await call(vigil, 'GET', '/telemetry/status', { token: vigil.adminToken }))
      .body as TelemetryStatus;
    expect(status.agents).toHaveLength(agents.length + 1);
    const pub = await call(vigil, 'GET', '/telemetry/public');
    expect(pub.status).toBe(200);
    expectNoLeak(status, pub.body);
    expect(JSON.stringify(pub.body)).not.toContain('127.0.0.1');
    expect(JSON.stringify(pub.body)).not.toContain('release-candidate-x');

    // An admin switches the project's public view off; anonymous callers then learn nothing.
    const off = await call(vigil, 'PATCH', '/api/telemetry/settings', {
      token: vigil.adminToken,
      json: { publicEnabled: false },
    });
    expect(off.body).toMatchObject({ publicEnabled: false });
    const gone = await call(vigil, 'GET', '/telemetry/public');
    expect([gone.status, (gone.body as { error: { code: string } }).error.code]).toEqual([
      404,
      'public_view_disabled',
    ]);
    const unknown = await call(vigil, 'GET', '/telemetry/public?project=nope');
    expect(unknown.body).toEqual(gone.body);
    expect(
      (
        await call(vigil, 'PATCH', '/api/telemetry/settings', {
          token: vigil.ingestKey,
          json: { publicEnabled: true },
        })
      ).status,
    ).toBe(403);
  });

  it('is off for every project when the config says so', async () => {
    vigil = await startVigil({ dataDir: scratch.fresh(), config: { telemetry: { publicEnabled: false } } });
    expect((await call(vigil, 'GET', '/telemetry/public')).status).toBe(404);
    expect((await call(vigil, 'GET', '/telemetry/status')).status).toBe(401);
  });
});
