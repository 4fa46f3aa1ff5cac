import { type Static, Type } from '@sinclair/typebox';
import type { CollectContext, CollectedSample, Collector, CollectorOutput } from './framework.js';
import { credentialHeaders, describeError, httpGet } from './http.js';
import type { HttpHealthSpec, ResolvedSpec } from './spec.js';

export const AGENT_STATUSES = ['up', 'degraded', 'down'] as const;
export type AgentStatus = (typeof AGENT_STATUSES)[number];

export const HttpHealthResult = Type.Object({
  url: Type.String(),
  service: Type.String(),
  status: Type.Union(AGENT_STATUSES.map((s) => Type.Literal(s))),
  httpStatus: Type.Union([Type.Integer(), Type.Null()]),
  version: Type.Union([Type.String(), Type.Null()]),
  uptimeSeconds: Type.Union([Type.Number(), Type.Null()]),
  fields: Type.Record(Type.String(), Type.Union([Type.Number(), Type.Null()])),
  latencyMs: Type.Number({ minimum: 0 }),
  /** Why the agent counts as down or degraded, when it does. */
  reason: Type.Union([Type.String(), Type.Null()]),
});
export type HttpHealthResult = Static<typeof HttpHealthResult>;

/** `$.a.b[0].c` or `a.b.0.c` → the value there, or undefined. */
export function atPath(doc: unknown, path: string): unknown {
  const parts = path
    .replace(/^\$\.?/, '')
    .replace(/\[(\d+)\]/g, '.$1')
    .split('.')
    .filter((p) => p !== '');
  let cur: unknown = doc;
  for (const p of parts) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = Array.isArray(cur) ? cur[Number(p)] : (cur as Record<string, unknown>)[p];
  }
  return cur;
}

const UP = new Set(['up', 'ok', 'pass', 'passing', 'healthy', 'green', 'ready', 'running', 'true']);
const DEGRADED = new Set(['degraded', 'warn', 'warning', 'yellow', 'partial']);

/** What a health document's status field means. */
export function statusOf(value: unknown): AgentStatus {
  if (value === undefined || value === null) return 'up';
  if (typeof value === 'boolean') return value ? 'up' : 'down';
  const text = String(value).trim().toLowerCase();
  if (UP.has(text)) return 'up';
  if (DEGRADED.has(text)) return 'degraded';
  return 'down';
}

function numberOf(value: unknown): number | null {
  if (typeof value === 'number' && Number.isFinite(value)) return value;
  if (typeof value === 'string' && value.trim() !== '' && Number.isFinite(Number(value)))
    return Number(value);
  return null;
}

/**
 * Polls one agent's health/metrics JSON endpoint: status, version, uptime and configured
 * numeric fields. Refused, failing (non-2xx) or unreadable answers count as down.
 */
export class HttpHealthCollector implements Collector<HttpHealthResult> {
  readonly resultSchema = HttpHealthResult;
  readonly phase = 1;

  constructor(readonly spec: ResolvedSpec & HttpHealthSpec) {}

  get service(): string {
    return this.spec.service ?? this.spec.name;
  }

  private labels(): Record<string, string> {
    return { service: this.service, agent: this.spec.name };
  }

  async collect(ctx: CollectContext): Promise<CollectorOutput<HttpHealthResult>> {
    const t0 = performance.now();
    const base: HttpHealthResult = {
      url: this.spec.url,
      service: this.service,
      status: 'down',
      httpStatus: null,
      version: null,
      uptimeSeconds: null,
      fields: {},
      latencyMs: 0,
      reason: null,
    };
    let doc: unknown;
    try {
      const answer = await httpGet(this.spec.url, {
        signal: ctx.signal,
        headers: { accept: 'application/json', ...credentialHeaders(this.spec.credentials) },
        maxBytes: 1024 * 1024,
      });
      base.httpStatus = answer.status;
      base.latencyMs = performance.now() - t0;
      try {
        doc = answer.body.trim() === '' ? {} : JSON.parse(answer.body);
      } catch {
        doc = undefined;
      }
      if (answer.status < 200 || answer.status > 299) {
        base.reason = `HTTP ${answer.status}`;
      } else if (doc === undefined) {
        base.reason = 'the answer is not JSON';
      } else {
        base.status = statusOf(atPath(doc, this.spec.statusPath ?? 'status'));
        if (base.status !== 'up')
          base.reason = `reported status '${String(atPath(doc, this.spec.statusPath ?? 'status'))}'`;
      }
    } catch (err) {
      if (ctx.signal.aborted) throw err;
      base.latencyMs = performance.now() - t0;
      base.reason = describeError(err);
    }
    if (doc !== undefined && doc !== null && typeof doc === 'object') {
      const version = atPath(doc, this.spec.versionPath ?? 'version');
      if (typeof version === 'string' || typeof version === 'number')
        base.version = String(version).slice(0, 128);
      const uptimePath = this.spec.uptimePath;
      base.uptimeSeconds = numberOf(
        uptimePath === undefined
          ? (atPath(doc, 'uptime_seconds') ?? atPath(doc, 'uptime'))
          : atPath(doc, uptimePath),
      );
      for (const [field, path] of Object.entries(this.spec.fields ?? {}))
        base.fields[field] = numberOf(atPath(doc, path));
    }
    const labels = this.labels();
    const samples: CollectedSample[] = [
      { name: 'vigil_agent_up', labels, value: base.status === 'down' ? 0 : 1, kind: 'gauge' },
      { name: 'vigil_agent_healthy', labels, value: base.status === 'up' ? 1 : 0, kind: 'gauge' },
      { name: 'vigil_agent_latency_seconds', labels, value: base.latencyMs / 1000, kind: 'gauge' },
    ];
    if (base.version !== null) {
      samples.push({
        name: 'vigil_agent_info',
        labels: { ...labels, version: base.version },
        value: 1,
        kind: 'gauge',
      });
    }
    if (base.uptimeSeconds !== null) {
      samples.push({ name: 'vigil_agent_uptime_seconds', labels, value: base.uptimeSeconds, kind: 'gauge' });
    }
    for (const [field, value] of Object.entries(base.fields)) {
      if (value !== null) samples.push({ name: `vigil_agent_${field}`, labels, value, kind: 'gauge' });
    }
    return { result: base, samples };
  }

  failureSamples(): CollectedSample[] {
    const labels = this.labels();
    return [
      { name: 'vigil_agent_up', labels, value: 0, kind: 'gauge' },
      { name: 'vigil_agent_healthy', labels, value: 0, kind: 'gauge' },
    ];
  }
}
