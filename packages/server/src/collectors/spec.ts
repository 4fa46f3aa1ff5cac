import { type Static, type TSchema, Type } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';

/**
 * Collector specs: what the config file's `telemetry.collectors` and `POST /api/collectors`
 * accept. One schema per type, checked after the type itself, so an error names the field.
 */

export const COLLECTOR_TYPES = ['prometheus', 'http-health', 'docker', 'deployments'] as const;
export type CollectorType = (typeof COLLECTOR_TYPES)[number];

const Name = Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$' });
const HttpUrl = Type.String({ pattern: '^https?://[^\\s]+$', maxLength: 2048 });

/** Secrets a collector sends to its target; sealed at rest, never returned, never logged. */
export const Credentials = Type.Object(
  {
    /** Sent as `Authorization: Bearer <token>`. */
    token: Type.Optional(Type.String({ minLength: 1, maxLength: 4096 })),
    /** Extra request headers whose values are secret (e.g. an API key header). */
    headers: Type.Optional(
      Type.Record(Type.String({ pattern: '^[A-Za-z0-9-]{1,64}$' }), Type.String({ maxLength: 4096 }), {
        maxProperties: 16,
      }),
    ),
  },
  { additionalProperties: false },
);
export type Credentials = Static<typeof Credentials>;

const common = {
  name: Name,
  /** Project the samples and runs belong to (default: the caller's, or `default`). */
  project: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
  intervalMs: Type.Optional(Type.Integer({ minimum: 1_000, maximum: 86_400_000 })),
  timeoutMs: Type.Optional(Type.Integer({ minimum: 50, maximum: 120_000 })),
  enabled: Type.Optional(Type.Boolean()),
  credentials: Type.Optional(Credentials),
};

const JsonPath = Type.String({ pattern: '^\\$?[A-Za-z0-9_.\\[\\]-]{1,200}$' });

export const SPEC_SCHEMAS = {
  prometheus: Type.Object(
    {
      type: Type.Literal('prometheus'),
      ...common,
      url: HttpUrl,
      /** Series kept per scrape; families past it are dropped and counted. */
      maxSeries: Type.Optional(Type.Integer({ minimum: 1, maximum: 1_000_000 })),
    },
    { additionalProperties: false },
  ),
  'http-health': Type.Object(
    {
      type: Type.Literal('http-health'),
      ...common,
      url: HttpUrl,
      /** The service this agent runs (for version rollout); default: the collector's name. */
      service: Type.Optional(Name),
      statusPath: Type.Optional(JsonPath),
      versionPath: Type.Optional(JsonPath),
      uptimePath: Type.Optional(JsonPath),
      /** Numeric fields to record, sample name suffix → JSON path (`$.queue.depth`). */
      fields: Type.Optional(
        Type.Record(Type.String({ pattern: '^[a-z][a-z0-9_]{0,63}$' }), JsonPath, { maxProperties: 64 }),
      ),
    },
    { additionalProperties: false },
  ),
  docker: Type.Object(
    {
      type: Type.Literal('docker'),
      ...common,
      /** Engine API over TCP (`http://127.0.0.1:2375`); without it, the unix socket. */
      url: Type.Optional(HttpUrl),
      socketPath: Type.Optional(Type.String({ minLength: 1, maxLength: 1024 })),
      /** Include stopped containers (default true). */
      all: Type.Optional(Type.Boolean()),
    },
    { additionalProperties: false },
  ),
  deployments: Type.Object(
    {
      type: Type.Literal('deployments'),
      ...common,
      /** Only these services (default: every service the agents report). */
      services: Type.Optional(Type.Array(Name, { maxItems: 1000 })),
    },
    { additionalProperties: false },
  ),
} as const satisfies Record<CollectorType, TSchema>;

export type PrometheusSpec = Static<(typeof SPEC_SCHEMAS)['prometheus']>;
export type HttpHealthSpec = Static<(typeof SPEC_SCHEMAS)['http-health']>;
export type DockerSpec = Static<(typeof SPEC_SCHEMAS)['docker']>;
export type DeploymentsSpec = Static<(typeof SPEC_SCHEMAS)['deployments']>;
export type CollectorSpec = PrometheusSpec | HttpHealthSpec | DockerSpec | DeploymentsSpec;

/** A spec with its defaults filled in. */
export type ResolvedSpec = CollectorSpec & { project: string; intervalMs: number; timeoutMs: number };

