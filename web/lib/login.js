// The login and registration pages, shared by the storefront, vendor desk and admin console.
// After a login the user goes back to the page they were on (`next`).

import { api, session } from './api.js';
import { busy, errorArea, field, formValues, h, mount } from './dom.js';
import { go, link } from './router.js';

function back(query) {
  const next = query.next && query.next.startsWith('/') ? query.next : '/';
  const [path, search = ''] = next.split('?');
  go(path, Object.fromEntries(new URLSearchParams(search)));
}

export function renderLogin(main, query, { title = 'Log in', allowRegister = true } = {}) {
  const error = errorArea();
  const submit = h('button', { type: 'submit', class: 'primary' }, 'Log in');
  const form = h(
    'form',
    { class: 'card narrow', 'aria-labelledby': 'login-title' },
    h('h1', { id: 'login-title' }, title),
    query.expired || session.expired ? h('p', { class: 'notice', role: 'status' }, 'Your session has ended. Please log in again.') : null,
    field('Email', h('input', { name: 'email', type: 'email', required: true, autocomplete: 'username' })),
    field('Password', h('input', { name: 'password', type: 'password', required: true, autocomplete: 'current-password' })),
    error,
    submit,
    allowRegister
      ? h('p', {}, 'New here? ', link(`/register${query.next ? `?next=${encodeURIComponent(query.next)}` : ''}`, 'Create an account'))
      : null,
  );
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const { email, password } = formValues(form);
    busy(submit, error, async () => {
      await api.login(email, password);
      back(query);
    });
  });
  mount(main, form);
  form.querySelector('input').focus();
}

export function renderRegister(main, query) {
  const error = errorArea();
  const submit = h('button', { type: 'submit', class: 'primary' }, 'Create account');
  const form = h(
    'form',
    { class: 'card narrow', 'aria-labelledby': 'register-title' },
    h('h1', { id: 'register-title' }, 'Create an account'),
    field('Name', h('input', { name: 'name', required: true, autocomplete: 'name' })),
    field('Email', h('input', { name: 'email', type: 'email', required: true, autocomplete: 'email' })),
    field('Phone (optional)', h('input', { name: 'phone', type: 'tel', autocomplete: 'tel' })),
    field(
      'Password',
      h('input', { name: 'password', type: 'password', required: true, minlength: 8, maxlength: 128, autocomplete: 'new-password' }),
      'At least 8 characters',
    ),
    error,
    submit,
    h('p', {}, 'Already have an account? ', link('/login', 'Log in')),
  );
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const values = formValues(form);
    if (!values.phone) delete values.phone;
    busy(submit, error, async () => {
      await api.register(values);
      back(query);
    });
  });
  mount(main, form);
}
