export type { ConfiguredPrice, CostColumns } from './catalog.js';
export { configuredPrices, PriceCatalog, pricedCost, priceRequest } from './catalog.js';
export type { PriceEntry, PriceInput, PriceSource, PriceView, RequestCost } from './table.js';
export {
  costOf,
  defaultPrices,
  PriceBook,
  PriceError,
  PriceInputSchema,
  PriceListSchema,
  parsePriceList,
  priceView,
} from './table.js';
