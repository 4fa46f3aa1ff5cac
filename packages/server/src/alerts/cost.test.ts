import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultConfig } from '../config/index.js';
import { call, scratchDirs, startVigil, type Vigil } from '../test/harness.js';
import type { AlertRule } from './rule.js';

const scratch = scratchDirs();
let vigil: Vigil;

type RuleWithStatus = AlertRule & { status: { status: string; value?: number | null } };
const rules = async () =>
  (
    (await call(vigil, 'GET', '/api/alerts/rules', { token: vigil.adminToken })).body as {
      rules: RuleWithStatus[];
    }
  ).rules;
const createRule = async (json: Record<string, unknown>) => {
  const res = await call(vigil, 'POST', '/api/alerts/rules', { token: vigil.adminToken, json });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body as AlertRule;
};

beforeAll(async () => {
  vigil = await startVigil({
    dataDir: scratch.fresh(),
    // Evaluated on demand only; a $1 daily budget: the default cost rule fires above $1.20.
    config: {
      alerts: { ...defaultConfig().alerts, enabled: false, evaluationDelayMs: 0, dailyCostBudgetUsd: 1 },
      llm: { prices: [{ model: 'm', inputPerMillion: 1, outputPerMillion: 1 }] },
    },
  });
});
afterAll(async () => {
  await vigil.stop();
  scratch.cleanup();
});

describe('cost alerts', () => {
  it('has a default daily budget rule, per-user cost rules and an unpriced-requests rule', async () => {
    const budget = (await rules()).find((r) => r.metric === 'costUsd');
    expect(budget).toMatchObject({ operator: '>', threshold: 1.2, window: '1d', builtin: true });

    const perUser = await createRule({
      name: 'ann spends too much',
      metric: 'costUsd',
      operator: '>',
      threshold: 0.5,
      window: '1h',
      filters: { user: 'ann' },
    });
    const unpriced = await createRule({
      name: 'requests without a price',
      metric: 'unpricedRequests',
      operator: '>',
      threshold: 0,
      window: '1h',
      filters: { model: 'local' },
    });

    const now = Date.now();
    const llm = (props: Record<string, unknown>) => ({
      type: 'llm.request',
      ts: now - 60_000,
      props: { total_ms: 5, ...props },
    });
    // ann: $0.40 priced + $0.30 reported = $0.70; bob: $0.60 → $1.30 in all; 2 unpriced 'local' requests.
    const sent = await call(vigil, 'POST', '/v1/events', {
      token: vigil.ingestKey,
      json: {
        events: [
          llm({ model: 'm', prompt_tokens: 200_000, completion_tokens: 200_000, user: 'ann' }),
          llm({ model: 'm', cost_usd: 0.3, user: 'ann' }),
          llm({ model: 'm', prompt_tokens: 300_000, completion_tokens: 300_000, user: 'bob' }),
          llm({ model: 'local', prompt_tokens: 10, user: 'bob' }),
          llm({ model: 'local', prompt_tokens: 10, user: 'bob' }),
        ],
      },
    });
    expect(sent.body).toEqual({ accepted: 5, rejected: [] });

    await vigil.server.context.alerts.evaluateOnce(Date.now() + 60_000);
    const engine = vigil.server.context.alerts;
    expect(engine.ruleStatus(budget?.id as string)).toMatchObject({ status: 'firing' });
    expect(engine.ruleStatus(perUser.id)).toMatchObject({ status: 'firing' });
    expect(engine.ruleStatus(unpriced.id)).toMatchObject({ status: 'firing' });
    const alerts = (await call(vigil, 'GET', '/api/metrics/alerts', { token: vigil.adminToken })).body as {
      active: { ruleId: string; actualValue: number }[];
    };
    const firing = (id: string) => alerts.active.find((a) => a.ruleId === id)?.actualValue;
    expect(firing(budget?.id as string)).toBeCloseTo(1.3, 9);
    expect(firing(perUser.id)).toBeCloseTo(0.7, 9);
    expect(firing(unpriced.id)).toBe(2);

    // A per-user rule for a user under the threshold stays quiet.
    const quiet = await createRule({
      name: 'bob',
      metric: 'costUsd',
      operator: '>',
      threshold: 0.61,
      window: '1h',
      filters: { user: 'bob' },
    });
    await engine.evaluateOnce(Date.now() + 61_000);
    expect(engine.ruleStatus(quiet.id)).toMatchObject({ status: 'inactive' });
  });

  it('refuses cost metrics with filters they cannot take', async () => {
    const res = await call(vigil, 'POST', '/api/alerts/rules', {
      token: vigil.adminToken,
      json: { name: 'x', metric: 'costUsd', operator: '>', threshold: 1, filters: { colour: 'red' } },
    });
    expect(res.status).toBe(400);
    expect((res.body as { error: { message: string } }).error.message).toMatch(/^filters\.colour: costUsd/);
  });
});
