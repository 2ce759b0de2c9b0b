// "My orders": GET /orders/my-orders with a status filter and pages.

import { api } from '../lib/api.js';
import { date, errorArea, field, h, loading, money, mount, pager, showError, STATUS_LABELS, statusBadge } from '../lib/dom.js';
import { go, link } from '../lib/router.js';

export async function renderOrders(main, _params, query) {
  const status = h('select', { name: 'status' }, h('option', { value: '' }, 'All orders'), Object.entries(STATUS_LABELS).map(([v, t]) => h('option', { value: v, selected: v === query.status }, t)));
  // Applied with the button, not while the arrow keys move through the list (WCAG 3.2.2).
  const filter = h('form', { class: 'inline-form card', role: 'search', 'aria-label': 'Filter orders' }, field('Show', status), h('button', { type: 'submit' }, 'Show orders'));
  filter.addEventListener('submit', (e) => {
    e.preventDefault();
    go('/orders', { status: status.value });
  });
  const list = h('section', { 'aria-label': 'Orders' }, loading());
  mount(main, h('h1', {}, 'My orders'), filter, list);
  const error = errorArea();
  try {
    const { orders, pagination } = await api.get('/orders/my-orders', { status: query.status, page: query.page, limit: 10 });
    mount(
      list,
      orders.length
        ? h(
            'ul',
            { class: 'orders plain' },
            orders.map((o) =>
              h(
                'li',
                { class: 'card order-row' },
                h('p', {}, link(`/orders/${o._id}`, `Order ${o.orderNumber}`)),
                h('p', { class: 'muted' }, date(o.createdAt)),
                h('p', {}, statusBadge(o.status), ' ', money(o.totalAmount)),
              ),
            ),
          )
        : h('p', {}, 'No orders yet. ', link('/', 'Start shopping')),
      pager(pagination, (p) => go('/orders', { status: query.status, page: p })),
    );
  } catch (err) {
    mount(list, error);
    showError(error, err);
  }
}
