export { defaultRules } from './defaults.js';
export type { AlertEngineOptions, CycleReport } from './engine.js';
export { AlertEngine, RuleNotFound } from './engine.js';
export type { MetricAsk, MetricInfo, MetricSources, MetricValue } from './metrics.js';
export { METRICS, metricCatalog, metricProblem, readMetrics } from './metrics.js';
export type { Delivery, DeliverySettings, DeliveryStats } from './notify.js';
export { Notifier } from './notify.js';
export type { AlertPayload } from './payload.js';
export {
  alertmanagerBody,
  fingerprint,
  SIGNATURE_HEADER,
  sign,
  TIMESTAMP_HEADER,
  webhookBody,
  ZERO_TIME,
} from './payload.js';
export type { AlertRule, NoDataPolicy, Operator, Receiver, RuleInput, Severity } from './rule.js';
export {
  buildRule,
  OPERATORS,
  parseDuration,
  ReceiversInputSchema,
  RuleInputSchema,
  RuleProblem,
  receiverView,
  ruleView,
  schemaProblems,
  violates,
} from './rule.js';
export type { AlertStatus, Observation, RuleState, StepPolicy, Transition, Verdict } from './state.js';
export { INITIAL_STATE, step, verdictOf } from './state.js';
export type { AlertView } from './views.js';
export { alertView } from './views.js';
