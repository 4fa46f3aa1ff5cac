export { DEPLOYMENT_STATUSES } from './deployments.js';
export type {
  CollectContext,
  CollectedSample,
  Collector,
  CollectorOutput,
  CollectorRun,
} from './framework.js';
export { runCollector } from './framework.js';
export type { CollectorEntry, CollectorLog, CollectorRunMetrics, RoundReport } from './orchestrator.js';
export {
  CollectorConflict,
  CollectorOrchestrator,
  CredentialsUnavailable,
  describeEntry,
} from './orchestrator.js';
export type { ExpositionFormat, MetricFamily, ParsedSample } from './prometheus-text.js';
export { ExpositionError, parseExposition } from './prometheus-text.js';
export type { CollectorSpec, CollectorType } from './spec.js';
export { COLLECTOR_TYPES, parseCollectorSpec, SpecError } from './spec.js';
export type { TelemetryPublic, TelemetryStatus } from './views.js';
export { publicView, telemetryStatus } from './views.js';
