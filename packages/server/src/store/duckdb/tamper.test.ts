/**
 * Tampering the way someone with access to the store file would, and what `vigil verify` and the
 * server make of it. Each case edits the DuckDB file directly (SQL stays inside store/).
 */
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { afterEach, describe, expect, it } from 'vitest';
import { checkRollups } from '../../analytics/index.js';
import { DEFAULT_CHAIN, loadVerifyingKey, readCheckpoints, verifyChain } from '../../audit/index.js';
import { checkpointPaths } from '../../config/index.js';
import { call, scratchDirs, startVigil, testConfig, type Vigil } from '../../test/harness.js';
import { runCli } from '../../test/process.js';
import { DUCKDB_FILE, openDuckDBStore } from './index.js';

const scratch = scratchDirs();
afterEach(scratch.cleanup);

async function ingestBatches(vigil: Vigil, batches: number, size = 20): Promise<void> {
  for (let b = 0; b < batches; b++) {
    const res = await call(vigil, 'POST', '/v1/events', {
      token: vigil.ingestKey,
      json: {
        events: Array.from({ length: size }, (_, i) => ({
          type: 'llm.request',
          ts: Date.now() - 60_000 + i,
          props: { total_ms: 10 + i, prompt_tokens: b * 100 + i, user: `u${i % 3}` },
        })),
      },
    });
    expect(res.body).toEqual({ accepted: size, rejected: [] });
  }
}

/** A store with three batches, the server stopped (its shutdown signed a checkpoint of batch 3). */
async function threeBatches(): Promise<Vigil> {
  const vigil = await startVigil({ dataDir: scratch.fresh() });
  await ingestBatches(vigil, 3);
  await vigil.stop();
  return vigil;
}

async function tamper(dataDir: string, ...statements: string[]): Promise<void> {
  const db = await DuckDBInstance.create(join(dataDir, DUCKDB_FILE));
  const conn = await db.connect();
  try {
    for (const sql of statements) await conn.run(sql);
  } finally {
    conn.closeSync();
    db.closeSync();
  }
}

/** `verifyChain` as `vigil verify` runs it: against the checkpoints kept beside the data. */
async function verifyAgainstCheckpoints(dataDir: string) {
  const { file, keyFile } = checkpointPaths(testConfig(dataDir));
  const kept = await readCheckpoints(file as string, loadVerifyingKey(keyFile));
  expect(kept.badLines).toEqual([]);
  const store = await openDuckDBStore({ dataDir, migrate: false });
  try {
    return await verifyChain(store.events, { checkpoints: kept.latest });
  } finally {
    await store.close();
  }
}

