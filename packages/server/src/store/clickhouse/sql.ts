/**
 * SQL literals for ClickHouse. 18.16 has no query parameters (`{name:Type}` and `param_…` answer
 * "Unknown setting"), so every value that reaches SQL text goes through exactly one of these
 * functions, one per type; rows to store travel as data (JSONEachRow in the request body), never
 * as SQL. `sql.test.ts` checks each against a real server with arbitrary input.
 */

/** A branded SQL fragment: only these functions and `raw` make one. */
export interface Sql {
  readonly __sql: string;
}

const frag = (text: string): Sql => ({ __sql: text });

/** Text of a fragment, to put into a statement. */
export const text = (s: Sql): string => s.__sql;

/**
 * SQL written in this engine's own code (never a request value). A tagged template: `${}` takes
 * fragments made by the quoting functions only.
 */
export function sql(strings: TemplateStringsArray, ...parts: readonly Sql[]): Sql {
  let out = strings[0] ?? '';
  for (let i = 0; i < parts.length; i++) out += (parts[i] as Sql).__sql + (strings[i + 1] ?? '');
  return frag(out);
}

/**
 * SQL text written in this engine's own source (column lists, engine clauses), never a value:
 * values go through the quoting functions below.
 */
export function raw(code: string): Sql {
  return frag(code);
}

/** Fragments joined by `sep` (written in code). */
export function join(parts: readonly Sql[], sep: string): Sql {
  return frag(parts.map((p) => p.__sql).join(sep));
}

/** Escapes for string literals: backslash, quote and every control byte as `\xHH`. */
function escapeString(value: string): string {
  let out = '';
  for (const ch of value) {
    const code = ch.codePointAt(0) as number;
    if (ch === '\\') out += '\\\\';
    else if (ch === "'") out += "\\'";
    else if (code < 0x20 || code === 0x7f) out += `\\x${code.toString(16).padStart(2, '0')}`;
    else out += ch;
  }
  return out;
}

/** A String literal. */
export function str(value: string): Sql {
  if (typeof value !== 'string') throw new TypeError(`not a string: ${String(value)}`);
  return frag(`'${escapeString(value)}'`);
}

/** An Int64 literal (throws for anything but a safe integer). */
export function int(value: number): Sql {
  if (!Number.isSafeInteger(value)) throw new TypeError(`not a safe integer: ${String(value)}`);
  return frag(`toInt64(${value < 0 ? `-${-value}` : value})`);
}

/** A UInt64 literal (throws for anything but a safe, non-negative integer). */
export function uint(value: number): Sql {
  if (!Number.isSafeInteger(value) || value < 0) throw new TypeError(`not a safe unsigned integer: ${value}`);
  return frag(`toUInt64(${value})`);
}

/** An Int64 literal from a bigint (values beyond 2^53, e.g. sample keys and masks). */
export function bigint(value: bigint): Sql {
  if (typeof value !== 'bigint' || value < -(1n << 63n) || value >= 1n << 63n) {
    throw new TypeError(`not a 64-bit integer: ${String(value)}`);
  }
  return frag(`toInt64('${value.toString()}')`);
}

/** A bare non-negative integer (LIMIT takes no expression): digits only, or it throws. */
export function limit(value: number): Sql {
  if (!Number.isSafeInteger(value) || value < 0) throw new TypeError(`not a row count: ${value}`);
  return frag(String(value));
}

/**
 * A Float64 literal, exact for every double: the value's IEEE-754 bytes (little-endian) reinterpreted
 * (18.16's float parser is not correctly rounded for every decimal text). NaN and ±Inf included.
 */
export function float(value: number): Sql {
  if (typeof value !== 'number') throw new TypeError(`not a number: ${String(value)}`);
  const buf = Buffer.alloc(8);
  buf.writeDoubleLE(value);
  return frag(`reinterpretAsFloat64(unhex('${buf.toString('hex')}'))`);
}

/** Epoch milliseconds as Int64 (the column type every `*_ms` time column of this engine has). */
export function ms(value: number): Sql {
  return int(Math.trunc(value));
}

/** A quoted identifier (database, table or column name), backquoted with escapes. */
export function ident(name: string): Sql {
  if (typeof name !== 'string' || name.length === 0)
    throw new TypeError('an identifier must be a non-empty string');
  let out = '';
  for (const ch of name) {
    const code = ch.codePointAt(0) as number;
    if (ch === '\\') out += '\\\\';
    else if (ch === '`') out += '\\`';
    else if (code < 0x20 || code === 0x7f) out += `\\x${code.toString(16).padStart(2, '0')}`;
    else out += ch;
  }
  return frag(`\`${out}\``);
}

/**
 * A set of strings for `x IN …` (which, unlike `has(array, x)`, the primary key index serves).
 * Never empty: an empty set is the caller's case to answer without SQL.
 */
export function stringSet(values: readonly string[]): Sql {
  if (values.length === 0) throw new TypeError('an IN list needs at least one value');
  return frag(`(${values.map((v) => str(v).__sql).join(',')})`);
}

/** An Array(String) literal (typed also when empty). */
export function strings(values: readonly string[]): Sql {
  if (values.length === 0) return frag('emptyArrayString()');
  return frag(`[${values.map((v) => str(v).__sql).join(',')}]`);
}
