// The frame shared by the vendor desk and the admin console: login, a role check with a clear
// message for the wrong role, the navigation, and the routes.

import { api, on, session } from './api.js';
import { h, mount } from './dom.js';
import { renderLogin } from './login.js';
import { currentRoute, go, link, startRouter } from './router.js';

export function startConsole({ role, title, links, routes }) {
  const nav = document.getElementById('nav');
  const main = document.getElementById('main');

  function drawNav() {
    const user = session.user;
    mount(
      nav,
      h(
        'ul',
        {},
        user && user.role === role ? links.map(([path, text]) => h('li', {}, link(path, text))) : null,
        user
          ? h('li', {}, h('button', { type: 'button', class: 'link', onclick: async () => { await api.logout(); go('/login'); } }, `Log out (${user.name})`))
          : h('li', {}, link('/login', 'Log in')),
      ),
    );
  }

  function wrongRole(m) {
    const user = session.user;
    mount(
      m,
      h(
        'section',
        { class: 'card narrow', role: 'alert' },
        h('h1', {}, `${title} is for ${role}s`),
        h('p', {}, `You are logged in as ${user.email} (${user.role}). This page needs a ${role} account.`),
        h('p', {}, h('button', { type: 'button', onclick: async () => { await api.logout(); go('/login'); } }, 'Log in with another account'), ' ', h('a', { href: '/' }, 'Go to the shop')),
      ),
    );
  }

  on('session', drawNav);
  on('unauthorized', () => {
    const { path, raw } = currentRoute();
    if (path !== '/login') go('/login', { next: raw, expired: 1 });
  });

  const guarded = routes.map(([pattern, render]) => [
    pattern,
    (m, params, query) => (session.user && session.user.role !== role ? wrongRole(m) : render(m, params, query)),
  ]);
  // Who the session cookie belongs to (and its role as stored now), before the first page.
  session.restore().then(() => {
    startRouter(main, [['/login', (m, _p, q) => renderLogin(m, q, { title: `${title}: log in`, allowRegister: false })], ...guarded], {
      guard: (route) => (route.path !== '/login' && !session.user ? { path: '/login', query: { next: route.raw } } : null),
    });
    drawNav();
  });
}
