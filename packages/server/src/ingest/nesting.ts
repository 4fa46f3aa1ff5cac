import { VigilError } from '../errors/index.js';

/**
 * How deep a JSON text may nest before it is refused unread. Parsing a deeply nested text costs
 * far more than its size says (6 MB nested a million deep held the event loop for seconds), and
 * no request Vigil reads needs more: events stop at `ingest.maxDepth` (≤ 32) below a 4-level
 * envelope, OTLP/JSON needs about 12 levels plus its attribute values.
 */
export const MAX_JSON_NESTING = 64;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const NEWLINE = 0x0a;
const OPEN_ARRAY = 0x5b;
const OPEN_OBJECT = 0x7b;
const CLOSE_ARRAY = 0x5d;
const CLOSE_OBJECT = 0x7d;

/**
 * Whether a JSON (or, with `lines`, NDJSON) text nests deeper than `limit`, by one pass over its
 * bytes that only follows brackets and strings: linear, and no parse. Invalid JSON is left for the
 * parser to name; only depth is judged here.
 */
export function nestsDeeperThan(
  bytes: Uint8Array,
  limit: number,
  options: { lines?: boolean } = {},
): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < bytes.length; i++) {
    const c = bytes[i];
    if (inString) {
      if (c === BACKSLASH) i++;
      else if (c === QUOTE) inString = false;
      else if (c === NEWLINE && options.lines) {
        inString = false;
        depth = 0;
      }
      continue;
    }
    if (c === QUOTE) inString = true;
    else if (c === OPEN_ARRAY || c === OPEN_OBJECT) {
      depth += 1;
      if (depth > limit) return true;
    } else if (c === CLOSE_ARRAY || c === CLOSE_OBJECT) {
      if (depth > 0) depth -= 1;
    } else if (c === NEWLINE && options.lines) depth = 0;
  }
  return false;
}

/** Refuses (400 `too_deep`) a body nested deeper than any request Vigil reads. */
export function refuseDeepNesting(bytes: Uint8Array, options: { lines?: boolean } = {}): void {
  if (nestsDeeperThan(bytes, MAX_JSON_NESTING, options)) {
    throw new VigilError('too_deep', {
      message: `The body nests JSON more than ${MAX_JSON_NESTING} levels deep; no request needs that many.`,
    });
  }
}
