/**
 * The dashboard in a real browser: Debian's Chromium driven by playwright-core against a real
 * Vigil server on loopback (real DuckDB file) with a seeded data set. Screenshots of every view
 * go to packages/web/screenshots/ (gitignored); README.md and docs/dashboard.md show copies from docs/screenshots/.
 */
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FIRST_EVENT } from '../../server/src/auth/index.js';
import { launchChromium } from '../../server/src/test/browser.js';
import { call, startVigil, type Vigil } from '../../server/src/test/harness.js';
import * as f from './format.js';

const SHOTS = join(dirname(fileURLToPath(import.meta.url)), '..', 'screenshots');
const PASSWORD = 'dashboard test password';
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
// A loaded 2-core machine can make a page wait seconds for the server; each test allows for it.
let vigil: Vigil;
let browser: Browser;
let seeded = 0;

/** A deterministic generator, so every run seeds the same shape of data. */
function random(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

/**
 * Event ages that stay clear of the trailing-window edges (1 h, 24 h, 7 d, 30 d) for the length of
 * the test, so the page and the test's own API calls, made seconds or minutes apart, count the same events.
 */
function safeAge(rand: () => number, max: number): number {
  for (;;) {
    const age = 60_000 + rand() * (max - 60_000);
    if ([HOUR, DAY, 7 * DAY, 30 * DAY].every((edge) => Math.abs(age - edge) > 20 * 60_000)) return age;
  }
}

async function seed(v: Vigil): Promise<number> {
  const rand = random(7);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)] as T;
  const now = Date.now();
  const events: Record<string, unknown>[] = [];
  const llm = (age: number) => {
    const context = Math.round(20 + rand() * 200);
    const model = Math.round(200 + rand() ** 2 * 4000);
    const failed = rand() < 0.06;
    events.push({
      type: 'llm.request',
      ts: now - age,
      version: pick(['1.4.2', '1.4.2', '1.5.0']),
      props: {
        total_ms: context + model + Math.round(rand() * 30),
        context_ms: context,
        llm_ms: model,
        prompt_tokens: Math.round(100 + rand() * 1500),
        completion_tokens: Math.round(20 + rand() * 400),
        cache_hit: rand() < 0.35,
        user: `u_${Math.floor(rand() * 12) + 1}`,
        space: pick(['support', 'sales', 'research', 'ops']),
        model: pick(['gpt-4o', 'gpt-4o-mini', 'claude-3-5']),
        ...(failed ? { error_type: pick(['timeout', 'rate_limit', 'server_error']) } : {}),
      },
    });
  };
  for (let i = 0; i < 1800; i++) llm(safeAge(rand, 30 * DAY - 30 * 60_000));
  for (let i = 0; i < 120; i++) llm(safeAge(rand, 40 * 60_000));
  for (let s = 0; s < 240; s++) {
    const age = safeAge(rand, 29 * DAY);
    const props = {
      signal_id: `sig_${s}`,
      recommendation_type: pick(['suspend_account', 'flag_review', 'escalate']),
      explanation_version: pick(['v1', 'v2']),
      confidence: Math.round(rand() * 100) / 100,
      admin_user: `adm_${Math.floor(rand() * 5) + 1}`,
    };
    events.push({
      type: 'decision.recommendation',
      ts: now - age,
      version: '1.4.2',
      props: { ...props, action: 'view' },
    });
    events.push({
      type: 'decision.recommendation',
      ts: now - age + 30_000,
      version: '1.4.2',
      props: {
        ...props,
        action: pick(['accept', 'accept', 'accept', 'ignore', 'override']),
        decision_time_ms: Math.round(2_000 + rand() * 60_000),
      },
    });
    if (s % 3 !== 0) {
      events.push({
        type: 'decision.outcome',
        ts: now - safeAge(rand, age - 60_000),
        version: '1.4.2',
        props: {
          signal_id: props.signal_id,
          outcome_status: pick(['confirmed', 'confirmed', 'false_positive', 'dismissed', 'escalated']),
          resolution_time_hours: Math.round(rand() * 720) / 10,
        },
      });
    }
  }
  for (let i = 0; i < 300; i++) {
    events.push({
      type: 'admin.view',
      ts: now - safeAge(rand, 6 * DAY),
      // Every tenth without a version tag: the health view then has flags and sampling failures to show.
      ...(i % 10 === 0 ? {} : { version: '1.4.2' }),
      props: {
        view: pick([
          'dashboard_open',
          'dashboard_open',
          'signal_detail_open',
          'explanation_expand',
          'admin_note_create',
        ]),
        admin_user: `adm_${Math.floor(rand() * 5) + 1}`,
        signal_id: `sig_${Math.floor(rand() * 240)}`,
      },
    });
  }
  for (let i = 0; i < events.length; i += 1000) {
    const res = await call(v, 'POST', '/v1/events', {
      token: v.ingestKey,
      json: { events: events.slice(i, i + 1000) },
    });
    expect(res.status).toBe(200);
    expect((res.body as { rejected: unknown[] }).rejected).toEqual([]);
  }
  for (let d = 1; d <= 7; d++) {
    const date = new Date(now - d * DAY).toISOString().slice(0, 10);
    const res = await call(v, 'POST', '/api/health/snapshots', { token: v.adminToken, json: { date } });
    expect(res.status).toBe(201);
  }
  return events.length;
}

