/**
 * A parser for the Prometheus text exposition format (0.0.4) and OpenMetrics 1.0 text.
 *
 * Written here rather than taken from npm: the one maintained-looking package
 * (`parse-prometheus-text-format`) keeps values as strings, merges every labelled series of a
 * histogram or summary into one object (losing their labels), drops timestamps and knows
 * nothing of OpenMetrics (`# EOF`, `# UNIT`, `_total`/`_created`, exemplars, timestamps in
 * seconds). Like Prometheus, a malformed line fails the whole exposition with its line number.
 */

export type FamilyType =
  | 'counter'
  | 'gauge'
  | 'histogram'
  | 'gaugehistogram'
  | 'summary'
  | 'info'
  | 'stateset'
  | 'untyped';

export interface ParsedSample {
  /** The sample's own name, e.g. `http_requests_total` or `latency_bucket`. */
  name: string;
  labels: Record<string, string>;
  value: number;
  /** Epoch ms, when the exposition carries one. */
  timestampMs?: number;
  exemplar?: { labels: Record<string, string>; value: number; timestampMs?: number };
}

export interface MetricFamily {
  name: string;
  type: FamilyType;
  help?: string;
  unit?: string;
  samples: ParsedSample[];
}

export type ExpositionFormat = 'prometheus' | 'openmetrics';

export class ExpositionError extends Error {
  override name = 'ExpositionError';
  constructor(
    readonly line: number,
    message: string,
  ) {
    super(`line ${line}: ${message}`);
  }
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const DECIMAL = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;

const TYPES: Record<string, FamilyType> = {
  counter: 'counter',
  gauge: 'gauge',
  histogram: 'histogram',
  gaugehistogram: 'gaugehistogram',
  summary: 'summary',
  info: 'info',
  stateset: 'stateset',
  untyped: 'untyped',
  unknown: 'untyped',
};

/** Sample-name suffixes each family type may use, besides the bare name. */
const SUFFIXES: Record<FamilyType, readonly string[]> = {
  counter: ['_total', '_created'],
  gauge: [],
  histogram: ['_bucket', '_count', '_sum', '_created'],
  gaugehistogram: ['_bucket', '_gcount', '_gsum'],
  summary: ['_count', '_sum', '_created'],
  info: ['_info'],
  stateset: [],
  untyped: [],
};

/** Parses a float the way Prometheus does: decimals, exponents, NaN and ±Inf in any case. */
export function parseValue(text: string): number | null {
  if (DECIMAL.test(text)) return Number(text);
  const lower = text.toLowerCase();
  if (lower === 'nan') return Number.NaN;
  if (lower === '+inf' || lower === 'inf' || lower === '+infinity' || lower === 'infinity') {
    return Number.POSITIVE_INFINITY;
  }
  if (lower === '-inf' || lower === '-infinity') return Number.NEGATIVE_INFINITY;
  return null;
}

/** Undoes `\\`, `\n` (and in label values `\"`); other escapes stay as written. */
function unescapeText(text: string, quote: boolean): string {
  if (!text.includes('\\')) return text;
  let out = '';
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c !== '\\' || i + 1 >= text.length) {
      out += c;
      continue;
    }
    const n = text[i + 1];
    if (n === '\\') out += '\\';
    else if (n === 'n') out += '\n';
    else if (n === '"' && quote) out += '"';
    else out += `\\${n}`;
    i += 1;
  }
  return out;
}

/** A cursor over one sample line. */
class LineScanner {
  pos = 0;
  constructor(
    readonly text: string,
    readonly line: number,
  ) {}

