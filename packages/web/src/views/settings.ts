import { api, get, type Me } from '../api.js';
import { h } from '../dom.js';
import * as f from '../format.js';
import { card, pageHeader, slot, table, type View } from '../ui.js';
import { unavailable } from './generic.js';
import { priceCard } from './prices.js';

interface Key {
  id: string;
  role: string;
  project: string;
  name: string | null;
  createdAt: string;
  revokedAt: string | null;
}

interface Project {
  id: string;
  name: string;
  strictTypes: boolean;
  retention: { rawDays: number; rollupDays: number; dailyRollupDays: number };
}

interface User {
  id: string;
  name: string;
  role: 'admin' | 'viewer' | null;
  projects: { project: string; role: 'admin' | 'viewer' }[];
  signIn: 'local' | 'oidc';
  email: string | null;
  lastSignInAt: string | null;
  createdAt: string;
}

interface AccountEvent {
  at: string;
  kind: string;
  user: string;
  actor: string;
  address: string | null;
  detail: string | null;
}

const rolesText = (u: Pick<User, 'role' | 'projects'>) =>
  u.role !== null
    ? `${u.role} of every project`
    : u.projects.length === 0
      ? 'no role'
      : u.projects.map((p) => `${p.role} of ${p.project}`).join(', ');

const roleSelect = (label: string, value: string, none: string) =>
  h(
    'select',
    { 'aria-label': label },
    [
      ['', none],
      ['viewer', 'viewer'],
      ['admin', 'admin'],
    ].map(([v, text]) => h('option', { value: v, selected: v === value }, text)),
  );

/** A local person's roles: server-wide, or one per project. */
function roleEditor(u: User, projects: string[], saved: () => Promise<void>): HTMLElement {
  const every = roleSelect(`${u.name}: every project`, u.role ?? '', 'per project');
  const per = projects.map((id) => ({
    id,
    select: roleSelect(`${u.name}: ${id}`, u.projects.find((p) => p.project === id)?.role ?? '', 'none'),
  }));
  const note = h('span', { class: 'muted', role: 'status' });
  const sync = () => {
    for (const p of per) p.select.disabled = every.value !== '';
  };
  every.addEventListener('change', sync);
  sync();
  return h(
    'details',
    { 'data-role-editor': u.name },
    h('summary', {}, 'Change roles'),
    h(
      'form',
      {
        class: 'role-editor',
        onsubmit: async (ev: Event) => {
          ev.preventDefault();
          try {
            await api('PUT', `/api/users/${encodeURIComponent(u.id)}/roles`, {
              role: every.value === '' ? null : every.value,
              projects:
                every.value === ''
                  ? per
                      .filter((p) => p.select.value !== '')
                      .map((p) => ({ project: p.id, role: p.select.value }))
                  : [],
            });
            await saved();
          } catch (err) {
            note.textContent = message(err);
          }
        },
      },
      h('label', {}, 'Every project ', every),
      per.map((p) => h('label', {}, `${p.id} `, p.select)),
      h('button', { type: 'submit', class: 'primary' }, 'Save roles'),
      note,
    ),
  );
}

/**
 * People (server admins only: accounts span projects): their roles per project, how they sign in,
 * their last sign-in; roles and passwords of local accounts, everyone's sessions; recorded events.
 */
