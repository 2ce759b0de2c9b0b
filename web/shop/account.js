// Account: the holder's name and phone (PATCH /auth/me) and a password change
// (POST /auth/password/change, which ends every other session and starts a fresh one here).

import { api, session } from '../lib/api.js';
import { busy, errorArea, field, formValues, h, mount } from '../lib/dom.js';

export async function renderAccount(main) {
  const user = session.user;
  const profileError = errorArea();
  const profileDone = h('p', { class: 'notice', role: 'status', hidden: true });
  const save = h('button', { type: 'submit', class: 'primary' }, 'Save');
  const profile = h(
    'form',
    { class: 'card narrow', 'aria-labelledby': 'profile-title' },
    h('h2', { id: 'profile-title' }, 'Your details'),
    h('p', {}, `Email: ${user.email}`),
    field('Name', h('input', { name: 'name', required: true, maxlength: 100, autocomplete: 'name', value: user.name || '' })),
    field('Phone', h('input', { name: 'phone', type: 'tel', autocomplete: 'tel', value: user.phone || '' }), 'Leave empty to remove it'),
    profileError,
    save,
    profileDone,
  );
  profile.addEventListener('submit', (e) => {
    e.preventDefault();
    profileDone.hidden = true;
    const { name, phone } = formValues(profile);
    busy(save, profileError, async () => {
      const updated = await api.patch('/auth/me', { name, phone });
      session.save(updated);
      profileDone.hidden = false;
      profileDone.textContent = 'Saved.';
    });
  });

  const passwordError = errorArea();
  const passwordDone = h('p', { class: 'notice', role: 'status', hidden: true });
  const change = h('button', { type: 'submit', class: 'primary' }, 'Change password');
  const newPassword = h('input', { name: 'newPassword', type: 'password', required: true, minlength: 8, maxlength: 128, autocomplete: 'new-password' });
  const again = h('input', { name: 'again', type: 'password', required: true, minlength: 8, maxlength: 128, autocomplete: 'new-password' });
  const password = h(
    'form',
    { class: 'card narrow', 'aria-labelledby': 'password-title' },
    h('h2', { id: 'password-title' }, 'Change password'),
    field('Current password', h('input', { name: 'currentPassword', type: 'password', required: true, autocomplete: 'current-password' })),
    field('New password', newPassword, 'At least 8 characters'),
    field('New password again', again),
    passwordError,
    change,
    passwordDone,
  );
  password.addEventListener('submit', (e) => {
    e.preventDefault();
    passwordDone.hidden = true;
    if (newPassword.value !== again.value) {
      passwordError.hidden = false;
      passwordError.textContent = 'The two new passwords are not the same.';
      again.focus();
      return;
    }
    const { currentPassword } = formValues(password);
    busy(change, passwordError, async () => {
      const result = await api.post('/auth/password/change', { currentPassword, newPassword: newPassword.value });
      // The answer set a new session cookie; its CSRF token goes with it.
      session.save(result.user, result.csrfToken);
      password.reset();
      passwordDone.hidden = false;
      passwordDone.textContent = 'Password changed. You were logged out on your other devices.';
    });
  });

  mount(main, h('h1', {}, 'Your account'), profile, password);
}
