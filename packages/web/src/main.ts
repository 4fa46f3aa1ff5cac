import './style.css';
import { ApiError, api, get, type Me, prefetch, setCsrf, whenUnauthorized } from './api.js';
import { disposeDetachedCharts } from './chart.js';
import { h } from './dom.js';
import { describe, PRESETS, type Preset, parseRoute, type Range, type Route, routeHash } from './range.js';
import type { View, ViewContext } from './ui.js';
import { account } from './views/account.js';
import { activity } from './views/activity.js';
import { alerts } from './views/alerts.js';
import { decisions } from './views/decisions.js';
import { events } from './views/events.js';
import { health } from './views/health.js';
import { infrastructure } from './views/infrastructure.js';
import { llm } from './views/llm.js';
import { outcomes } from './views/outcomes.js';
import { overview, overviewReads } from './views/overview.js';
import { settings } from './views/settings.js';

interface Page {
  id: string;
  title: string;
  view: View;
  /** Redrawn when new events are committed (not pages with forms a person may be typing in). */
  live: (route: Route) => boolean;
  admin?: boolean;
  /** Whether the time-range picker changes what the view shows (it is hidden where it does not). */
  ranged?: boolean;
}

const always = () => true;
const PAGES: Page[] = [
  { id: 'overview', title: 'Overview', view: overview, live: always },
  { id: 'llm', title: 'LLM', view: llm, live: always, ranged: true },
  { id: 'decisions', title: 'Decisions', view: decisions, live: always, ranged: true },
  {
    id: 'outcomes',
    title: 'Outcomes',
    view: outcomes,
    live: (r) => !r.params.get('cursor') && !r.params.get('event'),
    ranged: true,
  },
  {
    id: 'activity',
    title: 'Admin activity',
    view: activity,
    live: (r) => !r.params.get('cursor') && !r.params.get('event'),
    ranged: true,
  },
  {
    id: 'events',
    title: 'Event log',
    view: events,
    live: (r) => !r.params.get('cursor') && !r.params.get('event'),
    ranged: true,
  },
  { id: 'alerts', title: 'Alerts', view: alerts, live: (r) => !r.params.get('rule') },
  { id: 'health', title: 'Health', view: health, live: always, ranged: true },
  { id: 'infrastructure', title: 'Infrastructure', view: infrastructure, live: always },
  { id: 'settings', title: 'Settings', view: settings, live: () => false, admin: true },
  { id: 'account', title: 'Your account', view: account, live: () => false },
];

const app = document.getElementById('app') as HTMLElement;
let me: Me | null = null;
/** Projects the caller can see (a picker appears when there is more than one). */
let projects: string[] = [];
let main: HTMLElement | null = null;
let generation = 0;
let liveSource: EventSource | null = null;
let lastDraw = 0;
let pendingRefresh: number | null = null;
let drawing = false;

function route(): Route {
  return parseRoute(location.hash);
}

function go(next: Route): void {
  location.hash = routeHash(next);
}

/** Draws the current route. A refresh builds the new page off-screen and swaps it in when complete. */
async function draw(options: { refresh?: boolean } = {}): Promise<void> {
  if (!me || !main) return;
  const r = route();
  const page = PAGES.find((p) => p.id === r.view) ?? (PAGES[0] as Page);
  const mine = ++generation;
  drawing = true;
  lastDraw = Date.now();
  shell(r, page);
  const container = h('div', { class: 'view', 'data-view': page.id });
  const ctx: ViewContext = {
    range: r.range,
    me,
    project: me.project ?? r.params.get('project') ?? 'default',
    params: r.params,
    setParams: (changes) => {
      const params = new URLSearchParams(r.params);
      for (const [k, v] of Object.entries(changes)) {
        if (v === null) params.delete(k);
        else params.set(k, v);
      }
      const next = { ...r, params };
      if (routeHash(next) === location.hash) void draw({ refresh: true });
      else go(next);
    },
  };
  if (!options.refresh) {
    main.replaceChildren(container);
    disposeDetachedCharts();
  }
  try {
    await page.view(container, ctx);
  } catch (err) {
    container.append(
      h('div', { class: 'notice error', role: 'alert' }, err instanceof Error ? err.message : String(err)),
    );
  }
  if (mine !== generation) return;
  if (options.refresh) {
    main.replaceChildren(container);
    disposeDetachedCharts();
  }
  drawing = false;
  updated.textContent = `updated ${new Date().toISOString().slice(11, 19)} UTC`;
}

