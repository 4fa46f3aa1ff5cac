import { type Static, Type } from '@sinclair/typebox';
import type { CollectContext, CollectedSample, Collector, CollectorOutput } from './framework.js';
import { credentialHeaders, httpGet } from './http.js';
import type { DockerSpec, ResolvedSpec } from './spec.js';

export const DEFAULT_DOCKER_SOCKET = '/var/run/docker.sock';

const Container = Type.Object({
  id: Type.String(),
  name: Type.String(),
  image: Type.String(),
  /** created, running, paused, restarting, removing, exited, dead */
  state: Type.String(),
  /** Docker's own health check, when the image has one. */
  health: Type.Union([Type.String(), Type.Null()]),
  restarts: Type.Integer({ minimum: 0 }),
  cpuPercent: Type.Union([Type.Number({ minimum: 0 }), Type.Null()]),
  memoryBytes: Type.Union([Type.Number({ minimum: 0 }), Type.Null()]),
  memoryLimitBytes: Type.Union([Type.Number({ minimum: 0 }), Type.Null()]),
});

export const DockerResult = Type.Object({
  engine: Type.String(),
  containers: Type.Array(Container),
});
export type DockerResult = Static<typeof DockerResult>;
export type ContainerInfo = Static<typeof Container>;

interface ListedContainer {
  Id: string;
  Names?: string[];
  Image?: string;
  State?: string;
}

interface Inspected {
  RestartCount?: number;
  State?: { Status?: string; Health?: { Status?: string } };
}

interface Stats {
  cpu_stats?: CpuStats;
  precpu_stats?: CpuStats;
  memory_stats?: { usage?: number; limit?: number; stats?: Record<string, number> };
}

interface CpuStats {
  cpu_usage?: { total_usage?: number; percpu_usage?: number[] };
  system_cpu_usage?: number;
  online_cpus?: number;
}

/** CPU % the way `docker stats` computes it: the container's share of the host's CPU time × CPUs. */
export function cpuPercent(stats: Stats): number | null {
  const cpu = stats.cpu_stats;
  const pre = stats.precpu_stats;
  const total = cpu?.cpu_usage?.total_usage;
  const system = cpu?.system_cpu_usage;
  if (total === undefined || system === undefined) return null;
  const cpuDelta = total - (pre?.cpu_usage?.total_usage ?? 0);
  const systemDelta = system - (pre?.system_cpu_usage ?? 0);
  if (systemDelta <= 0 || cpuDelta < 0) return 0;
  const cpus = cpu?.online_cpus ?? cpu?.cpu_usage?.percpu_usage?.length ?? 1;
  return (cpuDelta / systemDelta) * cpus * 100;
}

/** Memory in use the way `docker stats` shows it: usage less the page cache (cgroup v1 or v2). */
export function memoryUsed(stats: Stats): number | null {
  const m = stats.memory_stats;
  if (m?.usage === undefined) return null;
  const cache = m.stats?.inactive_file ?? m.stats?.total_inactive_file ?? m.stats?.cache ?? 0;
  return Math.max(0, m.usage - cache);
}

/**
 * Containers of one Docker engine (Engine API over its unix socket or TCP): state, restarts,
 * health, and for running ones CPU % and memory from a one-shot stats read.
 */
export class DockerCollector implements Collector<DockerResult> {
  readonly resultSchema = DockerResult;
  readonly phase = 1;

  constructor(readonly spec: ResolvedSpec & DockerSpec) {}

  private async get<T>(path: string, signal: AbortSignal): Promise<T> {
    const socketPath =
      this.spec.url === undefined ? (this.spec.socketPath ?? DEFAULT_DOCKER_SOCKET) : undefined;
    const base = this.spec.url?.replace(/\/+$/, '') ?? 'http://docker';
    const answer = await httpGet(`${base}${path}`, {
      signal,
      headers: { accept: 'application/json', ...credentialHeaders(this.spec.credentials) },
      ...(socketPath === undefined ? {} : { socketPath }),
    });
    if (answer.status !== 200)
      throw new Error(`the engine answered HTTP ${answer.status} to ${path.split('?')[0]}`);
    return JSON.parse(answer.body) as T;
  }

  async collect(ctx: CollectContext): Promise<CollectorOutput<DockerResult>> {
    const version = await this.get<{ Version?: string; ApiVersion?: string }>('/version', ctx.signal);
    const listed = await this.get<ListedContainer[]>(
      `/containers/json?all=${this.spec.all === false ? 0 : 1}`,
      ctx.signal,
    );
    const containers = await Promise.all(
      listed.map(async (c): Promise<ContainerInfo> => {
        const id = encodeURIComponent(c.Id);
        const inspected = await this.get<Inspected>(`/containers/${id}/json`, ctx.signal);
        const state = inspected.State?.Status ?? c.State ?? 'unknown';
        const stats =
          state === 'running'
            ? await this.get<Stats>(`/containers/${id}/stats?stream=false`, ctx.signal)
            : null;
        return {
          id: c.Id.slice(0, 12),
          name: (c.Names?.[0] ?? c.Id.slice(0, 12)).replace(/^\//, ''),
          image: c.Image ?? '',
          state,
          health: inspected.State?.Health?.Status ?? null,
          restarts: inspected.RestartCount ?? 0,
          cpuPercent: stats ? cpuPercent(stats) : null,
          memoryBytes: stats ? memoryUsed(stats) : null,
          memoryLimitBytes: stats?.memory_stats?.limit ?? null,
        };
      }),
    );
    const samples: CollectedSample[] = [];
    for (const c of containers) {
      const labels = { container: c.name, image: c.image };
      samples.push(
        { name: 'vigil_container_running', labels, value: c.state === 'running' ? 1 : 0, kind: 'gauge' },
        { name: 'vigil_container_restarts', labels, value: c.restarts, kind: 'counter' },
      );
      if (c.cpuPercent !== null)
        samples.push({ name: 'vigil_container_cpu_percent', labels, value: c.cpuPercent, kind: 'gauge' });
      if (c.memoryBytes !== null)
        samples.push({ name: 'vigil_container_memory_bytes', labels, value: c.memoryBytes, kind: 'gauge' });
      if (c.memoryLimitBytes !== null) {
        samples.push({
          name: 'vigil_container_memory_limit_bytes',
          labels,
          value: c.memoryLimitBytes,
          kind: 'gauge',
        });
      }
    }
    samples.push({
      name: 'vigil_containers',
      labels: { engine: this.spec.name },
      value: containers.length,
      kind: 'gauge',
    });
    return { result: { engine: version.Version ?? 'unknown', containers }, samples };
  }
}
