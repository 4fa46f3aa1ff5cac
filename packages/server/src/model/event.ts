/**
 * What a stored event is. Fields the built-in analyses read are typed columns; everything
 * else of an event's props lives in one JSON column (`props`).
 */

export type FieldKind = 'double' | 'integer' | 'boolean' | 'string';

export interface TypedFieldSpec {
  readonly kind: FieldKind;
  readonly min?: number;
  readonly max?: number;
  readonly values?: readonly string[];
  /**
   * Added after the events table and the audit chain's row encoding were first fixed: stored
   * after the batch columns, and hashed by name only when set (so older chains stay valid).
   */
  readonly added?: true;
}

/** Every typed column of the events table, by prop name. Order is the column order. */
export const TYPED_FIELDS = {
  total_ms: { kind: 'double', min: 0 },
  context_ms: { kind: 'double', min: 0 },
  llm_ms: { kind: 'double', min: 0 },
  prompt_tokens: { kind: 'integer', min: 0, max: 2_147_483_647 },
  completion_tokens: { kind: 'integer', min: 0, max: 2_147_483_647 },
  cache_hit: { kind: 'boolean' },
  error_type: { kind: 'string' },
  user: { kind: 'string' },
  space: { kind: 'string' },
  model: { kind: 'string' },
  action: { kind: 'string', values: ['view', 'accept', 'ignore', 'override'] },
  signal_id: { kind: 'string' },
  recommendation_type: { kind: 'string' },
  confidence: { kind: 'double', min: 0, max: 1 },
  decision_time_ms: { kind: 'double', min: 0 },
  admin_user: { kind: 'string' },
  explanation_version: { kind: 'string' },
  outcome_status: { kind: 'string' },
  resolution_time_hours: { kind: 'double', min: 0 },
  admin_note_id: { kind: 'string' },
  view: {
    kind: 'string',
    values: ['dashboard_open', 'signal_detail_open', 'explanation_expand', 'admin_note_create'],
  },
  /** Cached prompt tokens (already counted in `prompt_tokens`). */
  cache_read_tokens: { kind: 'integer', min: 0, max: 2_147_483_647, added: true },
  /** What the request cost: as reported by the caller, or priced at ingestion from the price table. */
  cost_usd: { kind: 'double', min: 0, max: 1_000_000, added: true },
  /**
   * The prompt and completion parts of a priced cost (null when the cost was reported whole). Set
   * by Vigil, never taken from a client: no event type lists them, so a prop of that name stays in `props`.
   */
  prompt_cost_usd: { kind: 'double', added: true },
  completion_cost_usd: { kind: 'double', added: true },
} as const satisfies Record<string, TypedFieldSpec>;

export type TypedField = keyof typeof TYPED_FIELDS;
export const TYPED_FIELD_NAMES = Object.keys(TYPED_FIELDS) as TypedField[];
const isAdded = (name: TypedField) => (TYPED_FIELDS[name] as TypedFieldSpec).added === true;
/** Typed fields of the first schema, in column order (the audit chain hashes them by position). */
export const FIRST_TYPED_FIELDS = TYPED_FIELD_NAMES.filter((n) => !isAdded(n));
/** Typed fields added since, in the order their columns were added. */
export const ADDED_TYPED_FIELDS = TYPED_FIELD_NAMES.filter(isAdded);

/** The columns of an event's first schema, in order: the audit chain hashes every row in it. */
export const CHAINED_FIELDS: readonly (keyof EventRow)[] = [
  'id',
  'project',
  'type',
  'ts',
  'received_at',
  'late',
  'version',
  ...FIRST_TYPED_FIELDS,
  'props',
];

/** Every stored column of an event, in order (exports write it). */
export const EVENT_FIELDS: readonly (keyof EventRow)[] = [...CHAINED_FIELDS, ...ADDED_TYPED_FIELDS];

export interface BuiltinTypeSpec {
  readonly fields: readonly TypedField[];
  readonly required: readonly TypedField[];
}

/** The built-in event types of DESIGN.md and which typed fields each carries. */
export const BUILTIN_TYPES = {
  'llm.request': {
    fields: [
      'total_ms',
      'context_ms',
      'llm_ms',
      'prompt_tokens',
      'completion_tokens',
      'cache_hit',
      'error_type',
      'user',
      'space',
      'model',
      'cache_read_tokens',
      'cost_usd',
    ],
    required: ['total_ms'],
  },
  'decision.recommendation': {
    fields: [
      'action',
      'signal_id',
      'recommendation_type',
      'confidence',
      'decision_time_ms',
      'admin_user',
      'explanation_version',
    ],
    required: ['action', 'signal_id', 'recommendation_type'],
  },
  'decision.outcome': {
    fields: ['signal_id', 'outcome_status', 'resolution_time_hours', 'admin_note_id'],
    required: ['signal_id', 'outcome_status'],
  },
  'admin.view': {
    fields: ['view', 'admin_user', 'signal_id'],
    required: ['view'],
  },
} as const satisfies Record<string, BuiltinTypeSpec>;

export type BuiltinType = keyof typeof BUILTIN_TYPES;

export function isBuiltinType(type: string): type is BuiltinType {
  return Object.hasOwn(BUILTIN_TYPES, type);
}

export type TypedValues = {
  [K in TypedField]: (typeof TYPED_FIELDS)[K]['kind'] extends 'boolean'
    ? boolean | null
    : (typeof TYPED_FIELDS)[K]['kind'] extends 'string'
      ? string | null
      : number | null;
};

/** One event as stored. Times are epoch milliseconds (UTC). */
export interface EventRow extends TypedValues {
  id: string;
  project: string;
  type: string;
  ts: number;
  received_at: number;
  /** The event arrived later than the lateness threshold after its `ts`. */
  late: boolean;
  version: string | null;
  /** JSON text of the props that have no typed column, or null when there are none. */
  props: string | null;
}

/** A row with every typed field set to null, in column order (a stable shape for V8). */
export function emptyRow(): EventRow {
  return {
    id: '',
    project: '',
    type: '',
    ts: 0,
    received_at: 0,
    late: false,
    version: null,
    total_ms: null,
    context_ms: null,
    llm_ms: null,
    prompt_tokens: null,
    completion_tokens: null,
    cache_hit: null,
    error_type: null,
    user: null,
    space: null,
    model: null,
    action: null,
    signal_id: null,
    recommendation_type: null,
    confidence: null,
    decision_time_ms: null,
    admin_user: null,
    explanation_version: null,
    outcome_status: null,
    resolution_time_hours: null,
    admin_note_id: null,
    view: null,
    cache_read_tokens: null,
    cost_usd: null,
    prompt_cost_usd: null,
    completion_cost_usd: null,
    props: null,
  };
}

/** The event as the read API shows it: typed fields folded back into props. */
export interface EventView {
  id: string;
  type: string;
  ts: string;
  receivedAt: string;
  late: boolean;
  version: string | null;
  props: Record<string, unknown>;
}

export function toEventView(row: EventRow): EventView {
  const props: Record<string, unknown> = row.props ? (JSON.parse(row.props) as Record<string, unknown>) : {};
  for (const name of TYPED_FIELD_NAMES) {
    const value = row[name];
    if (value !== null) props[name] = value;
  }
  return {
    id: row.id,
    type: row.type,
    ts: new Date(row.ts).toISOString(),
    receivedAt: new Date(row.received_at).toISOString(),
    late: row.late,
    version: row.version,
    props,
  };
}