/** New batches were committed: redraw a live page, at most every 3 s and never over a custom range. */
function onCommit(): void {
  const r = route();
  const page = PAGES.find((p) => p.id === r.view);
  if (!page?.live(r) || r.range.preset === null || pendingRefresh !== null) return;
  const wait = Math.max(0, lastDraw + 3_000 - Date.now());
  pendingRefresh = window.setTimeout(() => {
    pendingRefresh = null;
    if (drawing) return onCommit();
    void draw({ refresh: true });
  }, wait);
}

const liveDot = h('span', { class: 'live-dot', title: 'live updates' });
const updated = h('span', { class: 'muted updated' });

function startLive(): void {
  liveSource?.close();
  liveSource = new EventSource('/api/live');
  liveSource.addEventListener('open', () => liveDot.classList.add('on'));
  liveSource.addEventListener('error', () => liveDot.classList.remove('on'));
  liveSource.addEventListener('commit', onCommit);
}

function rangePicker(r: Route): HTMLElement {
  const set = (range: Range) => go({ ...r, range, params: withoutPaging(r.params) });
  const toInput = (t: number) => new Date(t).toISOString().slice(0, 16);
  const now = Date.now();
  const from = h('input', {
    type: 'datetime-local',
    'aria-label': 'From (UTC)',
    value: toInput(r.range.preset === null ? r.range.from : now - PRESETS[r.range.preset]),
  });
  const to = h('input', {
    type: 'datetime-local',
    'aria-label': 'To (UTC)',
    value: toInput(r.range.preset === null ? r.range.to : now),
  });
  // A panel under the chips, not in the header's row: opening it never makes the header wrap.
  const custom = h(
    'form',
    {
      class: 'custom-range',
      hidden: true,
      onkeydown: (ev: Event) => {
        if ((ev as KeyboardEvent).key === 'Escape') custom.setAttribute('hidden', '');
      },
      onsubmit: (ev: Event) => {
        ev.preventDefault();
        const f = Date.parse(`${from.value}:00Z`);
        const t = Date.parse(`${to.value}:00Z`);
        if (Number.isFinite(f) && Number.isFinite(t) && f < t) set({ preset: null, from: f, to: t });
      },
    },
    from,
    '–',
    to,
    h('span', { class: 'muted' }, 'UTC'),
    h('button', { type: 'submit' }, 'Apply'),
  );
  return h(
    'div',
    { class: 'range', role: 'group', 'aria-label': 'Time range' },
    (Object.keys(PRESETS) as Preset[]).map((p) =>
      h(
        'button',
        {
          type: 'button',
          class: r.range.preset === p ? 'chip active' : 'chip',
          'data-range': p,
          onclick: () => set({ preset: p }),
        },
        p,
      ),
    ),
    h(
      'button',
      {
        type: 'button',
        class: r.range.preset === null ? 'chip active' : 'chip',
        'data-range': 'custom',
        onclick: () => custom.toggleAttribute('hidden'),
      },
      'custom',
    ),
    custom,
  );
}

function withoutPaging(params: URLSearchParams): URLSearchParams {
  const out = new URLSearchParams(params);
  for (const k of ['cursor', 'back', 'event']) out.delete(k);
  return out;
}

let header: HTMLElement | null = null;

function shell(r: Route, page: Page): void {
  if (!me) return;
  const keep = new URLSearchParams();
  const project = r.params.get('project');
  if (project) keep.set('project', project);
  const link = (p: Page) =>
    h(
      'a',
      {
        href: routeHash({ view: p.id, range: r.range, params: keep }),
        class: p.id === page.id ? 'active' : '',
        'data-nav': p.id,
      },
      p.title,
    );
  const nav = h('nav', { class: 'side' }, PAGES.filter((p) => !p.admin || me?.role === 'admin').map(link));
  const top = h(
    'header',
    { class: 'top' },
    h('a', { class: 'brand', href: '#/overview' }, 'Vigil'),
    page.ranged ? rangePicker(r) : null,
    page.ranged ? h('span', { class: 'muted range-label', 'data-range-label': '' }, describe(r.range)) : null,
    h('span', { class: 'spacer' }),
    projects.length > 1
      ? h(
          'select',
          {
            'aria-label': 'Project',
            'data-project-picker': '',
            onchange: (ev: Event) => {
              const params = new URLSearchParams();
              params.set('project', (ev.target as HTMLSelectElement).value);
              go({ view: r.view, range: r.range, params });
            },
          },
          projects.map((id) =>
            h('option', { value: id, selected: id === (project ?? me?.project ?? 'default') }, id),
          ),
        )
      : null,
    liveDot,
    updated,
    h('span', { class: 'who', 'data-role': me.role }, `${me.user ?? me.role} · ${me.role}`),
    h('button', { type: 'button', 'data-logout': '', onclick: logout }, 'Log out'),
  );
  const next = h('div', { class: 'frame' }, top, nav);
  if (header) header.replaceWith(next);
  else app.replaceChildren(next);
  header = next;
  if (!main) return;
  if (main.parentElement !== next) next.append(main);
  document.title = `${page.title} · Vigil`;
}