export const SPEC_DEFAULTS = { intervalMs: 30_000, timeoutMs: 5_000, maxSeries: 10_000 } as const;

/** What a pattern-checked field must look like, in words. */
const PATTERN_HINTS: Record<string, string> = {
  url: 'must be an http:// or https:// URL',
  name: "must be 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit",
  service: "must be 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit",
  statusPath: 'must be a JSON path like $.status or $.checks[0].state',
  versionPath: 'must be a JSON path like $.version',
  uptimePath: 'must be a JSON path like $.uptime_seconds',
  fields: 'field names are lower_snake_case and paths look like $.queue.depth',
  services: "must be names of 1-64 letters, digits, '.', '_' or '-'",
  credentials: 'header names are letters, digits and -',
};

export class SpecError extends Error {
  override name = 'SpecError';
}

/**
 * Checks one collector spec; throws a `SpecError` whose message lists every problem by field.
 * `where` prefixes the messages (e.g. `telemetry.collectors[2]`).
 */
export function parseCollectorSpec(input: unknown, where = 'collector'): CollectorSpec {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw new SpecError(`${where} must be a JSON object`);
  }
  const type = (input as { type?: unknown }).type;
  if (typeof type !== 'string' || !(COLLECTOR_TYPES as readonly string[]).includes(type)) {
    throw new SpecError(
      `${where}.type must be one of ${COLLECTOR_TYPES.join(', ')}${typeof type === 'string' ? ` (got '${type.slice(0, 40)}')` : ''}`,
    );
  }
  const schema = SPEC_SCHEMAS[type as CollectorType];
  const errors = [...Value.Errors(schema, input)];
  if (errors.length > 0) {
    const seen = new Set<string>();
    const lines: string[] = [];
    for (const e of errors) {
      const field = e.path === '' ? '' : e.path.slice(1).replaceAll('/', '.');
      const text = e.message.startsWith('Expected string to match')
        ? (PATTERN_HINTS[field.split('.')[0] ?? ''] ?? e.message)
        : e.message;
      const line =
        e.path === '' && e.message.includes('additional')
          ? `unknown field in ${where}`
          : `${where}${field ? `.${field}` : ''}: ${text}`;
      if (!seen.has(line)) lines.push(line);
      seen.add(line);
      if (lines.length >= 5) break;
    }
    const extra = Object.keys(input).filter((k) => !(k in (schema as { properties: object }).properties));
    if (extra.length > 0) lines.unshift(`${where}: unknown field(s) ${extra.join(', ')} for type ${type}`);
    throw new SpecError(lines.join('; '));
  }
  const spec = input as CollectorSpec;
  const interval = spec.intervalMs ?? SPEC_DEFAULTS.intervalMs;
  const timeout = spec.timeoutMs ?? Math.min(SPEC_DEFAULTS.timeoutMs, interval);
  if (timeout > interval) {
    throw new SpecError(`${where}.timeoutMs (${timeout}) must not exceed intervalMs (${interval})`);
  }
  if (spec.type === 'docker' && spec.url !== undefined && spec.socketPath !== undefined) {
    throw new SpecError(`${where}: give either url or socketPath, not both`);
  }
  if ('url' in spec && spec.url !== undefined) {
    try {
      const u = new URL(spec.url);
      if (u.username || u.password) {
        throw new SpecError(`${where}.url must not carry credentials; put them in credentials`);
      }
    } catch (err) {
      if (err instanceof SpecError) throw err;
      throw new SpecError(`${where}.url is not a valid URL`);
    }
  }
  return spec;
}

/** The spec with defaults applied (interval, timeout, project). */
export function resolveSpec(spec: CollectorSpec, project: string): ResolvedSpec {
  const intervalMs = spec.intervalMs ?? SPEC_DEFAULTS.intervalMs;
  return {
    ...spec,
    project: spec.project ?? project,
    intervalMs,
    timeoutMs: spec.timeoutMs ?? Math.min(SPEC_DEFAULTS.timeoutMs, intervalMs),
  } as ResolvedSpec;
}

/** The spec without its credentials: what is stored in clear and what the API returns. */
export function publicSpec(
  spec: CollectorSpec,
): Omit<CollectorSpec, 'credentials'> & { hasCredentials: boolean } {
  const { credentials, ...rest } = spec;
  return { ...rest, hasCredentials: credentials !== undefined };
}
