export type {
  BooleanColumn,
  ColumnKind,
  EventColumn,
  EventColumns,
  NumberColumn,
  StringColumn,
} from './columns.js';
export { COLUMN_KINDS, EventColumnsBuilder, eventColumnsOf, eventRowOf, eventRowsOf } from './columns.js';
export type { BuiltinType, EventRow, EventView, FieldKind, TypedField, TypedFieldSpec } from './event.js';
export {
  ADDED_TYPED_FIELDS,
  BUILTIN_TYPES,
  CHAINED_FIELDS,
  EVENT_FIELDS,
  emptyRow,
  FIRST_TYPED_FIELDS,
  isBuiltinType,
  TYPED_FIELD_NAMES,
  TYPED_FIELDS,
  toEventView,
} from './event.js';
export type { PersonRole, Principal, Role } from './principal.js';
export { ROLES } from './principal.js';
export type { MetricSample, SampleKind } from './sample.js';
export { labelsKey, SAMPLE_KINDS } from './sample.js';
export { SAMPLE_RANK_BOUND, sampleKey, sampleMask, sampleRank } from './sampling.js';
export { wellFormed } from './text.js';