async function api<T>(path: string, options: { method?: string; json?: unknown } = {}): Promise<T> {
  const res = await call(vigil, options.method ?? 'GET', path, {
    token: vigil.adminToken,
    json: options.json,
  });
  if (res.status >= 300) throw new Error(`${path}: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body as T;
}

/** A page that records every console error and uncaught exception. */
async function openPage(context: BrowserContext) {
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(`${m.text()} @ ${m.location().url}`);
  });
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  return { page, errors };
}

async function login(page: Page, user: string, password: string) {
  await page.goto(`${vigil.url}/`);
  await page.fill('input[name=user]', user);
  await page.fill('input[name=password]', password);
  await page.click('form.login button[type=submit]');
}

/**
 * The sign-in page asks `/api/me` (and `/api/projects`) first and gets 401 until there is a session, and a wrong
 * password answers 401: Chromium logs those responses as console errors. They belong to signing
 * in, not to a view, and are dropped once signed in; everything else stays an error.
 */
function signedIn(errors: string[]) {
  const expected = /status of 401 \(Unauthorized\) @ http:\/\/[^/]+\/api\/(me|login|projects)$/;
  errors.splice(0, errors.length, ...errors.filter((e) => !expected.test(e)));
}

/** Routes of issues still landing in this tree: a 404 from them is not the dashboard's error. */
async function landed(path: string): Promise<boolean> {
  return (await call(vigil, 'GET', path, { token: vigil.adminToken })).status !== 404;
}

function withoutMissingRoutes(errors: string[], paths: string[]) {
  errors.splice(
    0,
    errors.length,
    ...errors.filter((e) => !(/status of 404/.test(e) && paths.some((p) => e.includes(p)))),
  );
}

/** Opens a view by URL and waits until every section of it has its data. */
async function show(page: Page, hash: string) {
  const target = `${vigil.url}/${hash}`;
  // The same URL again is no navigation at all: reload to draw the view afresh.
  if (page.url() === target) await page.reload();
  else await page.goto(target);
  return settle(page, hash.replace(/^#\//, '').split('?')[0] as string);
}

async function settle(page: Page, view: string) {
  await page.waitForFunction(
    (id) => {
      const v = document.querySelector<HTMLElement>('main .view');
      return v?.dataset.view === id && v.querySelector('[aria-busy]') === null;
    },
    view,
    { timeout: 20_000 },
  );
}

async function stat(page: Page, metric: string) {
  const el = page.locator(`[data-metric="${metric}"]`);
  const raw = await el.getAttribute('data-raw');
  const text = await el.locator('.stat-value').textContent();
  return { raw: raw === '' || raw === null ? null : Number(raw), text };
}

async function shot(page: Page, name: string) {
  await page.waitForTimeout(150); // uPlot draws on the next frame after layout
  await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
}

beforeAll(async () => {
  mkdirSync(SHOTS, { recursive: true });
  vigil = await startVigil({ config: { adminPassword: PASSWORD } });
  seeded = await seed(vigil);
  browser = await launchChromium();
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await vigil?.cleanup();
});

describe('dashboard in Chromium', { timeout: 120_000 }, () => {
  let admin: BrowserContext;
  let page: Page;
  let errors: string[];

  beforeAll(async () => {
    admin = await browser.newContext({ viewport: { width: 1440, height: 900 } });
    ({ page, errors } = await openPage(admin));
  });
  afterAll(async () => {
    await admin.close();
  });

  it('refuses a wrong password and sets no cookie', async () => {
    await login(page, 'admin', 'not the password');
    await expect
      .poll(() => page.locator('.login-error').textContent())
      .toBe('Unknown user or wrong password.');
    expect(await admin.cookies()).toEqual([]);
    await shot(page, 'login');
  });

  it('logs in; the overview shows the API numbers, and its first meaningful paint is measured', async () => {
    await login(page, 'admin', PASSWORD);
    await settle(page, 'overview');
    signedIn(errors);
    const cookie = (await admin.cookies()).find((c) => c.name === 'vigil_session');
    expect(cookie).toMatchObject({ httpOnly: true, sameSite: 'Strict' });

    const [week, month, d7, d30] = await Promise.all([
      api<Current>('/api/metrics/current?window=week'),
      api<Current>('/api/metrics/current?window=month'),
      api<Decisions>('/api/decisions/summary?window=7d'),
      api<Decisions>('/api/decisions/summary?window=30d'),
    ]);
    expect(week.requestRate.total).toBeGreaterThan(0);
    const expected: [string, number | null, (n: number | null) => string][] = [
      ['7d.requests', week.requestRate.total, f.count],
      ['7d.p95', week.totalLatency.p95, f.ms],
      ['7d.errorRate', week.errors.totalErrorRate, f.percent],
      ['7d.tokens', week.tokens.totalTokens, f.count],
      ['7d.cacheHitRate', week.cacheHitRate.overall, f.percent],
      ['30d.requests', month.requestRate.total, f.count],
      ['30d.p95', month.totalLatency.p95, f.ms],
      ['30d.tokens', month.tokens.totalTokens, f.count],
      ['7d.acceptanceRate', d7.acceptanceRate, f.percent],
      ['7d.overrideRate', d7.overrideRate, f.percent],
      ['30d.decisionTime', d30.averageDecisionTimeMs, f.ms],
      ['30d.falsePositiveRate', d30.falsePositiveRate, f.percent],
    ];
    for (const [metric, value, format] of expected) {
      expect([metric, await stat(page, metric)]).toEqual([metric, { raw: value, text: format(value) }]);
    }
    await shot(page, 'overview');

    // First meaningful paint: a fresh load of the overview until its key numbers are painted.
    const times: number[] = [];
    for (let i = 0; i < 5; i++) {
      await settle(page, 'overview'); // the previous load's daily series are answered
      // A new query string makes it a real page load (a hash change alone would redraw in place).
      await page.goto(`${vigil.url}/?load=${i}#/overview?range=7d`);
      await page.waitForSelector('[data-ready="numbers"]');
      const t = await page.evaluate(
        () =>
          new Promise<number>((resolve) => {
            const read = () => {
              const mark = performance.getEntriesByName('vigil:overview-numbers')[0];
              if (mark) resolve(mark.startTime);
              else requestAnimationFrame(read);
            };
            read();
          }),
      );
      times.push(t);
      if (i === 4) {
        const resources = await page.evaluate(() =>
          performance
            .getEntriesByType('resource')
            .map(
              (r) =>
                `${new URL(r.name).pathname}${new URL(r.name).search} ${r.startTime.toFixed(0)}+${r.duration.toFixed(0)} ms`,
            ),
        );
        console.log(`requests of the last load (start+duration): ${resources.join('; ')}`);
      }
    }
    times.sort((a, b) => a - b);
    console.log(
      `overview first meaningful paint (navigation start → key numbers painted), ${seeded} seeded events, loopback: ` +
        `median ${times[2]?.toFixed(0)} ms, min ${times[0]?.toFixed(0)} ms, max ${times[4]?.toFixed(0)} ms`,
    );
    expect(errors).toEqual([]);
  });

  it('LLM view: numbers, latency table and rankings match /api/metrics/current', async () => {
    await show(page, '#/llm?range=24h');
    const c = await api<Current>('/api/metrics/current?window=day');
    for (const [metric, value, format] of [
      ['llm.requests', c.requestRate.total, f.count],
      ['llm.p50', c.totalLatency.median, f.ms],
      ['llm.p95', c.totalLatency.p95, f.ms],
      ['llm.p99', c.totalLatency.p99, f.ms],
      ['llm.errorRate', c.errors.totalErrorRate, f.percent],
      ['llm.tokens', c.tokens.totalTokens, f.count],
      ['llm.cacheHitRate', c.cacheHitRate.overall, f.percent],
    ] as const) {
      expect([metric, await stat(page, metric)]).toEqual([metric, { raw: value, text: format(value) }]);
    }
    const contextRow = page.locator('[data-table=latency] [data-row="Context assembly"] td');
    expect(await contextRow.allTextContents()).toEqual(
      [
        c.contextLatency.average,
        c.contextLatency.median,
        c.contextLatency.p95,
        c.contextLatency.p99,
        c.contextLatency.min,
        c.contextLatency.max,
      ].map(f.ms),
    );
    const topUser = Object.entries(c.tokens.byUser).sort((a, b) => b[1] - a[1])[0] as [string, number];
    const first = page.locator('[data-bars=tokensByUser] tr').first();
    expect([
      await first.getAttribute('data-label'),
      Number(await first.locator('td.num').getAttribute('data-value')),
    ]).toEqual(topUser);
    const spaces = await page.locator('[data-bars=tokensBySpace] tr').count();
    expect(spaces).toBe(Object.keys(c.tokens.bySpace).length);
    const errorTypes = await page
      .locator('[data-bars=errorsByType] tr')
      .evaluateAll((rows) =>
        Object.fromEntries(
          rows.map((r) => [
            r.getAttribute('data-label'),
            Number(r.querySelector('td.num')?.getAttribute('data-value')),
          ]),
        ),
      );
    expect(errorTypes).toEqual(c.errors.errorCountByType);
    for (const chart of [
      'requestRate',
      'totalLatency',
      'contextLatency',
      'llmLatency',
      'errorRate',
      'cacheHitRate',
    ]) {
      await expect
        .poll(() => page.locator(`[data-chart=${chart}] canvas`).count(), { message: chart })
        .toBe(1);
    }
    await shot(page, 'llm');
    expect(errors).toEqual([]);
  });

  it('cost panels: totals match the API, unpriced models link to the price table, Settings saves a price', async () => {
    await show(page, '#/llm?range=30d');
    const c = await api<Current>('/api/metrics/current?window=month');
    expect(c.cost.totalUsd).toBeGreaterThan(0);
    // claude-3-5 has no shipped price: its requests are unpriced, counted and linked, never $0.
    expect(c.cost.unpricedModels['claude-3-5']).toBeGreaterThan(0);
    expect(await stat(page, 'llm.cost')).toEqual({ raw: c.cost.totalUsd, text: f.usd(c.cost.totalUsd) });
    expect(await stat(page, 'llm.unpriced')).toEqual({
      raw: c.cost.unpricedRequests,
      text: f.count(c.cost.unpricedRequests),
    });
    await page.locator('[data-bars=costByModel]').waitFor();
    await page.locator('[data-panel=cost]').screenshot({ path: join(SHOTS, 'llm-cost.png') });
    await page.locator('[data-add-price="claude-3-5"]').click();
    await page.locator('[data-table=prices]').waitFor();
    const editor = page.locator('textarea[name=prices]');
    expect(await editor.inputValue()).toContain('"model": "claude-3-5"');
    await editor.fill(
      JSON.stringify({ prices: [{ model: 'claude-3-5', inputPerMillion: 3, outputPerMillion: 15 }] }),
    );
    await page.locator('[data-action=save-prices]').click();
    await page.locator('[data-prices-status]', { hasText: 'Saved' }).waitFor();
    const table = await api<{ prices: { model: string; source: string }[] }>('/api/llm/prices');
    expect(table.prices[0]).toMatchObject({ model: 'claude-3-5', source: 'project' });
    await shot(page, 'settings-prices');
  });

  it('a custom range is kept in a shareable URL and answered over exactly that range', async () => {
    const to = Math.floor((Date.now() - 2 * DAY) / 60_000) * 60_000;
    const from = to - 3 * DAY;
    await show(page, '#/llm?range=24h');
    await page.click('[data-range=custom]');
    const iso = (t: number) => new Date(t).toISOString().slice(0, 16);
    await page.fill('input[aria-label="From (UTC)"]', iso(from));
    await page.fill('input[aria-label="To (UTC)"]', iso(to));
    await page.click('.custom-range button[type=submit]');
    await settle(page, 'llm');
    const url = page.url();
    expect(decodeURIComponent(url)).toContain(
      `range=${new Date(from).toISOString()}..${new Date(to).toISOString()}`,
    );
    const shared = await admin.newPage();
    await shared.goto(url);
    await settle(shared, 'llm');
    expect(await shared.locator('[data-range-label]').textContent()).toBe(
      await page.locator('[data-range-label]').textContent(),
    );
    const q = await api<{ series: { points: { value: number }[] }[] }>('/api/query', {
      method: 'POST',
      json: { type: 'llm.request', aggregate: 'count', from, to },
    });
    const n = q.series[0]?.points[0]?.value ?? 0;
    expect(n).toBeGreaterThan(0);
    expect(await stat(shared, 'llm.requests')).toEqual({ raw: n, text: f.count(n) });
    await shared.close();
    expect(errors).toEqual([]);
  });

  it('Decisions view: 7- and 30-day numbers and both comparisons match the API', async () => {
    await show(page, '#/decisions?range=30d');
    const [d7, d30, byType, byVersion] = await Promise.all([
      api<Decisions>('/api/decisions/summary?window=7d'),
      api<Decisions>('/api/decisions/summary?window=30d'),
      api<Decisions>('/api/decisions/summary?window=30d&groupBy=recommendation_type'),
      api<Decisions>('/api/decisions/summary?window=30d&groupBy=explanation_version'),
    ]);
    for (const [key, d] of [
      ['7d', d7],
      ['30d', d30],
    ] as const) {
      expect(await stat(page, `${key}.acceptanceRate`)).toEqual({
        raw: d.acceptanceRate,
        text: f.percent(d.acceptanceRate),
      });
      expect(await stat(page, `${key}.overrideRate`)).toEqual({
        raw: d.overrideRate,
        text: f.percent(d.overrideRate),
      });
      expect(await stat(page, `${key}.decisionTime`)).toEqual({
        raw: d.averageDecisionTimeMs,
        text: f.ms(d.averageDecisionTimeMs),
      });
      expect(await stat(page, `${key}.falsePositiveRate`)).toEqual({
        raw: d.falsePositiveRate,
        text: f.percent(d.falsePositiveRate),
      });
    }
    const rows = async (table: string) =>
      page
        .locator(`[data-table=${table}] tbody tr`)
        .evaluateAll((trs) => trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent)));
    const expectedRows = (s: Decisions) =>
      Object.entries(s.groups ?? {}).map(([name, g]) => [
        name,
        f.count(g.counts.accepted + g.counts.overridden + g.counts.ignored),
        f.percent(g.acceptanceRate),
        f.percent(g.overrideRate),
        f.ms(g.averageDecisionTimeMs),
        f.percent(g.falsePositiveRate),
        f.count(g.counts.outcomes),
      ]);
    expect(await rows('recommendation_type')).toEqual(expectedRows(byType));
    expect(await rows('explanation_version')).toEqual(expectedRows(byVersion));
    expect(Object.keys(byVersion.groups ?? {})).toEqual(['v1', 'v2']);
    await shot(page, 'decisions');
    expect(errors).toEqual([]);
  });

  it('Outcomes view: totals and distribution match the API', async () => {
    await show(page, '#/outcomes?range=30d');
    const d30 = await api<Decisions>('/api/decisions/summary?window=30d');
    expect(await stat(page, 'outcomes.total')).toEqual({
      raw: d30.counts.outcomes,
      text: f.count(d30.counts.outcomes),
    });
    const dist = await page
      .locator('[data-bars=outcomes30d] tr')
      .evaluateAll((rows) =>
        Object.fromEntries(
          rows.map((r) => [
            r.getAttribute('data-label'),
            Number(r.querySelector('td.num')?.getAttribute('data-value')),
          ]),
        ),
      );
    expect(dist).toEqual(d30.outcomeDistribution);
    expect(await page.locator('[data-table=events] tbody tr[data-event]').count()).toBe(
      Math.min(50, d30.counts.outcomes),
    );
    await shot(page, 'outcomes');
    expect(errors).toEqual([]);
  });

  it('Admin activity view: counts by view match the API', async () => {
    await show(page, '#/activity?range=7d');
    const rows = await page
      .locator('[data-bars=activityByView] tr')
      .evaluateAll((trs) =>
        Object.fromEntries(
          trs.map((r) => [
            r.getAttribute('data-label'),
            Number(r.querySelector('td.num')?.getAttribute('data-value')),
          ]),
        ),
      );
    const total = Object.values(rows as Record<string, number>).reduce((s, v) => s + v, 0);
    const events = await api<{ events: unknown[]; nextCursor: string | null }>(
      `/api/events?type=admin.view&limit=1000&from=${Date.now() - 7 * DAY}`,
    );
    expect(total).toBe(events.events.length);
    expect(Object.keys(rows).sort()).toEqual([
      'admin_note_create',
      'dashboard_open',
      'explanation_expand',
      'signal_detail_open',
    ]);
    await shot(page, 'activity');
    expect(errors).toEqual([]);
  });

  it('Event log: newest first, filters by type and prop, pages with cursors, shows an event', async () => {
    await show(page, '#/events?range=30d');
    const from = Date.now() - 30 * DAY;
    const firstPage = await api<{ events: { id: string }[]; nextCursor: string }>(
      `/api/events?limit=50&from=${from}`,
    );
    const ids = await page
      .locator('[data-table=events] tr[data-event]')
      .evaluateAll((trs) => trs.map((t) => t.getAttribute('data-event')));
    expect(ids).toEqual(firstPage.events.map((e) => e.id));
    await page.click('text=Older →');
    await settle(page, 'events');
    const second = await api<{ events: { id: string }[] }>(
      `/api/events?limit=50&from=${from}&cursor=${firstPage.nextCursor}`,
    );
    expect(await page.locator('[data-table=events] tr[data-event]').first().getAttribute('data-event')).toBe(
      second.events[0]?.id,
    );
    await page.click('text=← Newer');
    await settle(page, 'events');
    expect(await page.locator('[data-table=events] tr[data-event]').first().getAttribute('data-event')).toBe(
      ids[0],
    );

    await page.fill('input[name=type]', 'decision.outcome');
    await page.fill('input[name=props]', 'outcome_status=false_positive');
    await page.click('form.filters button[type=submit]');
    await settle(page, 'events');
    const filtered = await api<{ events: { id: string; props: Record<string, unknown> }[] }>(
      `/api/events?limit=50&from=${from}&type=decision.outcome&prop.outcome_status=false_positive`,
    );
    expect(filtered.events.length).toBeGreaterThan(0);
    const shown = await page
      .locator('[data-table=events] tr[data-event]')
      .evaluateAll((trs) => trs.map((t) => t.getAttribute('data-event')));
    expect(shown).toEqual(filtered.events.map((e) => e.id));
    await page.click(`tr[data-event="${shown[0]}"]`);
    await settle(page, 'events');
    const detail = JSON.parse((await page.locator(`[data-detail="${shown[0]}"]`).textContent()) ?? '');
    expect(detail).toEqual(filtered.events[0]?.props);
    expect(page.url()).toContain(`event=${shown[0]}`);
    await shot(page, 'events');
    expect(errors).toEqual([]);
  });

  it('Health view: latest snapshot, flags and the snapshot list match the API', async () => {
    await show(page, '#/health?range=7d');
    const summary = await api<{
      latest: { totalEvents: number; errorRatePercent: number };
      openFlags: unknown[];
    }>('/api/health/summary');
    expect(await stat(page, 'health.totalEvents')).toEqual({
      raw: summary.latest.totalEvents,
      text: f.count(summary.latest.totalEvents),
    });
    expect(Number(await page.locator('[data-flags]').getAttribute('data-flags'))).toBe(
      summary.openFlags.length,
    );
    const to = new Date(Date.now() - DAY).toISOString().slice(0, 10);
    const from = new Date(Date.now() - 7 * DAY).toISOString().slice(0, 10);
    const list = await api<{ snapshots: unknown[] }>(`/api/health/snapshots?from=${from}&to=${to}`);
    expect(await page.locator('[data-table=snapshots] tbody tr').count()).toBe(list.snapshots.length);
    const day = (
      list.snapshots as { date: string; samplingFailures: unknown[]; flags: Record<string, boolean> }[]
    ).at(-1);
    expect(day?.flags.versionMismatch).toBe(true);
    expect(day?.samplingFailures.length).toBeGreaterThan(0);
    await page.click(`[data-day="${day?.date}"]`);
    await settle(page, 'health');
    expect(page.url()).toContain(`day=${day?.date}`);
    expect(await page.locator('[data-table=samplingFailures] tbody tr').count()).toBe(
      Math.min(100, day?.samplingFailures.length ?? 0),
    );
    expect(await page.locator('[data-table=samplingFailures]').textContent()).toContain('missing_version');
    await shot(page, 'health');
    expect(errors).toEqual([]);
  });

  it('Alerts view: an admin creates a rule in the editor and it is stored', async () => {
    if (!(await landed('/api/alerts/rules'))) {
      // Issue 5's routes are not registered in this tree yet: the view says so instead of failing.
      await show(page, '#/alerts?range=24h');
      expect(await page.locator('[data-unavailable]').count()).toBe(2);
      withoutMissingRoutes(errors, ['/api/metrics/alerts', '/api/alerts/rules']);
      await shot(page, 'alerts');
      expect(errors).toEqual([]);
      return;
    }
    await show(page, '#/alerts?range=24h');
    const before = await api<{ rules: { name: string }[] }>('/api/alerts/rules');
    expect(await page.locator('[data-table=rules] tbody tr').count()).toBe(before.rules.length);
    const editor = page.locator('[data-rule-editor=new]');
    await editor.locator('input[name=name]').fill('p95 over 3 s');
    await editor.locator('input[name=metric]').fill('totalLatency.p95');
    await editor.locator('select[name=operator]').selectOption('>');
    await editor.locator('input[name=threshold]').fill('3000');
    await editor.locator('input[name=window]').fill('10m');
    await editor.locator('input[name=consecutive]').fill('3');
    await editor.locator('button[type=submit]').click();
    await page.waitForSelector('[data-rule="p95 over 3 s"]');
    await settle(page, 'alerts');
    const after = await api<{
      rules: {
        name: string;
        metric: string;
        operator: string;
        threshold: number;
        window: string;
        consecutive: number;
      }[];
    }>('/api/alerts/rules');
    expect(after.rules.find((r) => r.name === 'p95 over 3 s')).toMatchObject({
      metric: 'totalLatency.p95',
      operator: '>',
      threshold: 3000,
      window: '10m',
      consecutive: 3,
    });
    // Editing in the form keeps what the form does not show (labels here).
    const created = after.rules.find((r) => r.name === 'p95 over 3 s') as unknown as { id: string };
    await api(`/api/alerts/rules/${created.id}`, {
      method: 'PUT',
      json: {
        name: 'p95 over 3 s',
        metric: 'totalLatency.p95',
        operator: '>',
        threshold: 3000,
        window: '10m',
        consecutive: 3,
        labels: { team: 'ml' },
      },
    });
    await show(page, `#/alerts?range=24h&rule=${created.id}`);
    const edit = page.locator(`[data-rule-editor="${created.id}"]`);
    await edit.locator('input[name=threshold]').fill('4000');
    await edit.locator('button[type=submit]').click();
    await expect
      .poll(
        async () =>
          await api<{ threshold: number; labels: Record<string, string> }>(`/api/alerts/rules/${created.id}`),
      )
      .toMatchObject({ threshold: 4000, labels: { team: 'ml' }, window: '10m', consecutive: 3 });
    await settle(page, 'alerts');
    const alerts = await api<{ active: unknown[]; history: unknown[] }>('/api/metrics/alerts');
    expect(await page.locator('[data-table=activeAlerts] tbody tr').count()).toBe(alerts.active.length);
    await shot(page, 'alerts');
    expect(errors).toEqual([]);
  });

  it('Infrastructure view: collectors, deployments and the summary match /telemetry/status', async () => {
    if (!(await landed('/telemetry/status'))) {
      await show(page, '#/infrastructure?range=24h');
      expect(await page.locator('[data-unavailable]').count()).toBeGreaterThan(0);
      withoutMissingRoutes(errors, ['/telemetry/status', '/api/collectors']);
      await shot(page, 'infrastructure');
      expect(errors).toEqual([]);
      return;
    }
    await api('/api/collectors', {
      method: 'POST',
      json: {
        type: 'http-health',
        name: 'vigil-self',
        url: `${vigil.url}/healthz`,
        intervalMs: 3_600_000,
        timeoutMs: 2_000,
      },
    });
    await api('/telemetry/deployments', {
      method: 'POST',
      json: { service: 'api', version: '1.5.0', status: 'succeeded' },
    });
    await show(page, '#/infrastructure?range=24h');
    await page.click('[data-collect]');
    await page.waitForSelector('[data-table=collectors] .badge');
    await settle(page, 'infrastructure');
    const status = await api<{
      summary: Record<string, number>;
      collectors: unknown[];
      deployments: unknown[];
    }>('/telemetry/status');
    expect(await stat(page, 'infra.collectors')).toMatchObject({ raw: status.summary.collectors });
    expect(await stat(page, 'infra.agentsUp')).toMatchObject({ raw: status.summary.agentsUp });
    expect(status.summary.agentsUp).toBe(1);
    expect(await page.locator('[data-table=collectors] tbody tr').count()).toBe(status.collectors.length);
    expect(await page.locator('[data-table=deployments] tbody tr').count()).toBe(status.deployments.length);
    await shot(page, 'infrastructure');
    expect(errors).toEqual([]);
  });

  it('Settings: an admin creates an ingest key, sees it once, and it works; revoking it stops it', async () => {
    await show(page, '#/settings?range=24h');
    const keys = await api<{ keys: { revokedAt: string | null }[] }>('/api/keys');
    expect(await page.locator('[data-table=keys] tbody tr').count()).toBe(
      keys.keys.filter((k) => !k.revokedAt).length,
    );
    await page.fill('input[name=name]', 'browser test key');
    await page.selectOption('select[name=role]', 'ingest');
    await page.click('text=Create key');
    const secret = (await page.locator('[data-secret]').textContent()) ?? '';
    expect(secret).toMatch(/^vgl_/);
    const sent = await call(vigil, 'POST', '/v1/events', {
      token: secret,
      json: { events: [{ type: 'from.new.key' }] },
    });
    expect([sent.status, (sent.body as { accepted: number }).accepted]).toEqual([200, 1]);
    await shot(page, 'settings');
    if (await landed('/api/telemetry/settings')) {
      const box = page.locator('input[name=publicEnabled]');
      const was = await box.isChecked();
      await box.click();
      await expect
        .poll(async () => (await api<{ publicEnabled: boolean }>('/api/telemetry/settings')).publicEnabled)
        .toBe(!was);
      const pub = await call(vigil, 'GET', '/telemetry/public');
      expect(pub.status).toBe(was ? 404 : 200);
      await box.click();
      await expect
        .poll(async () => (await api<{ publicEnabled: boolean }>('/api/telemetry/settings')).publicEnabled)
        .toBe(was);
    }
    // Shown once: after a reload the page has no way to show it again.
    await show(page, '#/settings?range=24h');
    expect(await page.locator('[data-secret]').count()).toBe(0);
    expect(await page.content()).not.toContain(secret);
    page.once('dialog', (d) => void d.accept());
    const id = (secret.split('_')[1] ?? '') as string;
    await page.click(`[data-revoke="${id}"]`);
    await expect.poll(() => page.locator(`[data-revoke="${id}"]`).count()).toBe(0);
    const refused = await call(vigil, 'POST', '/v1/events', {
      token: secret,
      json: { events: [{ type: 'x' }] },
    });
    expect(refused.status).toBe(401);
    expect(errors).toEqual([]);
  });

  it('new events appear without a reload (server-sent events)', async () => {
    await show(page, '#/llm?range=1h');
    const before = (await stat(page, 'llm.requests')).raw ?? 0;
    const res = await call(vigil, 'POST', '/v1/events', {
      token: vigil.ingestKey,
      json: {
        events: Array.from({ length: 7 }, () => ({
          type: 'llm.request',
          props: { total_ms: 500, llm_ms: 400, context_ms: 50 },
        })),
      },
    });
    expect(res.status).toBe(200);
    await expect
      .poll(async () => (await stat(page, 'llm.requests')).raw, { timeout: 10_000 })
      .toBe(before + 7);
    expect(errors).toEqual([]);
  });

  it('a project picker switches every view to another project, kept in the URL', async () => {
    const key = await api<{ key: string }>('/api/keys', {
      method: 'POST',
      json: { role: 'ingest', project: 'shop' },
    });
    const sent = await call(vigil, 'POST', '/v1/events', {
      token: key.key,
      json: { events: Array.from({ length: 3 }, () => ({ type: 'llm.request', props: { total_ms: 900 } })) },
    });
    expect(sent.status).toBe(200);
    await show(page, '#/llm?range=24h');
    await page.reload(); // projects are listed when the page starts
    await settle(page, 'llm');
    await page.selectOption('[data-project-picker]', 'shop');
    await page.waitForFunction(() => location.hash.includes('project=shop'));
    await settle(page, 'llm');
    const shop = await api<Current>('/api/metrics/current?window=day&project=shop');
    expect(shop.requestRate.total).toBe(3);
    expect(await stat(page, 'llm.requests')).toEqual({ raw: 3, text: '3' });
    await page.click('[data-nav=overview]');
    await settle(page, 'overview');
    expect(page.url()).toContain('project=shop');
    expect((await stat(page, '7d.requests')).raw).toBe(3);
    await page.selectOption('[data-project-picker]', 'default');
    await settle(page, 'overview');
    expect(errors).toEqual([]);
  });

  it('a cookie-authenticated write without the CSRF token is refused', async () => {
    const status = await page.evaluate(async () => {
      const res = await fetch('/api/keys', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ role: 'admin' }),
      });
      return res.status;
    });
    expect(status).toBe(403);
    errors.splice(0, errors.length, ...errors.filter((e) => !/status of 403/.test(e)));
  });

  it('logs out: back to the sign-in form, the session is gone', async () => {
    await page.click('[data-logout]');
    await page.waitForSelector('form.login');
    const status = await page.evaluate(async () => (await fetch('/api/me')).status);
    expect(status).toBe(401);
    errors.splice(0, errors.length, ...errors.filter((e) => !/status of 401/.test(e)));
    expect(errors).toEqual([]);
  });
});

