import { EVENT_REJECTIONS } from '../errors/index.js';
import type { GroupCommitter } from './committer.js';
import type { RawEvent } from './decode.js';
import { isRejection, type ValidationContext, type ValidEvent, validateEvent } from './validate.js';

export interface RejectedEvent {
  index: number;
  code: string;
  message: string;
}

export interface AcceptResult {
  accepted: number;
  /** In index order. */
  rejected: RejectedEvent[];
}

/**
 * The one way events enter storage, whatever route they came by: each is validated and
 * scrubbed on its own, the valid ones are group-committed (resolves after the commit), and
 * the rejections ride along with the commit for telemetry health.
 */
export async function acceptEvents(
  raw: readonly RawEvent[],
  committer: GroupCommitter,
  vctx: ValidationContext,
): Promise<AcceptResult> {
  const rejected: RejectedEvent[] = [];
  const valid: ValidEvent[] = [];
  const indexOf: number[] = [];
  // Ids are compared as stored (lower case): one event sent twice in a request is stored once
  // and counted once, so `accepted` is what the store holds of this request.
  const ids = new Set<string>();
  raw.forEach((item, index) => {
    if (!item.ok) {
      rejected.push({ index, code: 'invalid_json', message: item.message });
      return;
    }
    const result = validateEvent(item.value, vctx);
    if (isRejection(result)) rejected.push({ index, ...result });
    else if (ids.has(result.row.id)) {
      rejected.push({ index, code: 'duplicate_id', message: EVENT_REJECTIONS.duplicate_id });
    } else {
      ids.add(result.row.id);
      // Dropped before validation by the sender's decoder (OTLP message content), counted here.
      if (item.scrubbed && item.scrubbed.length > 0) {
        result.scrubbed = [...item.scrubbed, ...(result.scrubbed ?? [])];
      }
      valid.push(result);
      indexOf.push(index);
    }
  });
  const outcomes = await committer.submit(valid, {
    project: vctx.project,
    receivedAt: vctx.receivedAt,
    count: rejected.length,
  });
  outcomes.forEach((outcome, k) => {
    if (outcome === 'duplicate_outcome') {
      rejected.push({
        index: indexOf[k] as number,
        code: 'duplicate_outcome',
        message: EVENT_REJECTIONS.duplicate_outcome,
      });
    }
  });
  rejected.sort((a, b) => a.index - b.index);
  return { accepted: raw.length - rejected.length, rejected };
}