// Each case starts a real server once or twice: generous on a loaded machine.
describe('tamper detection', { timeout: 180_000 }, () => {
  it('a clean store verifies against its last checkpoint', async () => {
    const vigil = await threeBatches();
    const report = await verifyAgainstCheckpoints(vigil.dataDir);
    expect(report).toMatchObject({
      ok: true,
      batches: 3,
      events: 60,
      checkpoint: { chain: DEFAULT_CHAIN, seq: 3 },
    });
  });

  it('deleting the newest batch entirely shows, and the next ingest does not reuse its number', async () => {
    const vigil = await threeBatches();
    await tamper(
      vigil.dataDir,
      'DELETE FROM events WHERE batch_seq = 3',
      'DELETE FROM batches WHERE seq = 3',
    );

    const report = await verifyAgainstCheckpoints(vigil.dataDir);
    expect(report.ok).toBe(false);
    expect(report.firstBad?.seq).toBe(3);
    expect(report.firstBad?.reason).toMatch(/checkpoint .* records batch 3: batch 3 were deleted/);

    const again = await startVigil({ dataDir: vigil.dataDir, ingestKey: vigil.ingestKey });
    try {
      const metrics = await call(again, 'GET', '/metrics', { token: again.adminToken });
      expect(metrics.body).toMatch(/vigil_audit_chain_behind_checkpoint\{chain="default"\} 1/);
      await ingestBatches(again, 1);
      expect((await again.server.context.store.events.chainHead('default'))?.seq).toBe(4);
    } finally {
      await again.stop();
    }
    const after = await verifyAgainstCheckpoints(vigil.dataDir);
    expect(after.ok).toBe(false);
    expect(after.firstBad).toMatchObject({
      seq: 4,
      reason: expect.stringMatching(/expected batch 3 next.*missing/),
    });
  });

  it('replacing the newest batch by another one with the same number shows', async () => {
    const vigil = await threeBatches();
    await tamper(
      vigil.dataDir,
      'DELETE FROM events WHERE batch_seq = 3',
      'DELETE FROM batches WHERE seq = 3',
    );
    // A server without checkpoints writes a new, self-consistent batch 3.
    const again = await startVigil({
      dataDir: vigil.dataDir,
      ingestKey: vigil.ingestKey,
      config: { checkpoints: { enabled: false } },
    });
    try {
      await ingestBatches(again, 1, 5);
    } finally {
      await again.stop();
    }
    const report = await verifyAgainstCheckpoints(vigil.dataDir);
    expect(report.firstBad).toMatchObject({
      seq: 3,
      reason: expect.stringMatching(/differs from the checkpoint/),
    });
  });

  it('emptying the whole chain shows', async () => {
    const vigil = await threeBatches();
    await tamper(vigil.dataDir, 'DELETE FROM events', 'DELETE FROM batches');
    const report = await verifyAgainstCheckpoints(vigil.dataDir);
    expect(report.ok).toBe(false);
    expect(report.firstBad?.reason).toMatch(
      /holds no batch of chain 'default', but the checkpoint .* records batch 3/,
    );
  });

  it('rows kept out of chain order are read in it, and an edit among them shows', async () => {
    const vigil = await threeBatches();
    // Rewritten backwards: a scan meets the rows in reverse (verify reads them in the order stored
    // while they are in chain order, and sorts a page that is not).
    await tamper(
      vigil.dataDir,
      'CREATE TABLE backwards AS SELECT * FROM events ORDER BY batch_seq DESC, batch_row DESC',
      'DELETE FROM events',
      'INSERT INTO events SELECT * FROM backwards',
      'DROP TABLE backwards',
    );
    expect(await verifyAgainstCheckpoints(vigil.dataDir)).toMatchObject({ ok: true, batches: 3, events: 60 });
    await tamper(vigil.dataDir, `UPDATE events SET "user" = 'u9' WHERE batch_seq = 2 AND batch_row = 4`);
    expect((await verifyAgainstCheckpoints(vigil.dataDir)).firstBad).toMatchObject({
      seq: 2,
      reason: expect.stringMatching(/an event was altered/),
    });
  });

  it('a column whose type was changed is read as its values: the batch edited through it shows', async () => {
    const vigil = await threeBatches();
    await tamper(
      vigil.dataDir,
      'ALTER TABLE events ALTER total_ms TYPE VARCHAR',
      `UPDATE events SET total_ms = 'fast' WHERE batch_seq = 3 AND batch_row = 0`,
    );
    const report = await verifyAgainstCheckpoints(vigil.dataDir);
    expect(report).toMatchObject({ ok: false, batches: 2 });
    expect(report.firstBad).toMatchObject({ seq: 3, reason: expect.stringMatching(/an event was altered/) });
  });

  it('marking a batch expired does not hide an edit or a deletion in it', async () => {
    const vigil = await threeBatches();
    await tamper(
      vigil.dataDir,
      'INSERT INTO expired_batches VALUES (2, now()::TIMESTAMP)',
      `UPDATE events SET props = '{"hidden":true}' WHERE batch_seq = 2 AND batch_row = 0`,
      'DELETE FROM events WHERE batch_seq = 2 AND batch_row = 1',
    );
    const report = await verifyAgainstCheckpoints(vigil.dataDir);
    expect(report.ok).toBe(false);
    expect(report.firstBad).toMatchObject({
      seq: 2,
      reason: expect.stringMatching(/records 20 events but 19/),
    });

    // A restart does not take the mark for an expiry of an earlier release: the store was checkpointed.
    const again = await startVigil({ dataDir: vigil.dataDir, ingestKey: vigil.ingestKey });
    await again.stop();
    expect((await verifyAgainstCheckpoints(vigil.dataDir)).firstBad).toMatchObject({ seq: 2 });
  });

  it('batches an earlier release marked expired are recorded in the chain once, on the first start', async () => {
    // As an earlier release left it: no checkpoints, batch 1 lost events to retention and is marked.
    const vigil = await startVigil({ dataDir: scratch.fresh(), config: { checkpoints: { enabled: false } } });
    await ingestBatches(vigil, 2);
    await vigil.stop();
    await tamper(
      vigil.dataDir,
      'DELETE FROM events WHERE batch_seq = 1 AND batch_row < 5',
      'INSERT INTO expired_batches VALUES (1, now()::TIMESTAMP)',
    );
    const upgraded = await startVigil({ dataDir: vigil.dataDir, ingestKey: vigil.ingestKey });
    await upgraded.stop();
    expect(await verifyAgainstCheckpoints(vigil.dataDir)).toMatchObject({
      ok: true,
      batches: 3,
      events: 35,
      expiredBatches: 1,
    });
    await tamper(vigil.dataDir, `UPDATE events SET props = '{}' WHERE batch_seq = 1 AND batch_row = 5`);
    expect((await verifyAgainstCheckpoints(vigil.dataDir)).firstBad).toMatchObject({ seq: 1 });
  });

  it("retention's deletions are links of the chain: what a batch keeps is checked, and so is the record", async () => {
    const vigil = await startVigil({ dataDir: scratch.fresh() });
    const old = Date.now() - 20 * 86_400_000;
    try {
      // One batch holding events of 20 days ago (late) and of now: retention empties it in part.
      const res = await call(vigil, 'POST', '/v1/events', {
        token: vigil.ingestKey,
        json: {
          events: Array.from({ length: 10 }, (_, i) => ({
            type: 'custom.mixed',
            ts: i < 4 ? old + i : Date.now() - i,
            props: { i },
          })),
        },
      });
      expect(res.body).toMatchObject({ accepted: 10 });
      await ingestBatches(vigil, 1);
      await vigil.server.context.rollups.flushNow();
      const [result] = await vigil.server.context.retention.run();
      expect(result).toMatchObject({ rawDeleted: 4 });
      await ingestBatches(vigil, 1);
    } finally {
      await vigil.stop();
    }
    // Batches 1 and 2 of events, 3 the expiry, 4 of events.
    const clean = await verifyAgainstCheckpoints(vigil.dataDir);
    expect(clean).toMatchObject({ ok: true, batches: 4, events: 46, expiredBatches: 1 });

    await tamper(vigil.dataDir, `UPDATE events SET props = '{"i":99}' WHERE batch_seq = 1 AND batch_row = 7`);
    const edited = await verifyAgainstCheckpoints(vigil.dataDir);
    expect(edited.firstBad).toMatchObject({
      seq: 1,
      reason: expect.stringMatching(/events kept after the expiry recorded in batch 3 do not match/),
    });

    await tamper(
      vigil.dataDir,
      `UPDATE events SET props = '{"i":7}' WHERE batch_seq = 1 AND batch_row = 7`,
      `UPDATE batches SET expiry = replace(expiry, '"remaining":6', '"remaining":5') WHERE seq = 3`,
      'DELETE FROM events WHERE batch_seq = 1 AND batch_row = 9',
    );
    const forged = await verifyAgainstCheckpoints(vigil.dataDir);
    expect(forged.ok).toBe(false);
  });

  it('editing rollup rows shows when they are recomputed from the raw events', async () => {
    const vigil = await startVigil({ dataDir: scratch.fresh() });
    await ingestBatches(vigil, 2);
    // Decisions too, one outcome arriving before its recommendation (folded as 'unknown' then).
    const decisions = [
      {
        type: 'decision.outcome',
        props: { signal_id: 's1', outcome_status: 'resolved', resolution_time_hours: 2 },
      },
      ...['s1', 's2'].map((signal_id) => ({
        type: 'decision.recommendation',
        props: {
          action: 'accept',
          signal_id,
          recommendation_type: 'risk',
          explanation_version: 'v2',
          decision_time_ms: 40,
        },
      })),
      { type: 'decision.outcome', props: { signal_id: 's2', outcome_status: 'false_positive' } },
    ];
    for (const event of decisions)
      expect(
        (await call(vigil, 'POST', '/v1/events', { token: vigil.ingestKey, json: { events: [event] } }))
          .status,
      ).toBe(200);
    await vigil.stop();
    const check = async () => {
      const store = await openDuckDBStore({ dataDir: vigil.dataDir, migrate: false });
      try {
        return await checkRollups(store);
      } finally {
        await store.close();
      }
    };
    const clean = await check();
    expect(clean).toMatchObject({ ok: true, checked: true, mismatches: [] });
    expect(clean.rows).toBeGreaterThan(0);

    // Totals double: every hourly row stored twice (read back as the merge of both).
    await tamper(vigil.dataDir, 'INSERT INTO rollups_1h SELECT * FROM rollups_1h');
    const doubled = await check();
    expect(doubled.ok).toBe(false);
    const [, stored, raw] =
      /^n is (\d+), the raw events give (\d+)/.exec(doubled.mismatches[0]?.reason ?? '') ?? [];
    expect(Number(stored)).toBe(2 * Number(raw));
    expect(Number(raw)).toBeGreaterThan(0);

    // The command: the chain is intact, the rollups are not.
    const cli = runCli(['verify', '--rollups', '--json', '--data', vigil.dataDir]);
    expect(cli.status).toBe(1);
    expect(JSON.parse(cli.stdout)).toMatchObject({ ok: true, rollups: { ok: false, checked: true } });

    await tamper(
      vigil.dataDir,
      'DELETE FROM rollups_1h',
      'INSERT INTO rollups_1h SELECT * FROM rollups_5m',
      "UPDATE rollups_1h SET res = '1h'",
    );
    expect((await check()).ok).toBe(false);
  });

  it('the rollup check says so when the rollups do not cover the chain', async () => {
    const vigil = await threeBatches();
    await tamper(vigil.dataDir, 'UPDATE rollup_watermark SET seq = 1');
    const store = await openDuckDBStore({ dataDir: vigil.dataDir, migrate: false });
    try {
      expect(await checkRollups(store)).toMatchObject({
        ok: false,
        checked: false,
        reason: expect.stringMatching(/cover batches up to 1 of 3/),
      });
    } finally {
      await store.close();
    }
  });
});
