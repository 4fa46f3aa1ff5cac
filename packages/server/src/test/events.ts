import { defaultConfig } from '../config/index.js';
import { isRejection, scrubPolicy, type ValidEvent, validateEvent } from '../ingest/index.js';

const config = defaultConfig();

/** Raw events through the real validation (default limits and privacy); a rejection throws. */
export function validEvents(
  raw: readonly unknown[],
  { project = 'default', receivedAt = Date.now(), strictTypes = false } = {},
): ValidEvent[] {
  const ctx = {
    project,
    strictTypes,
    receivedAt,
    limits: config.ingest,
    privacy: scrubPolicy(config.privacy),
  };
  return raw.map((e) => {
    const v = validateEvent(e, ctx);
    if (isRejection(v)) throw new Error(`test event rejected: ${v.message}`);
    return v;
  });
}
