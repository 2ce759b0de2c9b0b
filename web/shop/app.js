// The storefront: header (cart badge, notifications bell, account links), routes and live updates.

import { afterLogin, api, liveEvents, notify, on, session } from '../lib/api.js';
import { h, mount } from '../lib/dom.js';
import { guestCount, mergeGuestCart } from './guest-cart.js';
import { renderForgot, renderLogin, renderRegister, renderReset } from '../lib/login.js';
import { currentRoute, go, link, startRouter } from '../lib/router.js';
import { renderCatalog } from './catalog.js';

const lazy = (file, name) => async (...args) => (await import(file))[name](...args);

const nav = document.getElementById('nav');
const main = document.getElementById('main');
const cartCount = h('span', { class: 'badge', 'aria-hidden': 'true' }, '0');
const cartLink = h('a', { href: '#/cart', 'aria-label': 'Cart, 0 items' }, 'Cart ', cartCount);
const bellCount = h('span', { class: 'badge', 'aria-hidden': 'true' }, '0');
const bellLink = h('a', { href: '#/notifications', 'aria-label': 'Notifications, 0 unread' }, 'Notifications ', bellCount);

export function setCartCount(n) {
  cartCount.textContent = String(n);
  cartCount.hidden = !n;
  cartLink.setAttribute('aria-label', `Cart, ${n} item${n === 1 ? '' : 's'}`);
}

function setUnread(n) {
  bellCount.textContent = String(n);
  bellCount.hidden = !n;
  bellLink.setAttribute('aria-label', `Notifications, ${n} unread`);
}

export async function refreshBell() {
  if (!session.user) return setUnread(0);
  try {
    const list = await api.get('/notifications', { unread: 'true', limit: 1 });
    setUnread(list.unreadCount ?? list.pagination.totalItems);
  } catch {
    /* shown again on the next event */
  }
}

async function refreshCart() {
  if (!session.user) return setCartCount(guestCount());
  try {
    const summary = await api.get('/cart/summary');
    setCartCount(summary.totalItems);
  } catch {
    /* the badge stays as it was */
  }
}

// The cart link stays in the header row on a phone too, outside the folded menu.
document.getElementById('cart-slot').appendChild(cartLink);

// The phone header: the links fold behind a "Menu" button (CSS shows them inline on wider screens).
const menuToggle = document.getElementById('menu-toggle');
function setMenu(open) {
  menuToggle.setAttribute('aria-expanded', String(open));
  document.querySelector('header.top').classList.toggle('open', open);
}
menuToggle.addEventListener('click', () => setMenu(menuToggle.getAttribute('aria-expanded') !== 'true'));
nav.addEventListener('click', (e) => {
  if (e.target.closest('a')) setMenu(false);
});
window.addEventListener('hashchange', () => setMenu(false));

// The skip link moves focus into the page without touching the URL fragment (the router's).
document.querySelector('.skip-link').addEventListener('click', (e) => {
  e.preventDefault();
  main.focus();
  main.scrollIntoView();
});

function drawNav() {
  const user = session.user;
  mount(
    nav,
    h(
      'ul',
      { class: 'nav-links' },
      h('li', {}, link('/', 'Shop')),
      user ? h('li', {}, bellLink) : null,
      user ? h('li', {}, link('/orders', 'My orders')) : null,
      user ? h('li', {}, link('/addresses', 'Addresses')) : null,
      user ? h('li', {}, link('/account', 'Account')) : null,
      user
        ? h('li', {}, h('button', { type: 'button', class: 'link', onclick: async () => { await api.logout(); go('/'); } }, `Log out (${user.name})`))
        : h('li', {}, link('/login', 'Log in')),
    ),
  );
}

// Who the session cookie belongs to, before the first page decides what to show (and before the
// listeners below, so the start-up below draws and connects once).
await session.restore();

on('cart', setCartCount);
// Lines added while logged out join the account's cart before the page moves on.
afterLogin(async () => {
  await mergeGuestCart();
  await refreshCart();
});
on('notifications', refreshBell);

let stopLive = null;
function startLive() {
  if (stopLive) stopLive();
  stopLive = null;
  if (!session.user) return;
  stopLive = liveEvents({
    onOpen: () => {
      refreshBell();
      notify('live', { event: 'open' });
    },
    onEvent: (event, data) => {
      if (event === 'notification') refreshBell();
      notify('live', { event, data });
    },
  });
}

on('session', () => {
  drawNav();
  refreshCart();
  refreshBell();
  startLive();
});

on('unauthorized', () => {
  const { path, raw } = currentRoute();
  if (path !== '/login') go('/login', { next: raw, expired: 1 });
});

const needsLogin = ['/checkout', '/orders', '/addresses', '/notifications', '/account'];

startRouter(
  main,
  [
    ['/', renderCatalog],
    ['/product/:id', lazy('./product.js', 'renderProduct')],
    ['/cart', lazy('./cart.js', 'renderCart')],
    ['/checkout', lazy('./checkout.js', 'renderCheckout')],
    ['/orders', lazy('./orders.js', 'renderOrders')],
    ['/orders/:id', lazy('./order.js', 'renderOrder')],
    ['/addresses', lazy('./addresses.js', 'renderAddresses')],
    ['/notifications', lazy('./notifications.js', 'renderNotifications')],
    ['/login', (m, _p, q) => renderLogin(m, q)],
    ['/register', (m, _p, q) => renderRegister(m, q)],
    ['/forgot', (m) => renderForgot(m)],
    ['/reset', (m, _p, q) => renderReset(m, q)],
    ['/account', lazy('./account.js', 'renderAccount')],
  ],
  {
    notFound: () => [
      h('h1', {}, 'Page not found'),
      h('p', {}, 'There is no page at this address. ', link('/', 'Go to the shop')),
    ],
    guard: (route) => {
      const protectedPage = needsLogin.some((p) => route.path === p || route.path.startsWith(`${p}/`));
      return protectedPage && !session.user ? { path: '/login', query: { next: route.raw } } : null;
    },
  },
);

drawNav();
setCartCount(0);
setUnread(0);
refreshCart();
refreshBell();
startLive();
