export { Cell, cellOf } from './aggregate.js';
export { spansOf } from './cache.js';
export type { Aggregate, ExploreQuery, ExploreResult } from './explore.js';
export { AGGREGATES, explore } from './explore.js';
export type { Aggregation, MetricDataPoint, MetricType } from './historical.js';
export { AGGREGATIONS, historical, MAX_POINTS, METRIC_TYPES, seriesBuckets } from './historical.js';
export { RollupMaintainer } from './maintainer.js';
export type { LatencyStats, LlmFilter, WindowName } from './query.js';
export {
  aggregate,
  decisionSummary,
  errorSpike,
  latencyStats,
  llmSnapshot,
  pct,
  tile,
  WINDOWS,
} from './query.js';
export type { RepriceOptions, RepriceReport } from './reprice.js';
export { RepriceError, reprice } from './reprice.js';
export type { Retention, RetentionResult } from './retention.js';
export { applyRetention, effectiveRetention, RetentionJob, retentionProblem } from './retention.js';
export type { RollupCheckReport } from './rollup-check.js';
export { checkRollups } from './rollup-check.js';
