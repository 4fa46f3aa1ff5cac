import { api, get } from '../api.js';
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
  role: string;
  createdAt: string;
}

/** Dashboard users: viewers read, admins also change settings. A generated password is shown once. */
function users(me: { user: string | null; project: string | null }): HTMLElement {
  if (me.project !== null)
    return card(
      'Users',
      h('p', { class: 'muted' }, 'Users are server-wide; a project admin key cannot manage them.'),
    );
  const listBox = h('div', {});
  const reload = async () => {
    const list = slot(async () => {
      const r = await get<{ users: User[] }>('/api/users');
      return table(
        ['name', 'role', 'created'],
        r.users.map((u) => [
          u.name === me.user ? `${u.name} (you)` : u.name,
          u.role,
          f.dateTime(u.createdAt),
        ]),
        { 'data-table': 'users' },
      );
    });
    listBox.replaceChildren(list.el);
    await list.done;
  };
  const name = h('input', {
    name: 'userName',
    placeholder: 'user name',
    required: true,
    maxlength: 100,
    'aria-label': 'User name',
  });
  const role = h(
    'select',
    { name: 'userRole', 'aria-label': 'User role' },
    ['viewer', 'admin'].map((r) => h('option', { value: r }, r)),
  );
  const result = h('div', { 'data-created-user': '' });
  const form = h(
    'form',
    {
      class: 'toolbar',
      onsubmit: async (ev: Event) => {
        ev.preventDefault();
        try {
          const u = await api<User & { password: string }>('POST', '/api/users', {
            name: name.value.trim(),
            role: role.value,
          });
          result.replaceChildren(
            h(
              'div',
              { class: 'notice ok', role: 'status' },
              h('strong', {}, `Password of ${u.name} (${u.role}) — shown only this once:`),
              h('pre', { class: 'snippet secret', 'data-password': u.name }, u.password),
            ),
          );
          name.value = '';
          await reload();
        } catch (err) {
          result.replaceChildren(h('div', { class: 'notice error', role: 'alert' }, message(err)));
        }
      },
    },
    name,
    h('label', {}, 'Role ', role),
    h('button', { type: 'submit', class: 'primary' }, 'Add user'),
  );
  void reload();
  return card(
    'Users',
    h(
      'p',
      { class: 'muted' },
      'People who sign in to this dashboard. Viewers see every page but Settings and change nothing.',
    ),
    form,
    result,
    listBox,
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
    users(ctx.me),
  );
  await Promise.all([reloadKeys(), projects.done, publicView.done, prices.done]);
};