async function logout(): Promise<void> {
  try {
    await api('POST', '/api/logout');
  } finally {
    me = null;
    setCsrf(null);
    localStorage.removeItem(SIGNED_IN);
    liveSource?.close();
    login();
  }
}

function login(messageText = ''): void {
  header = null;
  main = null;
  const user = h('input', {
    name: 'user',
    autocomplete: 'username',
    required: true,
    value: 'admin',
    'aria-label': 'User',
  });
  const password = h('input', {
    name: 'password',
    type: 'password',
    autocomplete: 'current-password',
    required: true,
    'aria-label': 'Password',
  });
  const message = h('p', { class: 'login-error', role: 'alert' }, messageText);
  const hint = h(
    'p',
    { class: 'muted' },
    'Sign in to the dashboard. The admin password was printed when the server first started.',
  );
  const sso = h('div', { class: 'sso-box', hidden: true });
  const local = h(
    'div',
    { class: 'local-login' },
    h('label', {}, 'User', user),
    h('label', {}, 'Password', password),
    h('button', { type: 'submit', class: 'primary' }, 'Sign in'),
  );
  const form = h(
    'form',
    {
      class: 'login card',
      onsubmit: async (ev: Event) => {
        ev.preventDefault();
        message.textContent = '';
        try {
          const r = await api<{ csrfToken: string }>('POST', '/api/login', {
            user: user.value,
            password: password.value,
          });
          setCsrf(r.csrfToken);
          localStorage.setItem(SIGNED_IN, '1');
          await start();
        } catch (err) {
          message.textContent = err instanceof ApiError ? err.message : 'The server could not be reached.';
          password.value = '';
          password.focus();
        }
      },
    },
    h('h1', {}, 'Vigil'),
    hint,
    sso,
    local,
    message,
  );
  // What this server offers: the identity provider's button, the password form (unless switched off).
  void get<LoginOptions>('/api/login').then(
    (options) => {
      if (options.oidc) {
        sso.replaceChildren(
          h(
            'a',
            { class: 'sso', href: options.oidc.loginUrl, 'data-oidc-login': '' },
            `Sign in with ${options.oidc.name}`,
          ),
        );
        sso.hidden = false;
      }
      if (!options.localLogin) {
        local.remove();
        hint.textContent = 'Sign in to the dashboard with your identity provider.';
      }
    },
    () => undefined,
  );
  app.replaceChildren(h('div', { class: 'login-page' }, form));
  password.focus();
}

interface LoginOptions {
  localLogin: boolean;
  oidc: { name: string; loginUrl: string } | null;
}

/** Set while this browser has a session, so that a reload can start the first view's reads at once. */
const SIGNED_IN = 'vigil:signed-in';

async function start(): Promise<void> {
  const first = route();
  if (localStorage.getItem(SIGNED_IN) && first.view === 'overview') {
    for (const [path, params] of overviewReads(first.params.get('project') ?? 'default'))
      prefetch(path, params);
  }
  // Asked together: the project list costs no extra round trip before the first view.
  const listed = get<{ projects: { id: string }[] }>('/api/projects').then(
    (r) => r.projects.map((p) => p.id),
    () => [],
  );
  try {
    me = await get<Me>('/api/me');
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) {
      localStorage.removeItem(SIGNED_IN);
      return login();
    }
    app.replaceChildren(
      h('div', { class: 'notice error' }, err instanceof Error ? err.message : String(err)),
    );
    return;
  }
  setCsrf(me.csrfToken);
  projects = await listed;
  main = h('main', { class: 'content' });
  header = null;
  startLive();
  await draw();
}

whenUnauthorized(() => {
  if (me) {
    me = null;
    localStorage.removeItem(SIGNED_IN);
    liveSource?.close();
    login('Your session has ended; sign in again.');
  }
});
window.addEventListener('hashchange', () => void draw());
// A hidden tab gives its stream back: browsers allow only six connections per server over HTTP/1.1.
document.addEventListener('visibilitychange', () => {
  if (!me) return;
  if (document.visibilityState === 'hidden') {
    liveSource?.close();
    liveSource = null;
    liveDot.classList.remove('on');
  } else if (!liveSource) {
    startLive();
    onCommit(); // catch up with what was committed meanwhile
  }
});
void start();
