/**
 * Events read as columns straight from DuckDB's result vectors (`EventColumns`): numbers and
 * flags copied from the vectors' memory, string bytes copied as stored (no JS string), the UUID
 * formatted from its 16 bytes. Row objects cost about 20 µs per event in conversions and garbage
 * (bench/verify.ts measures both); this is what lets `vigil verify` go over a year's chain.
 */
import { type DuckDBDataChunk, type DuckDBResult, DuckDBTypeId } from '@duckdb/node-api';
import duckdb from '@duckdb/node-bindings';
import {
  COLUMN_KINDS,
  EVENT_FIELDS,
  type EventColumns,
  EventColumnsBuilder,
  type EventRow,
  TYPED_FIELDS,
} from '../../model/index.js';

/** The SQL type each field is read as. */
function sqlType(f: keyof EventRow): 'UUID' | 'TIMESTAMP' | 'VARCHAR' | 'BOOLEAN' | 'INTEGER' | 'DOUBLE' {
  if (f === 'id') return 'UUID';
  if (f === 'ts' || f === 'received_at') return 'TIMESTAMP';
  const kind = COLUMN_KINDS[f];
  if (kind === 'string') return 'VARCHAR';
  if (kind === 'boolean') return 'BOOLEAN';
  return f in TYPED_FIELDS && TYPED_FIELDS[f as keyof typeof TYPED_FIELDS].kind === 'integer'
    ? 'INTEGER'
    : 'DOUBLE';
}

/**
 * The SELECT list of a columnar read: every stored field in `EVENT_FIELDS` order (times as epoch
 * ms), then the batch key and the row's place in its batch. Each is cast to the type it was
 * created with (free when it has it): a column whose type was altered is read as its values (a
 * value that does not convert reads as null, which its batch's hash then shows), never as memory
 * of another layout.
 */
export const COLUMNS_SELECT = [
  ...EVENT_FIELDS.map((f) => {
    const cast = `TRY_CAST("${f}" AS ${sqlType(f)})`;
    return sqlType(f) === 'TIMESTAMP' ? `epoch_ms(${cast})` : cast;
  }),
  'batch_seq',
  'batch_row',
].join(', ');

const TYPE_IDS = {
  UUID: DuckDBTypeId.UUID,
  TIMESTAMP: DuckDBTypeId.BIGINT,
  VARCHAR: DuckDBTypeId.VARCHAR,
  BOOLEAN: DuckDBTypeId.BOOLEAN,
  INTEGER: DuckDBTypeId.INTEGER,
  DOUBLE: DuckDBTypeId.DOUBLE,
} as const;

/** The type DuckDB gives each selected column; anything else is refused before its memory is read. */
const EXPECTED: readonly DuckDBTypeId[] = [
  ...EVENT_FIELDS.map((f) => TYPE_IDS[sqlType(f)]),
  DuckDBTypeId.BIGINT,
  DuckDBTypeId.INTEGER,
];

const HEX = new TextEncoder().encode('0123456789abcdef');
const TWO_32 = 4_294_967_296;

/**
 * Reads a result of `SELECT ${COLUMNS_SELECT} …` into columns, with each row's batch key; `sorted`
 * says whether the rows came in the order of (batch key, place in batch).
 */
export function readColumns(
  result: DuckDBResult,
  chunks: readonly DuckDBDataChunk[],
): {
  columns: EventColumns;
  keys: Float64Array;
  sorted: boolean;
} {
  for (let i = 0; i < EXPECTED.length; i++) {
    if (result.columnTypeId(i) !== EXPECTED[i])
      throw new Error(
        `events column ${result.columnName(i)} is ${result.columnType(i).toString()}, not the type it was created with`,
      );
  }
  let total = 0;
  for (const chunk of chunks) total += chunk.rowCount;
  const builder = new EventColumnsBuilder(total);
  const keys = new Float64Array(total);
  let sorted = true;
  let lastKey = Number.NEGATIVE_INFINITY;
  let lastRow = 0;
  for (const chunk of chunks) {
    const n = chunk.rowCount;
    if (n === 0) continue;
    builder.grow(n);
    const base = builder.length;
    const raw = chunk.chunk;
    for (let i = 0; i < EVENT_FIELDS.length; i++) {
      const field = EVENT_FIELDS[i] as keyof EventRow;
      const vector = duckdb.data_chunk_get_vector(raw, i);
      const valid = duckdb.vector_get_validity(vector, Math.ceil(n / 64) * 8) as Uint8Array | null;
      const column = builder.columns[field];
      const type = EXPECTED[i];
      if (type === DuckDBTypeId.UUID) readUuids(builder, vector, valid, n, base, field);
      else if (type === DuckDBTypeId.VARCHAR) readStrings(builder, vector, valid, n, base, field);
      else if (column.kind === 'number') {
        if (type === DuckDBTypeId.BIGINT) readBigInts(vector, n, column.value, base);
        else if (type === DuckDBTypeId.INTEGER) {
          const data = duckdb.vector_get_data(vector, n * 4);
          column.value.set(new Int32Array(data.buffer, data.byteOffset, n), base);
        } else {
          const data = duckdb.vector_get_data(vector, n * 8);
          column.value.set(new Float64Array(data.buffer, data.byteOffset, n), base);
        }
        const set = column.set;
        for (let r = 0; r < n; r++) set[base + r] = isValid(valid, r);
      } else if (column.kind === 'boolean') {
        const data = duckdb.vector_get_data(vector, n);
        const value = column.value;
        for (let r = 0; r < n; r++) value[base + r] = isValid(valid, r) === 0 ? 2 : data[r] === 0 ? 0 : 1;
      }
    }
    readBigInts(duckdb.data_chunk_get_vector(raw, EVENT_FIELDS.length), n, keys, base);
    const places = duckdb.vector_get_data(duckdb.data_chunk_get_vector(raw, EVENT_FIELDS.length + 1), n * 4);
    const place = new Int32Array(places.buffer, places.byteOffset, n);
    for (let r = 0; r < n; r++) {
      const key = keys[base + r] as number;
      const row = place[r] as number;
      if (key < lastKey || (key === lastKey && row < lastRow)) sorted = false;
      lastKey = key;
      lastRow = row;
    }
    builder.length += n;
  }
  return { columns: builder.done(), keys: keys.subarray(0, builder.length), sorted };
}

