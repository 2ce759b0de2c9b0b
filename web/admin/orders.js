// Every order (GET /orders/admin/all) with its filters and search, and status changes
// (PATCH /orders/admin/:orderId/status); the order page is web/admin/order.js.

import { actionKey, api, downloadUrl } from '../lib/api.js';
import { busy, date, errorArea, field, formValues, h, loading, money, mount, pager, showError, STATUS_LABELS, statusBadge } from '../lib/dom.js';
import { invoiceLinks } from '../lib/invoices.js';
import { go, link } from '../lib/router.js';

// The moves come from the server (`nextStatuses`, from its one transition table): the menu offers
// exactly what the server would accept from this admin now.
function statusControl(order, reload) {
  const options = order.nextStatuses || [];
  if (!options.length) return null;
  const select = h('select', { 'aria-label': `New status for ${order.orderNumber}` }, options.map((s) => h('option', { value: s }, STATUS_LABELS[s] || s)));
  const tracking = h('input', { 'aria-label': `Tracking number for ${order.orderNumber}`, placeholder: 'Tracking no.', maxlength: 50 });
  const error = errorArea();
  const button = h('button', { type: 'button' }, 'Update');
  const key = actionKey();
  button.addEventListener('click', () => {
    const body = { status: select.value };
    busy(button, error, async () => {
      if (select.value === 'shipped') {
        if (!tracking.value.trim()) throw new Error('A tracking number is required to ship an order.');
        body.trackingNumber = tracking.value.trim();
      }
      await api.patch(`/orders/admin/${encodeURIComponent(order._id)}/status`, body, { idempotencyKey: key.for([order._id, body]) });
      key.done();
      await reload();
    });
  });
  return h('div', { class: 'inline-form' }, select, tracking, button, error);
}

export { statusControl };

export async function renderAdminOrders(main, _params, query) {
  const form = h(
    'form',
    { class: 'filters', 'aria-label': 'Filter orders' },
    field('Status', h('select', { name: 'status' }, h('option', { value: '' }, 'Any'), Object.entries(STATUS_LABELS).map(([v, t]) => h('option', { value: v, selected: v === query.status }, t)))),
    field('Payment', h('select', { name: 'paymentStatus' }, ['', 'pending', 'completed', 'failed', 'refunded'].map((v) => h('option', { value: v, selected: v === (query.paymentStatus || '') }, v || 'Any')))),
    field('Order number or customer email', h('input', { name: 'search', type: 'search', value: query.search || '', maxlength: 254 })),
    field('From', h('input', { name: 'startDate', type: 'date', value: query.startDate || '' })),
    field('To', h('input', { name: 'endDate', type: 'date', value: query.endDate || '' })),
    field('Sort', h('select', { name: 'sort' }, [['createdAt:desc', 'Newest'], ['createdAt:asc', 'Oldest'], ['totalAmount:desc', 'Largest'], ['totalAmount:asc', 'Smallest']].map(([v, t]) => h('option', { value: v, selected: v === (query.sort || 'createdAt:desc') }, t)))),
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, 'Filter')),
  );
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    go('/orders', formValues(form));
  });
  const [sortBy, sortOrder] = (query.sort || 'createdAt:desc').split(':');
  const filters = {
    status: query.status, paymentStatus: query.paymentStatus, userId: query.userId, search: query.search,
    startDate: query.startDate, endDate: query.endDate, sortBy, sortOrder,
  };
  // Every order of the filters applied now, not just this page; the server streams the file.
  const exportLink = h('a', { class: 'button', href: downloadUrl('/orders/admin/export.csv', filters), download: '' }, 'Export CSV');
  const table = h('section', { 'aria-label': 'Orders' }, loading());
  mount(main, h('h1', {}, 'Orders'), form, h('p', { class: 'toolbar' }, exportLink), table);

  async function reload() {
    const error = errorArea();
    try {
      const { orders, pagination } = await api.get('/orders/admin/all', { ...filters, page: query.page, limit: 20 });
      if (!orders.length) {
        mount(table, h('p', { class: 'empty' }, query.search || query.status || query.paymentStatus || query.startDate || query.endDate ? 'No order matches these filters.' : 'No orders yet.'));
        return;
      }
      mount(
        table,
        h('p', { class: 'muted' }, `${pagination.totalOrders ?? pagination.totalItems} orders`),
        h(
          'div',
          { class: 'table-wrap' },
          h(
            'table',
            {},
            h('thead', {}, h('tr', {}, ['Order', 'Placed', 'Customer', 'Total', 'Status', 'Payment', 'Change status'].map((t) => h('th', { scope: 'col' }, t)))),
            h(
              'tbody',
              {},
              orders.map((o) =>
                h(
                  'tr',
                  {},
                  h('th', { scope: 'row' }, link(`/orders/${encodeURIComponent(o._id)}`, o.orderNumber, { 'aria-label': `Order ${o.orderNumber}` }), o.status !== 'pending' ? invoiceLinks(o._id) : null),
                  h('td', {}, date(o.createdAt)),
                  h('td', {}, typeof o.userId === 'object' && o.userId ? `${o.userId.name} (${o.userId.email})` : String(o.userId)),
                  h('td', {}, money(o.totalAmount)),
                  h('td', {}, statusBadge(o.status)),
                  h('td', {}, `${o.paymentDetails.method} · ${o.paymentDetails.status}`),
                  h('td', {}, statusControl(o, reload)),
                ),
              ),
            ),
          ),
        ),
        pager(pagination, (p) => go('/orders', { ...query, page: p })),
      );
    } catch (err) {
      mount(table, error);
      showError(error, err);
    }
  }
  await reload();
}