  fail(message: string): never {
    throw new ExpositionError(this.line, message);
  }
  skipBlanks(): void {
    while (this.text[this.pos] === ' ' || this.text[this.pos] === '\t') this.pos++;
  }
  done(): boolean {
    return this.pos >= this.text.length;
  }
  /** Up to the next blank, `{` or end. */
  word(stopAtBrace: boolean): string {
    const start = this.pos;
    while (this.pos < this.text.length) {
      const c = this.text[this.pos];
      if (c === ' ' || c === '\t' || (stopAtBrace && c === '{')) break;
      this.pos++;
    }
    return this.text.slice(start, this.pos);
  }
  /** A double-quoted string with escapes; the cursor is on the opening quote. */
  quoted(): string {
    if (this.text[this.pos] !== '"') this.fail(`expected '"' at column ${this.pos + 1}`);
    let i = this.pos + 1;
    let raw = '';
    for (;;) {
      if (i >= this.text.length) this.fail('unterminated quoted string');
      const c = this.text[i] as string;
      if (c === '\\') {
        if (i + 1 >= this.text.length) this.fail('unterminated quoted string');
        raw += c + this.text[i + 1];
        i += 2;
        continue;
      }
      if (c === '"') break;
      raw += c;
      i++;
    }
    this.pos = i + 1;
    return unescapeText(raw, true);
  }
  /** `{name="value",…}`; returns the labels and, for UTF-8 quoted names, a quoted metric name. */
  labelSet(): { labels: Record<string, string>; quotedName?: string } {
    const labels: Record<string, string> = {};
    let quotedName: string | undefined;
    this.pos++; // '{'
    let first = true;
    for (;;) {
      this.skipBlanks();
      if (this.text[this.pos] === '}') {
        this.pos++;
        return quotedName === undefined ? { labels } : { labels, quotedName };
      }
      if (!first) {
        if (this.text[this.pos] !== ',') this.fail(`expected ',' or '}' at column ${this.pos + 1}`);
        this.pos++;
        this.skipBlanks();
        if (this.text[this.pos] === '}') {
          this.pos++;
          return quotedName === undefined ? { labels } : { labels, quotedName };
        }
      }
      let name: string;
      if (this.text[this.pos] === '"') {
        name = this.quoted();
        this.skipBlanks();
        if (first && this.text[this.pos] !== '=') {
          // `{"metric.name", label="…"}`: a quoted metric name (Prometheus 3 UTF-8 names).
          quotedName = name;
          first = false;
          continue;
        }
      } else {
        const start = this.pos;
        while (this.pos < this.text.length && /[a-zA-Z0-9_]/.test(this.text[this.pos] as string)) this.pos++;
        name = this.text.slice(start, this.pos);
        if (!LABEL_NAME.test(name)) this.fail(`invalid label name '${name}' at column ${start + 1}`);
      }
      this.skipBlanks();
      if (this.text[this.pos] !== '=') this.fail(`expected '=' after label '${name}'`);
      this.pos++;
      this.skipBlanks();
      const value = this.quoted();
      if (Object.hasOwn(labels, name)) this.fail(`duplicate label '${name}'`);
      labels[name] = value;
      first = false;
    }
  }
}

function timestampOf(text: string, format: ExpositionFormat, scan: LineScanner): number {
  if (format === 'openmetrics') {
    const seconds = parseValue(text);
    if (seconds === null || !Number.isFinite(seconds)) scan.fail(`invalid timestamp '${text}'`);
    return Math.round(seconds * 1000);
  }
  if (!/^-?\d+$/.test(text)) scan.fail(`invalid timestamp '${text}' (integer milliseconds expected)`);
  return Number(text);
}

function parseSampleLine(text: string, line: number, format: ExpositionFormat): ParsedSample {
  const scan: LineScanner = new LineScanner(text, line);
  let name = '';
  if (text[0] !== '{') {
    name = scan.word(true);
    if (!METRIC_NAME.test(name)) scan.fail(`invalid metric name '${name}'`);
    scan.skipBlanks();
  }
  let labels: Record<string, string> = {};
  if (text[scan.pos] === '{') {
    const set = scan.labelSet();
    labels = set.labels;
    if (set.quotedName !== undefined) {
      if (name !== '') scan.fail('a metric name both before and inside the braces');
      name = set.quotedName;
    }
  }
  if (name === '') scan.fail('missing metric name');
  scan.skipBlanks();
  const valueText = scan.word(false);
  if (valueText === '') scan.fail(`missing value for '${name}'`);
  const value = parseValue(valueText);
  if (value === null) scan.fail(`invalid value '${valueText}'`);
  const sample: ParsedSample = { name, labels, value };
  scan.skipBlanks();
  if (!scan.done() && text[scan.pos] !== '#') {
    sample.timestampMs = timestampOf(scan.word(false), format, scan);
    scan.skipBlanks();
  }
  if (!scan.done()) {
    if (format !== 'openmetrics' || text[scan.pos] !== '#') scan.fail(`unexpected text after the value`);
    // Exemplar: `# {labels} value [timestamp]`.
    scan.pos++;
    scan.skipBlanks();
    if (text[scan.pos] !== '{') scan.fail('an exemplar needs a label set');
    const exLabels = scan.labelSet().labels;
    scan.skipBlanks();
    const exValueText = scan.word(false);
    const exValue = parseValue(exValueText);
    if (exValue === null) scan.fail(`invalid exemplar value '${exValueText}'`);
    const exemplar: NonNullable<ParsedSample['exemplar']> = { labels: exLabels, value: exValue };
    scan.skipBlanks();
    if (!scan.done()) exemplar.timestampMs = timestampOf(scan.word(false), format, scan);
    scan.skipBlanks();
    if (!scan.done()) scan.fail('unexpected text after the exemplar');
    sample.exemplar = exemplar;
  }
  return sample;
}

