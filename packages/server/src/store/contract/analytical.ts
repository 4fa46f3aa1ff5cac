import { randomBytes } from 'node:crypto';
import { expect, it } from 'vitest';
import { DEFAULT_CHAIN as C, expiryRecorder, nextLink, verifyChain } from '../../audit/index.js';
import { type EventRow, emptyRow, eventRowsOf, type MetricSample, sampleRank } from '../../model/index.js';
import { ROLLUP_COUNTERS, type RollupCounter, type RollupRow } from '../../model/rollup.js';
import type { AnalyticalStore, ChainLink, ScrubCount } from '../types.js';

const MINUTE = 60_000;
const HOUR = 3_600_000;
const DAY = 86_400_000;
/** Sunday 2026-11-01 12:00 UTC. */
const T0 = Date.UTC(2026, 10, 1, 12);

let serial = 0;
/** A UUIDv7 of `ms` with a random tail, as the SDK makes them. */
function randomIdAt(ms: number): string {
  const hex = ms.toString(16).padStart(12, '0');
  const tail = randomBytes(8).toString('hex');
  const variant = ((Number.parseInt(tail.slice(0, 1), 16) & 0x3) | 0x8).toString(16);
  return `${hex.slice(0, 8)}-${hex.slice(8)}-7${tail.slice(1, 4)}-${variant}${tail.slice(4, 7)}-${tail.slice(7, 16)}${(serial++).toString(16).padStart(3, '0')}`;
}

/** A UUIDv7-shaped id whose leading bits are `ms` (ids are stored lowercase). */
export function idAt(ms: number): string {
  const hex = ms.toString(16).padStart(12, '0');
  const n = (serial++).toString(16).padStart(12, '0');
  return `${hex.slice(0, 8)}-${hex.slice(8)}-7000-8000-${n}`;
}

function event(over: Partial<EventRow> = {}): EventRow {
  const ts = over.ts ?? T0;
  return { ...emptyRow(), id: idAt(ts), project: 'p', type: 'custom.event', ts, received_at: ts, ...over };
}

async function append(
  store: AnalyticalStore,
  rows: EventRow[],
  scrubbed: ScrubCount[] = [],
  chain = C,
): Promise<ChainLink> {
  const link = nextLink(await store.events.chainHead(chain), rows, T0 + serial, chain);
  const appended = await store.events.appendBatch({ rows, seal: () => ({ link, scrubbed }) });
  expect(appended.link).toEqual(link);
  return link;
}

function rollupRow(
  over: Partial<RollupRow> & Pick<RollupRow, 'bucket' | 'dim'>,
  counters: Partial<Record<RollupCounter, number>>,
  totalMs?: number[],
): RollupRow {
  const zero = Object.fromEntries(ROLLUP_COUNTERS.map((c) => [c, 0])) as Record<RollupCounter, number>;
  return {
    project: 'p',
    family: 'llm',
    res: '1m',
    grp: 'model',
    ...over,
    counters: { ...zero, ...counters },
    fields: totalMs
      ? {
          total_ms: {
            n: totalMs.length,
            sum: totalMs.reduce((a, b) => a + b, 0),
            min: Math.min(...totalMs),
            max: Math.max(...totalMs),
            sketch: null,
          },
        }
      : {},
  };
}

/** Sums counters and field statistics of rows sharing a key (what a merge of deltas must give). */
function mergeRows(list: RollupRow[]): RollupRow {
  const [first, ...rest] = list as [RollupRow, ...RollupRow[]];
  const out: RollupRow = { ...first, counters: { ...first.counters }, fields: { ...first.fields } };
  for (const r of rest) {
    for (const c of ROLLUP_COUNTERS) out.counters[c] += r.counters[c];
    for (const [name, f] of Object.entries(r.fields)) {
      const key = name as keyof RollupRow['fields'];
      const cur = out.fields[key];
      out.fields[key] = cur
        ? {
            n: cur.n + f.n,
            sum: cur.sum + f.sum,
            min: Math.min(cur.min, f.min),
            max: Math.max(cur.max, f.max),
            sketch: null,
          }
        : f;
    }
  }
  return out;
}

const counts = (rows: RollupRow[]) =>
  rows
    .map((r) => [r.res, r.bucket - T0, r.dim, r.counters.n])
    .sort((a, b) => String(a).localeCompare(String(b)));

