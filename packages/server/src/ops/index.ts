export type { BackupManifest, RestoreResult } from './backup.js';
export { BackupError, readBackup, restoreBackup, writeBackup } from './backup.js';
export type { CheckResult } from './check.js';
export { runChecks } from './check.js';
export {
  backupCommand,
  checkCommand,
  exportCommand,
  generateCommand,
  OpsError,
  repriceCommand,
  restoreCommand,
  smokeCommand,
} from './commands.js';
export type { GenerateOptions } from './generate.js';
export { generateEvents } from './generate.js';
export { collectWhenQuiet } from './idle-memory.js';
export type { AuditMetricSource, SelfMetricSources, SelfMetrics } from './self-metrics.js';
export { createSelfMetrics, observeCommit } from './self-metrics.js';
export type { SmokeStep } from './smoke.js';
export { findIdentifiers, runSmoke } from './smoke.js';
export type { VerifyResult } from './verify.js';
export { verifyCommand } from './verify.js';
