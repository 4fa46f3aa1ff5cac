import type { EventRow } from '../model/index.js';
import type { AccountStore } from '../store/index.js';
import {
  costOf,
  defaultPrices,
  PriceBook,
  type PriceEntry,
  PriceError,
  type PriceInput,
  parsePriceList,
} from './table.js';

/** A price from the config file (as read, unchecked): for every project, or for the one it names in `project`. */
export type ConfiguredPrice = Readonly<Record<string, unknown>>;

/** Checks the config file's `llm.prices` and splits them per project ('' for every project); throws a PriceError. */
export function configuredPrices(list: readonly ConfiguredPrice[]): Map<string, PriceEntry[]> {
  const byProject = new Map<string, PriceEntry[]>();
  list.forEach(({ project, ...price }, i) => {
    if (project !== undefined && (typeof project !== 'string' || project === '')) {
      throw new PriceError(`llm.prices.${i}.project: expected a project id.`);
    }
    const [entry] = parsePriceList([price], 'config', `llm.prices.${i}`);
    const key = project ?? '';
    byProject.set(key, [...(byProject.get(key) ?? []), entry as PriceEntry]);
  });
  return byProject;
}

/**
 * The price book of each project, read on every ingest request: built once from the shipped
 * table, the config file and the project's own list, and rebuilt when the project's list changes
 * here, or after `maxAgeMs` (when other instances sharing the store may change it).
 */
export class PriceCatalog {
  private readonly books = new Map<string, { book: Promise<PriceBook>; at: number }>();
  private readonly configured: Map<string, PriceEntry[]>;

  constructor(
    private readonly meta: Pick<AccountStore, 'llmPrices' | 'putLlmPrices'>,
    configured: readonly ConfiguredPrice[] = [],
    private readonly maxAgeMs = Number.POSITIVE_INFINITY,
  ) {
    this.configured = configuredPrices(configured);
  }

  /** The project's effective prices. */
  book(project: string): Promise<PriceBook> {
    const now = Date.now();
    const found = this.books.get(project);
    if (found && now - found.at < this.maxAgeMs) return found.book;
    const book = this.load(project);
    this.books.set(project, { book, at: now });
    book.catch(() => this.books.delete(project));
    return book;
  }

  /** The project's own entries (what `PUT` last stored). */
  async own(project: string): Promise<PriceEntry[]> {
    const doc = await this.meta.llmPrices(project);
    return doc ? parsePriceList(JSON.parse(doc) as unknown, 'project') : [];
  }

  /** Replaces the project's own entries (already checked); events ingested from now on use them. */
  async replace(project: string, prices: readonly PriceInput[], at = Date.now()): Promise<PriceBook> {
    await this.meta.putLlmPrices(project, JSON.stringify({ prices }), at);
    this.books.delete(project);
    return this.book(project);
  }

  private async load(project: string): Promise<PriceBook> {
    const config = [...(this.configured.get(project) ?? []), ...(this.configured.get('') ?? [])];
    return new PriceBook([await this.own(project), config, defaultPrices()]);
  }
}

/** The cost columns of an llm.request. */
export interface CostColumns {
  cost_usd: number | null;
  prompt_cost_usd: number | null;
  completion_cost_usd: number | null;
}

/**
 * What Vigil prices an llm.request at: the price in effect at its `ts` for its model applied to
 * its tokens, or all null without one (unpriced, never 0). Null when the caller reported the cost
 * (a stored reported cost has no prompt part): that cost stands and is never repriced.
 */
export function pricedCost(row: EventRow, book: PriceBook): CostColumns | null {
  if (row.cost_usd !== null && row.prompt_cost_usd === null) return null;
  const price = row.model === null ? null : book.priceAt(row.model, row.ts);
  if (!price) return { cost_usd: null, prompt_cost_usd: null, completion_cost_usd: null };
  const cost = costOf(price, {
    prompt: row.prompt_tokens,
    completion: row.completion_tokens,
    cacheRead: row.cache_read_tokens,
  });
  return { cost_usd: cost.total, prompt_cost_usd: cost.prompt, completion_cost_usd: cost.completion };
}

/**
 * Sets an incoming llm.request's cost: a reported `cost_usd` stands as it is; otherwise the price
 * in effect at its `ts` for its model prices its tokens; without one it stays unpriced.
 */
export function priceRequest(row: EventRow, book: PriceBook): void {
  if (row.cost_usd !== null) {
    row.prompt_cost_usd = null;
    row.completion_cost_usd = null;
    return;
  }
  Object.assign(row, pricedCost(row, book));
}
