/**
 * Accounts in a real browser (Chromium via playwright-core) against real servers on loopback:
 * sign-in through a real OpenID Connect provider (`oidc-provider`, its own keys) with password
 * sign-in switched off, and the accounts UI — a person changes their own password, a server admin
 * resets a password and ends a person's sessions.
 */
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium } from '../../server/src/test/browser.js';
import { call, startVigil, type Vigil } from '../../server/src/test/harness.js';
import {
  CLIENT_ID,
  CLIENT_SECRET,
  startTestProvider,
  type TestProvider,
} from '../../server/src/test/oidc-provider.js';

let browser: Browser;
beforeAll(async () => {
  browser = await launchChromium();
}, 60_000);
afterAll(async () => {
  await browser?.close();
});

async function signInWithPassword(page: Page, url: string, user: string, password: string) {
  await page.goto(`${url}/`);
  await page.fill('input[name=user]', user);
  await page.fill('input[name=password]', password);
  await page.click('form.login button[type=submit]');
}

describe('sign-in through the identity provider', { timeout: 120_000 }, () => {
  let vigil: Vigil;
  let provider: TestProvider;
  let stopProvider: () => Promise<void>;

  beforeAll(async () => {
    // The provider on another site than Vigil (localhost vs 127.0.0.1), as in real life: the
    // cookies' SameSite rules apply to the redirects between them.
    const started = await startTestProvider({ host: 'localhost' });
    stopProvider = started.close;
    vigil = await startVigil({
      config: {
        auth: {
          localLogin: false,
          oidc: {
            issuer: started.issuer,
            clientId: CLIENT_ID,
            clientSecret: CLIENT_SECRET,
            name: 'Acme SSO',
            scopes: ['openid', 'email', 'groups'],
            roleClaim: 'groups',
            roleMapping: { 'vigil-admins': 'admin' },
            projectRoles: [{ claim: 'groups', value: 'checkout-team', project: 'checkout', role: 'admin' }],
            allowedDomains: ['example.com'],
          },
        },
      },
    });
    provider = await started.attach(`${vigil.url}/auth/oidc/callback`);
    provider.mode = { kind: 'pass' };
  }, 60_000);
  afterAll(async () => {
    await vigil?.cleanup();
    await stopProvider?.();
  });

  it('shows "Sign in with Acme SSO" and no password form; the whole flow lands on the dashboard', async () => {
    provider.setAccount('erin', { email: 'erin@example.com', groups: ['checkout-team'] });
    const context = await browser.newContext();
    try {
      const page = await context.newPage();
      await page.goto(`${vigil.url}/`);
      const button = page.locator('[data-oidc-login]');
      await button.waitFor();
      expect(await button.textContent()).toBe('Sign in with Acme SSO');
      expect(await page.locator('input[name=password]').count()).toBe(0);
      await button.click();
      // The provider's own login form (oidc-provider's): the account id, any password.
      await page.waitForSelector('input[name=login]');
      expect(new URL(page.url()).origin).toBe(new URL(provider.issuer).origin);
      await page.fill('input[name=login]', 'erin');
      await page.fill('input[name=password]', 'anything');
      await page.click('button[type=submit]');
      await page.waitForSelector('[data-role]');
      expect(new URL(page.url()).origin).toBe(vigil.url);
      expect(await page.locator('.who').textContent()).toContain('erin@example.com');
      // Only the person's project is offered; their account page says how they sign in.
      await page.goto(`${vigil.url}/#/account`);
      await page.waitForSelector('[data-roles]');
      expect(await page.locator('[data-roles]').textContent()).toBe('admin of checkout');
      expect(await page.locator('[data-sign-in]').getAttribute('data-sign-in')).toBe('oidc');
      expect(await page.locator('[data-change-password]').count()).toBe(0);
      const cookies = await context.cookies();
      expect(cookies.find((c) => c.name === 'vigil_session')?.httpOnly).toBe(true);
    } finally {
      await context.close();
    }
  });

  it('shows a refused sign-in as a readable page with a way back', async () => {
    provider.setAccount('mallory', { email: 'mallory@elsewhere.test', groups: ['vigil-admins'] });
    const context = await browser.newContext();
    try {
      const page = await context.newPage();
      await page.goto(`${vigil.url}/`);
      await page.click('[data-oidc-login]');
      await page.waitForSelector('input[name=login]');
      await page.fill('input[name=login]', 'mallory');
      await page.fill('input[name=password]', 'anything');
      const [answer] = await Promise.all([
        page.waitForResponse((r) => r.url().startsWith(`${vigil.url}/auth/oidc/callback`)),
        page.click('button[type=submit]'),
      ]);
      expect(answer.status()).toBe(403);
      await page.waitForSelector('[data-error=oidc_domain_not_allowed]');
      await page.click('text=Back to the login page');
      await page.waitForSelector('[data-oidc-login]');
    } finally {
      await context.close();
    }
  });
});

