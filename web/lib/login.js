// The login and registration pages, shared by the storefront, vendor desk and admin console, and
// the storefront's forgotten-password pages (POST /auth/password/forgot, then the emailed link
// `#/reset?token=...` to POST /auth/password/reset). After a login the user goes back to the page
// they were on (`next`).

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
    allowRegister ? h('p', {}, link('/forgot', 'Forgot password?')) : null,
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

/** Asks for a reset link. The answer is the same whether or not the address has an account. */
export function renderForgot(main) {
  const error = errorArea();
  const submit = h('button', { type: 'submit', class: 'primary' }, 'Email me a reset link');
  const done = h('p', { class: 'notice', role: 'status', hidden: true });
  const form = h(
    'form',
    { class: 'card narrow', 'aria-labelledby': 'forgot-title' },
    h('h1', { id: 'forgot-title' }, 'Forgot your password?'),
    h('p', {}, 'Enter the email address of your account and we will send you a link to choose a new password.'),
    field('Email', h('input', { name: 'email', type: 'email', required: true, autocomplete: 'username' })),
    error,
    submit,
    done,
    h('p', {}, link('/login', 'Back to log in')),
  );
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const { email } = formValues(form);
    busy(submit, error, async () => {
      const { message } = await api.request('POST', '/auth/password/forgot', { body: { email }, auth: false });
      done.hidden = false;
      done.textContent = `${message}. Check your inbox (and the spam folder); the link works once and expires soon.`;
    });
  });
  mount(main, form);
  form.querySelector('input').focus();
}

/** Sets a new password with the token of the emailed link (`#/reset?token=...`). */
export function renderReset(main, query) {
  const token = query.token || '';
  if (!token) {
    mount(
      main,
      h(
        'section',
        { class: 'card narrow' },
        h('h1', {}, 'Reset your password'),
        h('p', {}, 'This page needs the link from your reset email. '),
        h('p', {}, link('/forgot', 'Ask for a new link')),
      ),
    );
    return;
  }
  const error = errorArea();
  const submit = h('button', { type: 'submit', class: 'primary' }, 'Set new password');
  const password = h('input', { name: 'password', type: 'password', required: true, minlength: 8, maxlength: 128, autocomplete: 'new-password' });
  const again = h('input', { name: 'again', type: 'password', required: true, minlength: 8, maxlength: 128, autocomplete: 'new-password' });
  const form = h(
    'form',
    { class: 'card narrow', 'aria-labelledby': 'reset-title' },
    h('h1', { id: 'reset-title' }, 'Choose a new password'),
    field('New password', password, 'At least 8 characters'),
    field('New password again', again),
    error,
    submit,
  );
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    if (password.value !== again.value) {
      error.hidden = false;
      error.textContent = 'The two passwords are not the same.';
      again.focus();
      return;
    }
    busy(submit, error, async () => {
      await api.request('POST', '/auth/password/reset', { body: { token, password: password.value }, auth: false });
      // Every earlier session of the account has ended, this browser's included.
      session.clear();
      mount(
        main,
        h(
          'section',
          { class: 'card narrow', role: 'status' },
          h('h1', {}, 'Password changed'),
          h('p', {}, 'Your new password is set, and you were logged out everywhere.'),
          h('p', {}, link('/login', 'Log in with your new password')),
        ),
      );
    });
  });
  mount(main, form);
  password.focus();
}
