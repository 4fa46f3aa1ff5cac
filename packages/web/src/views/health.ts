import { api, get } from '../api.js';
import { timeChart } from '../chart.js';
import { h } from '../dom.js';
import * as f from '../format.js';
import { bounds } from '../range.js';
import { card, grid, pageHeader, slot, stat, table, type View } from '../ui.js';

interface Snapshot {
  date: string;
  revision: number;
  totalEvents: number;
  acceptedEvents: number;
  rejectedEvents: number;
  errorRatePercent: number;
  samplingSuccessRate: number | null;
  sampledEvents: number;
  samplingFailures: { id: string; type: string; reasons: unknown[] }[];
  versionMissingPercent: number;
  flags: Record<string, boolean>;
  isHealthy: boolean;
}

interface HealthWindow {
  days: number;
  healthyDays: number;
  healthyPercent: number | null;
  averageErrorRatePercent: number | null;
  averageSamplingSuccessRate: number | null;
}

interface Summary {
  latest: Snapshot | null;
  last7Days: HealthWindow;
  last30Days: HealthWindow;
  openFlags: { flag: string; severity: string; date: string | null; message: string }[];
}

const day = (t: number) => new Date(t).toISOString().slice(0, 10);

function reason(r: unknown): string {
  if (typeof r === 'string') return r;
  if (r && typeof r === 'object') {
    const o = r as Record<string, unknown>;
    return [o.code, o.message].filter(Boolean).map(String).join(': ') || JSON.stringify(r);
  }
  return String(r);
}

function failures(snap: Snapshot): HTMLElement {
  return card(
    `Sampling failures on ${snap.date} (${snap.samplingFailures.length} of ${snap.sampledEvents} sampled)`,
    snap.samplingFailures.length === 0
      ? h('p', { class: 'muted' }, 'Every sampled event passed.')
      : table(
          ['event', 'type', 'reasons'],
          snap.samplingFailures
            .slice(0, 100)
            .map((x) => [h('code', {}, x.id), x.type, x.reasons.map(reason).join('; ')]),
          { 'data-table': 'samplingFailures' },
        ),
  );
}

interface Today extends Snapshot {
  provisional: true;
  asOf: string;
  notJudged: string[];
}

/** Today (UTC) up to now: the snapshot's figures before the day is over; never stored. */
function todaySoFar(t: Today): HTMLElement {
  const flags = Object.entries(t.flags)
    .filter(([, v]) => v)
    .map(([k]) => k);
  return card(
    `Today so far (${t.date}, as of ${t.asOf.slice(11, 16)} UTC)`,
    h(
      'div',
      { 'data-today': t.date },
      grid(
        'stats',
        stat({
          label: 'Events today',
          value: f.count(t.totalEvents),
          raw: t.totalEvents,
          metric: 'today.totalEvents',
        }),
        stat({
          label: 'Error rate today',
          value: f.percent(t.errorRatePercent),
          raw: t.errorRatePercent,
          metric: 'today.errorRate',
        }),
        stat({
          label: 'Sampling success',
          value: f.percent(t.samplingSuccessRate),
          raw: t.samplingSuccessRate,
          metric: 'today.sampling',
        }),
        stat({
          label: 'Without a version tag',
          value: f.percent(t.versionMissingPercent),
          raw: t.versionMissingPercent,
          metric: 'today.versionMissing',
        }),
      ),
      h(
        'p',
        { class: 'muted' },
        `Provisional: ${flags.length === 0 ? 'no flags so far' : `flagged so far: ${flags.join(', ')}`}. `,
        `Not stored; the day's snapshot is taken after it ends. ${t.notJudged.join(', ')} is judged only on a complete day.`,
      ),
    ),
  );
}

