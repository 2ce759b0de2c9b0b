// Users: list by role, create (this is how vendors are made), change role, deactivate
// (GET/POST /admin/users, PATCH /admin/users/:id).

import { api, session } from '../lib/api.js';
import { busy, confirmAction, date, errorArea, field, formValues, h, loading, mount, pager } from '../lib/dom.js';
import { showError } from '../lib/dom.js';
import { go } from '../lib/router.js';

const ROLES = ['customer', 'vendor', 'admin'];

export async function renderUsers(main, _params, query) {
  const role = h('select', { name: 'role' }, h('option', { value: '' }, 'All roles'), ROLES.map((r) => h('option', { value: r, selected: r === query.role }, r)));
  role.addEventListener('change', () => go('/users', { role: role.value }));
  const error = errorArea();
  const create = h('button', { type: 'submit', class: 'primary' }, 'Create user');
  const form = h(
    'form',
    { class: 'card filters', 'aria-label': 'New user' },
    field('Name', h('input', { name: 'name', required: true })),
    field('Email', h('input', { name: 'email', type: 'email', required: true })),
    field('Password', h('input', { name: 'password', type: 'password', required: true, minlength: 8, autocomplete: 'new-password' })),
    field('Role', h('select', { name: 'role' }, ROLES.map((r) => h('option', { value: r, selected: r === 'vendor' }, r)))),
    h('div', { class: 'actions' }, create, error),
  );
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    busy(create, error, async () => {
      await api.post('/admin/users', formValues(form));
      form.reset();
      await reload();
    });
  });
  const list = h('section', { 'aria-label': 'Users' }, loading());
  mount(main, h('h1', {}, 'Users'), h('div', { class: 'filters' }, field('Show', role)), list, form);

  async function reload() {
    const listError = errorArea();
    try {
      const { users, pagination } = await api.get('/admin/users', { role: query.role, page: query.page, limit: 50 });
      mount(
        list,
        h(
          'div',
          { class: 'table-wrap' },
          h(
            'table',
            {},
            h('thead', {}, h('tr', {}, ['Name', 'Email', 'Role', 'Active', 'Joined', ''].map((t) => h('th', { scope: 'col' }, t)))),
            h(
              'tbody',
              {},
              users.map((u) => {
                const rowError = errorArea();
                // Nothing changes on a keystroke: a role change is applied by its button, after a
                // confirmation. The server refuses changes to the caller's own account and to the last
                // active admin; the page does not offer them for the own row.
                const self = session.user && session.user._id === u._id;
                const roleSelect = h('select', { 'aria-label': `Role of ${u.email}`, disabled: self }, ROLES.map((r) => h('option', { value: r, selected: r === u.role }, r)));
                const applyRole = h('button', { type: 'button', 'aria-label': `Change role of ${u.email}`, disabled: self }, 'Change role');
                applyRole.addEventListener('click', async () => {
                  const to = roleSelect.value;
                  if (to === u.role) {
                    showError(rowError, new Error(`${u.email} is already a ${to}.`));
                    return;
                  }
                  const ok = await confirmAction(`Change ${u.email} from ${u.role} to ${to}?`, 'Change role');
                  if (!ok) {
                    roleSelect.value = u.role;
                    return;
                  }
                  await busy(applyRole, rowError, async () => {
                    await api.patch(`/admin/users/${encodeURIComponent(u._id)}`, { role: to });
                    await reload();
                  });
                });
                const toggle = h('button', { type: 'button', 'aria-label': `${u.isActive ? 'Deactivate' : 'Activate'} ${u.email}`, disabled: self }, u.isActive ? 'Deactivate' : 'Activate');
                toggle.addEventListener('click', async () => {
                  if (u.isActive && !(await confirmAction(`Deactivate ${u.email}? They are logged out at once and cannot log in.`, 'Deactivate'))) return;
                  await busy(toggle, rowError, async () => {
                    await api.patch(`/admin/users/${encodeURIComponent(u._id)}`, { isActive: !u.isActive });
                    await reload();
                  });
                });
                return h('tr', {}, h('th', { scope: 'row' }, u.name), h('td', {}, u.email), h('td', {}, roleSelect, ' ', applyRole, self ? h('small', {}, ' (you)') : null), h('td', {}, u.isActive ? 'Yes' : 'No'), h('td', {}, date(u.createdAt, false)), h('td', {}, toggle, rowError));
              }),
            ),
          ),
        ),
        pager(pagination, (p) => go('/users', { role: query.role, page: p })),
      );
    } catch (err) {
      mount(list, listError);
      showError(listError, err);
    }
  }
  await reload();
}