const isValid = (valid: Uint8Array | null, r: number): number =>
  valid === null ? 1 : ((valid[r >> 3] as number) >> (r & 7)) & 1;

/** BIGINTs as numbers, as `Number(bigint)` gives them (exact up to 2^53, no BigInt below that). */
function readBigInts(vector: duckdb.Vector, n: number, into: Float64Array, base: number): void {
  const data = duckdb.vector_get_data(vector, n * 8);
  const halves = new Int32Array(data.buffer, data.byteOffset, n * 2);
  let wide: BigInt64Array | null = null;
  for (let r = 0; r < n; r++) {
    const hi = halves[2 * r + 1] as number;
    if (hi >= -2_097_152 && hi < 2_097_152) into[base + r] = hi * TWO_32 + ((halves[2 * r] as number) >>> 0);
    else {
      wide ??= new BigInt64Array(data.buffer, data.byteOffset, n);
      into[base + r] = Number(wide[r]);
    }
  }
}

/** A VARCHAR vector's values: DuckDB's 16-byte strings hold up to 12 bytes inline, else a pointer. */
function readStrings(
  builder: EventColumnsBuilder,
  vector: duckdb.Vector,
  valid: Uint8Array | null,
  n: number,
  base: number,
  field: keyof EventRow,
): void {
  const column = builder.columns[field];
  if (column.kind !== 'string') throw new Error(`${field} is not a string field`);
  const data = duckdb.vector_get_data(vector, n * 16);
  const words = new Uint32Array(data.buffer, data.byteOffset, n * 4);
  const { at, len } = column;
  for (let r = 0; r < n; r++) {
    // A null's 16 bytes are not a string: its pointer must never be followed.
    if (isValid(valid, r) === 0) {
      len[base + r] = -1;
      continue;
    }
    const length = words[4 * r] as number;
    at[base + r] =
      length <= 12
        ? builder.addText(data, 16 * r + 4, length)
        : builder.addText(
            duckdb.get_data_from_pointer(data.buffer as ArrayBuffer, data.byteOffset + 16 * r + 8, length),
            0,
            length,
          );
    len[base + r] = length;
  }
}

/**
 * UUIDs as DuckDB prints them (`id::VARCHAR`): lowercase 8-4-4-4-12. DuckDB keeps one as a 128-bit
 * integer, little-endian, with the top bit flipped so that they sort as signed numbers.
 */
function readUuids(
  builder: EventColumnsBuilder,
  vector: duckdb.Vector,
  valid: Uint8Array | null,
  n: number,
  base: number,
  field: keyof EventRow,
): void {
  const column = builder.columns[field];
  if (column.kind !== 'string') throw new Error(`${field} is not a string field`);
  const data = duckdb.vector_get_data(vector, n * 16);
  const { at, len } = column;
  for (let r = 0; r < n; r++) {
    if (isValid(valid, r) === 0) {
      len[base + r] = -1;
      continue;
    }
    const start = builder.reserveText(36);
    const text = builder.textBytes();
    let o = start;
    for (let k = 0; k < 16; k++) {
      if (k === 4 || k === 6 || k === 8 || k === 10) text[o++] = 0x2d;
      const b = (data[16 * r + 15 - k] as number) ^ (k === 0 ? 0x80 : 0);
      text[o++] = HEX[b >> 4] as number;
      text[o++] = HEX[b & 15] as number;
    }
    at[base + r] = start;
    len[base + r] = 36;
  }
}