/** Telemetry health: daily integrity snapshots, open flags, sampling failures. */
export const health: View = async (root, ctx) => {
  const project = ctx.project;
  const { from, to } = bounds(ctx.range);
  const yesterday = day(Date.now() - 86_400_000);
  // The days the range touches: snapshots for the complete ones (up to yesterday), today so far
  // when the range reaches today.
  const fromDay = day(from);
  const toDay = day(Math.min(to - 1, Date.now() - 86_400_000));
  const reachesToday = to > Date.parse(`${day(Date.now())}T00:00:00Z`);
  const anyCompleteDay = toDay >= fromDay;
  const summary = slot(async () => {
    const [s, now] = await Promise.all([
      get<Summary>('/api/health/summary', { project }),
      reachesToday ? get<Today>('/api/health/today', { project }) : Promise.resolve(null),
    ]);
    const l = s.latest;
    return h(
      'div',
      {},
      now ? todaySoFar(now) : null,
      grid(
        'stats',
        stat({
          label: 'Latest snapshot',
          value: l ? `${l.date} ${l.isHealthy ? 'healthy' : 'flagged'}` : 'none yet',
          raw: l ? Number(l.isHealthy) : null,
          metric: 'health.latest',
        }),
        stat({
          label: 'Events that day',
          value: f.count(l?.totalEvents),
          raw: l?.totalEvents,
          metric: 'health.totalEvents',
        }),
        stat({
          label: 'Error rate that day',
          value: f.percent(l?.errorRatePercent),
          raw: l?.errorRatePercent,
          metric: 'health.errorRate',
        }),
        stat({
          label: 'Sampling success',
          value: f.percent(l?.samplingSuccessRate),
          raw: l?.samplingSuccessRate,
          metric: 'health.sampling',
        }),
        stat({
          label: 'Healthy days, 7 d',
          value: `${s.last7Days.healthyDays} / ${s.last7Days.days}`,
          raw: s.last7Days.healthyDays,
          metric: 'health.healthy7',
        }),
        stat({
          label: 'Healthy days, 30 d',
          value: `${s.last30Days.healthyDays} / ${s.last30Days.days}`,
          raw: s.last30Days.healthyDays,
          metric: 'health.healthy30',
        }),
      ),
      card(
        'Open flags',
        s.openFlags.length === 0
          ? h('p', { class: 'muted', 'data-flags': '0' }, 'No open flags.')
          : h(
              'ul',
              { class: 'flags', 'data-flags': s.openFlags.length },
              s.openFlags.map((fl) =>
                h(
                  'li',
                  { class: `flag ${fl.severity.toLowerCase()}` },
                  h('strong', {}, `${fl.severity} ${fl.flag}`),
                  ` ${fl.date ?? 'now'}: ${fl.message}`,
                ),
              ),
            ),
      ),
      l && l.samplingFailures.length > 0 && !ctx.params.get('day') ? failures(l) : null,
    );
  });
  const days = slot(async () => {
    if (!anyCompleteDay)
      return card(
        'Snapshots',
        h(
          'p',
          { class: 'muted', 'data-snapshots-range': 'today' },
          `The range lies within today (${day(from)}): it has no snapshot yet; see today so far above. Pick a longer range for daily snapshots.`,
        ),
      );
    const r = await get<{ snapshots: Snapshot[] }>('/api/health/snapshots', {
      project,
      from: fromDay,
      to: toDay,
    });
    const snaps = r.snapshots;
    const x = snaps.map((s) => Date.parse(`${s.date}T00:00:00Z`));
    return h(
      'div',
      { 'data-snapshots-range': `${fromDay}..${toDay}` },
      grid(
        'halves',
        timeChart({
          title: 'Events per day',
          testId: 'healthEvents',
          x,
          lines: [{ label: 'events', values: snaps.map((s) => s.totalEvents) }],
          format: f.count,
        }),
        timeChart({
          title: 'Error rate and sampling success',
          testId: 'healthRates',
          x,
          lines: [
            { label: 'error %', values: snaps.map((s) => s.errorRatePercent) },
            { label: 'sampling %', values: snaps.map((s) => s.samplingSuccessRate) },
            { label: 'no version %', values: snaps.map((s) => s.versionMissingPercent) },
          ],
          format: f.percent,
        }),
      ),
      card(
        `Snapshots ${fromDay} – ${toDay} (the selected range)`,
        snaps.length === 0
          ? h(
              'p',
              { class: 'muted' },
              'No snapshots in this range. One is taken every day after 00:15 UTC for the day before.',
            )
          : table(
              ['day', 'rev', 'events', 'rejected', 'error %', 'sampling %', 'flags', ''],
              [...snaps].reverse().map((s) => [
                h(
                  'button',
                  {
                    type: 'button',
                    class: 'link',
                    'data-day': s.date,
                    onclick: () => ctx.setParams({ day: s.date }),
                  },
                  s.date,
                ),
                String(s.revision),
                f.count(s.totalEvents),
                f.count(s.rejectedEvents),
                f.percent(s.errorRatePercent),
                f.percent(s.samplingSuccessRate),
                Object.entries(s.flags)
                  .filter(([, v]) => v)
                  .map(([k]) => k)
                  .join(', ') || '—',
                s.isHealthy
                  ? h('span', { class: 'badge ok' }, 'healthy')
                  : h('span', { class: 'badge bad' }, 'flagged'),
              ]),
              { 'data-table': 'snapshots' },
            ),
      ),
      (() => {
        const chosen = snaps.find((x) => x.date === ctx.params.get('day'));
        return chosen ? failures(chosen) : null;
      })(),
    );
  });
  let admin: HTMLElement | string = '';
  if (ctx.me.role === 'admin') {
    const input = h('input', {
      type: 'date',
      value: yesterday,
      max: yesterday,
      'aria-label': 'Day to snapshot',
    });
    const note = h('span', { class: 'muted' });
    admin = h(
      'form',
      {
        class: 'toolbar',
        onsubmit: async (ev: Event) => {
          ev.preventDefault();
          note.textContent = 'Snapshotting…';
          try {
            const s = await api<Snapshot>(
              'POST',
              `/api/health/snapshots?project=${encodeURIComponent(project)}`,
              { date: input.value },
            );
            note.textContent = `Stored revision ${s.revision} of ${s.date}.`;
            ctx.setParams({});
          } catch (err) {
            note.textContent = err instanceof Error ? err.message : String(err);
          }
        },
      },
      h('span', {}, 'Snapshot a complete day now (a new revision):'),
      input,
      h('button', { type: 'submit' }, 'Snapshot'),
      note,
    );
  }
  root.append(
    pageHeader(
      'Telemetry health',
      'Daily integrity snapshots (immutable, with revisions), anomaly flags and the sampling verifier.',
    ),
    summary.el,
    days.el,
    admin,
  );
  await Promise.all([summary.done, days.done]);
};
