/**
 * Details of the dashboard a newcomer tripped on (issue 19 items 8, 9, 10), in a real browser:
 * Debian's Chromium driven by playwright-core against a real Vigil server on loopback (real
 * DuckDB file). The alert rule form (filters, receivers, the saved message, a clean URL), an
 * acknowledged and silenced alert at 1,400 px, the header with the custom range open, the range
 * picker only where it has an effect, the Health view's days following it, and the event log's
 * type suggestions with the project's own types. Screenshots go to packages/web/screenshots/.
 */
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultConfig } from '../../server/src/config/index.js';
import { launchChromium } from '../../server/src/test/browser.js';
import { call, startVigil, type Vigil } from '../../server/src/test/harness.js';

const SHOTS = join(dirname(fileURLToPath(import.meta.url)), '..', 'screenshots');
const PASSWORD = 'dashboard details password';
const DAY = 86_400_000;
const WIDTH = 1400;

let vigil: Vigil;
let browser: Browser;
let context: BrowserContext;
let page: Page;
const errors: string[] = [];

async function api<T>(path: string, options: { method?: string; json?: unknown } = {}): Promise<T> {
  const res = await call(vigil, options.method ?? 'GET', path, {
    token: vigil.adminToken,
    json: options.json,
  });
  if (res.status >= 300) throw new Error(`${path}: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body as T;
}

/** Opens a view by URL and waits until every section of it has its data. */
async function show(hash: string) {
  const target = `${vigil.url}/${hash}`;
  if (page.url() === target) await page.reload();
  else await page.goto(target);
  await settle(hash.replace(/^#\//, '').split('?')[0] as string);
}

async function settle(view: string) {
  await page.waitForFunction(
    (id) => {
      const v = document.querySelector<HTMLElement>('main .view');
      return v?.dataset.view === id && v.querySelector('[aria-busy]') === null;
    },
    view,
    { timeout: 30_000 },
  );
}

/** How far the page is wider than the window (0: it did not grow). */
const overflow = () =>
  page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);

const iso = (t: number) => new Date(t).toISOString();
const day = (t: number) => iso(t).slice(0, 10);
const midnight = (t: number) => Date.parse(`${day(t)}T00:00:00Z`);

beforeAll(async () => {
  mkdirSync(SHOTS, { recursive: true });
  // Alerts are evaluated by the test (evaluateOnce), not by the scheduler.
  vigil = await startVigil({
    config: { adminPassword: PASSWORD, alerts: { ...defaultConfig().alerts, enabled: false } },
  });
  const now = Date.now();
  const events = [
    ...Array.from({ length: 60 }, (_, i) => ({
      type: 'llm.request',
      ts: now - 60_000 - i * 5_000,
      version: '1.0.0',
      props: {
        total_ms: 300 + i,
        prompt_tokens: 100,
        completion_tokens: 20,
        model: i % 2 ? 'gpt-4o' : 'claude-3-5',
        space: 'support',
        user: `u_${i % 4}`,
        ...(i % 5 === 0 ? { error_type: 'timeout' } : {}),
      },
    })),
    // The project's own types: the event log must suggest them beside the built-in ones.
    ...Array.from({ length: 12 }, (_, i) => ({
      type: 'checkout.completed',
      ts: now - 120_000 - i * 1_000,
      version: '1.0.0',
      props: { cart: i },
    })),
    { type: 'app.started', ts: now - 90_000, version: '1.0.0', props: { region: 'eu-west-1' } },
  ];
  const res = await call(vigil, 'POST', '/v1/events', { token: vigil.ingestKey, json: { events } });
  expect(res.body).toMatchObject({ accepted: events.length, rejected: [] });
  browser = await launchChromium();
  context = await browser.newContext({ viewport: { width: WIDTH, height: 900 } });
  page = await context.newPage();
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(`${m.text()} @ ${m.location().url}`);
  });
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  await page.goto(`${vigil.url}/`);
  await page.fill('input[name=user]', 'admin');
  await page.fill('input[name=password]', PASSWORD);
  await page.click('form.login button[type=submit]');
  await settle('overview');
  // Signing in asks /api/me first and gets 401 until there is a session: not a view's error.
  errors.splice(0, errors.length, ...errors.filter((e) => !/status of 401/.test(e)));
}, 180_000);

afterAll(async () => {
  await context?.close();
  await browser?.close();
  await vigil?.cleanup();
});

interface Rule {
  id: string;
  name: string;
  metric: string;
  threshold: number;
  filters: Record<string, string>;
  receivers: { type: string; url: string; secretSet: boolean }[];
  useDefaultReceivers: boolean;
}

describe('dashboard details in Chromium at 1,400 px', { timeout: 180_000 }, () => {
  it('the rule form lists every alert metric, sets filters and receivers, says it saved, and leaves the URL clean', async () => {
    await show('#/alerts');
    const { metrics } = await api<{ metrics: { name: string }[] }>('/api/alerts/metrics');
    expect(metrics.length).toBeGreaterThan(30);
    const editor = page.locator('[data-rule-editor=new]');
    const offered = await editor
      .locator('#alert-metrics option')
      .evaluateAll((os) => os.map((o) => (o as HTMLOptionElement).value));
    expect(offered).toEqual(metrics.map((m) => m.name));

    await editor.locator('input[name=name]').fill('gpt-4o errors');
    await editor.locator('input[name=metric]').fill('errorRate');
    await editor.locator('input[name=threshold]').fill('10');
    expect(await editor.locator('[data-filter-hint]').textContent()).toContain(
      'space, model, user, error_type',
    );
    await editor.locator('[data-add=filters]').click();
    await editor.locator('input[name=filter-key]').fill('model');
    await editor.locator('input[name=filter-value]').fill('gpt-4o');
    await editor.locator('[data-add=receivers]').click();
    await editor.locator('input[name=receiver-url]').fill('http://127.0.0.1:9/hook');
    await editor.locator('input[name=receiver-secret]').fill('a-signing-secret');
    await editor.locator('input[name=useDefaultReceivers]').uncheck();
    await editor.locator('button[type=submit]').click();
    await page.locator('[data-saved]', { hasText: 'Saved rule “gpt-4o errors”.' }).waitFor();
    await settle('alerts');
    expect(page.url()).not.toContain('saved=');

    const stored = (await api<{ rules: Rule[] }>('/api/alerts/rules')).rules.find(
      (r) => r.name === 'gpt-4o errors',
    ) as Rule;
    expect(stored).toMatchObject({
      metric: 'errorRate',
      threshold: 10,
      filters: { model: 'gpt-4o' },
      receivers: [{ type: 'webhook', url: 'http://127.0.0.1:9/hook', secretSet: true }],
      useDefaultReceivers: false,
    });
    expect(await page.locator(`[data-rule="gpt-4o errors"]`).textContent()).toContain(
      'errorRate{model="gpt-4o"}',
    );

    // Editing shows the filters and receivers; saving without retyping the secret keeps it.
    await page.locator('[data-rule="gpt-4o errors"] button', { hasText: 'Edit' }).click();
    await settle('alerts');
    const edit = page.locator(`[data-rule-editor="${stored.id}"]`);
    expect(await edit.locator('input[name=filter-key]').inputValue()).toBe('model');
    expect(await edit.locator('input[name=receiver-url]').inputValue()).toBe('http://127.0.0.1:9/hook');
    expect(await edit.locator('input[name=useDefaultReceivers]').isChecked()).toBe(false);
    await edit.locator('input[name=threshold]').fill('12');
    await edit.locator('input[name=filter-value]').fill('claude-3-5');
    await edit.locator('button[type=submit]').click();
    await page.locator('[data-saved]', { hasText: 'Saved rule “gpt-4o errors”.' }).waitFor();
    await settle('alerts');
    expect(page.url()).not.toMatch(/saved=|rule=/);
    expect(await api<Rule>(`/api/alerts/rules/${stored.id}`)).toMatchObject({
      threshold: 12,
      filters: { model: 'claude-3-5' },
      receivers: [{ url: 'http://127.0.0.1:9/hook', secretSet: true }],
    });

    // A filter the metric does not take: the server's reason, no saved message.
    await page.locator('[data-rule-editor=new] input[name=name]').fill('health with a filter');
    await page.locator('[data-rule-editor=new] input[name=metric]').fill('health.openFlags');
    await page.locator('[data-rule-editor=new] input[name=threshold]').fill('0');
    await page.locator('[data-rule-editor=new] [data-add=filters]').click();
    await page.locator('[data-rule-editor=new] input[name=filter-key]').fill('model');
    await page.locator('[data-rule-editor=new] input[name=filter-value]').fill('x');
    await page.locator('[data-rule-editor=new] button[type=submit]').click();
    await expect
      .poll(() => page.locator('[data-rule-editor=new] [role=status]').textContent())
      .toMatch(/health metrics are per project and take no filters/);
    expect(await page.locator('[data-saved]').count()).toBe(0);
    expect(await overflow()).toBe(0);
    await page.evaluate(() => window.scrollTo(0, 0));
    await page.screenshot({ path: join(SHOTS, 'alerts-rule-form.png'), fullPage: true });
    expect(errors.filter((e) => !/status of 400/.test(e))).toEqual([]);
    errors.length = 0;
  });

  it('an acknowledged and silenced alert names the person, fits its card, and is not repeated in the history', async () => {
    const rule = await api<Rule>('/api/alerts/rules', {
      method: 'POST',
      json: {
        name: 'Requests in the last ten minutes on the support space (a long rule name)',
        metric: 'requestCount',
        filters: { space: 'support' },
        operator: '>',
        threshold: 0,
        window: '10m',
        evaluationDelay: '0s',
        consecutive: 1,
        useDefaultReceivers: false,
      },
    });
    const cycle = await vigil.server.context.alerts.evaluateOnce(Date.now());
    expect(cycle.transitions).toContainEqual(expect.objectContaining({ ruleId: rule.id, to: 'firing' }));
    const firing = (
      await api<{ active: { alertId: string; ruleId: string }[] }>('/api/metrics/alerts')
    ).active.find((a) => a.ruleId === rule.id) as { alertId: string };

    await show('#/alerts');
    const row = page.locator(`[data-table=activeAlerts] tr[data-alert="${firing.alertId}"]`);
    await row.locator('button', { hasText: 'Acknowledge' }).click();
    await page.locator(`tr[data-alert="${firing.alertId}"] [data-acked-by]`).waitFor();
    await settle('alerts');
    await row.locator('button', { hasText: 'Silence 1 h' }).click();
    await page.locator(`tr[data-alert="${firing.alertId}"] [data-silenced]`).waitFor();
    await settle('alerts');
    expect(page.url()).not.toContain('acted=');

    // The person who acknowledged it, by name; the API keeps the principal.
    const acked = await api<{ acknowledgedBy: string }>(`/api/metrics/alerts/${firing.alertId}`);
    expect(acked.acknowledgedBy).toBe('user:admin');
    const ackText = (await row.locator('[data-acked-by]').textContent()) ?? '';
    expect(ackText).toMatch(/^acknowledged by admin, /);
    expect(await row.textContent()).not.toContain('user:admin');

    // At 1,400 px the page does not grow, the table fits its card and the texts stay inside it.
    expect(await overflow()).toBe(0);
    const fits = await page.evaluate((id) => {
      const scroll = document.querySelector('[data-table=activeAlerts]')?.parentElement as HTMLElement;
      const card = scroll.closest('.card') as HTMLElement;
      const cardRight = card.getBoundingClientRect().right;
      const texts = [...document.querySelectorAll(`tr[data-alert="${id}"] td.alert-actions > *`)];
      return {
        tableScrolls: scroll.scrollWidth > scroll.clientWidth,
        outside: texts.filter((t) => t.getBoundingClientRect().right > cardRight).length,
        texts: texts.length,
      };
    }, firing.alertId);
    expect(fits).toEqual({ tableScrolls: false, outside: 0, texts: 2 });

    // The API's history includes the active alert; the view lists it once, under Active.
    const listed = await api<{ history: { alertId: string }[] }>('/api/metrics/alerts');
    expect(listed.history.map((a) => a.alertId)).toContain(firing.alertId);
    expect(await page.locator(`[data-table=alertHistory] tr[data-alert="${firing.alertId}"]`).count()).toBe(
      0,
    );
    expect(await page.locator(`[data-table=activeAlerts] tr[data-alert="${firing.alertId}"]`).count()).toBe(
      1,
    );
    await page.evaluate(() => window.scrollTo(0, 0));
    await page.screenshot({ path: join(SHOTS, 'alerts-acknowledged.png'), fullPage: true });
    expect(errors).toEqual([]);
  });

  it('the header keeps one row with the custom range open; the picker shows only where it has an effect', async () => {
    const to = Math.floor((Date.now() - 2 * DAY) / 60_000) * 60_000;
    const from = to - 3 * DAY;
    await show(`#/llm?range=${iso(from)}..${iso(to)}`);
    const header = page.locator('header.top');
    const closed = (await header.boundingBox())?.height ?? 0;
    await page.click('[data-range=custom]');
    await page.locator('.custom-range').waitFor({ state: 'visible' });
    const open = (await header.boundingBox())?.height ?? 0;
    expect(open).toBe(closed);
    // One row: every item of the header sits on the same line, and nothing is wider than the window.
    const line = await header.evaluate((el) => {
      const boxes = [...el.children].map((c) => c.getBoundingClientRect()).filter((b) => b.height > 0);
      return {
        lowestTop: Math.max(...boxes.map((b) => b.top)),
        highestBottom: Math.min(...boxes.map((b) => b.bottom)),
      };
    });
    expect(line.lowestTop).toBeLessThan(line.highestBottom);
    expect(await overflow()).toBe(0);
    await page.screenshot({ path: join(SHOTS, 'header-custom-range.png') });
    await page.keyboard.press('Escape');

    for (const view of ['llm', 'decisions', 'outcomes', 'activity', 'events', 'health']) {
      await show(`#/${view}?range=24h`);
      expect([view, await page.locator('[data-range="24h"]').count()]).toEqual([view, 1]);
    }
    for (const view of ['overview', 'alerts', 'infrastructure', 'settings', 'account']) {
      await show(`#/${view}?range=24h`);
      expect([view, await page.locator('header.top [data-range]').count()]).toEqual([view, 0]);
      expect(await page.locator('[data-range-label]').count()).toBe(0);
    }
    expect(errors).toEqual([]);
  });

  it("the Health view's days follow the range", async () => {
    const to = midnight(Date.now()) - 2 * DAY;
    const from = to - 3 * DAY;
    await show(`#/health?range=${iso(from)}..${iso(to)}`);
    // The days the range touches: [from, to) ends at midnight, so the last day is the one before.
    expect(await page.locator('[data-snapshots-range]').getAttribute('data-snapshots-range')).toBe(
      `${day(from)}..${day(to - 1)}`,
    );
    expect(await page.locator('[data-today]').count()).toBe(0);
    // A range within today has no complete day: today so far, and no snapshot list.
    await show(`#/health?range=${iso(midnight(Date.now()))}..${iso(midnight(Date.now()) + DAY)}`);
    expect(await page.locator('[data-snapshots-range]').getAttribute('data-snapshots-range')).toBe('today');
    expect(await page.locator('[data-today]').count()).toBe(1);
    expect(errors).toEqual([]);
  });

  it("the event log's type suggestions include the project's own types", async () => {
    await show('#/events?range=24h');
    await page.locator('#event-types[data-loaded=server]').waitFor({ state: 'attached' });
    const offered = await page
      .locator('#event-types option')
      .evaluateAll((os) => os.map((o) => (o as HTMLOptionElement).value));
    expect(offered).toEqual(
      expect.arrayContaining(['checkout.completed', 'app.started', 'llm.request', 'admin.view']),
    );
    expect(await page.locator('#event-types option[value="checkout.completed"]').textContent()).toBe(
      'custom · 12 events',
    );
    // Picking one filters the log by it.
    await page.fill('input[name=type]', 'checkout.completed');
    await page.click('form.filters button[type=submit]');
    await settle('events');
    const types = await page
      .locator('[data-table=events] tr[data-event] td:nth-child(2)')
      .evaluateAll((tds) => [...new Set(tds.map((t) => t.textContent))]);
    expect(types).toEqual(['checkout.completed']);
    expect(errors).toEqual([]);
  });
});
