export { addDays, dayOf, dayStart, isDay } from './days.js';
export type { BaselineDay, VolumeJudgement, ZeroActivityJudgement } from './detectors.js';
export { judgeErrorRate, judgeVersions, judgeVolume, judgeZeroActivity, median } from './detectors.js';
export type { HealthLog, Severity } from './guardrails.js';
export type {
  HealthMonitorOptions,
  HealthSummary,
  HealthWindow,
  LiveActivity,
  OpenFlag,
} from './monitor.js';
export { HealthMonitor, type ProvisionalSnapshot } from './monitor.js';
export type { HealthFlag, IntegritySnapshot } from './snapshot.js';
export type { SampleResult, SamplingFailure, SamplingReason, SamplingReasonCode } from './verifier.js';
export { checkEvent, verifySample } from './verifier.js';
