export type { GenerateOptions } from './generate.js';
export { generateEvents } from './generate.js';
export type { SelfMetricSources, SelfMetrics } from './self-metrics.js';
export { createSelfMetrics } from './self-metrics.js';
