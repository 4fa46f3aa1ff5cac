import { type Static, type TSchema, Type } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { metricProblem } from './metrics.js';

export const OPERATORS = ['>', '>=', '<', '<=', '==', '!='] as const;
export type Operator = (typeof OPERATORS)[number];
export const NO_DATA = ['ok', 'keep', 'alert'] as const;
export type NoDataPolicy = (typeof NO_DATA)[number];
export const SEVERITIES = ['critical', 'warning', 'info'] as const;
export type Severity = (typeof SEVERITIES)[number];

const DURATION = '^[0-9]+(\\.[0-9]+)?(ms|s|m|h|d)$';
const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** `30s`, `5m`, `1.5h`, `7d` → milliseconds, or null when it is not a duration. */
export function parseDuration(text: string): number | null {
  const m = /^([0-9]+(?:\.[0-9]+)?)(ms|s|m|h|d)$/.exec(text);
  if (!m) return null;
  return Math.round(Number(m[1]) * (UNITS[m[2] as string] as number));
}

/** Attaches the reason a person reads when a value does not match. */
const say = <T extends TSchema>(schema: T, why: string): T => Object.assign(schema, { why });
const Duration = (why: string) => say(Type.String({ pattern: DURATION, maxLength: 20 }), why);
const LabelMap = (why: string) =>
  say(
    Type.Record(
      Type.String({ pattern: '^[a-zA-Z_][a-zA-Z0-9_]*$', maxLength: 100 }),
      Type.String({ maxLength: 1000 }),
      { maxProperties: 50 },
    ),
    why,
  );

export const ReceiverSchema = Type.Object(
  {
    type: say(
      Type.Union([Type.Literal('webhook'), Type.Literal('alertmanager')]),
      'must be "webhook" or "alertmanager"',
    ),
    url: say(Type.String({ minLength: 1, maxLength: 2000 }), 'must be an http(s) URL'),
    secret: Type.Optional(say(Type.String({ minLength: 1, maxLength: 500 }), 'must be a non-empty string')),
  },
  { additionalProperties: false },
);
export type Receiver = Static<typeof ReceiverSchema>;

/** The body of `POST /api/alerts/rules` and `PUT /api/alerts/rules/:id`. */
export const RuleInputSchema = Type.Object(
  {
    project: Type.Optional(
      say(Type.String({ pattern: '^[a-z0-9][a-z0-9_-]{0,63}$' }), 'must be a project id'),
    ),
    name: say(Type.String({ minLength: 1, maxLength: 200 }), 'must be a string of 1-200 characters'),
    metric: say(Type.String({ minLength: 1, maxLength: 100 }), 'must name a metric (see the README)'),
    filters: Type.Optional(
      say(
        Type.Record(Type.String({ minLength: 1, maxLength: 100 }), Type.String({ maxLength: 1000 }), {
          maxProperties: 10,
        }),
        'must be an object of field: value strings',
      ),
    ),
    operator: say(Type.Union(OPERATORS.map((o) => Type.Literal(o))), `must be one of ${OPERATORS.join(' ')}`),
    threshold: say(Type.Number(), 'must be a number'),
    window: Type.Optional(Duration('must be a duration like 5m, 1h or 1d')),
    consecutive: Type.Optional(
      say(Type.Integer({ minimum: 1, maximum: 10_000 }), 'must be an integer from 1 to 10000'),
    ),
    interval: Type.Optional(Duration('must be a duration like 30s or 1m (at least 1s)')),
    evaluationDelay: Type.Optional(Duration('must be a duration like 0s, 15s or 1m')),
    severity: Type.Optional(
      say(Type.Union(SEVERITIES.map((s) => Type.Literal(s))), `must be one of ${SEVERITIES.join(', ')}`),
    ),
    minSamples: Type.Optional(
      say(Type.Integer({ minimum: 0, maximum: 1_000_000_000 }), 'must be an integer ≥ 0'),
    ),
    noData: Type.Optional(
      say(Type.Union(NO_DATA.map((s) => Type.Literal(s))), `must be one of ${NO_DATA.join(', ')}`),
    ),
    keepFiringFor: Type.Optional(Duration('must be a duration like 0s or 10m')),
    labels: Type.Optional(LabelMap('must map label names ([a-zA-Z_][a-zA-Z0-9_]*) to strings')),
    annotations: Type.Optional(LabelMap('must map names ([a-zA-Z_][a-zA-Z0-9_]*) to strings')),
    receivers: Type.Optional(
      say(Type.Array(ReceiverSchema, { maxItems: 10 }), 'must be a list of at most 10 receivers'),
    ),
    useDefaultReceivers: Type.Optional(say(Type.Boolean(), 'must be true or false')),
    enabled: Type.Optional(say(Type.Boolean(), 'must be true or false')),
  },
  { additionalProperties: false },
);
export type RuleInput = Static<typeof RuleInputSchema>;

