import { api, get } from '../api.js';
import { h } from '../dom.js';
import * as f from '../format.js';
import { card, grid, pageHeader, slot, stat, table, type View } from '../ui.js';
import { recordTable, unavailable } from './generic.js';

interface Status {
  lastCollection: { snapshotId: string; at: string; durationMs: number } | null;
  summary: Record<string, number>;
  collectors: {
    name: string;
    type: string;
    origin: string;
    enabled: boolean;
    intervalMs: number;
    target: string | null;
    problem: string | null;
    lastRun: { at: string; durationMs: number; outcome: string; error: string | null } | null;
    consecutiveFailures: number;
  }[];
  agents: {
    collector: string;
    service: string;
    status: string;
    version: string | null;
    latencyMs: number | null;
    reason: string | null;
    checkedAt: string | null;
  }[];
  containers: Record<string, unknown>[];
  targets: Record<string, unknown>[];
  rollout: Record<string, unknown>[];
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

/** Infrastructure: collectors and their last runs, agents, containers, targets, versions and deployments. */
export const infrastructure: View = async (root, ctx) => {
  const project = ctx.project;
  const status = slot(async () => {
    let s: Status;
    try {
      s = await get<Status>('/telemetry/status', { project });
    } catch (err) {
      return unavailable(err, 'Infrastructure telemetry');
    }
    const sum = s.summary;
    const n = (k: string) => sum[k] ?? 0;
    return h(
      'div',
      { 'data-infra': 'status' },
      grid(
        'stats',
        stat({
          label: 'Collectors',
          value: `${f.count(n('collectors'))}`,
          raw: n('collectors'),
          metric: 'infra.collectors',
        }),
        stat({
          label: 'Collectors failing',
          value: f.count(n('collectorsFailing')),
          raw: n('collectorsFailing'),
          metric: 'infra.collectorsFailing',
        }),
        stat({
          label: 'Agents up',
          value: `${n('agentsUp')} / ${n('agents')}`,
          raw: n('agentsUp'),
          metric: 'infra.agentsUp',
        }),
        stat({
          label: 'Containers running',
          value: `${n('containersRunning')} / ${n('containers')}`,
          raw: n('containersRunning'),
          metric: 'infra.containersRunning',
        }),
        stat({
          label: 'Targets up',
          value: `${n('targetsUp')} / ${n('targets')}`,
          raw: n('targetsUp'),
          metric: 'infra.targetsUp',
        }),
        stat({
          label: 'Last collection',
          value: s.lastCollection ? f.dateTime(s.lastCollection.at).slice(11) : 'never',
          raw: s.lastCollection ? Date.parse(s.lastCollection.at) : null,
          metric: 'infra.lastCollection',
        }),
      ),
      card(
        'Collectors',
        s.collectors.length === 0
          ? h(
              'p',
              { class: 'muted' },
              'No collectors yet. Add them in the config file or with POST /api/collectors {type, name, url, intervalMs, timeoutMs}.',
            )
          : table(
              ['name', 'type', 'target', 'every', 'last run', 'outcome', 'failures in a row', 'problem'],
              s.collectors.map((c) => [
                c.name,
                c.type,
                c.target ?? '—',
                `${c.intervalMs / 1000} s`,
                c.lastRun ? f.dateTime(c.lastRun.at) : 'never',
                c.lastRun
                  ? h(
                      'span',
                      { class: `badge ${c.lastRun.outcome === 'ok' ? 'ok' : 'bad'}` },
                      c.lastRun.outcome,
                    )
                  : '—',
                String(c.consecutiveFailures),
                c.problem ?? c.lastRun?.error ?? '',
              ]),
              { 'data-table': 'collectors' },
            ),
      ),
      s.agents.length
        ? card(
            'Agents',
            table(
              ['service', 'status', 'version', 'latency', 'checked', 'reason'],
              s.agents.map((a) => [
                a.service,
                h('span', { class: `badge ${a.status === 'up' ? 'ok' : 'bad'}` }, a.status),
                a.version ?? '—',
                f.ms(a.latencyMs),
                a.checkedAt ? f.dateTime(a.checkedAt) : '—',
                a.reason ?? '',
              ]),
              { 'data-table': 'agents' },
            ),
          )
        : null,
      s.containers.length ? card('Containers', recordTable(s.containers, { testId: 'containers' })) : null,
      s.targets.length ? card('Prometheus targets', recordTable(s.targets, { testId: 'targets' })) : null,
      s.rollout.length ? card('Version rollout', recordTable(s.rollout, { testId: 'rollout' })) : null,
      card(
        'Deployments',
        s.deployments.length === 0
          ? h(
              'p',
              { class: 'muted' },
              'No deployments recorded. Send POST /telemetry/deployments {service, version, status} from your pipeline.',
            )
          : table(
              ['service', 'version', 'status', 'started', 'finished', 'source'],
              s.deployments.map((d) => [
                d.service,
                d.version,
                d.status,
                f.dateTime(d.startedAt),
                d.finishedAt ? f.dateTime(d.finishedAt) : '—',
                d.source,
              ]),
              { 'data-table': 'deployments' },
            ),
      ),
      s.failures.length
        ? card(
            'Recent collection failures',
            table(
              ['collector', 'type', 'at', 'outcome', 'error'],
              s.failures.map((x) => [x.collector, x.type, f.dateTime(x.at), x.outcome, x.error ?? '']),
              { 'data-table': 'failures' },
            ),
          )
        : null,
    );
  });
  root.append(
    pageHeader(
      'Infrastructure',
      'Collectors run on their interval, in parallel, each with a timeout; this is what they found last.',
    ),
    status.el,
  );
  if (ctx.me.role === 'admin') {
    const note = h('span', { class: 'muted', role: 'status' });
    root.append(
      h(
        'div',
        { class: 'toolbar' },
        h(
          'button',
          {
            type: 'button',
            class: 'primary',
            'data-collect': '',
            onclick: async () => {
              note.textContent = 'Collecting…';
              try {
                await api('POST', `/telemetry/collect?project=${encodeURIComponent(project)}`);
                ctx.setParams({ collected: String(Date.now()) });
              } catch (err) {
                note.textContent = err instanceof Error ? err.message : String(err);
              }
            },
          },
          'Collect now',
        ),
        note,
      ),
    );
  }
  await status.done;
};
