import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nextLink } from '../audit/index.js';
import { defaultConfig, type HealthConfig } from '../config/index.js';
import { type EventRow, emptyRow } from '../model/index.js';
import { type ChainLink, openStore, type Store } from '../store/index.js';
import { scratchDirs } from '../test/harness.js';
import { addDays, DAY_MS, dayStart, daysBetween } from './days.js';
import { type HealthLog, HealthMonitor, type IntegritySnapshot, verifySample } from './index.js';

/** Synthetic histories written straight into a real DuckDB store. */
const dirs = scratchDirs();
let store: Store;
let head: ChainLink | null = null;

async function append(rows: EventRow[]): Promise<void> {
  for (let i = 0; i < rows.length; i += 5_000) {
    const part = rows.slice(i, i + 5_000);
    const link = nextLink(head, part, Date.now());
    await store.events.appendBatch({ rows: part, seal: () => ({ link, scrubbed: [] }) });
    head = link;
  }
}

/** `n` events of `project` spread over `day`, cycling through the built-in types. */
function dayOfEvents(
  project: string,
  day: string,
  n: number,
  { missingVersion = 0 }: { missingVersion?: number } = {},
): EventRow[] {
  const start = dayStart(day);
  return Array.from({ length: n }, (_, i) => {
    const row = emptyRow();
    row.id = randomUUID();
    row.project = project;
    row.ts = start + Math.floor((i * DAY_MS) / n);
    row.received_at = row.ts + 1_000;
    row.version = i < missingVersion ? null : '1.4.0';
    const signal = `${day}-sig-${i >> 2}`;
    switch (i % 4) {
      case 0:
      case 1:
        row.type = 'llm.request';
        row.total_ms = 100 + (i % 50);
        break;
      case 2:
        row.type = 'decision.recommendation';
        row.action = 'view';
        row.signal_id = signal;
        row.recommendation_type = 'fraud';
        break;
      default:
        row.type = 'decision.outcome';
        row.signal_id = signal;
        row.outcome_status = 'confirmed';
    }
    return row;
  });
}

const WEEKDAY = [120, 300, 310, 305, 295, 290, 115]; // Sunday first: weekend dips
/** A steady weekly pattern with ±8% deterministic wobble. */
const steadyVolume = (day: string, k: number) => {
  const base = WEEKDAY[new Date(dayStart(day)).getUTCDay()] as number;
  return Math.round(base * (1 + 0.08 * Math.sin(k * 2.3)));
};

function captureLog(): HealthLog & { lines: { level: string; obj: Record<string, unknown>; msg: string }[] } {
  const lines: { level: string; obj: Record<string, unknown>; msg: string }[] = [];
  const at = (level: string) => (obj: object, msg: string) => {
    lines.push({ level, obj: obj as Record<string, unknown>, msg });
  };
  return { lines, error: at('error'), warn: at('warn'), info: at('info') };
}

function monitor(now: number, log: HealthLog, config: Partial<HealthConfig> = {}) {
  return new HealthMonitor({
    store,
    config: { ...defaultConfig().health, ...config },
    ingest: defaultConfig().ingest,
    log,
    now: () => now,
  });
}

// 12 weeks: 4 to build the baseline, then the 8 weeks under test. 2026-08-02 is a Sunday.
const FIRST = '2026-08-02';
const LAST = addDays(FIRST, 12 * 7 - 1);
const HISTORY = daysBetween(FIRST, LAST);

beforeAll(async () => {
  store = await openStore({ dataDir: dirs.fresh() });
  await store.meta.ensureProject({ id: 'steady', name: 'steady', strictTypes: false, createdAt: 0 });
  await append(HISTORY.flatMap((day, k) => dayOfEvents('steady', day, steadyVolume(day, k))));
});

/** Five weeks of the steady pattern in another project; the last day's volume is scaled. */
async function fiveWeeks(project: string, lastDayFactor: number): Promise<string> {
  await store.meta.ensureProject({ id: project, name: project, strictTypes: false, createdAt: 0 });
  const days = HISTORY.slice(0, 35);
  await append(
    days.flatMap((day, k) =>
      dayOfEvents(project, day, Math.round(steadyVolume(day, k) * (k === 34 ? lastDayFactor : 1))),
    ),
  );
  return days[34] as string;
}
afterAll(async () => {
  await store.close();
  dirs.cleanup();
});

