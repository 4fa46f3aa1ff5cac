/**
 * Event rows into DuckDB's `events` table through an appender, written column by column straight
 * into each data chunk's vectors: numbers, flags and times as one typed array copied in at once,
 * strings one call each, nulls as validity bits. node-api's chunk writer goes through a value (and
 * for times and 64-bit keys a BigInt) per item and a BigInt mask per validity bit; this is the
 * same data without that garbage.
 */
import {
  BIGINT,
  BOOLEAN,
  DOUBLE,
  type DuckDBAppender,
  DuckDBDataChunk,
  type DuckDBType,
  INTEGER,
  TIMESTAMP,
  VARCHAR,
} from '@duckdb/node-api';
import duckdb from '@duckdb/node-bindings';
import { ADDED_TYPED_FIELDS, type EventRow, FIRST_TYPED_FIELDS, TYPED_FIELDS } from '../../model/index.js';

type Column = { name: keyof EventRow | 'batch_seq' | 'batch_row' | 'sample_key'; type: DuckDBType };

const DUCK_TYPE = { double: DOUBLE, integer: INTEGER, boolean: BOOLEAN, string: VARCHAR } as const;

/** Column order of the events table, with the types the appender writes. */
const EVENT_COLUMNS: readonly Column[] = [
  // id is written as text and cast to UUID by DuckDB.
  { name: 'id', type: VARCHAR },
  { name: 'project', type: VARCHAR },
  { name: 'type', type: VARCHAR },
  { name: 'ts', type: TIMESTAMP },
  { name: 'received_at', type: TIMESTAMP },
  { name: 'late', type: BOOLEAN },
  { name: 'version', type: VARCHAR },
  ...FIRST_TYPED_FIELDS.map((name) => ({ name, type: DUCK_TYPE[TYPED_FIELDS[name].kind] })),
  { name: 'props', type: VARCHAR },
  { name: 'batch_seq', type: BIGINT },
  { name: 'batch_row', type: INTEGER },
  // Columns added by later migrations come after the batch columns (ALTER TABLE appends).
  ...ADDED_TYPED_FIELDS.map((name) => ({ name, type: DUCK_TYPE[TYPED_FIELDS[name].kind] })),
  // Migration 14 (after the typed fields of migration 11); a later column goes after it.
  { name: 'sample_key', type: BIGINT },
];

/** Rows a data chunk holds (DuckDB's vector size). */
const CHUNK_ROWS = 2048;
const TWO_32 = 4_294_967_296;

let logicalTypes: duckdb.LogicalType[] | null = null;

/** Event rows written into data chunks, all but their batch key (known only in the append). */
export type EventChunks = readonly { chunk: duckdb.DataChunk; rows: number }[];

/** Writes `rows` into data chunks (each row's place in its batch is its index in `rows`). */
export function eventChunks(rows: readonly EventRow[]): EventChunks {
  logicalTypes ??= EVENT_COLUMNS.map((c) => c.type.toLogicalType().logical_type);
  const chunks: { chunk: duckdb.DataChunk; rows: number }[] = [];
  for (let start = 0; start < rows.length; start += CHUNK_ROWS) {
    const n = Math.min(CHUNK_ROWS, rows.length - start);
    const chunk = duckdb.create_data_chunk(logicalTypes);
    duckdb.data_chunk_set_size(chunk, n);
    const valid = new Uint8Array(Math.ceil(n / 64) * 8);
    for (let c = 0; c < EVENT_COLUMNS.length; c++) {
      const column = EVENT_COLUMNS[c] as Column;
      if (column.name === 'batch_seq') continue;
      valid.fill(0xff);
      const vector = duckdb.data_chunk_get_vector(chunk, c);
      if (writeColumn(vector, column, rows, start, n, valid)) {
        duckdb.vector_ensure_validity_writable(vector);
        duckdb.copy_data_to_vector_validity(vector, 0, valid.buffer, 0, valid.byteLength);
      }
    }
    chunks.push({ chunk, rows: n });
  }
  return chunks;
}

const BATCH_SEQ = EVENT_COLUMNS.findIndex((c) => c.name === 'batch_seq');

/** Appends chunks of `eventChunks` to the appender's `events` table as batch `key`. */
export function appendEventChunks(appender: DuckDBAppender, chunks: EventChunks, key: number): void {
  for (const { chunk, rows } of chunks) {
    const words = new Uint32Array(2 * rows);
    for (let i = 0; i < rows; i++) setInt64(words, i, key);
    duckdb.copy_data_to_vector(
      duckdb.data_chunk_get_vector(chunk, BATCH_SEQ),
      0,
      words.buffer,
      0,
      words.byteLength,
    );
    appender.appendDataChunk(new DuckDBDataChunk(chunk));
  }
}

/** Writes one column of rows `start`..`start + n` into `vector`; returns whether any was null (cleared in `valid`). */
function writeColumn(
  vector: duckdb.Vector,
  { name, type }: Column,
  rows: readonly EventRow[],
  start: number,
  n: number,
  valid: Uint8Array,
): boolean {
  const copy = (items: ArrayBufferView) =>
    duckdb.copy_data_to_vector(vector, 0, items.buffer as ArrayBuffer, items.byteOffset, items.byteLength);
  if (name === 'sample_key') {
    // The event's sample key (model/sampling.ts): the last 62 bits of its id, as two 32-bit
    // words (little-endian), no BigInt.
    const words = new Uint32Array(2 * n);
    for (let i = 0; i < n; i++) {
      const id = (rows[start + i] as EventRow).id;
      words[2 * i] = Number.parseInt(id.slice(28, 36), 16);
      words[2 * i + 1] = Number.parseInt(id.slice(19, 23) + id.slice(24, 28), 16) & 0x3fff_ffff;
    }
    copy(words);
    return false;
  }
  if (name === 'batch_row') {
    const items = new Int32Array(n);
    for (let i = 0; i < n; i++) items[i] = start + i;
    copy(items);
    return false;
  }
  let nulls = false;
  const field = name as keyof EventRow;
  const at = (i: number) => {
    const v = (rows[start + i] as EventRow)[field];
    if (v !== null && v !== undefined) return v;
    valid[i >> 3] = (valid[i >> 3] as number) & ~(1 << (i & 7));
    nulls = true;
    return null;
  };
  if (type === VARCHAR) {
    for (let i = 0; i < n; i++) {
      const v = at(i);
      if (v !== null) duckdb.vector_assign_string_element(vector, i, v as string);
    }
  } else if (type === TIMESTAMP) {
    // Microseconds since the epoch, from milliseconds.
    const words = new Uint32Array(2 * n);
    for (let i = 0; i < n; i++) {
      const v = at(i);
      if (v !== null) setInt64(words, i, (v as number) * 1000);
    }
    copy(words);
  } else {
    const items =
      type === DOUBLE ? new Float64Array(n) : type === INTEGER ? new Int32Array(n) : new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      const v = at(i);
      if (v !== null) items[i] = type === BOOLEAN ? (v ? 1 : 0) : (v as number);
    }
    copy(items);
  }
  return nulls;
}

/** Item `i` of a 64-bit integer vector, as two little-endian words, from a safe integer. */
function setInt64(words: Uint32Array, i: number, value: number): void {
  const high = Math.floor(value / TWO_32);
  words[2 * i] = value - high * TWO_32;
  words[2 * i + 1] = high >>> 0;
}
