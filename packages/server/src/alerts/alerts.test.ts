import { afterEach, describe, expect, it } from 'vitest';
import { defaultConfig } from '../config/index.js';
import { call, scratchDirs, startVigil, type Vigil } from '../test/harness.js';
import { METRICS } from './metrics.js';
import { SIGNATURE_HEADER, sign, TIMESTAMP_HEADER } from './payload.js';
import type { AlertRule } from './rule.js';
import { type Received, waitFor, webhookReceiver } from './testing.js';

const dirs = scratchDirs();
const open: Vigil[] = [];
const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const v of open.splice(0)) await v.stop();
  for (const c of closers.splice(0)) await c();
  dirs.cleanup();
});

/** Alerting config for tests: the scheduler on or off, fast retries. */
function alertsConfig(enabled: boolean) {
  const base = defaultConfig().alerts;
  return {
    ...base,
    enabled,
    delivery: { ...base.delivery, retryBaseMs: 20, retryMaxMs: 200, timeoutMs: 2_000 },
  };
}

async function start(options: { enabled: boolean; dataDir?: string; ingestKey?: string }) {
  const v = await startVigil({
    dataDir: options.dataDir ?? dirs.fresh(),
    config: { alerts: alertsConfig(options.enabled) },
    ...(options.ingestKey ? { ingestKey: options.ingestKey } : {}),
  });
  open.push(v);
  return v;
}

async function rules(
  v: Vigil,
  project?: string,
): Promise<(AlertRule & { status: { status: string; violations: number } })[]> {
  const res = await call(v, 'GET', `/api/alerts/rules${project ? `?project=${project}` : ''}`, {
    token: v.adminToken,
  });
  expect(res.status).toBe(200);
  return (res.body as { rules: never[] }).rules;
}

/** The default error-rate rule, edited (a PUT of the whole rule with `changes`). */
async function editErrorRule(v: Vigil, changes: Record<string, unknown>): Promise<AlertRule> {
  const rule = (await rules(v)).find((r) => r.metric === 'errorRate') as AlertRule;
  const { id, project, builtin, createdAt, updatedAt, status, receivers, ...input } = rule as AlertRule & {
    status: unknown;
  };
  const res = await call(v, 'PUT', `/api/alerts/rules/${id}`, {
    token: v.adminToken,
    json: { ...input, ...changes },
  });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body as AlertRule;
}

async function sendLlm(v: Vigil, count: number, props: Record<string, unknown>) {
  const events = Array.from({ length: count }, () => ({
    type: 'llm.request',
    version: '1.0.0',
    props: { total_ms: 120, llm_ms: 100, prompt_tokens: 10, completion_tokens: 5, model: 'm1', ...props },
  }));
  const res = await call(v, 'POST', '/v1/events', { token: v.ingestKey, json: { events } });
  expect(res.status).toBe(200);
  expect((res.body as { accepted: number }).accepted).toBe(count);
}

interface WebhookV4 {
  version: string;
  groupKey: string;
  status: string;
  receiver: string;
  groupLabels: Record<string, string>;
  commonLabels: Record<string, string>;
  commonAnnotations: Record<string, string>;
  externalURL: string;
  alerts: {
    status: string;
    labels: Record<string, string>;
    annotations: Record<string, string>;
    startsAt: string;
    endsAt: string;
    generatorURL: string;
    fingerprint: string;
  }[];
}

/** Checks the shape Alertmanager's webhook v4 documents, and returns the body. */
function asWebhookV4(r: Received): WebhookV4 {
  const b = r.json as WebhookV4;
  expect(b.version).toBe('4');
  expect(typeof b.groupKey).toBe('string');
  expect(['firing', 'resolved']).toContain(b.status);
  expect(typeof b.receiver).toBe('string');
  expect(typeof b.externalURL).toBe('string');
  for (const k of ['groupLabels', 'commonLabels', 'commonAnnotations'] as const)
    expect(typeof b[k]).toBe('object');
  expect(b.alerts).toHaveLength(1);
  const a = b.alerts[0] as WebhookV4['alerts'][number];
  expect(a.status).toBe(b.status);
  expect(Number.isNaN(Date.parse(a.startsAt))).toBe(false);
  expect(Number.isNaN(Date.parse(a.endsAt))).toBe(false);
  expect(a.fingerprint).toMatch(/^[0-9a-f]{16}$/);
  expect(typeof a.generatorURL).toBe('string');
  return b;
}

