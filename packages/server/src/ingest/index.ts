export type { CommitOutcome, CommitterStats, RejectedTally } from './committer.js';
export { GroupCommitter } from './committer.js';
export type { RawEvent } from './decode.js';
export { decodeEvents } from './decode.js';
export { ingestRoutes } from './route.js';
export type { ScrubPolicy, ScrubReason } from './scrub.js';
export { scrubPolicy, sensitiveValue } from './scrub.js';
export type { Rejection, ValidationContext, ValidEvent } from './validate.js';
export { isRejection, parseTs, validateEvent } from './validate.js';
