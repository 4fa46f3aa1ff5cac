import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { afterEach, describe, expect, it } from 'vitest';
import { emptyRow } from '../../model/index.js';
import { scratchDirs } from '../../test/harness.js';
import { openDuckDBStore } from './index.js';

const scratch = scratchDirs();
afterEach(scratch.cleanup);

describe('DuckDB event export', () => {
  it('writes Parquet that DuckDB reads back with the same rows, sums and ids', async () => {
    const store = await openDuckDBStore({ dataDir: scratch.fresh() });
    const t0 = Date.UTC(2026, 10, 1);
    const rows = Array.from({ length: 120 }, (_, i) => ({
      ...emptyRow(),
      id: `${(t0 + i)
        .toString(16)
        .padStart(12, '0')
        .replace(/^(.{8})(.{4})$/, '$1-$2')}-7000-8000-${String(i).padStart(12, '0')}`,
      project: 'p',
      type: i % 3 === 0 ? 'other' : 'llm.request',
      ts: t0 + i * 60_000,
      received_at: t0 + i * 60_000,
      total_ms: i * 10,
      prompt_tokens: i,
    }));
    try {
      await store.events.appendBatch({
        rows,
        seal: () => ({
          link: {
            chain: 'default',
            seq: 1,
            prevHash: '0'.repeat(64),
            hash: 'x',
            rowCount: rows.length,
            committedAt: t0,
          },
          scrubbed: [],
        }),
      });
      const out = join(scratch.fresh(), 'llm.parquet');
      const result = await store.ops.exportEvents({
        from: t0,
        to: t0 + 60 * 60_000,
        type: 'llm.request',
        format: 'parquet',
        out,
        slices: 3,
      });
      const expected = rows.filter((r) => r.type === 'llm.request' && r.ts < t0 + 60 * 60_000);
      expect(result.rows).toBe(expected.length);
      const db = await DuckDBInstance.create(':memory:');
      const conn = await db.connect();
      const [got] = (
        await conn.runAndReadAll(
          `SELECT count(*)::INTEGER AS n, sum(total_ms)::DOUBLE AS total_ms, sum(prompt_tokens)::DOUBLE AS prompt, count(DISTINCT id)::INTEGER AS ids FROM read_parquet('${out}')`,
        )
      ).getRowObjectsJS();
      conn.closeSync();
      db.closeSync();
      const sum = (f: (r: (typeof rows)[number]) => number) => expected.reduce((s, r) => s + f(r), 0);
      expect(got).toEqual({
        n: expected.length,
        total_ms: sum((r) => r.total_ms),
        prompt: sum((r) => r.prompt_tokens),
        ids: expected.length,
      });
    } finally {
      await store.close();
    }
  });
});
