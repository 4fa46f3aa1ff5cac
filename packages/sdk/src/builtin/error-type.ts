/**
 * A low-cardinality category for an error, for `llm.request`'s `error_type`. Never the message text:
 * messages can carry prompts, user data and unbounded variety.
 *
 * @example
 * ```ts
 * errorType(Object.assign(new Error('Rate limit reached for gpt-4o'), { status: 429 })); // 'rate_limit'
 * errorType(new DOMException('aborted', 'AbortError')); // 'aborted'
 * errorType('context_length'); // 'context_length'
 * ```
 */
export function errorType(error: unknown): string {
  if (typeof error === 'string') return CATEGORY.test(error) ? error : 'error';
  if (typeof error !== 'object' || error === null) return 'error';
  let name: unknown;
  let code: unknown;
  let status: unknown;
  try {
    const e = error as {
      name?: unknown;
      code?: unknown;
      status?: unknown;
      statusCode?: unknown;
      response?: unknown;
    };
    name = e.name;
    code = e.code;
    status = e.status ?? e.statusCode ?? (e.response as { status?: unknown } | undefined)?.status;
  } catch {
    return 'error';
  }
  if (name === 'TimeoutError' || (typeof code === 'string' && TIMEOUT_CODES.has(code))) return 'timeout';
  if (name === 'AbortError') return 'aborted';
  if (typeof code === 'string' && NETWORK_CODES.has(code)) return 'network';
  // Provider codes such as OpenAI's 'context_length_exceeded' are specific and low-cardinality.
  if (typeof code === 'string' && PROVIDER_CODE.test(code)) return code;
  if (typeof status === 'number') {
    const category = statusCategory(status);
    if (category) return category;
  }
  if (typeof name === 'string' && name !== 'Error' && CATEGORY.test(name)) return name;
  return 'error';
}

const CATEGORY = /^[A-Za-z][A-Za-z0-9_.:-]{0,63}$/;
const PROVIDER_CODE = /^[a-z][a-z0-9_]{2,63}$/;
const TIMEOUT_CODES = new Set([
  'ETIMEDOUT',
  'ESOCKETTIMEDOUT',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
]);
const NETWORK_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'UND_ERR_SOCKET',
]);

function statusCategory(status: number): string | null {
  if (status === 408) return 'timeout';
  if (status === 429) return 'rate_limit';
  if (status === 401 || status === 403) return 'auth';
  if (status === 404) return 'not_found';
  if (status === 400 || status === 413 || status === 422) return 'bad_request';
  if (status >= 500 && status < 600) return 'server_error';
  if (status >= 400 && status < 500) return 'client_error';
  return null;
}