export const ReceiversInputSchema = Type.Object(
  {
    project: Type.Optional(Type.String({ pattern: '^[a-z0-9][a-z0-9_-]{0,63}$' })),
    receivers: say(Type.Array(ReceiverSchema, { maxItems: 10 }), 'must be a list of at most 10 receivers'),
  },
  { additionalProperties: false },
);

/** A rule as stored and evaluated: every field present, durations both as given and in ms. */
export interface AlertRule {
  id: string;
  project: string;
  name: string;
  metric: string;
  filters: Record<string, string>;
  operator: Operator;
  threshold: number;
  window: string;
  consecutive: number;
  interval: string;
  evaluationDelay: string;
  severity: Severity;
  minSamples: number;
  noData: NoDataPolicy;
  keepFiringFor: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  receivers: Receiver[];
  useDefaultReceivers: boolean;
  enabled: boolean;
  /** Created by Vigil for a new project (still editable). */
  builtin: boolean;
  createdAt: string;
  updatedAt: string;
}

/** Durations of a rule in milliseconds. */
export interface RuleTimes {
  windowMs: number;
  intervalMs: number;
  delayMs: number;
  keepFiringForMs: number;
}

export function ruleTimes(rule: AlertRule): RuleTimes {
  return {
    windowMs: parseDuration(rule.window) ?? 300_000,
    intervalMs: parseDuration(rule.interval) ?? 30_000,
    delayMs: parseDuration(rule.evaluationDelay) ?? 0,
    keepFiringForMs: parseDuration(rule.keepFiringFor) ?? 0,
  };
}

/** A field and why it is wrong. */
export class RuleProblem extends Error {
  constructor(
    readonly field: string,
    why: string,
  ) {
    super(`${field}: ${why}`);
  }
}

