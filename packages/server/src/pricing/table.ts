import { readFileSync } from 'node:fs';
import { type Static, Type } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';

/**
 * LLM prices: per million tokens, in US dollars, each entry in effect from a date on. A price
 * change is a new entry with a later `effectiveFrom`, so events before it keep the old price.
 */

const DAY = /^\d{4}-\d{2}-\d{2}(?:T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,3})?)?Z)?$/;
const Dollars = (description: string) => Type.Number({ minimum: 0, maximum: 1_000_000, description });

/** One price as a caller writes it (PUT /api/llm/prices, `llm.prices` in the config file). */
export const PriceInputSchema = Type.Object(
  {
    model: Type.String({ minLength: 1, maxLength: 200 }),
    match: Type.Optional(Type.Union([Type.Literal('exact'), Type.Literal('pattern')])),
    inputPerMillion: Dollars('US dollars per million prompt tokens'),
    outputPerMillion: Dollars('US dollars per million completion tokens'),
    cacheReadPerMillion: Type.Optional(
      Type.Union([Dollars('US dollars per million cached prompt tokens'), Type.Null()]),
    ),
    /** `YYYY-MM-DD` (UTC midnight) or an ISO time in UTC; default: the beginning of time. */
    effectiveFrom: Type.Optional(Type.String({ pattern: DAY.source })),
  },
  { additionalProperties: false },
);
export type PriceInput = Static<typeof PriceInputSchema>;

export const PriceListSchema = Type.Object(
  { prices: Type.Array(PriceInputSchema, { maxItems: 2000 }) },
  { additionalProperties: false },
);
const priceListCheck = TypeCompiler.Compile(PriceListSchema);

/** Where an entry of the effective table comes from: shipped, the config file, or the project. */
export type PriceSource = 'default' | 'config' | 'project';

export interface PriceEntry {
  model: string;
  match: 'exact' | 'pattern';
  inputPerMillion: number;
  outputPerMillion: number;
  cacheReadPerMillion: number | null;
  /** Epoch ms; 0 for "always". */
  effectiveFrom: number;
  source: PriceSource;
  /** For shipped prices: where the price was published and the date it took effect there. */
  reference?: { url: string; date: string };
}

/** What one request cost, and how it splits between prompt and completion. */
export interface RequestCost {
  total: number;
  prompt: number;
  completion: number;
}

export class PriceError extends Error {
  override name = 'PriceError';
}

const EPOCH_START = 0;

function parseEffective(text: string | undefined, where: string): number {
  if (text === undefined) return EPOCH_START;
  const ms = Date.parse(text.length === 10 ? `${text}T00:00:00Z` : text);
  if (!DAY.test(text) || Number.isNaN(ms)) {
    throw new PriceError(
      `${where}.effectiveFrom: '${text}' is not a date (YYYY-MM-DD or an ISO time in UTC).`,
    );
  }
  return ms;
}

/**
 * Checks a price list as sent (shape, then meaning) and returns its entries; throws a PriceError
 * naming the first problem, by its place in the list.
 */
export function parsePriceList(body: unknown, source: PriceSource, what = 'prices'): PriceEntry[] {
  const wrapped = Array.isArray(body) ? { prices: body } : body;
  if (!priceListCheck.Check(wrapped)) {
    const first = priceListCheck.Errors(wrapped).First();
    const path = first?.path ? first.path.replace(/^\/prices/, what).replaceAll('/', '.') : what;
    throw new PriceError(
      `${path || what}: ${first?.message ?? 'invalid'}. Expected {"prices":[{"model","match"?,"inputPerMillion","outputPerMillion","cacheReadPerMillion"?,"effectiveFrom"?}]}.`,
    );
  }
  const seen = new Set<string>();
  return (wrapped as Static<typeof PriceListSchema>).prices.map((p, i) => {
    const where = `${what}.${i}`;
    const match = p.match ?? (p.model.includes('*') ? 'pattern' : 'exact');
    if (match === 'exact' && p.model.includes('*')) {
      throw new PriceError(
        `${where}.model: '${p.model}' has a '*'; set "match":"pattern" to use it as a pattern.`,
      );
    }
    if (match === 'pattern' && !p.model.includes('*')) {
      throw new PriceError(`${where}.model: the pattern '${p.model}' has no '*' (use "match":"exact").`);
    }
    const effectiveFrom = parseEffective(p.effectiveFrom, where);
    const key = `${match}\u0000${p.model}\u0000${effectiveFrom}`;
    if (seen.has(key)) {
      throw new PriceError(`${where}: '${p.model}' has two prices from the same effectiveFrom.`);
    }
    seen.add(key);
    return {
      model: p.model,
      match,
      inputPerMillion: p.inputPerMillion,
      outputPerMillion: p.outputPerMillion,
      cacheReadPerMillion: p.cacheReadPerMillion ?? null,
      effectiveFrom,
      source,
    };
  });
}

/** An entry as `GET /api/llm/prices` shows it (and the config file or `PUT` take it back). */
export interface PriceView {
  model: string;
  match: PriceEntry['match'];
  inputPerMillion: number;
  outputPerMillion: number;
  cacheReadPerMillion: number | null;
  /** A UTC day (YYYY-MM-DD) or an ISO time. */
  effectiveFrom: string;
  source: PriceSource;
  reference?: PriceEntry['reference'];
}