function people(me: Me, project: string): HTMLElement {
  if (me.project !== null || (me.projects !== null && me.projects !== undefined))
    return card(
      'People',
      h('p', { class: 'muted' }, 'People are server-wide; only a server admin manages them.'),
    );
  const listBox = h('div', {});
  const eventsBox = h('div', {});
  const result = h('div', { 'data-user-result': '' });
  const show = (el: HTMLElement) => result.replaceChildren(el);
  const failed = (err: unknown) => show(h('div', { class: 'notice error', role: 'alert' }, message(err)));
  const reload = async () => {
    const list = slot(async () => {
      const [r, p] = await Promise.all([
        get<{ users: User[] }>('/api/users'),
        get<{ projects: { id: string }[] }>('/api/projects'),
      ]);
      const projectIds = p.projects.map((x) => x.id);
      return table(
        ['name', 'signs in', 'roles', 'last sign-in', ''],
        r.users.map((u) => [
          u.name === me.user ? `${u.name} (you)` : u.name,
          u.signIn === 'oidc' ? `identity provider${u.email ? ` (${u.email})` : ''}` : 'password',
          h('span', { 'data-user-roles': u.name }, rolesText(u)),
          u.lastSignInAt ? f.dateTime(u.lastSignInAt) : h('span', { class: 'muted' }, 'never'),
          h(
            'div',
            { class: 'toolbar' },
            u.signIn === 'local' ? roleEditor(u, projectIds, reload) : null,
            u.signIn === 'local'
              ? h(
                  'button',
                  {
                    type: 'button',
                    'data-reset-password': u.name,
                    onclick: async () => {
                      if (!confirm(`Reset the password of ${u.name}? Their sessions end.`)) return;
                      try {
                        const r = await api<{ password: string }>(
                          'POST',
                          `/api/users/${encodeURIComponent(u.id)}/password`,
                          {},
                        );
                        show(
                          h(
                            'div',
                            { class: 'notice ok', role: 'status' },
                            h('strong', {}, `New password of ${u.name} — shown only this once:`),
                            h('pre', { class: 'snippet secret', 'data-password': u.name }, r.password),
                          ),
                        );
                        await reloadEvents();
                      } catch (err) {
                        failed(err);
                      }
                    },
                  },
                  'Reset password',
                )
              : null,
            h(
              'button',
              {
                type: 'button',
                class: 'danger',
                'data-end-sessions': u.name,
                onclick: async () => {
                  try {
                    const r = await api<{ ended: number }>(
                      'DELETE',
                      `/api/users/${encodeURIComponent(u.id)}/sessions`,
                    );
                    show(
                      h(
                        'div',
                        { class: 'notice ok', role: 'status', 'data-ended': u.name },
                        `Ended ${r.ended} session${r.ended === 1 ? '' : 's'} of ${u.name}.`,
                      ),
                    );
                    await reloadEvents();
                  } catch (err) {
                    failed(err);
                  }
                },
              },
              'End sessions',
            ),
          ),
        ]),
        { 'data-table': 'users' },
      );
    });
    listBox.replaceChildren(list.el);
    await list.done;
    await reloadEvents();
  };
  const reloadEvents = async () => {
    const list = slot(async () => {
      const r = await get<{ events: AccountEvent[] }>('/api/accounts/events', { limit: 50 });
      return table(
        ['when', 'what', 'person', 'by', 'from', 'detail'],
        r.events.map((e) => [
          f.dateTime(e.at),
          e.kind.replaceAll('_', ' '),
          e.user,
          e.actor,
          e.address ?? '—',
          e.detail ?? '',
        ]),
        { 'data-table': 'account-events' },
      );
    });
    eventsBox.replaceChildren(list.el);
    await list.done;
  };
  const name = h('input', {
    name: 'userName',
    placeholder: 'user name',
    required: true,
    maxlength: 100,
    'aria-label': 'User name',
  });
  const choices: [string, string][] = [
    ['viewer', 'viewer of every project'],
    ['admin', 'admin of every project'],
    [`viewer:${project}`, `viewer of ${project}`],
    [`admin:${project}`, `admin of ${project}`],
  ];
  const role = h(
    'select',
    { name: 'userRole', 'aria-label': 'User role' },
    choices.map(([v, text]) => h('option', { value: v }, text)),
  );
  const form = h(
    'form',
    {
      class: 'toolbar',
      onsubmit: async (ev: Event) => {
        ev.preventDefault();
        const [r, inProject] = role.value.split(':') as [string, string | undefined];
        try {
          const u = await api<User & { password: string }>('POST', '/api/users', {
            name: name.value.trim(),
            ...(inProject === undefined ? { role: r } : { projects: [{ project: inProject, role: r }] }),
          });
          show(
            h(
              'div',
              { class: 'notice ok', role: 'status' },
              h('strong', {}, `Password of ${u.name} (${rolesText(u)}) — shown only this once:`),
              h('pre', { class: 'snippet secret', 'data-password': u.name }, u.password),
            ),
          );
          name.value = '';
          await reload();
        } catch (err) {
          failed(err);
        }
      },
    },
    name,
    h('label', {}, 'Role ', role),
    h('button', { type: 'submit', class: 'primary' }, 'Add user'),
  );
  void reload();
  return h(
    'div',
    {},
    card(
      'People',
      h(
        'p',
        { class: 'muted' },
        'People who sign in to this dashboard, with a password or through the identity provider (whose roles come from its claims at every sign-in, so only local accounts are edited here). Viewers read; admins also change settings.',
      ),
      form,
      result,
      listBox,
    ),
    card(
      'Sign-ins and account changes',
      h('p', { class: 'muted' }, 'Newest first: who, by whom, when and from which address.'),
      eventsBox,
    ),
  );
}