function fieldOf(path: string): string {
  return path.replace(/^\//, '').replaceAll('/', '.') || 'body';
}

/** Schema errors of a body, one per field, each as "field: why" (the first few fields). */
export function schemaProblems(schema: TSchema, body: unknown): string[] {
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    return ['body: must be a JSON object'];
  const byField = new Map<string, string>();
  for (const e of Value.Errors(schema, body)) {
    const field = fieldOf(e.path);
    if (byField.has(field)) continue;
    const why = (e.schema as TSchema & { why?: string }).why ?? e.message;
    byField.set(
      field,
      e.message.toLowerCase().includes('unexpected property')
        ? 'is not a known field'
        : e.value === undefined
          ? `is required and ${why}`
          : why,
    );
    if (byField.size >= 5) break;
  }
  return [...byField].map(([field, why]) => `${field}: ${why}`);
}

export interface RuleDefaults {
  intervalMs: number;
  evaluationDelayMs: number;
}

const MIN_INTERVAL = 1000;
const MAX_INTERVAL = 86_400_000;
const MIN_WINDOW = 60_000;
const MAX_WINDOW = 31 * 86_400_000;
const fmtMs = (ms: number) => (ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`);

/** Builds a rule from a schema-valid input, checking what the schema cannot (throws RuleProblem). */
export function buildRule(
  input: RuleInput,
  base: {
    id: string;
    project: string;
    createdAt: number;
    now: number;
    builtin: boolean;
    previous?: AlertRule;
  },
  defaults: RuleDefaults,
): AlertRule {
  const window = input.window ?? '5m';
  const interval = input.interval ?? fmtMs(defaults.intervalMs);
  const evaluationDelay = input.evaluationDelay ?? fmtMs(defaults.evaluationDelayMs);
  const keepFiringFor = input.keepFiringFor ?? '0s';
  const windowMs = parseDuration(window) as number;
  const intervalMs = parseDuration(interval) as number;
  if (windowMs < MIN_WINDOW || windowMs > MAX_WINDOW)
    throw new RuleProblem('window', 'must be between 1m and 31d (rollups are per minute)');
  if (intervalMs < MIN_INTERVAL || intervalMs > MAX_INTERVAL)
    throw new RuleProblem('interval', 'must be between 1s and 1d');
  if ((parseDuration(evaluationDelay) as number) > 3_600_000)
    throw new RuleProblem('evaluationDelay', 'must be at most 1h');
  if ((parseDuration(keepFiringFor) as number) > 7 * 86_400_000)
    throw new RuleProblem('keepFiringFor', 'must be at most 7d');
  if (!Number.isFinite(input.threshold)) throw new RuleProblem('threshold', 'must be a finite number');
  const filters = input.filters ?? {};
  const problem = metricProblem(input.metric, filters);
  if (problem) throw new RuleProblem(problem.field, problem.why);
  const receivers = buildReceivers(input.receivers ?? [], base.previous?.receivers ?? []);
  return {
    id: base.id,
    project: base.project,
    name: input.name,
    metric: input.metric,
    filters,
    operator: input.operator,
    threshold: input.threshold,
    window,
    consecutive: input.consecutive ?? 1,
    interval,
    evaluationDelay,
    severity: input.severity ?? 'warning',
    minSamples: input.minSamples ?? 0,
    noData: input.noData ?? 'keep',
    keepFiringFor,
    labels: input.labels ?? {},
    annotations: input.annotations ?? {},
    receivers,
    useDefaultReceivers: input.useDefaultReceivers ?? true,
    enabled: input.enabled ?? true,
    builtin: base.builtin,
    createdAt: new Date(base.createdAt).toISOString(),
    updatedAt: new Date(base.now).toISOString(),
  };
}

/** Checks receivers given as project defaults (same rules as on a rule). */
export function buildReceivers(input: Receiver[], previous: Receiver[]): Receiver[] {
  return input.map((r, i) => {
    let url: URL;
    try {
      url = new URL(r.url);
    } catch {
      throw new RuleProblem(`receivers.${i}.url`, `'${r.url}' is not a URL`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:')
      throw new RuleProblem(`receivers.${i}.url`, 'must be an http or https URL');
    if (r.type === 'alertmanager' && r.secret !== undefined)
      throw new RuleProblem(`receivers.${i}.secret`, 'applies to webhook receivers only');
    // A PUT that omits a secret keeps the one stored for the same receiver (GET never shows it).
    const kept = r.secret ?? previous.find((p) => p.type === r.type && p.url === r.url)?.secret;
    return { type: r.type, url: r.url, ...(kept !== undefined ? { secret: kept } : {}) };
  });
}

/** A receiver as shown by the API: whether it has a secret, never the secret. */
export const receiverView = (r: Receiver) => ({
  type: r.type,
  url: r.url,
  secretSet: r.secret !== undefined,
});

/** A rule as shown by the API (secrets hidden). */
export function ruleView(rule: AlertRule) {
  return { ...rule, receivers: rule.receivers.map(receiverView) };
}

/** True when `value operator threshold` holds (the condition of the rule is violated). */
export function violates(value: number, operator: Operator, threshold: number): boolean {
  switch (operator) {
    case '>':
      return value > threshold;
    case '>=':
      return value >= threshold;
    case '<':
      return value < threshold;
    case '<=':
      return value <= threshold;
    case '==':
      return value === threshold;
    case '!=':
      return value !== threshold;
  }
}