describe('daily integrity snapshots over synthetic histories', () => {
  it('a steady weekly pattern with weekend dips raises no volume flag for 8 weeks', async () => {
    const log = captureLog();
    const m = monitor(dayStart(LAST) + DAY_MS + 3_600_000, log, { catchUpDays: HISTORY.length });
    const taken = (await m.catchUp()).filter((s) => s.project === 'steady');
    expect(taken.map((s) => s.date)).toEqual(HISTORY);
    const underTest = taken.slice(28);
    expect(underTest).toHaveLength(56);
    for (const s of underTest) {
      expect(s.baselines.volume.judged, s.date).toBe(true);
      expect(s.baselines.volume.days.filter((d) => d.used)).toHaveLength(4);
      expect(s.flags, s.date).toEqual({
        volumeAnomaly: false,
        errorSpike: false,
        versionMismatch: false,
        zeroActivity: false,
      });
      expect(s.samplingSuccessRate).toBe(100);
      expect(s.isHealthy).toBe(true);
    }
    // Weekend days are judged against weekend days, not against the week's median.
    const sunday = underTest.find((s) => new Date(dayStart(s.date)).getUTCDay() === 0) as IntegritySnapshot;
    expect(sunday.baselines.volume.median).toBeLessThan(140);
    expect(log.lines.filter((l) => l.obj.project === 'steady')).toEqual([]);
    // Caught up: a second run has nothing left to do.
    expect(await m.catchUp()).toEqual([]);
  });

  it('flags a 40% drop against the same-weekday median, with an INFO line', async () => {
    const log = captureLog();
    const day = await fiveWeeks('drop', 0.6);
    const s = await monitor(dayStart(day) + 2 * DAY_MS, log).snapshot('drop', day);
    expect(s.flags.volumeAnomaly).toBe(true);
    expect(s.baselines.volume.deviationPercent).toBeGreaterThan(-45);
    expect(s.baselines.volume.deviationPercent).toBeLessThan(-35);
    expect(s.baselines.volume.days.map((d) => d.date)).toEqual([1, 2, 3, 4].map((w) => addDays(day, -7 * w)));
    expect(s.isHealthy).toBe(false);
    expect(log.lines).toContainEqual(
      expect.objectContaining({
        level: 'info',
        obj: expect.objectContaining({ severity: 'INFO', flag: 'volumeAnomaly' }),
      }),
    );
    // The day before, at normal volume, is not flagged.
    const before = await monitor(dayStart(day) + DAY_MS, log).snapshot('drop', HISTORY[33] as string);
    expect(before.flags.volumeAnomaly).toBe(false);
  });

  it('does not judge volume below the minimum baseline, and leaves flagged days out of later baselines', async () => {
    const log = captureLog();
    const day = HISTORY[34] as string;
    // A week later the flagged day is not part of the baseline.
    const later = await monitor(dayStart(day) + 9 * DAY_MS, log).snapshot('drop', addDays(day, 7));
    const used = later.baselines.volume.days.find((d) => d.date === day);
    expect(used).toMatchObject({ flagged: true, used: false });
    expect(later.baselines.volume.days.filter((d) => d.used)).toHaveLength(3);
    const guarded = await monitor(dayStart(day) + 2 * DAY_MS, log, { minBaselineEvents: 1_000 }).snapshot(
      'drop',
      day,
    );
    expect(guarded.baselines.volume.judged).toBe(false);
    expect(guarded.flags.volumeAnomaly).toBe(false);
  });

  it('flags a day with no events as zero activity (WARNING)', async () => {
    const log = captureLog();
    const day = await fiveWeeks('silent', 0);
    const s = await monitor(dayStart(day) + 2 * DAY_MS, log).snapshot('silent', day);
    expect(s.totalEvents).toBe(0);
    expect(s.flags.zeroActivity).toBe(true);
    expect(s.baselines.zeroActivity.projectSilent).toBe(true);
    expect(s.samplingSuccessRate).toBeNull();
    expect(log.lines).toContainEqual(
      expect.objectContaining({
        level: 'warn',
        obj: expect.objectContaining({ severity: 'WARNING', flag: 'zeroActivity' }),
      }),
    );
    // The live check (hourly) sees it too, logs once when it goes silent, not on every check.
    const live = captureLog();
    const hourly = monitor(dayStart(day) + 26 * 3_600_000, live);
    expect((await hourly.checkActivity()).get('silent')).toMatchObject({ zeroActivity: true });
    await hourly.checkActivity();
    const silentLines = live.lines.filter((l) => l.obj.project === 'silent');
    expect(silentLines).toHaveLength(1);
    expect(silentLines[0]).toMatchObject({
      level: 'warn',
      obj: { severity: 'WARNING', projectSilent: true },
    });
    expect((await hourly.summary('silent')).openFlags).toContainEqual(
      expect.objectContaining({ flag: 'zeroActivity', severity: 'WARNING' }),
    );
    // Before the silent period is over, nothing is flagged.
    const early = await monitor(dayStart(day) - 3_600_000, captureLog()).checkActivity();
    expect(early.get('silent')).toMatchObject({ zeroActivity: false, silentTypes: [] });
    // A project that never had events is not "silent".
    await store.meta.ensureProject({ id: 'never', name: 'never', strictTypes: false, createdAt: 0 });
    const never = await monitor(dayStart(day) + 2 * DAY_MS, log).snapshot('never', day);
    expect(never.flags.zeroActivity).toBe(false);
  });

  it('6% rejected events is an error spike with a CRITICAL line; 2% missing versions is a WARNING', async () => {
    const day = '2026-11-10';
    await store.meta.ensureProject({ id: 'errs', name: 'errs', strictTypes: false, createdAt: 0 });
    await append(dayOfEvents('errs', day, 940, { missingVersion: 19 })); // 19/940 = 2.02%
    await store.health.addRejections([{ project: 'errs', day, count: 40 }]);
    await store.health.addRejections([{ project: 'errs', day, count: 20 }]); // counters add up
    const log = captureLog();
    const s = await monitor(dayStart(day) + 2 * DAY_MS, log).snapshot('errs', day);
    expect(s).toMatchObject({ acceptedEvents: 940, rejectedEvents: 60, errorRatePercent: 6 });
    expect(s.flags.errorSpike).toBe(true);
    expect(s.versionMissingPercent).toBeCloseTo(2.02, 2);
    expect(s.flags.versionMismatch).toBe(true);
    const critical = log.lines.filter((l) => l.obj.severity === 'CRITICAL');
    expect(critical).toHaveLength(1);
    expect(critical[0]).toMatchObject({ level: 'error', obj: { flag: 'errorSpike', errorRatePercent: 6 } });
    const warning = log.lines.filter((l) => l.obj.flag === 'versionMismatch');
    expect(warning).toEqual([
      expect.objectContaining({ level: 'warn', obj: expect.objectContaining({ severity: 'WARNING' }) }),
    ]);

    // Just under the thresholds: 4.9% rejected and 0.9% missing raise nothing.
    const calm = '2026-11-11';
    await append(dayOfEvents('errs', calm, 1000, { missingVersion: 9 }));
    await store.health.addRejections([{ project: 'errs', day: calm, count: 51 }]);
    const quiet = captureLog();
    const c = await monitor(dayStart(calm) + 2 * DAY_MS, quiet).snapshot('errs', calm);
    expect(c.errorRatePercent).toBeCloseTo(4.85, 2);
    expect(c.flags.errorSpike).toBe(false);
    expect(c.flags.versionMismatch).toBe(false);
    expect(quiet.lines.filter((l) => l.obj.severity === 'CRITICAL' || l.obj.severity === 'WARNING')).toEqual(
      [],
    );
  });
});

