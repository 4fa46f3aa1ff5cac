/**
 * The shapes of the server's answers that the dashboard reads: the server's own types
 * (packages/server/src/api/answers.ts), imported as types only, so nothing is restated here.
 */
export type {
  AlertAnswer,
  AlertMetricInfo,
  AlertView,
  Cost,
  Current,
  DecisionStats,
  DecisionSummary,
  EventView,
  LatencyStats,
  MetricPoint,
  PriceEntry,
  ReceiverAnswer,
  RuleAnswer,
} from '../../server/src/api/answers.js';

import type { Cost, Current } from '../../server/src/api/answers.js';

/**
 * What the LLM view shows for a custom range, put together from historical series: no spike
 * judgement and no priced/unpriced counts there. `Current` is one.
 */
export type RangeCurrent = Omit<Current, 'errors' | 'cost' | 'start' | 'end' | 'latencyViolations'> & {
  errors: Omit<Current['errors'], 'spike'> & { spike: { detected: boolean } };
  cost: Pick<Cost, 'totalUsd' | 'averagePerRequest' | 'byUser' | 'bySpace' | 'byModel' | 'unpricedModels'> & {
    pricedRequests: number | null;
    unpricedRequests: number | null;
  };
};
