import type { CollectorLatest, DeploymentRecord, Store } from '../store/index.js';
import { rollouts, type ServiceRollout } from './deployments.js';
import type { ContainerInfo, DockerResult } from './docker.js';
import type { AgentStatus, HttpHealthResult } from './http-health.js';
import type { CollectorEntry } from './orchestrator.js';
import type { PrometheusResult } from './prometheus.js';
import { publicSpec } from './spec.js';

const iso = (ms: number | null | undefined) =>
  ms === null || ms === undefined ? null : new Date(ms).toISOString();

export interface AgentView {
  collector: string;
  service: string;
  url: string;
  /** `unknown`: not collected yet. */
  status: AgentStatus | 'unknown';
  version: string | null;
  uptimeSeconds: number | null;
  fields: Record<string, number | null>;
  latencyMs: number | null;
  reason: string | null;
  checkedAt: string | null;
}

export interface TelemetryStatus {
  project: string;
  generatedAt: string;
  lastCollection: { snapshotId: string; at: string; durationMs: number } | null;
  summary: {
    collectors: number;
    collectorsFailing: number;
    agents: number;
    agentsUp: number;
    agentsDegraded: number;
    agentsDown: number;
    agentsUnknown: number;
    containers: number;
    containersRunning: number;
    targets: number;
    targetsUp: number;
  };
  collectors: {
    name: string;
    type: string;
    origin: 'config' | 'api';
    enabled: boolean;
    intervalMs: number;
    timeoutMs: number;
    target: string | null;
    problem: string | null;
    lastRun: {
      snapshotId: string;
      at: string;
      durationMs: number;
      outcome: string;
      error: string | null;
      samples: number;
    } | null;
    lastOkAt: string | null;
    consecutiveFailures: number;
  }[];
  agents: AgentView[];
  containers: (ContainerInfo & { collector: string; checkedAt: string })[];
  targets: (PrometheusResult & { collector: string; up: boolean; error: string | null; checkedAt: string })[];
  engines: { collector: string; up: boolean; engine: string | null; error: string | null }[];
  rollout: ServiceRollout[];
  deployments: {
    service: string;
    version: string;
    status: string;
    startedAt: string;
    finishedAt: string | null;
    source: string;
  }[];
  failures: { collector: string; type: string; at: string; outcome: string; error: string | null }[];
}

function targetOf(entry: CollectorEntry): string | null {
  const spec = publicSpec(entry.spec) as { url?: string; socketPath?: string };
  if (spec.url) return spec.url;
  if (entry.spec.type === 'docker') return `unix:${spec.socketPath ?? '/var/run/docker.sock'}`;
  return null;
}

/** Everything about a project's infrastructure, read from the store (latest runs, deployments). */
export async function telemetryStatus(
  store: Store,
  project: string,
  entries: readonly CollectorEntry[],
): Promise<TelemetryStatus> {
  const [latest, deployments] = await Promise.all([
    store.collectors.latest(project),
    store.collectors.deployments(project, { limit: 200 }),
  ]);
  return buildStatus(project, entries, latest, deployments);
}