describe('sampling verifier', () => {
  it('gives the same sample of a day on every run, and another sample for another day', async () => {
    const day = HISTORY[40] as string;
    const window = { project: 'steady', from: dayStart(day), to: dayStart(day) + DAY_MS };
    const opts = { window, seed: day, size: 100, knownVersions: [], futureToleranceMs: 300_000 };
    const a = await verifySample(store, opts);
    const b = await verifySample(store, opts);
    expect(a.ids).toHaveLength(100);
    expect(b.ids).toEqual(a.ids);
    expect(b.digest).toBe(a.digest);
    const c = await verifySample(store, { ...opts, seed: addDays(day, 1) });
    expect(c.ids).not.toEqual(a.ids);
    // The hash-threshold pre-filter (used when the population is known) picks the very same sample.
    const small = { ...opts, size: 10 };
    const plain = await verifySample(store, small);
    const population = (await store.health.typeStats(window, [])).reduce((n, t) => n + t.count, 0);
    expect(population).toBeGreaterThan(small.size * 20);
    expect((await verifySample(store, { ...small, population })).ids).toEqual(plain.ids);
    // Even when the population is overstated and too few rows pass the threshold.
    expect((await verifySample(store, { ...small, population: population * 1_000 })).ids).toEqual(plain.ids);
    // Two stored snapshot revisions of the day carry the same sample.
    const m = monitor(dayStart(day) + 60 * DAY_MS, captureLog());
    const [r1, r2] = [await m.snapshot('steady', day), await m.snapshot('steady', day)];
    expect(r2.revision).toBe(r1.revision + 1);
    expect(r2.sampleDigest).toBe(a.digest);
    expect(r1.sampleDigest).toBe(a.digest);
  });

  it('fails an orphan outcome (no recommendation for its signal) with that reason', async () => {
    const day = '2026-11-12';
    await store.meta.ensureProject({ id: 'orphans', name: 'orphans', strictTypes: false, createdAt: 0 });
    const rows = dayOfEvents('orphans', day, 40);
    const orphan = rows.find((r) => r.type === 'decision.outcome') as EventRow;
    orphan.signal_id = 'sig-with-no-recommendation';
    const unversioned = rows.find((r) => r.type === 'llm.request') as EventRow;
    unversioned.version = null;
    await append(rows);
    const s = await monitor(dayStart(day) + 2 * DAY_MS, captureLog()).snapshot('orphans', day);
    expect(s.sampledEvents).toBe(40);
    expect(s.samplingSuccessRate).toBe(95);
    expect(s.samplingFailures).toContainEqual({
      id: orphan.id,
      type: 'decision.outcome',
      reasons: [
        {
          code: 'orphan_outcome',
          message: "No decision.recommendation for signal_id 'sig-with-no-recommendation'.",
        },
      ],
    });
    expect(s.samplingFailures).toContainEqual(
      expect.objectContaining({
        id: unversioned.id,
        reasons: [expect.objectContaining({ code: 'missing_version' })],
      }),
    );
    expect(s.isHealthy).toBe(false);
  });
});
