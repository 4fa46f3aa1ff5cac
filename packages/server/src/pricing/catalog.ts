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
 * table, the config file and the project's own list, and rebuilt when the project's list changes.
 */
export class PriceCatalog {
  private readonly books = new Map<string, Promise<PriceBook>>();
  private readonly configured: Map<string, PriceEntry[]>;

  constructor(
    private readonly meta: Pick<AccountStore, 'llmPrices' | 'putLlmPrices'>,
    configured: readonly ConfiguredPrice[] = [],
  ) {
    this.configured = configuredPrices(configured);
  }

  /** The project's effective prices. */
  book(project: string): Promise<PriceBook> {
    let found = this.books.get(project);
    if (!found) {
      found = this.load(project);
      this.books.set(project, found);
      found.catch(() => this.books.delete(project));
    }
    return found;
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

/**
 * Sets an llm.request's cost: a reported `cost_usd` stands as it is; otherwise the price in effect
 * at its `ts` for its model prices its tokens; without one it stays unpriced (null, never 0).
 */
export function priceRequest(row: EventRow, book: PriceBook): void {
  if (row.cost_usd !== null) {
    row.prompt_cost_usd = null;
    row.completion_cost_usd = null;
    return;
  }
  const price = row.model === null ? null : book.priceAt(row.model, row.ts);
  if (!price) return;
  const cost = costOf(price, {
    prompt: row.prompt_tokens,
    completion: row.completion_tokens,
    cacheRead: row.cache_read_tokens,
  });
  row.cost_usd = cost.total;
  row.prompt_cost_usd = cost.prompt;
  row.completion_cost_usd = cost.completion;
}