describe('alerting on a real server', () => {
  it('creates the default rules for the default project and for each new project, editable', async () => {
    const v = await start({ enabled: false });
    const defaults = await rules(v);
    expect(defaults.map((r) => [r.metric, r.operator, r.threshold])).toEqual([
      ['errorRate', '>', 10],
      ['totalLatency.p95', '>', 5000],
      ['totalTokens', '>', Math.round(defaultConfig().alerts.dailyTokenBudget * 1.2)],
      ['requestRate', '>', defaultConfig().alerts.capacityPerMinute * 1.5],
    ]);
    expect(defaults.every((r) => r.builtin && r.enabled)).toBe(true);
    // A new project (made by creating a key for it) gets its own set.
    const key = await call(v, 'POST', '/api/keys', {
      token: v.adminToken,
      json: { role: 'admin', project: 'p2' },
    });
    expect(key.status).toBe(201);
    const own = await rules(v, 'p2');
    expect(own).toHaveLength(4);
    expect(own.every((r) => r.project === 'p2')).toBe(true);
    // The project's admin key sees its own rules only and not another project's rule.
    const adminP2 = (key.body as { key: string }).key;
    const mine = await call(v, 'GET', '/api/alerts/rules', { token: adminP2 });
    expect((mine.body as { rules: AlertRule[] }).rules.map((r) => r.id)).toEqual(own.map((r) => r.id));
    const other = await call(v, 'GET', `/api/alerts/rules/${defaults[0]?.id}`, { token: adminP2 });
    expect(other.status).toBe(404);
    // Deleting a default rule is respected (not recreated).
    const del = await call(v, 'DELETE', `/api/alerts/rules/${own[0]?.id}`, { token: adminP2 });
    expect(del.status).toBe(200);
    expect(await rules(v, 'p2')).toHaveLength(3);
    const edited = await editErrorRule(v, { threshold: 25 });
    expect(edited.threshold).toBe(25);
  });

  it('validation errors name the field and say why', async () => {
    const v = await start({ enabled: false });
    const post = (json: unknown) => call(v, 'POST', '/api/alerts/rules', { token: v.adminToken, json });
    const good = { name: 'r', metric: 'errorRate', operator: '>', threshold: 5 };
    const cases: [unknown, RegExp][] = [
      [{ ...good, window: '5 minutes' }, /^window: must be a duration/],
      [{ ...good, interval: '500ms' }, /^interval: must be between 1s and 1d/],
      [{ ...good, operator: '=>' }, /^operator: must be one of > >= < <= == !=/],
      [{ ...good, metric: 'nope' }, /^metric: 'nope' is not a metric/],
      [{ ...good, threshold: 'high' }, /^threshold: must be a number/],
      [{ ...good, noData: 'maybe' }, /^noData: must be one of ok, keep, alert/],
      [{ ...good, filters: { colour: 'red' } }, /^filters\.colour: errorRate can be filtered by/],
      [{ ...good, receivers: [{ type: 'webhook', url: 'ftp://x' }] }, /^receivers\.0\.url: must be an http/],
      [{ ...good, consecutive: 0 }, /^consecutive: must be an integer from 1/],
      [{ ...good, surprise: 1 }, /surprise: is not a known field/],
      [{ metric: 'errorRate', operator: '>', threshold: 5 }, /^name: is required/],
    ];
    for (const [body, message] of cases) {
      const res = await post(body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      const err = (res.body as { error: { code: string; message: string } }).error;
      expect(err.code).toBe('invalid_body');
      expect(err.message, JSON.stringify(body)).toMatch(message);
    }
    const ok = await post({ ...good, interval: '1s', keepFiringFor: '2m', labels: { team: 'llm' } });
    expect(ok.status).toBe(201);
    expect((ok.body as AlertRule).interval).toBe('1s');
    // Bad queries and unknown ids: 4xx with a code, never a 5xx.
    const twice = await call(v, 'GET', '/api/metrics/alerts?project=a&project=b', { token: v.adminToken });
    expect(twice.status).toBe(400);
    expect((twice.body as { error: { code: string } }).error.code).toBe('invalid_query');
    expect((await call(v, 'GET', '/api/metrics/alerts?limit=0', { token: v.adminToken })).status).toBe(400);
    expect((await call(v, 'GET', '/api/metrics/alerts?project=nope', { token: v.adminToken })).status).toBe(
      404,
    );
    expect((await call(v, 'GET', '/api/metrics/alerts/nope', { token: v.adminToken })).status).toBe(404);
    expect((await call(v, 'PUT', '/api/alerts/rules/nope', { token: v.adminToken, json: good })).status).toBe(
      404,
    );
    const nullBody = await call(v, 'POST', '/api/alerts/rules', {
      token: v.adminToken,
      body: 'null',
      headers: { 'content-type': 'application/json' },
    });
    expect(nullBody.status).toBe(400);
    const silence = await call(v, 'POST', '/api/alerts/silences', {
      token: v.adminToken,
      json: { ruleId: (ok.body as AlertRule).id, duration: '1h', until: '2030-01-01T00:00:00Z' },
    });
    expect((silence.body as { error: { message: string } }).error.message).toMatch(/exactly one/);
    // Anonymous and ingest keys get nothing.
    for (const path of [
      '/api/alerts/rules',
      '/api/metrics/alerts',
      '/api/alerts/receivers',
      '/api/alerts/silences',
    ]) {
      expect((await call(v, 'GET', path)).status, path).toBe(401);
      expect((await call(v, 'GET', path, { token: v.ingestKey })).status, path).toBe(403);
    }
    // A viewer may read alerts but not rules.
    const viewer = await call(v, 'POST', '/api/keys', { token: v.adminToken, json: { role: 'viewer' } });
    const token = (viewer.body as { key: string }).key;
    expect((await call(v, 'GET', '/api/alerts/rules', { token })).status).toBe(403);
    expect((await call(v, 'GET', '/api/metrics/alerts', { token })).status).toBe(200);
  });

  it('GET /api/alerts/metrics lists every metric a rule accepts, with its filters, and each is accepted', async () => {
    const v = await start({ enabled: false });
    const res = await call(v, 'GET', '/api/alerts/metrics', { token: v.adminToken });
    expect(res.status).toBe(200);
    const { metrics } = res.body as {
      metrics: { name: string; group: string; filters: string[]; required: string[] }[];
    };
    expect(metrics.map((m) => m.name)).toEqual([...METRICS]);
    expect(metrics.length).toBeGreaterThan(30);
    expect(metrics.find((m) => m.name === 'errorRate')?.filters).toEqual([
      'space',
      'model',
      'user',
      'error_type',
    ]);
    expect(metrics.find((m) => m.name === 'totalLatency.p95')?.filters).toEqual(['space', 'model']);
    expect(metrics.find((m) => m.name === 'events.count')).toMatchObject({
      filters: ['type'],
      required: ['type'],
    });
    // Every listed metric with each listed filter makes a rule the server takes.
    for (const m of metrics) {
      for (const filter of [null, ...m.filters]) {
        const filters: Record<string, string> = Object.fromEntries(m.required.map((k) => [k, 'x']));
        if (filter) filters[filter] = 'x';
        const body = { name: `${m.name} ${filter}`, metric: m.name, operator: '>', threshold: 1, filters };
        const made = await call(v, 'POST', '/api/alerts/rules', { token: v.adminToken, json: body });
        expect(made.status, `${JSON.stringify(body)} ${JSON.stringify(made.body)}`).toBe(201);
      }
    }
    // A viewer may read the list (the Alerts view shows it); an ingest key may not.
    const viewer = await call(v, 'POST', '/api/keys', { token: v.adminToken, json: { role: 'viewer' } });
    const token = (viewer.body as { key: string }).key;
    expect((await call(v, 'GET', '/api/alerts/metrics', { token })).status).toBe(200);
    expect((await call(v, 'GET', '/api/alerts/metrics', { token: v.ingestKey })).status).toBe(403);
  });

  it('a burst of failing llm.request events fires the default error-rate rule; the webhook gets signed v4 firing then resolved', async () => {
    const hook = await webhookReceiver();
    closers.push(hook.close);
    const v = await start({ enabled: true });
    const secret = 'hook-secret-1';
    const set = await call(v, 'PUT', '/api/alerts/receivers', {
      token: v.adminToken,
      json: { receivers: [{ type: 'webhook', url: hook.url, secret }] },
    });
    expect(set.status).toBe(200);
    expect(set.body).toEqual({
      project: 'default',
      receivers: [{ type: 'webhook', url: hook.url, secretSet: true }],
    });
    const rule = await editErrorRule(v, { interval: '1s', evaluationDelay: '0s' });

    await sendLlm(v, 40, { error_type: 'timeout' });
    const firing = await waitFor(() => hook.received.find((r) => (r.json as WebhookV4).status === 'firing'), {
      what: 'a firing webhook',
    });
    // The signature: HMAC-SHA256 over "<timestamp>.<body>" with the receiver's secret.
    const ts = firing.headers[TIMESTAMP_HEADER] as string;
    expect(firing.headers[SIGNATURE_HEADER]).toBe(sign(secret, ts, firing.body));
    expect(firing.headers[SIGNATURE_HEADER]).not.toBe(sign('wrong', ts, firing.body));
    const body = asWebhookV4(firing);
    const alert = body.alerts[0] as WebhookV4['alerts'][number];
    expect(alert.labels).toMatchObject({
      alertname: 'High error rate',
      severity: 'critical',
      project: 'default',
      rule_id: rule.id,
      metric: 'errorRate',
    });
    expect(alert.endsAt).toBe('0001-01-01T00:00:00Z');
    expect(alert.annotations.value).toBe('100');

    const listed = await call(v, 'GET', '/api/metrics/alerts', { token: v.adminToken });
    const active = (listed.body as { active: Record<string, unknown>[] }).active;
    expect(active).toHaveLength(1);
    expect(active[0]).toMatchObject({
      ruleId: rule.id,
      rule: 'High error rate',
      state: 'firing',
      metric: 'errorRate',
      actualValue: 100,
      threshold: 10,
      labels: alert.labels,
      fingerprint: alert.fingerprint,
    });
    for (const k of ['alertId', 'triggeredAt', 'message']) expect(typeof active[0]?.[k]).toBe('string');

    // Enough successful requests bring the 5-minute rate under 10%: resolved goes out.
    await sendLlm(v, 800, {});
    const resolved = await waitFor(
      () => hook.received.find((r) => (r.json as WebhookV4).status === 'resolved'),
      {
        what: 'a resolved webhook',
      },
    );
    const rb = asWebhookV4(resolved);
    expect(rb.alerts[0]?.fingerprint).toBe(alert.fingerprint);
    expect(Date.parse(rb.alerts[0]?.endsAt as string)).toBeGreaterThan(Date.parse(alert.startsAt));
    expect(hook.received.filter((r) => (r.json as WebhookV4).status === 'firing')).toHaveLength(1);

    const after = await call(v, 'GET', '/api/metrics/alerts', { token: v.adminToken });
    const b = after.body as { active: unknown[]; history: { alertId: string; state: string }[] };
    expect(b.active).toHaveLength(0);
    expect(b.history[0]).toMatchObject({ alertId: active[0]?.alertId, state: 'resolved' });
    const detail = await call(v, 'GET', `/api/metrics/alerts/${active[0]?.alertId}`, { token: v.adminToken });
    expect(
      (detail.body as { transitions: { from: string; to: string }[] }).transitions.map((t) => t.to),
    ).toEqual(['pending', 'firing', 'resolved']);
  });

  it('minSamples suppresses an alert on 3 requests', async () => {
    const v = await start({ enabled: false });
    await editErrorRule(v, { evaluationDelay: '0s', consecutive: 1 });
    await sendLlm(v, 3, { error_type: 'timeout' });
    const engine = v.server.context.alerts;
    const report = await engine.evaluateOnce(Date.now());
    expect(report.evaluated).toBe(4);
    expect(report.transitions).toEqual([]);
    const rule = (await rules(v)).find((r) => r.metric === 'errorRate');
    expect(rule?.status).toMatchObject({
      status: 'inactive',
      violations: 0,
      lastEvaluation: { value: 100, samples: 3 },
    });
    // The same rule with minSamples 3 fires at once: the suppression was minSamples.
    await editErrorRule(v, { evaluationDelay: '0s', consecutive: 1, minSamples: 3 });
    const again = await engine.evaluateOnce(Date.now());
    expect(again.transitions.map((t) => t.to)).toEqual(['firing']);
    // Self-monitoring counts every evaluation by result.
    const scrape = await call(v, 'GET', '/metrics', { token: v.adminToken });
    expect(scrape.status).toBe(200);
    expect(scrape.body as string).toMatch(/^vigil_rule_evaluations_total\{result="ok"\} 7$/m);
    expect(scrape.body as string).toMatch(/^vigil_rule_evaluations_total\{result="firing"\} 1$/m);
  });

  it('a restart between pending and firing keeps the count, and a firing alert survives a restart', async () => {
    const hook = await webhookReceiver();
    closers.push(hook.close);
    const dataDir = dirs.fresh();
    let v = await start({ enabled: false, dataDir });
    const ingestKey = v.ingestKey;
    const rule = await editErrorRule(v, {
      evaluationDelay: '0s',
      consecutive: 3,
      receivers: [{ type: 'webhook', url: hook.url }],
    });
    await sendLlm(v, 30, { error_type: 'rate_limit' });
    const now = Date.now();
    await v.server.context.alerts.evaluateOnce(now);
    await v.server.context.alerts.evaluateOnce(now + 1000);
    expect(v.server.context.alerts.ruleStatus(rule.id)).toMatchObject({ status: 'pending', violations: 2 });
    const pendingId = v.server.context.alerts.ruleStatus(rule.id)?.alertId;
    await v.stop();
    open.splice(open.indexOf(v), 1);

    v = await start({ enabled: false, dataDir, ingestKey });
    expect(v.server.context.alerts.ruleStatus(rule.id)).toMatchObject({
      status: 'pending',
      violations: 2,
      alertId: pendingId,
    });
    const third = await v.server.context.alerts.evaluateOnce(now + 2000);
    expect(third.transitions).toEqual([
      expect.objectContaining({ ruleId: rule.id, from: 'pending', to: 'firing', alertId: pendingId }),
    ]);
    await v.server.context.alerts.notifier.idle();
    expect(hook.received).toHaveLength(1);
    await v.stop();
    open.splice(open.indexOf(v), 1);

    // Firing survives too, and is not notified a second time.
    v = await start({ enabled: false, dataDir, ingestKey });
    expect(v.server.context.alerts.ruleStatus(rule.id)).toMatchObject({
      status: 'firing',
      alertId: pendingId,
    });
    const listed = await call(v, 'GET', '/api/metrics/alerts', { token: v.adminToken });
    expect((listed.body as { active: { alertId: string; state: string }[] }).active).toEqual([
      expect.objectContaining({ alertId: pendingId, state: 'firing' }),
    ]);
    const next = await v.server.context.alerts.evaluateOnce(now + 3000);
    expect(next.transitions).toEqual([]);
    await v.server.context.alerts.notifier.idle();
    expect(hook.received).toHaveLength(1);
  });

  it('silence holds back notifications; acknowledge is recorded', async () => {
    const hook = await webhookReceiver();
    closers.push(hook.close);
    const v = await start({ enabled: false });
    const rule = await editErrorRule(v, {
      evaluationDelay: '0s',
      consecutive: 1,
      receivers: [{ type: 'webhook', url: hook.url }],
    });
    const silence = await call(v, 'POST', '/api/alerts/silences', {
      token: v.adminToken,
      json: { ruleId: rule.id, duration: '1h', comment: 'maintenance' },
    });
    expect(silence.status).toBe(201);
    await sendLlm(v, 25, { error_type: 'timeout' });
    const engine = v.server.context.alerts;
    const r = await engine.evaluateOnce(Date.now());
    expect(r.transitions.map((t) => t.to)).toEqual(['firing']);
    await engine.notifier.idle();
    expect(hook.received).toHaveLength(0);
    const listed = await call(v, 'GET', '/api/metrics/alerts', { token: v.adminToken });
    const alert = (listed.body as { active: { alertId: string; silencedUntil: string | null }[] }).active[0];
    expect(alert?.silencedUntil).not.toBeNull();
    // Another project's keys do not see it.
    const other = await call(v, 'POST', '/api/keys', {
      token: v.adminToken,
      json: { role: 'admin', project: 'p3' },
    });
    const otherKey = (other.body as { key: string }).key;
    expect((await call(v, 'GET', `/api/metrics/alerts/${alert?.alertId}`, { token: otherKey })).status).toBe(
      404,
    );
    const theirs = await call(v, 'GET', '/api/metrics/alerts', { token: otherKey });
    expect((theirs.body as { active: unknown[]; history: unknown[] }).active).toEqual([]);
    expect(
      (await call(v, 'POST', `/api/metrics/alerts/${alert?.alertId}/ack`, { token: otherKey, json: {} }))
        .status,
    ).toBe(404);
    const ack = await call(v, 'POST', `/api/metrics/alerts/${alert?.alertId}/ack`, {
      token: v.adminToken,
      json: {},
    });
    expect(ack.status).toBe(200);
    expect(ack.body).toMatchObject({ acknowledgedBy: 'admin-token' });
    // Lifting the silence lets the firing notification out on the next cycle.
    const id = (silence.body as { id: string }).id;
    expect((await call(v, 'DELETE', `/api/alerts/silences/${id}`, { token: v.adminToken })).status).toBe(200);
    await engine.evaluateOnce(Date.now());
    await engine.notifier.idle();
    expect(hook.received).toHaveLength(1);
  });
});
