import { afterEach, describe, expect, it } from 'vitest';
import { openStore } from '../store/index.js';
import { call, scratchDirs, startVigil, type Vigil } from '../test/harness.js';
import { runCli } from '../test/process.js';

const scratch = scratchDirs();
afterEach(scratch.cleanup);

async function ingest(vigil: Vigil, count: number): Promise<void> {
  const events = Array.from({ length: count }, (_, i) => ({
    type: 'llm.request',
    props: { model: 'm', total_ms: 10 + i, prompt_tokens: 1, completion_tokens: 1 },
  }));
  const res = await call(vigil, 'POST', '/v1/events', { token: vigil.ingestKey, json: { events } });
  expect(res.body).toEqual({ accepted: count, rejected: [] });
}

describe('one audit chain per writer', () => {
  it('servers with different instance ids keep a chain each: both folded, both verified, both checkpointed', async () => {
    const dataDir = scratch.fresh();
    const a = await startVigil({ dataDir, config: { instanceId: 'node-a' } });
    try {
      await ingest(a, 3);
      await ingest(a, 2);
    } finally {
      await a.stop();
    }
    const b = await startVigil({ dataDir, config: { instanceId: 'node-b' }, ingestKey: a.ingestKey });
    try {
      await ingest(b, 4);
      // Both chains' events are in the rollups (node-a folded its own before it stopped).
      const current = await call(b, 'GET', '/api/metrics/current?window=hour', { token: b.adminToken });
      expect((current.body as { requestRate: { total: number } }).requestRate.total).toBe(9);
    } finally {
      await b.stop();
    }

    const store = await openStore({ dataDir });
    try {
      const heads = await store.events.chains();
      expect(heads.map((h) => [h.chain, h.seq, h.rowCount])).toEqual([
        ['node-a', 2, 2],
        ['node-b', 1, 4],
      ]);
      for (const h of heads) expect(await store.rollups.watermark(h.chain)).toMatchObject({ seq: h.seq });
    } finally {
      await store.close();
    }

    const verified = runCli(['verify', '--data', dataDir, '--json']);
    expect(verified.status, verified.stderr).toBe(0);
    expect(JSON.parse(verified.stdout)).toMatchObject({
      ok: true,
      batches: 3,
      events: 9,
      chains: 2,
      checkpoints: { chains: 2 },
    });
    const checked = runCli(['check', '--data', dataDir], { VIGIL_INSTANCE_ID: 'node-a' });
    expect(checked.stdout).toMatch(
      /2 chains \(one per instance id\): 'node-a' at batch 2 .*'node-b' at batch 1/,
    );
    expect(checked.stdout).toMatch(/checkpoint .*holds batch 2 .*the chain extends it/);
  }, 120_000);
});
