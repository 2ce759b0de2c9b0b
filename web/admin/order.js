// One order for the admin (GET /orders/:orderId, populated, with `nextStatuses`): lines, customer,
// address, payments and refunds, the timeline (GET /orders/:orderId/tracking), notes, and the
// status menu offering exactly the moves the server allows now.

import { api } from '../lib/api.js';
import { date, errorArea, h, loading, money, mount, showError, statusBadge } from '../lib/dom.js';
import { link } from '../lib/router.js';
import { statusControl } from './orders.js';

// Who made each step of the timeline (returns included: asked by the customer, decided and
// refunded by an admin); a step with no person is the shop's own (payment, expiry, refund sent).
const BY_LABELS = { customer: 'by the customer', vendor: 'by the vendor', admin: 'by an admin' };

function addressLines(a) {
  if (!a || typeof a !== 'object') return [];
  return [a.name, a.street, [a.city, a.state, a.zipCode].filter(Boolean).join(', '), a.country, a.phone].filter(Boolean);
}

function definitions(pairs) {
  return h('dl', { class: 'totals' }, pairs.filter(([, v]) => v !== null && v !== undefined && v !== '').flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]));
}

export async function renderAdminOrder(main, params) {
  mount(main, h('h1', {}, 'Order'), loading());
  const error = errorArea();
  let order;
  let tracking;
  try {
    [order, tracking] = await Promise.all([
      api.get(`/orders/${encodeURIComponent(params.id)}`),
      api.get(`/orders/${encodeURIComponent(params.id)}/tracking`),
    ]);
  } catch (err) {
    mount(main, h('h1', {}, 'Order'), error, h('p', {}, link('/orders', 'Back to orders')));
    showError(error, err);
    return;
  }
  const reload = () => renderAdminOrder(main, params);
  const customer = typeof order.userId === 'object' && order.userId ? order.userId : null;
  const pay = order.paymentDetails;
  const control = statusControl(order, reload);
  mount(
    main,
    h('p', {}, link('/orders', 'Back to orders')),
    h('h1', {}, `Order ${order.orderNumber} `, statusBadge(order.status)),
    h('p', { class: 'muted' }, `Placed ${date(order.createdAt)}`),
    h(
      'section',
      { class: 'card', 'aria-labelledby': 'order-status-h' },
      h('h2', { id: 'order-status-h' }, 'Status'),
      control || h('p', {}, 'No further status change is possible from here.'),
      order.trackingNumber ? h('p', {}, `Tracking number: ${order.trackingNumber}`) : null,
    ),
    h(
      'section',
      { class: 'card', 'aria-labelledby': 'order-customer-h' },
      h('h2', { id: 'order-customer-h' }, 'Customer'),
      customer
        ? definitions([
            ['Name', customer.name],
            ['Email', customer.email],
            ['Phone', customer.phone || 'Not given'],
          ])
        : h('p', {}, 'This customer account no longer exists.'),
      h('h3', {}, 'Shipping address'),
      h('p', {}, addressLines(order.shippingAddress).flatMap((line, i) => (i ? [h('br', {}), line] : [line]))),
    ),
    h(
      'section',
      { class: 'card', 'aria-labelledby': 'order-lines-h' },
      h('h2', { id: 'order-lines-h' }, 'Lines'),
      h(
        'div',
        { class: 'table-wrap' },
        h(
          'table',
          {},
          h('thead', {}, h('tr', {}, ['Product', 'Quantity', 'Price', 'Total'].map((t) => h('th', { scope: 'col' }, t)))),
          h(
            'tbody',
            {},
            order.items.map((i) => h('tr', {}, h('th', { scope: 'row' }, i.productName), h('td', {}, String(i.quantity)), h('td', {}, money(i.price)), h('td', {}, money(i.totalPrice)))),
          ),
        ),
      ),
      definitions([
        ['Subtotal', money(order.subtotal)],
        ['Discount', order.discountCode ? `${money(order.discount)} (${order.discountCode})` : money(order.discount)],
        ['Shipping', money(order.shippingCharges)],
        ['Tax', money(order.tax)],
        ['Total', money(order.totalAmount)],
      ]),
    ),
    h(
      'section',
      { class: 'card', 'aria-labelledby': 'order-payment-h' },
      h('h2', { id: 'order-payment-h' }, 'Payment and refunds'),
      definitions([
        ['Method', pay.method === 'cod' ? 'Cash on delivery' : pay.method],
        ['Status', pay.status],
        ['Amount', money(pay.amount)],
        ['Paid', pay.paidAt ? date(pay.paidAt) : 'Not yet'],
        ['Payment id', pay.razorpayPaymentId],
        ['Refunded', money(pay.refundedAmount)],
      ]),
      pay.refunds.length
        ? h(
            'ul',
            { 'aria-label': 'Refunds' },
            pay.refunds.map((r) => h('li', {}, `${money(r.amount)}: ${r.status}, ${date(r.createdAt)}`)),
          )
        : h('p', {}, 'No refunds.'),
    ),
    h(
      'section',
      { class: 'card', 'aria-labelledby': 'order-timeline-h' },
      h('h2', { id: 'order-timeline-h' }, 'Timeline'),
      h(
        'ol',
        { class: 'timeline' },
        tracking.statusHistory.map((s) => h('li', {}, h('p', {}, h('strong', {}, s.description)), h('p', { class: 'muted' }, `${date(s.timestamp)} · ${BY_LABELS[s.by] || 'by the shop'}`))),
      ),
    ),
    h(
      'section',
      { class: 'card', 'aria-labelledby': 'order-notes-h' },
      h('h2', { id: 'order-notes-h' }, 'Notes'),
      h('p', {}, order.notes || 'No notes.'),
      order.cancellationReason ? h('p', {}, `Cancelled: ${order.cancellationReason}`) : null,
      order.returnStatus && order.returnStatus !== 'none' ? h('p', {}, `Return: ${order.returnStatus}${order.returnReason ? ` (${order.returnReason})` : ''}`) : null,
    ),
  );
}