export function priceView(entry: PriceEntry): PriceView {
  return {
    model: entry.model,
    match: entry.match,
    inputPerMillion: entry.inputPerMillion,
    outputPerMillion: entry.outputPerMillion,
    cacheReadPerMillion: entry.cacheReadPerMillion,
    effectiveFrom: new Date(entry.effectiveFrom)
      .toISOString()
      .slice(0, entry.effectiveFrom % 86_400_000 === 0 ? 10 : 24),
    source: entry.source,
    ...(entry.reference ? { reference: entry.reference } : {}),
  };
}

interface ShippedPrice extends PriceInput {
  source: string;
  date: string;
}

let shipped: PriceEntry[] | null = null;

/** The price table shipped with Vigil (`packages/server/data/llm-prices.json`). */
export function defaultPrices(): PriceEntry[] {
  if (!shipped) {
    // Two levels up from both src/pricing and dist/pricing.
    const file = new URL('../../data/llm-prices.json', import.meta.url);
    const doc = JSON.parse(readFileSync(file, 'utf8')) as { prices: ShippedPrice[] };
    const entries = parsePriceList(
      doc.prices.map(({ source: _s, date: _d, ...p }) => p),
      'default',
      'llm-prices.json',
    );
    shipped = entries.map((e, i) => {
      const { source, date } = doc.prices[i] as ShippedPrice;
      return { ...e, reference: { url: source, date } };
    });
  }
  return shipped;
}

/** A glob with `*` as "any characters", anchored at both ends. */
function patternRegExp(pattern: string): RegExp {
  const body = pattern
    .split('*')
    .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
    .join('.*');
  return new RegExp(`^${body}$`);
}

interface Layer {
  exact: Map<string, PriceEntry[]>;
  /** Longest pattern first: the most specific one wins. */
  patterns: { re: RegExp; length: number; entries: PriceEntry[] }[];
}

function layerOf(entries: readonly PriceEntry[]): Layer {
  const exact = new Map<string, PriceEntry[]>();
  const patterns = new Map<string, PriceEntry[]>();
  for (const e of entries) {
    const into = e.match === 'exact' ? exact : patterns;
    const list = into.get(e.model) ?? [];
    list.push(e);
    into.set(e.model, list);
  }
  // Newest first, so the first entry in effect at a time is the one that applies.
  for (const list of [...exact.values(), ...patterns.values()])
    list.sort((a, b) => b.effectiveFrom - a.effectiveFrom);
  return {
    exact,
    patterns: [...patterns]
      .map(([p, list]) => ({ re: patternRegExp(p), length: p.replaceAll('*', '').length, entries: list }))
      .sort((a, b) => b.length - a.length),
  };
}

const inEffect = (list: readonly PriceEntry[] | undefined, ts: number) =>
  list?.find((e) => e.effectiveFrom <= ts);

/**
 * The prices in effect for one project: its own entries over the config file's over the shipped
 * ones. A model's price at a time is the first layer with an entry in effect then: in a layer,
 * an exact name over a pattern, a longer pattern over a shorter one, the latest `effectiveFrom`
 * not after the time.
 */
export class PriceBook {
  private readonly layers: Layer[];
  /** Per model name, the candidate lists in precedence order (matching is done once per name). */
  private readonly resolved = new Map<string, readonly (readonly PriceEntry[])[]>();

  constructor(readonly layersInOrder: readonly (readonly PriceEntry[])[]) {
    this.layers = layersInOrder.map(layerOf);
  }

  /** Every entry of every layer, project first. */
  entries(): PriceEntry[] {
    return this.layersInOrder.flat();
  }

  private candidates(model: string): readonly (readonly PriceEntry[])[] {
    let found = this.resolved.get(model);
    if (!found) {
      const lists: PriceEntry[][] = [];
      for (const layer of this.layers) {
        const exact = layer.exact.get(model);
        if (exact) lists.push(exact);
        for (const p of layer.patterns) if (p.re.test(model)) lists.push(p.entries);
      }
      found = lists;
      // Bounded: model names come from clients.
      if (this.resolved.size >= 10_000) this.resolved.clear();
      this.resolved.set(model, found);
    }
    return found;
  }

  /** The entry that prices `model` at `ts`, or null when none does. */
  priceAt(model: string, ts: number): PriceEntry | null {
    for (const list of this.candidates(model)) {
      const e = inEffect(list, ts);
      if (e) return e;
    }
    return null;
  }
}

/**
 * `(prompt − cacheRead) × input + cacheRead × cacheRead price + completion × output`, per million;
 * cached tokens cost the input price when the entry has no cache-read price. Missing counts are 0.
 */
export function costOf(
  price: PriceEntry,
  tokens: { prompt: number | null; completion: number | null; cacheRead: number | null },
): RequestCost {
  const promptTokens = tokens.prompt ?? 0;
  const cached = Math.min(tokens.cacheRead ?? 0, promptTokens);
  const prompt =
    ((promptTokens - cached) * price.inputPerMillion +
      cached * (price.cacheReadPerMillion ?? price.inputPerMillion)) /
    1e6;
  const completion = ((tokens.completion ?? 0) * price.outputPerMillion) / 1e6;
  return { total: prompt + completion, prompt, completion };
}