describe('a viewer', { timeout: 120_000 }, () => {
  it('sees read-only pages: no Settings, and admin APIs refuse it', async () => {
    const created = await api<{ password: string }>('/api/users', {
      method: 'POST',
      json: { name: 'viv', role: 'viewer' },
    });
    const context = await browser.newContext({ viewport: { width: 1440, height: 900 } });
    const { page, errors } = await openPage(context);
    await login(page, 'viv', created.password);
    await settle(page, 'overview');
    signedIn(errors);
    expect(await page.locator('[data-role]').getAttribute('data-role')).toBe('viewer');
    expect(await page.locator('[data-nav=settings]').count()).toBe(0);
    await show(page, '#/settings?range=24h');
    expect(await page.locator('[data-denied=settings]').count()).toBe(1);
    await show(page, '#/alerts?range=24h');
    expect(await page.locator('[data-rule-editor]').count()).toBe(0);
    const statuses = await page.evaluate(async () => {
      const me = (await (await fetch('/api/me')).json()) as { csrfToken: string };
      const headers = { 'content-type': 'application/json', 'x-csrf-token': me.csrfToken };
      return [
        (await fetch('/api/keys')).status,
        (await fetch('/api/keys', { method: 'POST', headers, body: JSON.stringify({ role: 'ingest' }) }))
          .status,
        (
          await fetch('/api/users', {
            method: 'POST',
            headers,
            body: JSON.stringify({ name: 'x', role: 'admin' }),
          })
        ).status,
        (await fetch('/api/alerts/rules')).status,
      ];
    });
    const alertsLanded = await landed('/api/alerts/rules');
    expect(statuses).toEqual([403, 403, 403, alertsLanded ? 403 : 404]);
    if (!alertsLanded) withoutMissingRoutes(errors, ['/api/metrics/alerts', '/api/alerts/rules']);
    await shot(page, 'viewer-overview');
    expect(errors.filter((e) => !/status of 403/.test(e))).toEqual([]);
    await context.close();
  });
});