describe('accounts in Settings and Your account', { timeout: 120_000 }, () => {
  let vigil: Vigil;
  beforeAll(async () => {
    vigil = await startVigil({ config: { adminPassword: 'accounts admin password' } });
  }, 60_000);
  afterAll(async () => {
    await vigil?.cleanup();
  });

  it('a person changes their own password; an admin resets it and ends their sessions', async () => {
    const created = await call(vigil, 'POST', '/api/users', {
      token: vigil.adminToken,
      json: {
        name: 'frank',
        projects: [{ project: 'default', role: 'viewer' }],
        password: 'frank first password',
      },
    });
    expect(created.status).toBe(201);
    const person = await browser.newContext();
    const admin = await browser.newContext();
    try {
      const page = await person.newPage();
      await signInWithPassword(page, vigil.url, 'frank', 'frank first password');
      await page.waitForSelector('[data-nav=account]');
      await page.click('[data-nav=account]');
      await page.waitForSelector('[data-change-password]');
      expect(await page.locator('[data-roles]').textContent()).toBe('viewer of default');
      await page.fill('input[name=currentPassword]', 'frank first password');
      await page.fill('input[name=newPassword]', 'frank second password');
      await page.fill('input[name=repeatPassword]', 'frank second password');
      await page.click('[data-change-password] button[type=submit]');
      await expect.poll(() => page.locator('[data-password-result]').textContent()).toContain('changed');
      const login = async (password: string) =>
        (await call(vigil, 'POST', '/api/login', { json: { name: 'frank', password } })).status;
      expect(await login('frank first password')).toBe(401);
      expect(await login('frank second password')).toBe(200);

      // The admin: Settings → People lists frank; reset his password, end his sessions.
      const adminPage = await admin.newPage();
      adminPage.on('dialog', (d) => void d.accept());
      await signInWithPassword(adminPage, vigil.url, 'admin', 'accounts admin password');
      await adminPage.waitForSelector('[data-role]');
      await adminPage.goto(`${vigil.url}/#/settings`);
      await adminPage.waitForSelector('[data-user-roles=frank]');
      expect(await adminPage.locator('[data-user-roles=frank]').textContent()).toBe('viewer of default');
      await adminPage.click('[data-end-sessions=frank]');
      await adminPage.waitForSelector('[data-ended=frank]');
      const afterEnd = await page.evaluate(async () => (await fetch('/api/me')).status);
      expect(afterEnd).toBe(401);
      await adminPage.click('[data-reset-password=frank]');
      const generated = (await adminPage.locator('[data-password=frank]').textContent()) as string;
      expect(generated.length).toBeGreaterThanOrEqual(12);
      expect(await login('frank second password')).toBe(401);
      expect(await login(generated)).toBe(200);
      // Roles of a local account: admin of the default project instead of viewer.
      await adminPage.click('[data-role-editor=frank] summary');
      await adminPage.selectOption('[data-role-editor=frank] select[aria-label="frank: default"]', 'admin');
      await adminPage.click('[data-role-editor=frank] button[type=submit]');
      await expect
        .poll(() => adminPage.locator('[data-user-roles=frank]').textContent())
        .toBe('admin of default');
      // The account events list what happened.
      await expect
        .poll(() => adminPage.locator('[data-table=account-events]').textContent())
        .toContain('password reset');
      const events = (await adminPage.locator('[data-table=account-events]').textContent()) as string;
      expect(events).toContain('sessions ended');
      expect(events).toContain('password change');
      expect(events).toContain('viewer of default → admin of default');
    } finally {
      await person.close();
      await admin.close();
    }
  });
});
