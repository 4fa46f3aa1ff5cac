import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ClickHouseServer, startClickHouse } from '../../test/clickhouse.js';
import { ClickHouseConnection } from './connection.js';
import { bigint, float, ident, int, limit, ms, type Sql, sql, str, stringSet, strings, uint } from './sql.js';

/**
 * Each quoting function against a real ClickHouse 18.16: any value quoted and selected back comes
 * out identical, and never changes the statement (one row, the expected columns, the table intact).
 */
let server: ClickHouseServer;
let conn: ClickHouseConnection;

beforeAll(async () => {
  server = await startClickHouse();
  conn = new ClickHouseConnection({ url: server.url, database: 'quoting' });
  await conn.createDatabase();
  await conn.command(sql`CREATE TABLE guarded (name String, n UInt32) ENGINE = MergeTree ORDER BY name`);
  await conn.insert('guarded', [{ name: 'sentinel', n: 1 }]);
}, 120_000);

afterAll(async () => {
  await conn?.close();
  await server?.stop();
});

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
/** Text with the characters that break naive quoting, spliced into arbitrary Unicode. */
const nasty = fc
  .array(
    fc.oneof(
      fc.string({ unit: 'binary' }),
      fc.string({ unit: 'grapheme' }),
      fc.constantFrom(
        "'",
        "\\'",
        '\\',
        '"',
        '`',
        '\0',
        '\n',
        '\r',
        '\t',
        '\x7f',
        '\\x00',
        "'; DROP TABLE guarded; --",
        "' OR 1=1 --",
        '/*',
        '*/',
        '?',
        '{a:String}',
        'FORMAT TSV',
        '\u2028',
        '😀',
      ),
    ),
    { maxLength: 8 },
  )
  .map((parts) => parts.join(''))
  // JavaScript text that is not valid Unicode cannot be stored as UTF-8 by any engine.
  .filter((s) => !LONE_SURROGATE.test(s));

async function selectOne(expr: Sql): Promise<Record<string, unknown>> {
  const rows = await conn.rows(sql`SELECT ${expr} AS v, toUInt8(7) AS marker`);
  expect(rows).toHaveLength(1);
  expect(Object.keys(rows[0] ?? {})).toEqual(['v', 'marker']);
  expect(rows[0]?.marker).toBe(7);
  return rows[0] as Record<string, unknown>;
}

async function guardedIntact(): Promise<void> {
  expect(await conn.rows(sql`SELECT name, n FROM guarded`)).toEqual([{ name: 'sentinel', n: 1 }]);
}

const RUNS = { numRuns: 300 };

describe('quoting for ClickHouse 18.16 (no query parameters)', () => {
  it('str: any text selects back identical and stays one literal', async () => {
    await fc.assert(
      fc.asyncProperty(nasty, async (s) => {
        expect((await selectOne(str(s))).v).toBe(s);
        const [hit] = await conn.rows<{ c: string }>(
          sql`SELECT count() AS c FROM guarded WHERE name = ${str(s)}`,
        );
        expect(Number(hit?.c)).toBe(s === 'sentinel' ? 1 : 0);
      }),
      RUNS,
    );
    await guardedIntact();
  });

  it('strings and stringSet: any list of text is one Array(String) literal (empty included) or one IN set', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(nasty, { maxLength: 6 }), async (list) => {
        const row = await selectOne(strings(list));
        expect(row.v).toEqual(list);
        const [hit] = await conn.rows<{ c: string }>(
          sql`SELECT count() AS c FROM guarded WHERE has(${strings(list)}, name)`,
        );
        expect(Number(hit?.c)).toBe(list.includes('sentinel') ? 1 : 0);
        if (list.length > 0) {
          const [inSet] = await conn.rows<{ c: string }>(
            sql`SELECT count() AS c FROM guarded WHERE name IN ${stringSet(list)}`,
          );
          expect(Number(inSet?.c)).toBe(list.includes('sentinel') ? 1 : 0);
          const [back] = await conn.rows<{ v: string[] }>(
            sql`SELECT groupArray(x) AS v FROM (SELECT arrayJoin(${strings(list)}) AS x) WHERE x IN ${stringSet(list)}`,
          );
          expect(back?.v).toEqual(list);
        }
      }),
      RUNS,
    );
    await guardedIntact();
  });

  it('ident: any name is one identifier', async () => {
    await fc.assert(
      fc.asyncProperty(
        nasty.filter((s) => s.length > 0),
        async (name) => {
          const rows = await conn.rows(sql`SELECT toUInt8(1) AS ${ident(name)}`);
          expect(rows).toEqual([{ [name]: 1 }]);
        },
      ),
      RUNS,
    );
    await guardedIntact();
  });

  it('int, uint, ms and limit: every safe integer exactly; anything else is refused before SQL', async () => {
    await fc.assert(
      fc.asyncProperty(fc.maxSafeInteger(), async (n) => {
        expect(Number((await selectOne(int(n))).v)).toBe(n);
        expect(Number((await selectOne(ms(n))).v)).toBe(n);
        if (n >= 0) expect(Number((await selectOne(uint(n))).v)).toBe(n);
        if (n >= 0) {
          const rows = await conn.rows(sql`SELECT number FROM system.numbers LIMIT ${limit(n % 4)}`);
          expect(rows).toHaveLength(n % 4);
        }
      }),
      RUNS,
    );
    for (const bad of [0.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 53, '1; DROP' as unknown as number]) {
      expect(() => int(bad)).toThrow(TypeError);
    }
    expect(() => uint(-1)).toThrow(TypeError);
    expect(() => limit(-1)).toThrow(TypeError);
    expect(() => limit(1.5)).toThrow(TypeError);
  });

  it('bigint: every 64-bit integer exactly (sample keys and masks exceed 2^53)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.bigInt({ min: -(1n << 63n), max: (1n << 63n) - 1n }), async (n) => {
        expect(BigInt((await selectOne(bigint(n))).v as string)).toBe(n);
      }),
      RUNS,
    );
    expect(() => bigint(1n << 63n)).toThrow(TypeError);
  });

  it('float: every double exactly, NaN, ±Inf and -0 included', async () => {
    const decode = (v: unknown) =>
      v === 'nan'
        ? Number.NaN
        : v === 'inf'
          ? Number.POSITIVE_INFINITY
          : v === '-inf'
            ? Number.NEGATIVE_INFINITY
            : v;
    await fc.assert(
      fc.asyncProperty(fc.double(), async (x) => {
        expect(Object.is(decode((await selectOne(float(x))).v), x)).toBe(true);
      }),
      RUNS,
    );
  });

  it('inserts travel as JSONEachRow data: any text is stored and read back identical', async () => {
    await conn.command(
      sql`CREATE TABLE IF NOT EXISTS texts (k UInt32, s String, a Array(String)) ENGINE = MergeTree ORDER BY k`,
    );
    let k = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(nasty, { minLength: 1, maxLength: 5 }), async (list) => {
        const first = k;
        const rows = list.map((s) => ({ k: k++, s, a: [s, ...list] }));
        await conn.insert('texts', rows);
        const back = await conn.rows(
          sql`SELECT k, s, a FROM texts WHERE k >= ${uint(first)} AND k < ${uint(k)} ORDER BY k`,
        );
        expect(back).toEqual(rows);
      }),
      { numRuns: 100 },
    );
    await guardedIntact();
  });
});