/** The analytical half's contract: each test gets a fresh, empty, migrated store from `open`. */
export function analyticalContract(open: () => Promise<AnalyticalStore>): void {
  it('appends batches with their chain links and reads events back newest first, filtered and paged', async () => {
    const store = await open();
    expect(await store.events.chainHead(C)).toBeNull();
    const a = [
      event({ type: 'llm.request', ts: T0, model: 'm1', total_ms: 10, props: '{"k":"x"}' }),
      event({ type: 'llm.request', ts: T0 + MINUTE, model: 'm2', total_ms: 30, props: '{"k":"y"}' }),
    ];
    const b = [event({ ts: T0 + 2 * MINUTE }), event({ project: 'q', ts: T0 + 3 * MINUTE })];
    const first = await append(store, a, [{ project: 'p', reason: 'deny_list', count: 2 }]);
    const second = await append(store, b, [{ project: 'p', reason: 'deny_list', count: 1 }]);
    expect(await store.events.chainHead(C)).toEqual(second);
    expect(second.prevHash).toBe(first.hash);
    expect(await store.events.chainLink(C, first.seq)).toEqual(first);
    expect(await store.events.chainLink(C, second.seq + 1)).toBeNull();

    const listed = await store.events.listEvents({ project: 'p', limit: 10 });
    expect(listed.map((r) => r.id)).toEqual([b[0], a[1], a[0]].map((r) => r?.id));
    expect(listed[1]).toEqual(a[1]);
    expect((await store.events.listEvents({ project: 'p', types: ['llm.request'], limit: 10 })).length).toBe(
      2,
    );
    expect(
      (
        await store.events.listEvents({ project: 'p', from: T0 + MINUTE, to: T0 + 2 * MINUTE, limit: 10 })
      ).map((r) => r.id),
    ).toEqual([a[1]?.id]);
    expect(
      (
        await store.events.listEvents({ project: 'p', where: [{ field: 'model', value: 'm1' }], limit: 10 })
      ).map((r) => r.id),
    ).toEqual([a[0]?.id]);
    expect(
      (
        await store.events.listEvents({
          project: 'p',
          where: [{ field: { prop: 'k' }, value: 'y' }],
          limit: 10,
        })
      ).map((r) => r.id),
    ).toEqual([a[1]?.id]);
    const page = await store.events.listEvents({
      project: 'p',
      limit: 1,
      before: { ts: T0 + MINUTE, id: a[1]?.id ?? '' },
    });
    expect(page.map((r) => r.id)).toEqual([a[0]?.id]);

    expect(await store.events.countEvents('p')).toBe(3);
    expect(await store.events.countEvents()).toBe(4);
    expect(await store.events.scrubCounts('p')).toEqual([{ project: 'p', reason: 'deny_list', count: 3 }]);
    expect(await store.events.scrubCounts()).toEqual([{ project: 'p', reason: 'deny_list', count: 3 }]);
  });

  it('appends idempotently: stored ids and second outcomes are left out and the link sealed over the rest', async () => {
    const store = await open();
    const rows = [
      event({ project: 'p' }),
      event({ project: 'q' }),
      event({ type: 'decision.outcome', signal_id: 's1', outcome_status: 'true_positive' }),
    ];
    const first = await append(store, rows);
    const unknown = idAt(T0);
    const found = await store.events.findExistingIds([rows[0]?.id ?? '', rows[1]?.id ?? '', unknown]);
    expect([...found].sort()).toEqual([rows[0]?.id, rows[1]?.id].sort());
    expect(await store.events.findExistingIds([])).toEqual(new Set());

    // A resend of the first row (stored in project p; the id counts in any project), a second
    // outcome of s1 in p, an outcome of s1 in q (its own project) and one new row.
    const again = { ...(rows[0] as EventRow), project: 'q' };
    const second = event({ type: 'decision.outcome', signal_id: 's1', outcome_status: 'false_positive' });
    const otherProject = event({
      project: 'q',
      type: 'decision.outcome',
      signal_id: 's1',
      outcome_status: 'x',
    });
    const fresh = event({ ts: T0 + MINUTE });
    let sealed: readonly EventRow[] = [];
    // Readied ahead as the committer does: what the append leaves out is still left out.
    const candidates = [again, second, otherProject, fresh];
    store.events.prepareAppend(candidates);
    const result = await store.events.appendBatch({
      rows: candidates,
      seal: (kept) => {
        sealed = kept;
        return { link: nextLink(first, kept, T0 + 1), scrubbed: [] };
      },
    });
    expect(sealed.map((r) => r.id)).toEqual([otherProject.id, fresh.id]);
    expect(result.link).toEqual(nextLink(first, sealed, T0 + 1));
    expect([...result.duplicates]).toEqual([again.id]);
    expect([...result.duplicateOutcomes]).toEqual([second.id]);
    expect(await store.events.chainHead(C)).toEqual(result.link);
    expect(await store.events.countEvents()).toBe(5);

    // Nothing new: no link, nothing written, seal never called.
    const none = await store.events.appendBatch({
      rows: [fresh],
      seal: () => {
        throw new Error('sealed an empty batch');
      },
    });
    expect(none).toEqual({ link: null, duplicates: new Set([fresh.id]), duplicateOutcomes: new Set() });
    expect(await store.events.chainHead(C)).toEqual(result.link);
    expect((await verifyChain(store.events)).ok).toBe(true);
  });

  it('appends rows readied ahead (prepareAppend) as it appends any', async () => {
    const store = await open();
    const rows = [
      event({ version: '1.2.0', total_ms: 12.5, prompt_tokens: 7, cache_hit: true, model: 'm' }),
      event({ project: 'q', ts: T0 + MINUTE, props: '{"k":"v"}' }),
    ];
    store.events.prepareAppend(rows);
    const link = await append(store, rows);
    expect(await store.events.chainHead(C)).toEqual(link);
    expect(await store.events.listEvents({ project: 'p', limit: 10 })).toEqual([rows[0]]);
    expect(await store.events.listEvents({ project: 'q', limit: 10 })).toEqual([rows[1]]);
    expect((await verifyChain(store.events)).ok).toBe(true);
  });

  it('reads committed batches in whole batches after a position, and the chain as stored', async () => {
    const store = await open();
    const batches = [
      [event(), event(), event()],
      [event({ ts: T0 + HOUR })],
      [event({ ts: T0 + 2 * HOUR }), event({ ts: T0 + 2 * HOUR })],
    ];
    const links: ChainLink[] = [];
    for (const b of batches) links.push(await append(store, b));
    const all = await store.events.readCommitted(C, 0, 1_000);
    expect(all.throughSeq).toBe(links[2]?.seq);
    expect(all.batches.map((b) => b.rows)).toEqual(batches);
    // At most maxRows rows unless one batch alone is larger: whole batches only.
    const part = await store.events.readCommitted(C, 0, 4);
    expect(part.batches.map((b) => b.seq)).toEqual([links[0]?.seq, links[1]?.seq]);
    const one = await store.events.readCommitted(C, 0, 1);
    expect(one.batches.map((b) => b.rows.length)).toEqual([3]);
    expect(await store.events.readCommitted(C, links[2]?.seq ?? 0, 10)).toEqual({
      batches: [],
      throughSeq: links[2]?.seq,
    });

    const chain: { link: ChainLink; rows: EventRow[] }[] = [];
    for await (const { columns, batches: page } of store.events.readChain()) {
      for (const { link, from, to, expired } of page) {
        expect(expired).toBe(false);
        chain.push({ link, rows: eventRowsOf(columns, from, to) });
      }
    }
    expect(chain).toEqual(batches.map((rows, i) => ({ link: links[i], rows })));
    expect(await verifyChain(store.events)).toEqual({ ok: true, batches: 3, events: 6 });
    expect(await store.events.lastBatchesBefore('p', T0 + HOUR + 1)).toEqual(new Map([[C, links[1]?.seq]]));
    expect(await store.events.lastBatchesBefore('p', T0)).toEqual(new Map());

    // Rows after a chain head are debris of a failed append: discarding keeps the chained ones.
    expect(await store.events.discardUnchained(C, links[2]?.seq ?? 0)).toBe(0);
    expect(await store.events.discardUnchained(C, links[1]?.seq ?? 0)).toBe(2);
    expect(await store.events.countEvents('p')).toBe(4);
  });

  it('gives the chain back as stored, to the byte: escaped and long text, any UUID, any number', async () => {
    const store = await open();
    const rows = [
      event({
        id: '00000000-0000-0000-0000-000000000000',
        version: '\ufeffbom first',
        user: 'twelve bytes',
        space: 'thirteen byte',
        model: 'é😀\u2028\u007f',
        props: '{"q":"\\"quoted\\" \\\\ back\\nslash \\u0001"}',
      }),
      event({
        id: 'ffffffff-ffff-ffff-ffff-ffffffffffff',
        late: true,
        total_ms: 1e-7,
        context_ms: 0.1 + 0.2,
        llm_ms: 1e21,
        confidence: 0.123456789,
        prompt_tokens: 2_147_483_647,
        completion_tokens: 0,
        cache_hit: false,
        cache_read_tokens: 0,
        cost_usd: 0.0042,
      }),
      event({
        id: '80000000-0000-0000-0000-000000000000',
        error_type: 'four bytes: 😀, two: é',
        // Longer than a pass of the hasher's escaper and than its buffer once escaped.
        props: JSON.stringify({ note: 'é"\\\n\u0002'.repeat(6_000) }),
      }),
      event({
        id: '7fffffff-ffff-ffff-ffff-ffffffffffff',
        cost_usd: 1.25,
        prompt_cost_usd: 1,
        completion_cost_usd: 0.25,
        cache_hit: true,
      }),
    ];
    const link = await append(store, rows);
    const read: EventRow[] = [];
    for await (const { columns, batches: page } of store.events.readChain()) {
      for (const { from, to } of page) read.push(...eventRowsOf(columns, from, to));
    }
    expect(read).toEqual(rows);
    expect(await verifyChain(store.events)).toEqual({ ok: true, batches: 1, events: rows.length });
    expect(await store.events.chainHead(C)).toEqual(link);
  });

  it('answers exact aggregates over raw events, bucketed, grouped and filtered', async () => {
    const store = await open();
    const llm = (ts: number, model: string, total: number) =>
      event({
        type: 'llm.request',
        ts,
        model,
        total_ms: total,
        props: `{"team":"${model === 'a' ? 'x' : 'y'}"}`,
      });
    await append(store, [
      llm(T0, 'a', 10),
      llm(T0 + 1, 'a', 20),
      llm(T0 + 2, 'b', 60),
      llm(T0 + HOUR, 'a', 40),
    ]);
    const base = { project: 'p', type: 'llm.request', from: T0, to: T0 + 2 * HOUR, filters: [] };
    expect(await store.events.aggregateRaw({ ...base, aggregate: 'count', groupBy: [] })).toEqual([
      { bucket: T0, groups: [], value: 4, count: 4 },
    ]);
    const byHour = await store.events.aggregateRaw({
      ...base,
      aggregate: 'avg',
      field: 'total_ms',
      bucket: 'hour',
      groupBy: ['model'],
    });
    expect(byHour.map((r) => [r.bucket - T0, r.groups, r.value, r.count])).toEqual([
      [0, ['a'], 15, 2],
      [0, ['b'], 60, 1],
      [HOUR, ['a'], 40, 1],
    ]);
    const filtered = await store.events.aggregateRaw({
      ...base,
      aggregate: 'max',
      field: 'total_ms',
      groupBy: [{ prop: 'team' }],
      filters: [{ field: { prop: 'team' }, value: 'x' }],
    });
    expect(filtered.map((r) => [r.groups, r.value])).toEqual([[['x'], 40]]);
  });

  it('expires events of one project and records the expiry as the next link of the chain', async () => {
    const store = await open();
    await append(store, [event({ ts: T0 - 2 * DAY }), event({ project: 'q', ts: T0 - 2 * DAY })]);
    await append(store, [event({ ts: T0 - 2 * DAY }), event({ ts: T0 })]);
    // Marks left by releases before expiries were chained: none in a new store.
    expect(await store.events.adoptExpiredMarks(expiryRecorder(C, () => null))).toBeNull();
    const head = await store.events.chainHead(C);
    const result = await store.events.expire(
      'p',
      T0 - DAY,
      expiryRecorder(C, () => head),
    );
    expect(result).toMatchObject({
      deleted: 2,
      batches: 2,
      link: { seq: (head?.seq ?? 0) + 1, prevHash: head?.hash },
    });
    expect(await store.events.chainHead(C)).toEqual(result.link);
    expect(await store.events.chainExpiries()).toEqual([result.link]);
    expect(await store.events.countEvents('p')).toBe(1);
    expect(await store.events.countEvents('q')).toBe(1);
    expect((await verifyChain(store.events)).ok).toBe(true);
    // Nothing older left: nothing deleted and no link appended.
    const again = await store.events.expire(
      'p',
      T0 - DAY,
      expiryRecorder(C, () => result.link),
    );
    expect(again).toMatchObject({ deleted: 0, link: null });
  });

  it('keeps one audit chain per writer: each numbered and hashed on its own, read, expired and verified per chain', async () => {
    const store = await open();
    const a1 = await append(store, [event(), event()], [], 'a');
    const b1 = await append(store, [event({ ts: T0 + 1 })], [], 'b');
    const a2 = await append(
      store,
      [event({ ts: T0 + 1 }), event({ ts: T0 + 2 }), event({ project: 'q', ts: T0 })],
      [],
      'a',
    );
    expect([a1.seq, b1.seq, a2.seq]).toEqual([1, 1, 2]);
    // Each chain starts from a hash of its own name: one chain's batches cannot pass for another's.
    expect(a1.prevHash).not.toBe(b1.prevHash);
    expect(await store.events.chainHead('a')).toEqual(a2);
    expect(await store.events.chainHead('b')).toEqual(b1);
    expect(await store.events.chainHead('c')).toBeNull();
    expect(await store.events.chainLink('b', 1)).toEqual(b1);
    expect(await store.events.chainLink('b', 2)).toBeNull();
    expect(await store.events.chains()).toEqual([a2, b1]);
    const fromA = await store.events.readCommitted('a', 0, 100);
    expect(fromA.batches.map((b) => [b.seq, b.rows.length])).toEqual([
      [1, 2],
      [2, 3],
    ]);
    expect(fromA.throughSeq).toBe(2);
    expect((await store.events.readCommitted('a', 1, 100)).batches.map((b) => b.seq)).toEqual([2]);
    expect((await store.events.readCommitted('b', 0, 100)).batches.map((b) => b.rows.length)).toEqual([1]);
    expect(await store.events.lastBatchesBefore('p', T0 + 3)).toEqual(
      new Map([
        ['a', 2],
        ['b', 1],
      ]),
    );
    expect(await verifyChain(store.events)).toEqual({ ok: true, batches: 3, events: 6, chains: 2 });

    // The rollup watermark is kept per chain.
    await store.rollups.write([], [], { chain: 'a', seq: 2, rows: 0 });
    expect(await store.rollups.watermark('a')).toEqual({ chain: 'a', seq: 2, rows: 0 });
    expect(await store.rollups.watermark('b')).toEqual({ chain: 'b', seq: 0, rows: 0 });

    // One writer records an expiry in its own chain; it names the batches it touched in each chain.
    const expired = await store.events.expire(
      'p',
      T0 + 2,
      expiryRecorder('b', () => b1),
    );
    expect(expired).toMatchObject({ deleted: 4, batches: 3, link: { chain: 'b', seq: 2 } });
    expect(expired.link?.expiry).toMatchObject({
      emptied: [
        { chain: 'a', from: 1, to: 1 },
        { chain: 'b', from: 1, to: 1 },
      ],
      kept: [{ chain: 'a', seq: 2, remaining: 2 }],
    });
    expect(await store.events.chainExpiries()).toEqual([expired.link]);
    expect(await verifyChain(store.events)).toMatchObject({ ok: true, batches: 4, events: 2, chains: 2 });

    // A writer's debris after its head is its own: the other chain keeps its rows.
    expect(await store.events.discardUnchained('b', 2)).toBe(0);
    expect(await store.events.discardUnchained('a', 1)).toBe(2);
    expect(await store.events.countEvents()).toBe(0);
  });

  it('health figures: per-type counts and version tags, receive-time counts, daily totals, first event', async () => {
    const store = await open();
    expect(await store.health.firstEventTs('p')).toBeNull();
    await append(store, [
      event({ type: 'a', version: '1.0', ts: T0 }),
      event({ type: 'a', version: null, ts: T0 + 5 }),
      event({ type: 'a', version: '9.9', ts: T0 + 7, received_at: T0 + DAY }),
      event({ type: 'b', version: '1.0', ts: T0 - DAY }),
      event({ project: 'q', type: 'a', ts: T0 }),
    ]);
    const day = { project: 'p', from: Date.UTC(2026, 10, 1), to: Date.UTC(2026, 10, 2) };
    expect(await store.health.typeStats(day, ['1.0'])).toEqual([
      { type: 'a', count: 3, versionMissing: 1, versionUnknown: 1, lastTs: T0 + 7 },
    ]);
    expect((await store.health.typeStats(day, []))[0]?.versionUnknown).toBe(0);
    expect(await store.health.countReceived(day)).toBe(2);
    const totals = await store.health.dailyTotals('p', ['2026-10-31', '2026-11-01', '2026-11-02']);
    expect([...totals]).toEqual([
      ['2026-10-31', 1],
      ['2026-11-01', 3],
      ['2026-11-02', 0],
    ]);
    expect(await store.health.firstEventTs('p')).toBe(T0 - DAY);
  });

  it('health sample: the events of lowest rank (model/sampling.ts) for the seed, in rank order', async () => {
    const store = await open();
    // Ids with random tails, as UUIDv4/v7 have them.
    const rows = Array.from({ length: 50 }, (_, i) =>
      event({ ts: T0 + i * MINUTE, id: randomIdAt(T0 + i * MINUTE) }),
    );
    await append(store, rows);
    const window = { project: 'p', from: T0, to: T0 + DAY };
    const s1 = await store.health.sample(window, 'seed-1', 10);
    expect(s1).toHaveLength(10);
    // Every engine picks these: the ranks are computed here, from the ids alone.
    const byRank = (seed: string, of: readonly EventRow[] = rows) =>
      of
        .map((r) => ({ id: r.id, rank: sampleRank(r.id, seed) }))
        .sort((a, b) => (a.rank < b.rank ? -1 : a.rank > b.rank ? 1 : a.id < b.id ? -1 : 1))
        .map((r) => r.id);
    expect(s1.map((r) => r.id)).toEqual(byRank('seed-1').slice(0, 10));
    expect(new Set(s1.map((r) => r.id)).size).toBe(10);
    expect(await store.health.sample(window, 'seed-1', 10, 50)).toEqual(s1);
    expect((await store.health.sample(window, 'seed-2', 10)).map((r) => r.id)).not.toEqual(
      s1.map((r) => r.id),
    );
    expect(await store.health.sample(window, 'seed-1', 100)).toHaveLength(50);
    const wide = Array.from({ length: 1_000 }, (_, i) =>
      event({ ts: T0 + DAY + i, id: randomIdAt(T0 + DAY + i) }),
    );
    await append(store, wide);
    const next = { project: 'p', from: T0 + DAY, to: T0 + 2 * DAY };
    // With the population hint (a pre-filter on the rank) the same sample as without.
    expect(await store.health.sample(next, 'seed-3', 5, 1_000)).toEqual(
      await store.health.sample(next, 'seed-3', 5),
    );
    // Ids whose tail is a counter (as some UUIDv7 generators make them): their keys are far from
    // uniform, so a threshold guessed from the population lets too few pass; the sample is still
    // the lowest ranks, with the hint and without.
    const counted = Array.from({ length: 1_000 }, (_, i) =>
      event({ ts: T0 + 2 * DAY + i, id: idAt(T0 + 2 * DAY + i) }),
    );
    await append(store, counted);
    const third = { project: 'p', from: T0 + 2 * DAY, to: T0 + 3 * DAY };
    for (const seed of ['seed-4', 'seed-5']) {
      const expected = byRank(seed, counted).slice(0, 7);
      expect((await store.health.sample(third, seed, 7, 1_000)).map((r) => r.id)).toEqual(expected);
      expect((await store.health.sample(third, seed, 7)).map((r) => r.id)).toEqual(expected);
    }
  });

  it('health: referenced signals and rejection counters', async () => {
    const store = await open();
    await append(store, [
      event({ type: 'decision.recommendation', signal_id: 's1', action: 'view', ts: T0 }),
      event({ type: 'decision.recommendation', signal_id: 's2', action: 'view', ts: T0 + HOUR }),
    ]);
    expect(await store.health.recommendedSignals('p', ['s1', 's2', 's3'], T0)).toEqual(new Set(['s1']));
    await store.health.addRejections([
      { project: 'p', day: '2026-11-01', count: 2 },
      { project: 'q', day: '2026-11-01', count: 5 },
    ]);
    await store.health.addRejections([{ project: 'p', day: '2026-11-01', count: 3 }]);
    await store.health.addRejections([{ project: 'p', day: '2026-11-03', count: 1 }]);
    expect(await store.health.rejections('p', '2026-11-01', '2026-11-02')).toEqual([
      { project: 'p', day: '2026-11-01', count: 5 },
    ]);
  });

  it('rollups: delta rows of one key from several writes merge at read time, and compaction changes no answer', async () => {
    const store = await open();
    expect(await store.rollups.watermark(C)).toEqual({ chain: C, seq: 0, rows: 0 });
    const tile = { res: '1m' as const, from: T0, to: T0 + 10 * MINUTE };
    // Two writers' deltas for the same buckets (as two instances would write them).
    await store.rollups.write(
      [
        rollupRow({ bucket: T0, dim: 'm1' }, { n: 2, errors: 1 }, [10, 20]),
        rollupRow({ bucket: T0 + MINUTE, dim: 'm2' }, { n: 1 }, [5]),
      ],
      [{ project: 'p', signal_id: 's1', recommendation_type: 'risk', explanation_version: 'v1' }],
      { chain: C, seq: 1, rows: 0 },
    );
    await store.rollups.write([rollupRow({ bucket: T0, dim: 'm1' }, { n: 3 }, [1, 2, 90])], [], {
      chain: C,
      seq: 2,
      rows: 0,
    });
    expect(await store.rollups.watermark(C)).toEqual({ chain: C, seq: 2, rows: 0 });

    const q = { project: 'p', family: 'llm' as const, grp: 'model', tiles: [tile] };
    const raw = await store.rollups.read(q);
    const merged = (rows: RollupRow[], dim: string) => mergeRows(rows.filter((r) => r.dim === dim));
    expect(merged(raw, 'm1').counters).toMatchObject({ n: 5, errors: 1 });
    expect(merged(raw, 'm1').fields.total_ms).toEqual({ n: 5, sum: 123, min: 1, max: 90, sketch: null });
    const byDim = await store.rollups.read({ ...q, scalarOnly: 'by_dim' });
    expect(byDim.map((r) => [r.dim, r.counters.n, r.fields.total_ms?.sum]).sort()).toEqual([
      ['m1', 5, 123],
      ['m2', 1, 5],
    ]);
    const byBucket = await store.rollups.read({ ...q, scalarOnly: 'by_bucket' });
    expect(counts(byBucket)).toEqual(
      counts([
        rollupRow({ bucket: T0, dim: 'm1' }, { n: 5 }),
        rollupRow({ bucket: T0 + MINUTE, dim: 'm2' }, { n: 1 }),
      ]),
    );
    const top = await store.rollups.read({
      ...q,
      scalarOnly: 'by_dim',
      top: { fields: ['total_ms'], limit: 1 },
    });
    expect(top.map((r) => r.dim)).toEqual(['m1']);
    expect((await store.rollups.read({ ...q, dims: ['m2'] })).map((r) => r.dim)).toEqual(['m2']);

    const groups = await store.rollups.readGroups({
      project: 'p',
      family: 'llm',
      groups: [{ grp: 'model', dims: ['m1'] }],
      tiles: [tile],
    });
    expect(mergeRows(groups).counters.n).toBe(5);
    const windows = await store.rollups.sumWindows({
      project: 'p',
      family: 'llm',
      groups: [{ grp: 'model' }],
      windows: [[{ res: '1m', from: T0, to: T0 + MINUTE }], [tile]],
    });
    expect(windows.map((w) => [w.window, w.row.dim, w.row.counters.n]).sort()).toEqual([
      [0, 'm1', 5],
      [1, 'm1', 5],
      [1, 'm2', 1],
    ]);
    expect(await store.rollups.signals('p', ['s1', 's9'])).toEqual([
      { project: 'p', signal_id: 's1', recommendation_type: 'risk', explanation_version: 'v1' },
    ]);

    const before = await store.rollups.read({ ...q, scalarOnly: 'by_dim' });
    expect(await store.rollups.compact()).toBe(1);
    expect(await store.rollups.compact()).toBe(0);
    expect(await store.rollups.read(q)).toHaveLength(2);
    const byDimOrder = (rows: RollupRow[]) => [...rows].sort((x, y) => x.dim.localeCompare(y.dim));
    expect(byDimOrder(await store.rollups.read({ ...q, scalarOnly: 'by_dim' }))).toEqual(byDimOrder(before));
  });

  it('rollups: expire per resolution', async () => {
    const store = await open();
    await store.rollups.write(
      [
        rollupRow({ bucket: T0, dim: 'm1' }, { n: 2 }),
        rollupRow({ bucket: T0 + DAY, dim: 'm1' }, { n: 1 }),
        rollupRow({ res: '1h', bucket: T0, dim: 'm1' }, { n: 2 }),
        rollupRow({ res: '1d', bucket: Date.UTC(2026, 10, 1), dim: 'm1' }, { n: 2 }),
      ],
      [],
      { chain: C, seq: 1, rows: 0 },
    );
    expect(await store.rollups.expire('p', ['1m'], T0 + DAY)).toBe(1);
    expect(await store.rollups.expire('q', ['1h'], T0 + 3 * DAY)).toBe(0);
    const left = await store.rollups.read({
      project: 'p',
      family: 'llm',
      grp: 'model',
      tiles: [
        { res: '1m', from: T0, to: T0 + 2 * DAY },
        { res: '1h', from: T0, to: T0 + HOUR },
      ],
    });
    expect(left.map((r) => [r.res, r.bucket - T0, r.counters.n])).toEqual(
      expect.arrayContaining([
        ['1m', DAY, 1],
        ['1h', 0, 2],
      ]),
    );
    expect(left).toHaveLength(2);
  });

  it('reprice: sets the priced cost of events and replaces the llm rollups of whole days, nothing else', async () => {
    const store = await open();
    const day = Math.floor(T0 / DAY) * DAY;
    const priced = event({
      type: 'llm.request',
      model: 'm1',
      cost_usd: 1,
      prompt_cost_usd: 0.4,
      completion_cost_usd: 0.6,
    });
    const other = event({
      project: 'q',
      type: 'llm.request',
      model: 'm1',
      cost_usd: 1,
      prompt_cost_usd: 0.4,
      completion_cost_usd: 0.6,
    });
    await append(store, [priced, other]);
    await store.rollups.write(
      [
        rollupRow({ bucket: T0, dim: 'm1' }, { n: 1 }),
        rollupRow({ res: '1d', bucket: day, dim: 'm1' }, { n: 1 }),
        rollupRow({ bucket: T0 + DAY, dim: 'm1' }, { n: 7 }),
        rollupRow({ family: 'decision', grp: 'all', bucket: T0, dim: '' }, { n: 2 }),
        rollupRow({ project: 'q', bucket: T0, dim: 'm1' }, { n: 1 }),
      ],
      [],
      { chain: C, seq: 1, rows: 0 },
    );
    await expect(
      store.rollups.reprice({ project: 'p', from: T0, to: T0 + DAY, costs: [], rows: [] }),
    ).rejects.toThrow(/whole days/);
    await store.rollups.reprice({
      project: 'p',
      from: day,
      to: day + DAY,
      costs: [{ id: priced.id, cost_usd: 2, prompt_cost_usd: 0.5, completion_cost_usd: 1.5 }],
      rows: [
        rollupRow({ bucket: T0, dim: 'm1' }, { n: 1 }, [2]),
        rollupRow({ res: '1d', bucket: day, dim: 'm1' }, { n: 1 }, [2]),
      ],
    });
    const [p] = await store.events.listEvents({ project: 'p', limit: 1 });
    expect([p?.cost_usd, p?.prompt_cost_usd, p?.completion_cost_usd]).toEqual([2, 0.5, 1.5]);
    const [q] = await store.events.listEvents({ project: 'q', limit: 1 });
    expect(q?.cost_usd).toBe(1);
    const read = (project: string, family: 'llm' | 'decision', grp: string, from: number, to: number) =>
      store.rollups.read({
        project,
        family,
        grp,
        tiles: (['1m', '1d'] as const).map((res) => ({ res, from, to })),
      });
    expect(
      (await read('p', 'llm', 'model', day, day + DAY)).map((r) => [r.res, r.fields.total_ms?.sum]).sort(),
    ).toEqual([
      ['1d', 2],
      ['1m', 2],
    ]);
    // The next day, the other family and the other project keep their rows.
    expect((await read('p', 'llm', 'model', day + DAY, day + 2 * DAY)).map((r) => r.counters.n)).toEqual([7]);
    expect((await read('p', 'decision', 'all', day, day + DAY)).map((r) => r.counters.n)).toEqual([2]);
    expect((await read('q', 'llm', 'model', day, day + DAY)).map((r) => r.counters.n)).toEqual([1]);
  });

  it('metric samples: appended, listed newest first by name, labels and range, with their series', async () => {
    const store = await open();
    const sample = (over: Partial<MetricSample>): MetricSample => ({
      project: 'p',
      name: 'up',
      labels: {},
      value: 1,
      ts: T0,
      kind: 'gauge',
      source: 'collector:a',
      snapshotId: null,
      ...over,
    });
    expect(
      await store.samples.append([
        sample({ labels: { a: '1' }, value: 1, ts: T0 }),
        sample({ labels: { a: '1', b: '2' }, value: 0, ts: T0 + MINUTE, snapshotId: 's2' }),
        sample({ name: 'up_time', value: 7, ts: T0 + MINUTE }),
        sample({ project: 'q', value: 3 }),
      ]),
    ).toBe(4);
    const up = await store.samples.list({ project: 'p', name: 'up', from: T0, to: T0 + HOUR, limit: 10 });
    expect(up.map((s) => s.value)).toEqual([0, 1]);
    expect(up[0]).toMatchObject({ labels: { a: '1', b: '2' }, snapshotId: 's2', kind: 'gauge' });
    expect(
      await store.samples.list({
        project: 'p',
        name: 'up',
        from: T0,
        to: T0 + HOUR,
        labels: { b: '2' },
        limit: 10,
      }),
    ).toHaveLength(1);
    const series = await store.samples.series({ project: 'p', from: T0, to: T0 + HOUR, namePrefix: 'up' });
    expect(series.map((s) => [s.name, s.samples, s.lastValue]).sort()).toEqual([
      ['up', 1, 0],
      ['up', 1, 1],
      ['up_time', 1, 7],
    ]);
    expect(await store.samples.expire('p', T0 + 1)).toBe(1);
    expect(await store.samples.list({ project: 'p', from: 0, to: T0 + HOUR, limit: 10 })).toHaveLength(2);
  });

  it('sample rollups: 1m/1h/1d deltas merge at read time, compact to the same answer, expire per resolution', async () => {
    const store = await open();
    const sample = (labels: Record<string, string>, value: number, ts: number): MetricSample => ({
      project: 'p',
      name: 'up',
      labels,
      value,
      ts,
      kind: 'gauge',
      source: 'collector:a',
      snapshotId: null,
    });
    await store.samples.append([
      sample({ v: 'a' }, 2, T0 + 1_000),
      sample({ v: 'a' }, 4, T0 + 2_000),
      sample({ v: 'b' }, 10, T0 + 1_000),
    ]);
    await store.samples.append([
      sample({ v: 'a' }, 1, T0 + 30_000),
      sample({ v: 'a' }, Number.NaN, T0 + 40_000),
      sample({ v: 'a' }, 9, T0 + 61_000),
      sample({ v: 'a' }, 5, T0 + 2 * HOUR),
    ]);
    const q = { project: 'p', name: 'up', from: T0, to: T0 + 3 * HOUR, maxSeries: 10 };
    const minutes = await store.samples.history({ ...q, bucket: 'minute' });
    expect(
      minutes.map((r) => [r.labels.v, r.bucket - T0, r.count, r.sum, r.min, r.max, r.lastValue]),
    ).toEqual([
      ['a', 0, 3, 7, 1, 4, 1],
      ['a', 60_000, 1, 9, 9, 9, 9],
      ['a', 2 * HOUR, 1, 5, 5, 5, 5],
      ['b', 0, 1, 10, 10, 10, 10],
    ]);
    const hours = await store.samples.history({ ...q, bucket: 'hour', labels: { v: 'a' } });
    expect(hours.map((r) => [r.bucket - T0, r.count, r.sum, r.lastValue])).toEqual([
      [0, 4, 16, 9],
      [2 * HOUR, 1, 5, 5],
    ]);
    const monday = Date.UTC(2026, 9, 26);
    const weeks = await store.samples.history({ ...q, from: monday, bucket: 'week' });
    expect(weeks.map((r) => [r.labels.v, r.bucket, r.count])).toEqual([
      ['a', monday, 5],
      ['b', monday, 1],
    ]);
    const months = await store.samples.history({ ...q, from: Date.UTC(2026, 10, 1), bucket: 'month' });
    expect(months.map((r) => [r.labels.v, r.bucket, r.sum])).toEqual([
      ['a', Date.UTC(2026, 10, 1), 21],
      ['b', Date.UTC(2026, 10, 1), 10],
    ]);
    expect(await store.samples.history({ ...q, bucket: 'minute', maxSeries: 1 })).toHaveLength(3);
    expect(await store.samples.compactRollups(0)).toBeGreaterThan(0);
    expect(await store.samples.compactRollups(0)).toBe(0);
    expect(await store.samples.history({ ...q, bucket: 'minute' })).toEqual(minutes);
    await store.samples.expire('p', T0 + 10 * HOUR);
    expect(await store.samples.history({ ...q, bucket: 'minute' })).toEqual(minutes);
    expect(await store.samples.expireRollups('p', ['1m'], T0 + 10 * HOUR)).toBe(4);
    expect(await store.samples.history({ ...q, bucket: 'minute' })).toEqual([]);
    expect(await store.samples.history({ ...q, bucket: 'hour', labels: { v: 'a' } })).toEqual(hours);
  });

  it('migrations: at the latest version when opened, and each step reversible', async () => {
    const { migrations } = await open();
    const status = await migrations.status();
    expect(status.current).toBe(status.latest);
    expect(await migrations.down()).toEqual([status.latest]);
    expect(await migrations.up()).toEqual([status.latest]);
    await expect(migrations.down(status.latest + 1)).rejects.toMatchObject({
      code: 'invalid_migration_target',
    });
  });
}
