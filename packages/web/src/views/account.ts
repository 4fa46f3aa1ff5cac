import { api } from '../api.js';
import { h } from '../dom.js';
import { card, pageHeader, type View } from '../ui.js';

const message = (err: unknown) => (err instanceof Error ? err.message : String(err));

/** The signed-in person: how they sign in, their roles, and (for a local account) a new password. */
export const account: View = async (root, ctx) => {
  const { me } = ctx;
  const roles =
    me.projects === null || me.projects === undefined
      ? `${me.role} of ${me.project === null ? 'every project' : `project ${me.project}`}`
      : Object.keys(me.projects).length === 0
        ? 'no role in any project'
        : Object.entries(me.projects)
            .map(([project, role]) => `${role} of ${project}`)
            .join(', ');
  const how =
    me.signIn === 'oidc'
      ? 'through the identity provider'
      : me.signIn === 'local'
        ? 'with a password'
        : 'with a key or token';
  const about = h(
    'dl',
    { class: 'facts', 'data-account': me.user ?? '' },
    h('dt', {}, 'User'),
    h('dd', {}, me.user ?? '—'),
    h('dt', {}, 'Signs in'),
    h('dd', { 'data-sign-in': me.signIn ?? '' }, how),
    h('dt', {}, 'Roles'),
    h('dd', { 'data-roles': '' }, roles),
  );
  root.append(pageHeader('Your account', 'Who you are signed in as, and your password.'), card('You', about));
  if (me.signIn !== 'local') {
    root.append(
      card(
        'Password',
        h(
          'p',
          { class: 'muted' },
          me.signIn === 'oidc'
            ? 'You sign in through the identity provider; change your password there.'
            : 'Keys and tokens have no password here.',
        ),
      ),
    );
    return;
  }
  const field = (name: string, label: string, autocomplete: string) =>
    h('input', { type: 'password', name, autocomplete, required: true, 'aria-label': label });
  const current = field('currentPassword', 'Current password', 'current-password');
  const next = field('newPassword', 'New password', 'new-password');
  const again = field('repeatPassword', 'New password again', 'new-password');
  next.setAttribute('minlength', '12');
  const note = h('p', { role: 'status', 'data-password-result': '' });
  const form = h(
    'form',
    {
      class: 'stack',
      'data-change-password': '',
      onsubmit: async (ev: Event) => {
        ev.preventDefault();
        note.className = '';
        if (next.value !== again.value) {
          note.className = 'notice error';
          note.textContent = 'The two new passwords differ.';
          return;
        }
        try {
          await api('POST', '/api/me/password', { currentPassword: current.value, newPassword: next.value });
          note.className = 'notice ok';
          note.textContent = 'Your password is changed. Your other sessions have ended.';
          for (const i of [current, next, again]) i.value = '';
        } catch (err) {
          note.className = 'notice error';
          note.textContent = message(err);
        }
      },
    },
    h('label', {}, 'Current password ', current),
    h('label', {}, 'New password (12 characters or more) ', next),
    h('label', {}, 'New password again ', again),
    h('div', {}, h('button', { type: 'submit', class: 'primary' }, 'Change password')),
    note,
  );
  root.append(card('Password', form));
};
