import { createHash } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { nextLink } from '../../audit/index.js';
import { type EventRow, emptyRow } from '../../model/index.js';
import { scratchDirs } from '../../test/harness.js';
import type { DuckDBEventStore } from './events.js';
import { IdFilter } from './idfilter.js';
import { openDuckDBStore } from './index.js';

const scratch = scratchDirs();
afterEach(scratch.cleanup);

/** A deterministic random-looking UUIDv4 (`n`th of series `s`). */
function v4(s: string, n: number): string {
  const h = createHash('sha1').update(`${s}:${n}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/** A UUIDv7 of millisecond `ms` (n: its tail). */
function v7(ms: number, n: number): string {
  const t = ms.toString(16).padStart(12, '0');
  const tail = n.toString(16).padStart(12, '0');
  return `${t.slice(0, 8)}-${t.slice(8)}-7000-8000-${tail}`;
}

function rowsOf(ids: readonly string[]): EventRow[] {
  const now = Date.now();
  return ids.map((id) => {
    const r = emptyRow();
    r.id = id;
    r.project = 'default';
    r.type = 'custom.event';
    r.ts = now;
    r.received_at = now;
    return r;
  });
}

describe('IdFilter', () => {
  it('answers "maybe" for every id it was told of and rarely for others', () => {
    // Full: as many ids as its capacity.
    const filter = new IdFilter(0, 20_000);
    const told = Array.from({ length: 20_000 }, (_, i) =>
      i % 2 ? v4('told', i) : v7(1_700_000_000_000 + i, i),
    );
    for (const id of told) filter.add(id);
    expect(told.filter((id) => !filter.mayHave(id))).toEqual([]);
    const others = Array.from({ length: 100_000 }, (_, i) =>
      i % 2 ? v4('other', i) : v7(1_700_000_000_000 + i, i + 1),
    );
    expect(filter.capacities).toEqual([20_000]);
    // About 5 in a million when full (a filter whose bits were not independent said 1 in 600).
    expect(others.filter((id) => filter.mayHave(id)).length).toBeLessThanOrEqual(5);
  });

  it('answers "maybe" for an id in any other spelling than lowercase 8-4-4-4-12', () => {
    const filter = new IdFilter();
    const id = v4('spelling', 1);
    expect(filter.mayHave(id)).toBe(false);
    for (const other of [id.toUpperCase(), `{${id}}`, id.replaceAll('-', ''), `${id.slice(0, 35)}g`])
      expect(filter.mayHave(other)).toBe(true);
  });

  it('adds a slice twice as large when the ids outgrow it, and keeps every id of each', () => {
    const filter = new IdFilter(0, 1_000);
    const told = Array.from({ length: 3_500 }, (_, i) => v4('grow', i));
    for (const id of told) filter.add(id);
    expect(filter.capacities).toEqual([1_000, 2_000, 4_000]);
    expect(told.filter((id) => !filter.mayHave(id))).toEqual([]);
  });
});

describe('DuckDB id check with the id filter', () => {
  it('leaves out ids stored before a restart (read from the table) and ids appended since (added by the append)', async () => {
    const dataDir = scratch.fresh();
    const before = [
      ...Array.from({ length: 3_000 }, (_, i) => v4('before', i)),
      v7(Date.now() - 86_400_000, 1),
    ];
    let store = await openDuckDBStore({ dataDir });
    let head = nextLink(null, rowsOf(before), Date.now());
    const first = head;
    await store.events.appendBatch({ rows: rowsOf(before), seal: () => ({ link: first, scrubbed: [] }) });
    await store.close();

    store = await openDuckDBStore({ dataDir });
    try {
      // The first check makes the filter and starts its build from the table.
      expect(await store.events.findExistingIds([before[0] as string, v4('new', 0)])).toEqual(
        new Set([before[0]]),
      );
      expect(await (store.events as DuckDBEventStore).idFilterReady()).toBe(true);

      const append = async (ids: readonly string[]) => {
        let link = head;
        const appended = await store.events.appendBatch({
          rows: rowsOf(ids),
          seal: (kept) => {
            link = nextLink(head, kept, Date.now());
            return { link, scrubbed: [] };
          },
        });
        if (appended.link) head = link;
        return [...appended.duplicates].sort();
      };
      const after = Array.from({ length: 500 }, (_, i) => v4('after', i));
      // Every stored id is left out, found through the filter built from the table's bytes.
      expect(await append([...before.slice(0, 1_000), ...after])).toEqual(before.slice(0, 1_000).sort());
      expect(await store.events.findExistingIds(before)).toEqual(new Set(before));
      // Ids appended after the build are in the filter too.
      expect(await append([...after, v4('later', 0)])).toEqual([...after].sort());
      expect(await store.events.countEvents()).toBe(before.length + after.length + 1);
    } finally {
      await store.close();
    }
  });
});
