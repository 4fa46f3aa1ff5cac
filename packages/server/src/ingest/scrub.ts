/**
 * Privacy scrubbing: properties whose name is on the deny-list, and string values that look
 * like e-mail addresses or phone numbers, are dropped before anything is stored; `content` is
 * LLM message content (OTLP `gen_ai.input.messages`, prompt/completion attributes, …).
 */
export type ScrubReason = 'deny_list' | 'email' | 'phone' | 'content';

export interface ScrubPolicy {
  denyList: ReadonlySet<string>;
  detectEmails: boolean;
  detectPhones: boolean;
}

export function scrubPolicy(config: {
  denyList: readonly string[];
  detectEmails: boolean;
  detectPhones: boolean;
}): ScrubPolicy {
  return {
    denyList: new Set(config.denyList.map((n) => n.toLowerCase())),
    detectEmails: config.detectEmails,
    detectPhones: config.detectPhones,
  };
}

const EMAIL = /[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}/;
// International (+CC …) or separated national formats such as (555) 123-4567 or 555-123-4567.
const PHONE =
  /(?:^|[^\w.-])(?:\+\d{1,3}[\s.-]?(?:\(\d{1,4}\)[\s.-]?)?\d{2,4}(?:[\s.-]?\d{2,4}){1,3}|\(\d{2,4}\)[\s.-]?\d{3,4}[\s.-]?\d{3,4}|\d{3}[\s.-]\d{3,4}[\s.-]\d{4})(?![\w.-]*\d)/;

/** Why a string value must not be stored, or null when it may. */
export function sensitiveValue(value: string, policy: ScrubPolicy): ScrubReason | null {
  if (policy.detectEmails && value.includes('@') && EMAIL.test(value)) return 'email';
  if (policy.detectPhones && value.length >= 9 && PHONE.test(value) && digitCount(value) >= 9) return 'phone';
  return null;
}

function digitCount(value: string): number {
  let n = 0;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c >= 48 && c <= 57) n++;
  }
  return n;
}