describe('with no data', { timeout: 120_000 }, () => {
  it("follows a new user's path: fresh data directory, the banner's first event, the Overview shows it", async () => {
    const fresh = await startVigil({ config: { adminPassword: PASSWORD } });
    try {
      // The event the first start's banner prints as a curl line, with the key it prints.
      const first = await call(fresh, 'POST', '/v1/events', { token: fresh.ingestKey, json: FIRST_EVENT });
      expect(first.body).toEqual({ accepted: 1, rejected: [] });
      const context = await browser.newContext({ viewport: { width: 1440, height: 900 } });
      const { page, errors } = await openPage(context);
      await page.goto(`${fresh.url}/`);
      await page.fill('input[name=user]', 'admin');
      await page.fill('input[name=password]', PASSWORD);
      await page.click('form.login button[type=submit]');
      await settle(page, 'overview');
      signedIn(errors);
      expect(await page.locator('[data-empty]').count()).toBe(0);
      expect(await stat(page, '7d.requests')).toEqual({ raw: 1, text: '1' });
      expect((await stat(page, '7d.tokens')).raw).toBe(576);
      // Day one: no snapshot yet, so the health card shows today so far; no growth figures yet.
      expect(await page.locator('[data-metric=health]').textContent()).toMatch(/\(today so far\)$/);
      expect(await page.locator('.trend').count()).toBe(0);
      expect(await page.locator('[data-note=history]').textContent()).toContain('this project has 1');
      await shot(page, 'newcomer-overview');

      // The browser SDK as the server serves it, imported by a page on its origin.
      // A string, not a function: vitest would rewrite a function's import() for Node.
      const delivered = await page.evaluate(`(async () => {
        const sdk = await import(${JSON.stringify(`${fresh.url}/sdk/vigil-sdk.js`)});
        const client = sdk.createClient({ endpoint: ${JSON.stringify(fresh.url)}, key: ${JSON.stringify(fresh.ingestKey)}, version: '1.0.0', flushOnExit: false });
        client.track('signup', { plan: 'pro' });
        return (await client.shutdown({ timeoutMs: 10000 })).sent;
      })()`);
      expect(delivered).toBe(1);

      // Health on day one: today so far, provisional.
      await page.goto(`${fresh.url}/#/health`);
      await settle(page, 'health');
      expect(await page.locator('[data-today]').count()).toBe(1);
      expect((await stat(page, 'today.totalEvents')).raw).toBe(2);
      await shot(page, 'newcomer-health');
      expect(errors).toEqual([]);
      await context.close();
    } finally {
      await fresh.cleanup();
    }
  });

  it('the overview teaches how to send a first event; the key it creates works', async () => {
    const empty = await startVigil({ config: { adminPassword: PASSWORD } });
    try {
      const context = await browser.newContext({ viewport: { width: 1440, height: 900 } });
      const { page, errors } = await openPage(context);
      await page.goto(`${empty.url}/`);
      await page.fill('input[name=user]', 'admin');
      await page.fill('input[name=password]', PASSWORD);
      await page.click('form.login button[type=submit]');
      await settle(page, 'overview');
      signedIn(errors);
      const curl = page.locator('[data-empty] [data-snippet=curl]');
      expect(await curl.textContent()).toContain(`${empty.url}/v1/events`);
      expect(await page.locator('[data-empty] [data-snippet=sdk]').textContent()).toContain(
        `endpoint: '${empty.url}'`,
      );
      await page.click('text=Create an ingest key for these snippets');
      await expect.poll(() => curl.textContent()).toMatch(/Bearer vgl_/);
      await shot(page, 'empty-overview');
      const key = /Bearer (vgl_\S+)'/.exec((await curl.textContent()) ?? '')?.[1] as string;
      const res = await call(empty, 'POST', '/v1/events', {
        token: key,
        json: { events: [{ type: 'llm.request', props: { total_ms: 1 } }] },
      });
      expect([res.status, (res.body as { accepted: number }).accepted]).toEqual([200, 1]);
      expect(errors).toEqual([]);
      await context.close();
    } finally {
      await empty.cleanup();
    }
  });
});

interface Latency {
  average: number | null;
  median: number | null;
  p95: number | null;
  p99: number | null;
  min: number | null;
  max: number | null;
}

interface Current {
  requestRate: { total: number };
  totalLatency: Latency;
  contextLatency: Latency;
  tokens: { totalTokens: number; byUser: Record<string, number>; bySpace: Record<string, number> };
  errors: { totalErrorRate: number | null; errorCountByType: Record<string, number> };
  cacheHitRate: { overall: number | null };
  cost: { totalUsd: number; unpricedRequests: number | null; unpricedModels: Record<string, number> };
}

interface Decisions {
  acceptanceRate: number | null;
  overrideRate: number | null;
  averageDecisionTimeMs: number | null;
  falsePositiveRate: number | null;
  outcomeDistribution: Record<string, number>;
  counts: { accepted: number; overridden: number; ignored: number; outcomes: number };
  groups?: Record<string, Decisions>;
}