/** The family a sample name belongs to, given the declared families. */
function familyOf(name: string, families: Map<string, MetricFamily>): MetricFamily | undefined {
  const exact = families.get(name);
  if (exact) return exact;
  for (const [suffixName, types] of SUFFIX_INDEX) {
    if (!name.endsWith(suffixName)) continue;
    const family = families.get(name.slice(0, -suffixName.length));
    if (family && types.has(family.type)) return family;
  }
  return undefined;
}

const SUFFIX_INDEX: [string, Set<FamilyType>][] = (() => {
  const index = new Map<string, Set<FamilyType>>();
  for (const [type, suffixes] of Object.entries(SUFFIXES) as [FamilyType, readonly string[]][]) {
    for (const s of suffixes) {
      const set = index.get(s) ?? new Set<FamilyType>();
      set.add(type);
      index.set(s, set);
    }
  }
  return [...index.entries()];
})();

/** The format a scrape answered in, from its Content-Type (and `# EOF` when it says nothing). */
export function detectFormat(contentType: string | null | undefined, body: string): ExpositionFormat {
  if (contentType && /application\/openmetrics-text/i.test(contentType)) return 'openmetrics';
  if (contentType && /text\/plain/i.test(contentType)) return 'prometheus';
  return /(^|\n)# EOF\s*$/.test(body) ? 'openmetrics' : 'prometheus';
}

/**
 * Parses one exposition into metric families, in the order they first appear. In OpenMetrics,
 * `# EOF` is required and ends the text, and timestamps are seconds; in 0.0.4 they are ms.
 */
export function parseExposition(body: string, format: ExpositionFormat = 'prometheus'): MetricFamily[] {
  const families = new Map<string, MetricFamily>();
  const declare = (name: string, line: number): MetricFamily => {
    if (!METRIC_NAME.test(name) && !/^[^\s{}"]+$/.test(name)) {
      throw new ExpositionError(line, `invalid metric name '${name}'`);
    }
    let family = families.get(name);
    if (!family) {
      family = { name, type: 'untyped', samples: [] };
      families.set(name, family);
    }
    return family;
  };
  const lines = body.split('\n');
  let sawEof = false;
  for (let i = 0; i < lines.length; i++) {
    const lineNo = i + 1;
    const raw = (lines[i] as string).replace(/\r$/, '');
    if (sawEof) {
      if (raw.trim() !== '' || i < lines.length - 1) throw new ExpositionError(lineNo, 'text after # EOF');
      continue;
    }
    const text = format === 'openmetrics' ? raw : raw.trim();
    if (text === '') {
      if (format === 'openmetrics' && i < lines.length - 1) {
        throw new ExpositionError(lineNo, 'empty line (not allowed in OpenMetrics)');
      }
      continue;
    }
    if (text.startsWith('#')) {
      const m = /^#[ \t]+(HELP|TYPE|UNIT|EOF)(?:[ \t]+(\S+)(?:[ \t]+(.*))?)?$/.exec(text);
      if (!m) {
        if (format === 'openmetrics')
          throw new ExpositionError(lineNo, `unknown comment '${text.slice(0, 40)}'`);
        continue; // a plain comment in 0.0.4
      }
      const [, keyword, name, rest] = m;
      if (keyword === 'EOF') {
        if (format !== 'openmetrics') continue;
        if (name !== undefined) throw new ExpositionError(lineNo, 'text after # EOF');
        sawEof = true;
        continue;
      }
      if (name === undefined) throw new ExpositionError(lineNo, `# ${keyword} needs a metric name`);
      const family = declare(name, lineNo);
      if (keyword === 'HELP') family.help = unescapeText(rest ?? '', format === 'openmetrics');
      else if (keyword === 'UNIT') family.unit = rest ?? '';
      else {
        const type = TYPES[(rest ?? '').trim().toLowerCase()];
        if (!type) throw new ExpositionError(lineNo, `unknown metric type '${rest ?? ''}'`);
        if (family.samples.length > 0) {
          throw new ExpositionError(lineNo, `# TYPE for '${name}' after its samples`);
        }
        family.type = type;
      }
      continue;
    }
    const sample = parseSampleLine(text, lineNo, format);
    let family = familyOf(sample.name, families);
    if (!family) {
      family = { name: sample.name, type: 'untyped', samples: [] };
      families.set(sample.name, family);
    }
    family.samples.push(sample);
  }
  if (format === 'openmetrics' && !sawEof) throw new ExpositionError(lines.length, 'missing # EOF');
  return [...families.values()].filter((f) => f.samples.length > 0);
}
