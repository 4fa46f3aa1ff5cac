/**
 * `vigil reprice` end to end: events priced with a wrong price through the real server, the price
 * fixed through PUT /api/llm/prices, then the stored costs and rollups recomputed on the stopped
 * store, and read back through the restarted server; the audit chain and the rollups still verify.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { call, startVigil, testConfig, type Vigil } from '../test/harness.js';
import { runCli } from '../test/process.js';
import { OpsError, repriceCommand, verifyCommand } from './index.js';

const HOUR = 3_600_000;
let vigil: Vigil;

const request = (model: string, ts: number, extra: Record<string, unknown> = {}) => ({
  type: 'llm.request',
  ts: new Date(ts).toISOString(),
  props: { model, total_ms: 100, prompt_tokens: 1000, completion_tokens: 500, ...extra },
});

const putPrices = async (prices: unknown[]) => {
  const res = await call(vigil, 'PUT', '/api/llm/prices', { token: vigil.adminToken, json: { prices } });
  expect(res.status).toBe(200);
};

const cost = async () => {
  const res = await call(vigil, 'GET', '/api/metrics/current?window=week', { token: vigil.adminToken });
  expect(res.status).toBe(200);
  return (res.body as { cost: { totalUsd: number; unpricedRequests: number } }).cost;
};

/** Runs a command with console.log captured: its exit code and its JSON output. */
async function run(command: () => Promise<number>) {
  const log = vi.spyOn(console, 'log').mockImplementation(() => undefined);
  try {
    const code = await command();
    return { code, out: JSON.parse(String(log.mock.calls.at(-1)?.[0])) as Record<string, unknown> };
  } finally {
    log.mockRestore();
  }
}

beforeAll(async () => {
  vigil = await startVigil();
});
afterAll(async () => {
  await vigil.cleanup();
});

describe('vigil reprice', () => {
  // The CLI run compiles the source with tsx: slow on a loaded machine.
  it('recomputes priced costs and LLM rollups from the current prices; reported costs stand', async () => {
    const now = Date.now();
    await putPrices([{ model: 'acme-1', inputPerMillion: 1, outputPerMillion: 2 }]);
    const events = [
      request('acme-1', now - 30 * HOUR),
      request('acme-1', now - 2 * HOUR),
      request('acme-1', now - HOUR, { user: 'ada' }),
      request('acme-1', now - HOUR, { cost_usd: 0.5 }),
      request('mystery', now - HOUR, { prompt_tokens: 100, completion_tokens: 100 }),
    ];
    const sent = await call(vigil, 'POST', '/v1/events', { token: vigil.ingestKey, json: { events } });
    expect(sent.status).toBe(200);
    // Three priced at 1 $ + 2 $ per million tokens, one reported, one without a price.
    expect(await cost()).toMatchObject({ unpricedRequests: 1 });
    expect((await cost()).totalUsd).toBeCloseTo(3 * 0.002 + 0.5, 9);

    // The price was wrong: fixed for what comes next, and a price for the other model.
    await putPrices([
      { model: 'acme-1', inputPerMillion: 10, outputPerMillion: 20 },
      { model: 'mystery', inputPerMillion: 1, outputPerMillion: 1 },
    ]);
    const config = testConfig(vigil.dataDir);
    const range = { from: String(now - 3 * 86_400_000), to: String(now + 1), json: true };
    // Another process (the CLI) cannot take the store from the running server: it says what to do.
    const busy = runCli(['reprice', '--from', range.from, '--to', range.to, '--data', vigil.dataDir]);
    expect([busy.status, busy.stderr]).toEqual([
      1,
      expect.stringMatching(/in use by a running server; stop it/),
    ]);

    await vigil.stop();
    await expect(repriceCommand(config, { ...range, from: 'yesterday' })).rejects.toThrow(OpsError);
    await expect(repriceCommand(config, { ...range, project: 'nope' })).rejects.toThrow(/no project 'nope'/);
    const { code, out } = await run(() => repriceCommand(config, range));
    expect(code).toBe(0);
    expect(out).toMatchObject({ projects: 1, requests: 5, changed: 4, unpriced: 0, skipped: [] });
    // Idempotent: a second run finds nothing to change.
    expect((await run(() => repriceCommand(config, range))).out).toMatchObject({ requests: 5, changed: 0 });
    // The chain (reported costs only) and the rollups (rebuilt from the events) still verify.
    expect((await run(() => verifyCommand(config, { json: true, rollups: true }))).code).toBe(0);

    vigil = await startVigil({ dataDir: vigil.dataDir, ingestKey: vigil.ingestKey });
    const after = await cost();
    expect(after.unpricedRequests).toBe(0);
    expect(after.totalUsd).toBeCloseTo(3 * 0.02 + 0.5 + 0.0002, 9);
    const user = await call(vigil, 'GET', '/api/metrics/current?window=week&user=ada', {
      token: vigil.adminToken,
    });
    expect((user.body as { cost: { totalUsd: number } }).cost.totalUsd).toBeCloseTo(0.02, 9);
  }, 240_000);
});
