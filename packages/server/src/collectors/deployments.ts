import { type Static, Type } from '@sinclair/typebox';
import type { CollectorLatest, DeploymentRecord } from '../store/index.js';
import type { CollectContext, CollectedSample, Collector, CollectorOutput } from './framework.js';
import type { HttpHealthResult } from './http-health.js';
import type { DeploymentsSpec, ResolvedSpec } from './spec.js';

export const DEPLOYMENT_STATUSES = ['started', 'succeeded', 'failed', 'rolled_back'] as const;

const ServiceRollout = Type.Object({
  service: Type.String(),
  agents: Type.Integer({ minimum: 0 }),
  versions: Type.Array(
    Type.Object({ version: Type.String(), agents: Type.Integer({ minimum: 0 }), share: Type.Number() }),
  ),
  /** The version of the newest deployment (webhook), else the most common one. */
  targetVersion: Type.Union([Type.String(), Type.Null()]),
  /** Share (0–100) of reporting agents that run the target version. */
  rolloutPercent: Type.Union([Type.Number(), Type.Null()]),
  deployment: Type.Union([
    Type.Null(),
    Type.Object({
      version: Type.String(),
      status: Type.String(),
      startedAt: Type.Number(),
      finishedAt: Type.Union([Type.Number(), Type.Null()]),
    }),
  ]),
});

export const DeploymentsResult = Type.Object({ services: Type.Array(ServiceRollout) });
export type DeploymentsResult = Static<typeof DeploymentsResult>;
export type ServiceRollout = Static<typeof ServiceRollout>;

/** The agents' versions per service, from the latest http-health runs. */
export function versionsByService(latest: readonly CollectorLatest[]): Map<string, Map<string, number>> {
  const out = new Map<string, Map<string, number>>();
  for (const l of latest) {
    if (l.run.type !== 'http-health' || l.run.outcome !== 'ok' || l.run.result === null) continue;
    const r = JSON.parse(l.run.result) as HttpHealthResult;
    if (r.version === null || r.status === 'down') continue;
    const versions = out.get(r.service) ?? new Map<string, number>();
    versions.set(r.version, (versions.get(r.version) ?? 0) + 1);
    out.set(r.service, versions);
  }
  return out;
}

/** Version rollout per service: agents per version, target version, share on it. */
export function rollouts(
  latest: readonly CollectorLatest[],
  deployments: readonly DeploymentRecord[],
  only?: readonly string[],
): ServiceRollout[] {
  const byService = versionsByService(latest);
  const newest = new Map<string, DeploymentRecord>();
  for (const d of deployments) {
    const seen = newest.get(d.service);
    if (!seen || d.startedAt > seen.startedAt) newest.set(d.service, d);
  }
  const services = new Set([...byService.keys(), ...newest.keys()]);
  const out: ServiceRollout[] = [];
  for (const service of [...services].sort()) {
    if (only && !only.includes(service)) continue;
    const versions = byService.get(service) ?? new Map<string, number>();
    const agents = [...versions.values()].reduce((a, b) => a + b, 0);
    const list = [...versions.entries()]
      .map(([version, n]) => ({ version, agents: n, share: agents === 0 ? 0 : (n / agents) * 100 }))
      .sort((a, b) => b.agents - a.agents || a.version.localeCompare(b.version));
    const deployment = newest.get(service) ?? null;
    const targetVersion =
      deployment && deployment.status !== 'failed' && deployment.status !== 'rolled_back'
        ? deployment.version
        : (list[0]?.version ?? null);
    out.push({
      service,
      agents,
      versions: list,
      targetVersion,
      rolloutPercent:
        targetVersion === null || agents === 0 ? null : ((versions.get(targetVersion) ?? 0) / agents) * 100,
      deployment: deployment
        ? {
            version: deployment.version,
            status: deployment.status,
            startedAt: deployment.startedAt,
            finishedAt: deployment.finishedAt,
          }
        : null,
    });
  }
  return out;
}

/**
 * Deployment state and version rollout, derived after the round's agent polls: how many agents
 * of each service run each version (`vigil_version_agents`) and how far the newest deployment
 * has rolled out (`vigil_rollout_percent`).
 */
export class DeploymentsCollector implements Collector<DeploymentsResult> {
  readonly resultSchema = DeploymentsResult;
  readonly phase = 2;

  constructor(
    readonly spec: ResolvedSpec & DeploymentsSpec,
    private readonly recentDeployments: (project: string) => Promise<DeploymentRecord[]>,
  ) {}

  async collect(ctx: CollectContext): Promise<CollectorOutput<DeploymentsResult>> {
    const [latest, deployments] = await Promise.all([
      ctx.latest(),
      this.recentDeployments(this.spec.project),
    ]);
    const services = rollouts(latest, deployments, this.spec.services);
    const samples: CollectedSample[] = [];
    for (const s of services) {
      for (const v of s.versions) {
        samples.push({
          name: 'vigil_version_agents',
          labels: { service: s.service, version: v.version },
          value: v.agents,
          kind: 'gauge',
        });
      }
      if (s.targetVersion !== null && s.rolloutPercent !== null) {
        samples.push({
          name: 'vigil_rollout_percent',
          labels: { service: s.service, version: s.targetVersion },
          value: s.rolloutPercent,
          kind: 'gauge',
        });
      }
    }
    return { result: { services }, samples };
  }
}