const message = (err: unknown) => (err instanceof Error ? err.message : String(err));

/** Admin settings: API keys (secret shown once), projects (retention, strict types), the public view. */
export const settings: View = async (root, ctx) => {
  if (ctx.me.role !== 'admin') {
    root.append(
      pageHeader('Settings', ''),
      h(
        'div',
        { class: 'notice error', role: 'alert', 'data-denied': 'settings' },
        'Settings are for admins. You are signed in as a viewer.',
      ),
    );
    return;
  }
  const project = ctx.project;

  const created = h('div', { 'data-created-key': '' });
  const keysBox = h('div', {});
  const loadKeys = async () => {
    const r = await get<{ keys: Key[] }>('/api/keys', { project });
    const active = r.keys.filter((k) => !k.revokedAt);
    return table(
      ['name', 'role', 'project', 'id', 'created', ''],
      active.map((k) => [
        k.name ?? h('span', { class: 'muted' }, 'unnamed'),
        k.role,
        k.project,
        h('code', {}, k.id),
        f.dateTime(k.createdAt),
        h(
          'button',
          {
            type: 'button',
            class: 'danger',
            'data-revoke': k.id,
            onclick: async () => {
              if (!confirm(`Revoke ${k.name ?? k.id}? Clients using it are refused at once.`)) return;
              await api('DELETE', `/api/keys/${encodeURIComponent(k.id)}`);
              await reloadKeys();
            },
          },
          'Revoke',
        ),
      ]),
      { 'data-table': 'keys' },
    );
  };
  const reloadKeys = async () => {
    const keys = slot(loadKeys);
    keysBox.replaceChildren(keys.el);
    await keys.done;
  };
  const role = h(
    'select',
    { name: 'role', 'aria-label': 'Role' },
    ['ingest', 'viewer', 'admin'].map((r) => h('option', { value: r }, r)),
  );
  const name = h('input', {
    name: 'name',
    placeholder: 'name (e.g. web app)',
    maxlength: 100,
    'aria-label': 'Key name',
  });
  const createForm = h(
    'form',
    {
      class: 'toolbar',
      onsubmit: async (ev: Event) => {
        ev.preventDefault();
        try {
          const k = await api<{ id: string; key: string; role: string }>('POST', '/api/keys', {
            role: role.value,
            project,
            ...(name.value.trim() ? { name: name.value.trim() } : {}),
          });
          created.replaceChildren(
            h(
              'div',
              { class: 'notice ok', role: 'status' },
              h('strong', {}, `New ${k.role} key — shown only this once, copy it now:`),
              h('pre', { class: 'snippet secret', 'data-secret': k.id }, k.key),
              h(
                'button',
                { type: 'button', onclick: () => void navigator.clipboard?.writeText(k.key) },
                'Copy',
              ),
            ),
          );
          name.value = '';
          await reloadKeys();
        } catch (err) {
          created.replaceChildren(h('div', { class: 'notice error', role: 'alert' }, message(err)));
        }
      },
    },
    h('label', {}, 'Role ', role),
    name,
    h('button', { type: 'submit', class: 'primary' }, 'Create key'),
  );

  const projects = slot(async () => {
    const r = await get<{ projects: Project[] }>('/api/projects');
    return r.projects.map((p) => {
      const num = (label: string, key: keyof Project['retention']) =>
        h(
          'label',
          {},
          `${label} `,
          h('input', {
            type: 'number',
            min: 1,
            name: key,
            value: p.retention[key],
            'aria-label': `${p.id} ${label}`,
            style: 'width:6em',
          }),
        );
      const strict = h('input', { type: 'checkbox', name: 'strictTypes', checked: p.strictTypes });
      const note = h('span', { class: 'muted' });
      return h(
        'form',
        {
          class: 'card project',
          'data-project': p.id,
          onsubmit: async (ev: Event) => {
            ev.preventDefault();
            const form = ev.currentTarget as HTMLFormElement;
            const value = (n: string) => Number((form.elements.namedItem(n) as HTMLInputElement).value);
            try {
              await api('PATCH', `/api/projects/${encodeURIComponent(p.id)}`, {
                strictTypes: strict.checked,
                retention: {
                  rawDays: value('rawDays'),
                  rollupDays: value('rollupDays'),
                  dailyRollupDays: value('dailyRollupDays'),
                },
              });
              note.textContent = 'Saved.';
            } catch (err) {
              note.textContent = message(err);
            }
          },
        },
        h('h3', {}, `${p.name} (${p.id})`),
        h(
          'div',
          { class: 'toolbar' },
          h('strong', {}, 'Retention, days:'),
          num('raw events', 'rawDays'),
          num('rollups', 'rollupDays'),
          num('daily rollups', 'dailyRollupDays'),
        ),
        h(
          'div',
          { class: 'toolbar' },
          h('label', {}, strict, ' strict: accept only the built-in event types'),
          h('button', { type: 'submit', class: 'primary' }, 'Save'),
          note,
        ),
      );
    });
  });

  const publicView = slot(async () => {
    let current: { publicEnabled: boolean; publicEnabledByConfig: boolean };
    try {
      current = await get('/api/telemetry/settings', { project });
    } catch (err) {
      return unavailable(err, 'The public view setting');
    }
    const note = h('span', { class: 'muted', role: 'status' });
    const box = h('input', {
      type: 'checkbox',
      name: 'publicEnabled',
      checked: current.publicEnabled,
      onchange: async () => {
        try {
          await api('PATCH', `/api/telemetry/settings?project=${encodeURIComponent(project)}`, {
            publicEnabled: box.checked,
          });
          note.textContent = box.checked ? 'The public view is on.' : 'The public view is off.';
        } catch (err) {
          note.textContent = message(err);
          box.checked = !box.checked;
        }
      },
    });
    return card(
      'Public view',
      h(
        'p',
        { class: 'muted' },
        `GET ${location.origin}/telemetry/public?project=${project} shows anonymous aggregates only (counts, healthy share, version shares; never an id, name or address).`,
      ),
      current.publicEnabledByConfig
        ? null
        : h(
            'p',
            { class: 'notice' },
            'The server configuration switches the public view off for every project.',
          ),
      h('label', {}, box, ' Public view on'),
      ' ',
      note,
    );
  });
  const prices = priceCard(ctx);
  root.append(
    pageHeader('Settings', `Project ${project}. Changes apply at once.`),
    card(
      'API keys',
      h(
        'p',
        { class: 'muted' },
        'Ingest keys only send events; viewer keys read; admin keys do everything. A key is shown once, when it is created; only its hash is stored.',
      ),
      createForm,
      created,
      keysBox,
    ),
    h('h3', { class: 'row-title' }, 'Projects'),
    projects.el,
    publicView.el,
    prices.el,
    people(ctx.me, project),
  );
  await Promise.all([reloadKeys(), projects.done, publicView.done, prices.done]);
};
