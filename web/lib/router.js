// Hash routing (`/#/cart`, `/vendor#/orders`): the app's URL never collides with an API path and a
// reload lands on the same page. Each route renders into <main> and may return a cleanup function.

import { h, mount } from './dom.js';

export function currentRoute() {
  const raw = location.hash.replace(/^#/, '') || '/';
  const [path, search = ''] = raw.split('?');
  return { path: path || '/', query: Object.fromEntries(new URLSearchParams(search)), raw };
}

export function go(path, query) {
  const search = query ? new URLSearchParams(Object.entries(query).filter(([, v]) => v !== '' && v != null)).toString() : '';
  const target = `#${path}${search ? `?${search}` : ''}`;
  if (location.hash === target) window.dispatchEvent(new HashChangeEvent('hashchange'));
  else location.hash = target;
}

/** A link inside the app. */
export function link(path, text, attrs = {}) {
  return h('a', { href: `#${path}`, ...attrs }, text);
}

/**
 * Starts the router: `routes` is a list of [pattern, render] where a pattern like
 * '/orders/:id' binds params. `guard(route)` may return a path to send the user elsewhere.
 */
export function startRouter(main, routes, { guard, notFound } = {}) {
  let cleanup = null;
  const compiled = routes.map(([pattern, render]) => {
    const names = [];
    const regex = new RegExp(
      `^${pattern.replace(/:[a-zA-Z]+/g, (m) => {
        names.push(m.slice(1));
        return '([^/]+)';
      })}$`,
    );
    return { regex, names, render };
  });

  async function show() {
    if (cleanup) {
      try {
        cleanup();
      } catch {
        /* ignore */
      }
      cleanup = null;
    }
    const route = currentRoute();
    const redirect = guard ? guard(route) : null;
    if (redirect) {
      go(redirect.path, redirect.query);
      return;
    }
    for (const { regex, names, render } of compiled) {
      const match = route.path.match(regex);
      if (!match) continue;
      const params = Object.fromEntries(names.map((n, i) => [n, decodeURIComponent(match[i + 1])]));
      // Each visit renders into its own container: a slow answer for a page the user has left
      // lands in a detached node instead of over the page now shown.
      const page = h('div', { class: 'page' });
      mount(main, page);
      main.focus({ preventScroll: true });
      window.scrollTo(0, 0);
      const result = await render(page, params, route.query);
      const stop = typeof result === 'function' ? result : null;
      if (page.isConnected) cleanup = stop;
      else if (stop) stop();
      return;
    }
    mount(main, notFound ? notFound() : h('p', {}, 'Page not found.'));
  }

  window.addEventListener('hashchange', show);
  show();
  return show;
}
