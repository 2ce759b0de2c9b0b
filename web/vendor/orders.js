// Orders holding this vendor's products (GET /vendor/orders), confirmed ones first; ship with a
// tracking number and estimated delivery, then deliver (PATCH /vendor/orders/:orderId/status).
// The list re-reads itself when the live stream reports an order change.

import { actionKey, api, liveEvents } from '../lib/api.js';
import { busy, date, errorArea, field, h, loading, money, mount, pager, showError, STATUS_LABELS, statusBadge } from '../lib/dom.js';
import { invoiceLinks } from '../lib/invoices.js';
import { go } from '../lib/router.js';
import { addressText } from '../shop/addresses.js';

const ORDER = { confirmed: 0, processing: 1, shipped: 2, delivered: 3 };

function shipForm(order, reload) {
  const tracking = h('input', { name: 'trackingNumber', required: true, maxlength: 50 });
  const eta = h('input', { name: 'estimatedDelivery', type: 'date' });
  const error = errorArea();
  const submit = h('button', { type: 'submit', class: 'primary' }, 'Mark as shipped');
  const form = h('form', { class: 'inline-form', 'aria-label': `Ship order ${order.orderNumber}` }, field('Tracking number', tracking), field('Estimated delivery', eta), submit, error);
  const key = actionKey();
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const body = { status: 'shipped', trackingNumber: tracking.value.trim() };
    if (eta.value) body.estimatedDelivery = new Date(`${eta.value}T18:00:00Z`).toISOString();
    busy(submit, error, async () => {
      await api.patch(`/vendor/orders/${encodeURIComponent(order._id)}/status`, body, { idempotencyKey: key.for(body) });
      key.done();
      await reload();
    });
  });
  return form;
}

function deliverButton(order, reload) {
  const error = errorArea();
  const button = h('button', { type: 'button', class: 'primary' }, 'Mark as delivered');
  const key = actionKey();
  button.addEventListener('click', () =>
    busy(button, error, async () => {
      await api.patch(`/vendor/orders/${encodeURIComponent(order._id)}/status`, { status: 'delivered' }, { idempotencyKey: key.for('delivered') });
      key.done();
      await reload();
    }),
  );
  return h('div', {}, button, error);
}

export async function renderVendorOrders(main, _params, query) {
  const status = h('select', { name: 'status' }, h('option', { value: '' }, 'All orders'), Object.entries(STATUS_LABELS).filter(([v]) => v !== 'pending').map(([v, t]) => h('option', { value: v, selected: v === query.status }, t)));
  status.addEventListener('change', () => go('/', { status: status.value }));
  const list = h('section', { 'aria-label': 'Orders to fulfil' }, loading());
  mount(main, h('h1', {}, 'Orders'), h('div', { class: 'filters' }, field('Show', status)), list);

  async function reload() {
    const error = errorArea();
    try {
      const { orders, pagination } = await api.get('/vendor/orders', { status: query.status, page: query.page, limit: 20 });
      const sorted = [...orders].sort((a, b) => (ORDER[a.status] ?? 9) - (ORDER[b.status] ?? 9));
      mount(
        list,
        sorted.length
          ? h(
              'ul',
              { class: 'plain' },
              sorted.map((o) =>
                h(
                  'li',
                  { class: 'card', 'aria-label': `Order ${o.orderNumber}` },
                  h('h2', {}, `Order ${o.orderNumber} `, statusBadge(o.status)),
                  h('p', { class: 'muted' }, `Placed ${date(o.createdAt)}`),
                  h('ul', { class: 'plain' }, o.items.map((i) => h('li', {}, `${i.productName} × ${i.quantity} — ${money(i.totalPrice)}`))),
                  h('p', {}, 'Ship to: ', addressText(o.shippingAddress || {})),
                  o.trackingNumber ? h('p', {}, `Tracking number: ${o.trackingNumber}`) : null,
                  invoiceLinks(o._id),
                  // Exactly the moves the server offers this vendor now (`nextStatuses`).
                  (o.nextStatuses || []).includes('shipped') ? shipForm(o, reload) : null,
                  (o.nextStatuses || []).includes('delivered') ? deliverButton(o, reload) : null,
                  ['confirmed', 'processing', 'shipped'].includes(o.status) && !(o.nextStatuses || []).length
                    ? h('p', { class: 'muted' }, 'This order also holds other sellers’ products: the shop ships it.')
                    : null,
                ),
              ),
            )
          : h('p', {}, 'No orders here yet.'),
        pager(pagination, (p) => go('/', { status: query.status, page: p })),
      );
    } catch (err) {
      mount(list, error);
      showError(error, err);
    }
  }
  await reload();
  return liveEvents({ onOpen: reload, onEvent: (event) => event === 'order' && reload() });
}