export function buildStatus(
  project: string,
  entries: readonly CollectorEntry[],
  allLatest: readonly CollectorLatest[],
  deployments: readonly DeploymentRecord[],
): TelemetryStatus {
  const configured = new Map(entries.map((e) => [e.spec.name, e]));
  // Runs of collectors since deleted are not shown.
  const latest = allLatest.filter((l) => configured.has(l.run.collector));
  const byName = new Map(latest.map((l) => [l.run.collector, l]));
  const newest = latest.reduce<CollectorLatest | null>(
    (a, l) => (!a || l.run.startedAt > a.run.startedAt ? l : a),
    null,
  );

  const agents: AgentView[] = [];
  const containers: TelemetryStatus['containers'] = [];
  const targets: TelemetryStatus['targets'] = [];
  const engines: TelemetryStatus['engines'] = [];
  for (const entry of entries) {
    const l = byName.get(entry.spec.name);
    const ok = l?.run.outcome === 'ok' && l.run.result !== null;
    const at = iso(l?.run.startedAt);
    const error = l && !ok ? (l.run.error ?? 'failed') : (entry.problem ?? (l ? null : 'not collected yet'));
    if (entry.spec.type === 'http-health') {
      const r = ok ? (JSON.parse(l.run.result as string) as HttpHealthResult) : null;
      agents.push({
        collector: entry.spec.name,
        service: entry.spec.service ?? entry.spec.name,
        url: entry.spec.url,
        status: r?.status ?? (l ? 'down' : 'unknown'),
        version: r?.version ?? null,
        uptimeSeconds: r?.uptimeSeconds ?? null,
        fields: r?.fields ?? {},
        latencyMs: r?.latencyMs ?? null,
        reason: r ? r.reason : error,
        checkedAt: at,
      });
    } else if (entry.spec.type === 'docker') {
      const r = ok ? (JSON.parse(l.run.result as string) as DockerResult) : null;
      engines.push({
        collector: entry.spec.name,
        up: r !== null,
        engine: r?.engine ?? null,
        error: r ? null : error,
      });
      for (const c of r?.containers ?? [])
        containers.push({ ...c, collector: entry.spec.name, checkedAt: at ?? '' });
    } else if (entry.spec.type === 'prometheus' && l) {
      const r = ok ? (JSON.parse(l.run.result as string) as PrometheusResult) : null;
      targets.push({
        url: entry.spec.url,
        format: r?.format ?? 'prometheus',
        families: r?.families ?? 0,
        series: r?.series ?? 0,
        dropped: r?.dropped ?? 0,
        limitExceeded: r?.limitExceeded ?? false,
        bytes: r?.bytes ?? 0,
        collector: entry.spec.name,
        up: r !== null,
        error: r ? null : error,
        checkedAt: at ?? '',
      });
    }
  }

  const collectors = entries.map((entry) => {
    const l = byName.get(entry.spec.name);
    return {
      name: entry.spec.name,
      type: entry.spec.type,
      origin: entry.origin,
      enabled: entry.spec.enabled !== false,
      intervalMs: entry.spec.intervalMs,
      timeoutMs: entry.spec.timeoutMs,
      target: targetOf(entry),
      problem: entry.problem,
      lastRun: l
        ? {
            snapshotId: l.run.snapshotId,
            at: iso(l.run.startedAt) as string,
            durationMs: l.run.durationMs,
            outcome: l.run.outcome,
            error: l.run.error,
            samples: l.run.samples,
          }
        : null,
      lastOkAt: iso(l?.lastOkAt),
      consecutiveFailures: l?.consecutiveFailures ?? 0,
    };
  });

  return {
    project,
    generatedAt: new Date().toISOString(),
    // The newest round: its longest run is how long it took.
    lastCollection: newest
      ? {
          snapshotId: newest.run.snapshotId,
          at: iso(newest.run.startedAt) as string,
          durationMs: Math.max(
            ...latest.filter((l) => l.run.snapshotId === newest.run.snapshotId).map((l) => l.run.durationMs),
          ),
        }
      : null,
    summary: {
      collectors: collectors.length,
      collectorsFailing: collectors.filter(
        (c) => c.problem !== null || (c.lastRun !== null && c.lastRun.outcome !== 'ok'),
      ).length,
      agents: agents.length,
      agentsUp: agents.filter((a) => a.status === 'up').length,
      agentsDegraded: agents.filter((a) => a.status === 'degraded').length,
      agentsDown: agents.filter((a) => a.status === 'down').length,
      agentsUnknown: agents.filter((a) => a.status === 'unknown').length,
      containers: containers.length,
      containersRunning: containers.filter((c) => c.state === 'running').length,
      targets: targets.length,
      targetsUp: targets.filter((t) => t.up).length,
    },
    collectors,
    agents,
    containers,
    targets,
    engines,
    rollout: rollouts(latest, deployments),
    deployments: deployments.slice(0, 50).map((d) => ({
      service: d.service,
      version: d.version,
      status: d.status,
      startedAt: iso(d.startedAt) as string,
      finishedAt: iso(d.finishedAt),
      source: d.source,
    })),
    failures: latest
      .filter((l) => l.run.outcome !== 'ok')
      .map((l) => ({
        collector: l.run.collector,
        type: l.run.type,
        at: iso(l.run.startedAt) as string,
        outcome: l.run.outcome,
        error: l.run.error,
      })),
  };
}

/** Version tags shown publicly: plain numeric versions only; anything else could name something. */
const PUBLIC_VERSION = /^v?\d{1,6}(\.\d{1,6}){0,3}$/;

const share = (part: number, whole: number) =>
  whole === 0 ? null : Math.round((part / whole) * 10_000) / 100;

export interface TelemetryPublic {
  generatedAt: string;
  agents: {
    total: number;
    up: number;
    degraded: number;
    down: number;
    unknown: number;
    healthyShare: number | null;
  };
  containers: { total: number; running: number; runningShare: number | null };
  targets: { total: number; up: number; upShare: number | null };
  collectors: { total: number; healthy: number; healthyShare: number | null };
  services: number;
  /** Share of reporting agents per version (0–100); non-numeric tags are pooled as `other`. */
  versions: { version: string; share: number }[];
  lastCollectionAt: string | null;
}

/**
 * The anonymous view: counts and shares only. It is built from numbers of the status and
 * never copies a string from it except numeric version tags, so no id, name, host, address,
 * URL or error text can reach it.
 */
export function publicView(status: TelemetryStatus): TelemetryPublic {
  const s = status.summary;
  const versionCounts = new Map<string, number>();
  let reporting = 0;
  for (const a of status.agents) {
    if (a.status === 'down' || a.version === null) continue;
    const tag = PUBLIC_VERSION.test(a.version) ? a.version : 'other';
    versionCounts.set(tag, (versionCounts.get(tag) ?? 0) + 1);
    reporting += 1;
  }
  const healthyCollectors = s.collectors - s.collectorsFailing;
  return {
    generatedAt: new Date().toISOString(),
    agents: {
      total: s.agents,
      up: s.agentsUp,
      degraded: s.agentsDegraded,
      down: s.agentsDown,
      unknown: s.agentsUnknown,
      healthyShare: share(s.agentsUp, s.agents),
    },
    containers: {
      total: s.containers,
      running: s.containersRunning,
      runningShare: share(s.containersRunning, s.containers),
    },
    targets: { total: s.targets, up: s.targetsUp, upShare: share(s.targetsUp, s.targets) },
    collectors: {
      total: s.collectors,
      healthy: healthyCollectors,
      healthyShare: share(healthyCollectors, s.collectors),
    },
    services: new Set(status.agents.map((a) => a.service)).size,
    versions: [...versionCounts.entries()]
      .map(([version, n]) => ({ version, share: share(n, reporting) ?? 0 }))
      .sort((a, b) => b.share - a.share || a.version.localeCompare(b.version)),
    lastCollectionAt: status.lastCollection
      ? new Date(Math.floor(Date.parse(status.lastCollection.at) / 60_000) * 60_000).toISOString()
      : null,
  };
}
