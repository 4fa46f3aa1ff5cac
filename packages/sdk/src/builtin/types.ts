/** The built-in event types of Vigil and their props, as they go on the wire (DESIGN.md). */

/** Any props: JSON-like values; anything else is cleaned up rather than rejected. */
export type EventProps = Record<string, unknown>;

export type RecommendationAction = 'view' | 'accept' | 'ignore' | 'override';
export type AdminViewName =
  | 'dashboard_open'
  | 'signal_detail_open'
  | 'explanation_expand'
  | 'admin_note_create';

/** `llm.request`: one request to a language model. No prompt or completion text, ever. */
export interface LlmRequestProps {
  total_ms: number;
  context_ms?: number;
  llm_ms?: number;
  prompt_tokens?: number;
  completion_tokens?: number;
  /** Cached prompt tokens, already counted in `prompt_tokens`. */
  cache_read_tokens?: number;
  cache_hit?: boolean;
  /** What the request cost in US dollars as reported; without it the server prices the tokens. */
  cost_usd?: number;
  /** A low-cardinality category such as `timeout` or `rate_limit`, never an error message. */
  error_type?: string;
  user?: string;
  space?: string;
  model?: string;
}

/** `decision.recommendation`: an admin viewed, accepted, ignored or overrode a recommendation. */
export interface DecisionRecommendationProps {
  action: RecommendationAction;
  signal_id: string;
  recommendation_type: string;
  /** The recommendation's confidence when the admin saw it, 0..1. */
  confidence?: number;
  decision_time_ms?: number;
  admin_user?: string;
  explanation_version?: string;
}

/** `decision.outcome`: how a signal turned out; one per signal. */
export interface DecisionOutcomeProps {
  signal_id: string;
  outcome_status: string;
  resolution_time_hours?: number;
  admin_note_id?: string;
}

/** `admin.view`: an admin opened a screen or expanded something. */
export interface AdminViewProps {
  view: AdminViewName;
  admin_user?: string;
  signal_id?: string;
}

export interface BuiltinEventProps {
  'llm.request': LlmRequestProps;
  'decision.recommendation': DecisionRecommendationProps;
  'decision.outcome': DecisionOutcomeProps;
  'admin.view': AdminViewProps;
}

export type BuiltinEventType = keyof BuiltinEventProps;

/** Props accepted by `track(type, …)`: checked against the schema for a built-in type, free otherwise. */
export type PropsOf<T extends string> = T extends BuiltinEventType
  ? BuiltinEventProps[T] & EventProps
  : EventProps;

/** Per-call settings of `track()`. */
export interface TrackOptions {
  /** When it happened (default: now). A Date, epoch milliseconds, or an ISO-8601 string. */
  timestamp?: Date | number | string;
  /** The event's UUID, when the caller needs to know it; by default a fresh UUIDv7. */
  id?: string;
  /** Overrides the client's version tag for this event. */
  version?: string;
}

/** `track()` as the helpers use it. */
export type TrackFunction = (type: string, props?: EventProps, options?: TrackOptions) => void;

/** Copies `extra` props under the typed ones, leaving out undefined values. */
export function withExtra(typed: EventProps, extra: EventProps | undefined): EventProps {
  const out: EventProps = extra && typeof extra === 'object' ? { ...extra } : {};
  for (const key of Object.keys(typed)) if (typed[key] !== undefined) out[key] = typed[key];
  return out;
}
