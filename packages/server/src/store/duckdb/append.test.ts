import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { afterEach, describe, expect, it } from 'vitest';
import { nextLink, verifyChain } from '../../audit/index.js';
import { type EventRow, emptyRow, sampleKey, TYPED_FIELD_NAMES, TYPED_FIELDS } from '../../model/index.js';
import { scratchDirs } from '../../test/harness.js';
import { DUCKDB_FILE, openDuckDBStore } from './index.js';

const scratch = scratchDirs();
afterEach(scratch.cleanup);

/** Row `i`: every typed field set on some rows and null on others, values of every kind and edge. */
function row(i: number): EventRow {
  const r = emptyRow();
  // Ids whose sample-key bits are all ones (and the two above them) or all zeros, then random v4 ids.
  r.id =
    i === 0
      ? '01890a5d-ac96-7b3f-ffff-ffffffffffff'
      : i === 1
        ? '01890a5d-ac96-7b3f-8000-000000000000'
        : randomUUID();
  r.project = i % 2 ? 'p1' : 'p2';
  r.type = i % 3 ? 'llm.request' : 'custom.ünïcode ✓';
  // Before and at the epoch, then today's milliseconds.
  r.ts = i === 2 ? -86_400_123 : i === 3 ? 0 : 1_764_000_000_000 + i * 37;
  r.received_at = 1_764_000_000_000 + i;
  r.late = i % 5 === 0;
  r.version = i % 4 ? `2.${i % 7}.0` : null;
  const typed = r as unknown as Record<string, unknown>;
  TYPED_FIELD_NAMES.forEach((name, f) => {
    if ((i + f) % 3 === 0) return; // null
    const kind = TYPED_FIELDS[name].kind;
    typed[name] =
      kind === 'string'
        ? `${name}-${i % 11}`
        : kind === 'boolean'
          ? (i + f) % 2 === 0
          : kind === 'integer'
            ? i === 4
              ? 2_147_483_647
              : i * 13
            : i === 5
              ? 1e300
              : i / 7;
  });
  r.props = i % 6 ? JSON.stringify({ i, s: 'x"y' }) : null;
  return r;
}

describe('DuckDB append', () => {
  it('stores every column of rows over several data chunks as given, with its batch place and sample key', async () => {
    const dataDir = scratch.fresh();
    const store = await openDuckDBStore({ dataDir });
    // More than two of DuckDB's 2,048-row chunks, the last one partial.
    const rows = Array.from({ length: 4_500 }, (_, i) => row(i));
    const link = nextLink(null, rows, Date.now());
    const appended = await store.events.appendBatch({ rows, seal: () => ({ link, scrubbed: [] }) });
    expect(appended.link?.seq).toBe(1);

    const stored = new Map<string, EventRow>();
    for (const project of ['p1', 'p2']) {
      for (const r of await store.events.listEvents({ project, limit: 10_000 })) stored.set(r.id, r);
    }
    expect(stored.size).toBe(rows.length);
    for (const r of rows) expect(stored.get(r.id)).toEqual(r);
    expect(await verifyChain(store.events)).toEqual({ ok: true, batches: 1, events: rows.length });
    await store.close();

    const db = await DuckDBInstance.create(join(dataDir, DUCKDB_FILE));
    const conn = await db.connect();
    try {
      const found = (
        await conn.runAndReadAll('SELECT id::VARCHAR AS id, sample_key, batch_row FROM events')
      ).getRowObjectsJS();
      const place = new Map(rows.map((r, i) => [r.id, i]));
      for (const f of found) {
        expect(f.sample_key).toBe(sampleKey(f.id as string));
        expect(f.batch_row).toBe(place.get(f.id as string));
      }
      expect(found).toHaveLength(rows.length);
      expect(found.find((f) => f.id === rows[0]?.id)?.sample_key).toBe((1n << 62n) - 1n);
    } finally {
      conn.closeSync();
      db.closeSync();
    }
  });
});
