/**
 * Stored events as columns: one typed array per field and the UTF-8 bytes of every string value,
 * for reads that go over every stored event (`vigil verify`) without an object or a string per
 * value. Any engine can give them: from its own columnar reads, or from row objects
 * (`eventColumnsOf`).
 */
import { EVENT_FIELDS, type EventRow, emptyRow, TYPED_FIELDS } from './event.js';

export type ColumnKind = 'string' | 'number' | 'boolean';

/** A string field: where each row's UTF-8 bytes start in `EventColumns.text`, and how many (-1: null). */
export interface StringColumn {
  readonly kind: 'string';
  at: Int32Array;
  len: Int32Array;
}

/** A number field (times as epoch milliseconds): each row's value and whether it is set (1) or null (0). */
export interface NumberColumn {
  readonly kind: 'number';
  value: Float64Array;
  set: Uint8Array;
}

/** A boolean field: 0 false, 1 true, 2 null. */
export interface BooleanColumn {
  readonly kind: 'boolean';
  value: Uint8Array;
}

export type EventColumn = StringColumn | NumberColumn | BooleanColumn;

export interface EventColumns {
  /** Rows held. */
  readonly length: number;
  /** The UTF-8 bytes of the string values, as stored (not re-encoded). */
  readonly text: Uint8Array;
  readonly columns: { readonly [F in keyof EventRow]: EventColumn };
}

/** Each stored field's kind. */
export const COLUMN_KINDS: { readonly [F in keyof EventRow]: ColumnKind } = Object.fromEntries(
  EVENT_FIELDS.map((f) => {
    if (f === 'ts' || f === 'received_at') return [f, 'number'];
    if (f === 'late') return [f, 'boolean'];
    if (f in TYPED_FIELDS) {
      const kind = TYPED_FIELDS[f as keyof typeof TYPED_FIELDS].kind;
      return [f, kind === 'double' || kind === 'integer' ? 'number' : kind];
    }
    return [f, 'string'];
  }),
) as { [F in keyof EventRow]: ColumnKind };

const encoder = new TextEncoder();

/**
 * Fills columns row by row. An engine writes its values straight into `columns` (after `grow`)
 * and the bytes of its strings with `addText`, or adds whole rows with `addRow`.
 */
export class EventColumnsBuilder {
  length = 0;
  private capacity: number;
  private text: Uint8Array;
  private textEnd = 0;
  readonly columns: { [F in keyof EventRow]: EventColumn };

  constructor(capacity = 1024) {
    this.capacity = Math.max(16, capacity);
    this.text = new Uint8Array(this.capacity * 64);
    this.columns = Object.fromEntries(
      EVENT_FIELDS.map((f) => [f, newColumn(COLUMN_KINDS[f], this.capacity)]),
    ) as { [F in keyof EventRow]: EventColumn };
  }

  /** Makes room for `rows` more rows. */
  grow(rows: number): void {
    const need = this.length + rows;
    if (need <= this.capacity) return;
    let capacity = this.capacity * 2;
    while (capacity < need) capacity *= 2;
    for (const f of EVENT_FIELDS) {
      const c = this.columns[f];
      if (c.kind === 'string') {
        c.at = copyInto(new Int32Array(capacity), c.at);
        c.len = copyInto(new Int32Array(capacity), c.len);
      } else if (c.kind === 'number') {
        c.value = copyInto(new Float64Array(capacity), c.value);
        c.set = copyInto(new Uint8Array(capacity), c.set);
      } else {
        c.value = copyInto(new Uint8Array(capacity), c.value);
      }
    }
    this.capacity = capacity;
  }

  /** Copies `bytes[from, from + len)` to the end of the text; returns where they start. */
  addText(bytes: Uint8Array, from: number, len: number): number {
    const at = this.reserveText(len);
    if (len <= 16) {
      const text = this.text;
      for (let i = 0; i < len; i++) text[at + i] = bytes[from + i] as number;
    } else {
      this.text.set(from === 0 && len === bytes.length ? bytes : bytes.subarray(from, from + len), at);
    }
    return at;
  }

  /** Room for `len` bytes at the end of the text, returned as where they start (write them with `textBytes`). */
  reserveText(len: number): number {
    const at = this.textEnd;
    if (at + len > this.text.length) {
      let size = this.text.length * 2;
      while (size < at + len) size *= 2;
      this.text = copyInto(new Uint8Array(size), this.text.subarray(0, at));
    }
    this.textEnd = at + len;
    return at;
  }

  /** The text buffer (its identity changes when it grows). */
  textBytes(): Uint8Array {
    return this.text;
  }

  /** Appends one row (an engine that reads rows as objects). */
  addRow(row: EventRow): void {
    this.grow(1);
    const i = this.length;
    for (const f of EVENT_FIELDS) {
      const c = this.columns[f];
      const v = row[f];
      if (c.kind === 'string') {
        if (typeof v !== 'string') {
          c.len[i] = -1;
          continue;
        }
        // At most 3 bytes per UTF-16 unit; a lone surrogate becomes U+FFFD, as in every store.
        const at = this.reserveText(v.length * 3);
        const { written } = encoder.encodeInto(v, this.text.subarray(at));
        this.textEnd = at + written;
        c.at[i] = at;
        c.len[i] = written;
      } else if (c.kind === 'number') {
        c.set[i] = typeof v === 'number' ? 1 : 0;
        c.value[i] = typeof v === 'number' ? v : 0;
      } else {
        c.value[i] = v === true ? 1 : v === false ? 0 : 2;
      }
    }
    this.length += 1;
  }

  done(): EventColumns {
    return { length: this.length, text: this.text.subarray(0, this.textEnd), columns: this.columns };
  }
}

function newColumn(kind: ColumnKind, capacity: number): EventColumn {
  if (kind === 'string') return { kind, at: new Int32Array(capacity), len: new Int32Array(capacity) };
  if (kind === 'number') return { kind, value: new Float64Array(capacity), set: new Uint8Array(capacity) };
  return { kind, value: new Uint8Array(capacity) };
}

function copyInto<T extends Int32Array | Float64Array | Uint8Array>(target: T, source: T): T {
  target.set(source as never);
  return target;
}

/** Rows as columns. */
export function eventColumnsOf(rows: readonly EventRow[]): EventColumns {
  const builder = new EventColumnsBuilder(rows.length);
  for (const row of rows) builder.addRow(row);
  return builder.done();
}

const decoder = new TextDecoder('utf-8', { ignoreBOM: true });

/** Row `i` of the columns as a row object. */
export function eventRowOf(columns: EventColumns, i: number): EventRow {
  const row = emptyRow() as unknown as Record<string, unknown>;
  for (const f of EVENT_FIELDS) {
    const c = columns.columns[f];
    if (c.kind === 'string') {
      const len = c.len[i] as number;
      const at = c.at[i] as number;
      row[f] = len < 0 ? null : decoder.decode(columns.text.subarray(at, at + len));
    } else if (c.kind === 'number') {
      row[f] = c.set[i] === 1 ? c.value[i] : null;
    } else {
      const v = c.value[i];
      row[f] = v === 2 ? null : v === 1;
    }
  }
  return row as unknown as EventRow;
}

/** Rows `from`..`to` (exclusive) of the columns as row objects. */
export function eventRowsOf(columns: EventColumns, from = 0, to = columns.length): EventRow[] {
  const rows: EventRow[] = [];
  for (let i = from; i < to; i++) rows.push(eventRowOf(columns, i));
  return rows;
}
