/**
 * The Vigil SDK: fire-and-forget typed telemetry for Node.js and browsers.
 *
 * @example
 * ```ts
 * import { createClient } from '@vigil/sdk';
 *
 * const vigil = createClient({ endpoint: 'https://vigil.example.com', key: process.env.VIGIL_INGEST_KEY!, version: '2.3.1' });
 * vigil.track('report.exported', { format: 'csv' });
 * ```
 */
export type { AdminTelemetry, AdminViewInput } from './builtin/admin.js';
export type {
  DecisionTelemetry,
  OutcomeInput,
  RecommendationContext,
  RecommendationDecision,
  ShownRecommendation,
} from './builtin/decisions.js';
export { errorType } from './builtin/error-type.js';
export type {
  LlmRequestContext,
  LlmRequestRecord,
  LlmRequestTimer,
  LlmTelemetry,
  LlmUsage,
} from './builtin/llm.js';
export type {
  AdminViewName,
  AdminViewProps,
  BuiltinEventProps,
  BuiltinEventType,
  DecisionOutcomeProps,
  DecisionRecommendationProps,
  EventProps,
  LlmRequestProps,
  PropsOf,
  RecommendationAction,
  TrackOptions,
} from './builtin/types.js';
export { createClient, SDK_VERSION, VigilClient } from './client/client.js';
export type { ClientOptions, ClientStats, DeliveryReport, TrackedEvent } from './client/options.js';
export { VigilError, type VigilErrorCode, warnOncePerBurst } from './errors.js';
export { DEFAULT_LIMITS, type EventLimits } from './event/encode.js';
export { DEFAULT_DENY_PROPS } from './event/privacy.js';
export { DEFAULT_RETRY, type RetryPolicy } from './export/retry.js';
