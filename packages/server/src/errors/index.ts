/**
 * The one error catalog of the server: every error a client can see has a stable code,
 * an HTTP status and a message a person can act on. Bodies are `{"error":{"code","message"}}`.
 */
export const ERRORS = {
  bad_request: { status: 400, message: 'The request is malformed.' },
  invalid_json: { status: 400, message: 'The body is not valid JSON.' },
  invalid_ndjson: { status: 400, message: 'A line of the NDJSON body is not valid JSON.' },
  invalid_gzip: { status: 400, message: 'The body is declared gzip but could not be decompressed.' },
  invalid_body: { status: 400, message: 'The body does not have the expected shape.' },
  invalid_query: { status: 400, message: 'A query parameter is invalid.' },
  too_deep: { status: 400, message: 'The body is nested too deeply.' },
  invalid_protobuf: { status: 400, message: 'The body is not a valid protobuf OTLP export request.' },
  invalid_otlp: { status: 400, message: 'The body is not a valid OTLP export request.' },
  invalid_cursor: {
    status: 400,
    message: 'The cursor is not one this server issued; start again without it.',
  },
  unsupported_encoding: {
    status: 415,
    message: 'Unsupported Content-Encoding; send identity or gzip.',
  },
  unsupported_media_type: {
    status: 415,
    message: 'Unsupported Content-Type; send application/json or application/x-ndjson.',
  },
  unauthorized: {
    status: 401,
    message: 'Missing or invalid credentials; send Authorization: Bearer <key>.',
  },
  key_revoked: { status: 401, message: 'This key has been revoked; create a new one.' },
  invalid_login: { status: 401, message: 'Unknown user or wrong password.' },
  forbidden: { status: 403, message: 'This key or user is not allowed to do that.' },
  not_found: { status: 404, message: 'No such resource.' },
  wrong_password: { status: 400, message: 'The current password is not right.' },
  not_a_person: {
    status: 400,
    message: 'Only a person signed in to the dashboard has a password here; keys and tokens have none.',
  },
  oidc_not_configured: {
    status: 404,
    message: 'Sign-in with an identity provider is not configured on this server (auth.oidc).',
  },
  oidc_state_mismatch: {
    status: 400,
    message:
      'This sign-in was not started here, was already used, or has expired (state does not match); start again from the login page.',
  },
  oidc_refused: { status: 400, message: 'The identity provider did not complete the sign-in.' },
  oidc_invalid_token: {
    status: 401,
    message:
      'The ID token from the identity provider is not valid (signature, issuer, audience, nonce or expiry); nobody was signed in.',
  },
  oidc_domain_not_allowed: {
    status: 403,
    message: 'Your email address is not in a domain allowed to sign in here (auth.oidc.allowedDomains).',
  },
  oidc_no_role: {
    status: 403,
    message: 'Your account at the identity provider gives you no role in Vigil; ask an admin for one.',
  },
  oidc_unavailable: {
    status: 424,
    message:
      'The identity provider cannot be reached right now; try again shortly (VIGIL_ADMIN_TOKEN still works).',
  },
  invalid_collector: {
    status: 400,
    message: 'The collector spec is invalid; see the message for the field.',
  },
  invalid_prices: {
    status: 400,
    message: 'The price list is invalid; see the message for the entry and field.',
  },
  collector_exists: {
    status: 409,
    message: 'A collector of that name exists in this project; pick another name.',
  },
  collector_readonly: { status: 409, message: 'This collector comes from the config file; change it there.' },
  credentials_unavailable: {
    status: 400,
    message: 'The server has no VIGIL_SECRET_KEY, so it cannot store credentials; set it and restart.',
  },
  public_view_disabled: { status: 404, message: 'There is no public telemetry view here.' },
  uri_too_long: { status: 414, message: 'The URL is too long.' },
  method_not_allowed: { status: 405, message: 'Method not allowed on this route.' },
  payload_too_large: { status: 413, message: 'The request body is too large.' },
  decompressed_too_large: { status: 413, message: 'The decompressed body is too large.' },
  too_many_events: { status: 413, message: 'Too many events in one request; split the batch.' },
  rate_limited: { status: 429, message: 'Rate limit exceeded; retry after the time given in Retry-After.' },
  overloaded: { status: 429, message: 'The server is busy; retry after the time given in Retry-After.' },
  commit_failed: {
    status: 503,
    message:
      'The store could not commit these events and none of them was acknowledged; retry after the time given in Retry-After (event ids make the retry safe).',
  },
  store_unavailable: {
    status: 503,
    message:
      'The store cannot write right now (for example the disk is full); nothing was stored. Retry after the time given in Retry-After.',
  },
  insufficient_memory: {
    status: 503,
    message:
      'The store needs more memory for this operation than store.duckdb.memoryLimit allows; raise the limit (see docs/configuration.md) and retry.',
  },
  not_supported_by_store: {
    status: 409,
    message:
      "This server's store cannot do that (its halves are on different engines); the message names the tool to use instead.",
  },
  shutting_down: { status: 503, message: 'The server is shutting down; retry shortly.' },
  not_ready: { status: 503, message: 'The store is not open yet.' },
  internal: { status: 500, message: 'Internal error; the server log has details under this request id.' },
} as const satisfies Record<string, { status: number; message: string }>;

export type ErrorCode = keyof typeof ERRORS;

/** Codes of per-event rejections inside a 200 response (`rejected[{index,code,message}]`). */
export const EVENT_REJECTIONS = {
  invalid_event: 'The event is not a JSON object.',
  invalid_json: 'This NDJSON line is not valid JSON.',
  invalid_type:
    'type must be a string of 1-100 letters, digits, ".", "_", ":" or "-", starting with a letter.',
  unknown_event_type: 'This project is in strict mode and accepts only the built-in event types.',
  invalid_id: 'id must be a UUID (UUIDv7 recommended).',
  invalid_ts: 'ts must be an ISO-8601 date-time or epoch milliseconds.',
  ts_in_future: 'ts is too far in the future; check the sender clock.',
  ts_too_old: 'ts is older than the oldest accepted event time.',
  invalid_version: 'version must be a non-empty string of at most 64 characters.',
  invalid_field: 'A field does not match the schema of its event type.',
  missing_field: 'A required field of the event type is missing.',
  string_too_long: 'A string value is longer than allowed.',
  too_deep: 'props are nested too deeply.',
  too_many_props: 'The event has too many properties.',
  event_too_large: 'The event is too large.',
  duplicate_id: 'An earlier event of this request has the same id (ids ignore case); it is stored once.',
  duplicate_outcome: 'This signal already has an outcome; a signal has at most one decision.outcome.',
} as const;

export type EventRejectionCode = keyof typeof EVENT_REJECTIONS;

export class VigilError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  /** Seconds, sent as Retry-After on 429/503. */
  readonly retryAfter: number | undefined;

  constructor(code: ErrorCode, options: { message?: string; retryAfter?: number; cause?: unknown } = {}) {
    super(options.message ?? ERRORS[code].message, { cause: options.cause });
    this.name = 'VigilError';
    this.code = code;
    this.status = ERRORS[code].status;
    this.retryAfter = options.retryAfter;
  }

  toBody(): { error: { code: ErrorCode; message: string } } {
    return { error: { code: this.code, message: this.message } };
  }
}
