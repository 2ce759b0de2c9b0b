// One order: the confirmation after checkout (a "thank you" only for a paid or cash-on-delivery
// order), an unpaid order's offer to pay with its deadline, the status timeline from tracking,
// cancel / mark as received / return, and a review form after delivery for products not yet
// reviewed. The page re-reads the
// order and its tracking whenever the live stream says this order changed (or reconnects).

import { api, newIdempotencyKey, on, session } from '../lib/api.js';
import { announce, busy, confirmAction, date, errorArea, field, h, loading, money, mount, RETURN_LABELS, showError, statusBadge, statusLabel } from '../lib/dom.js';
import { link } from '../lib/router.js';
import { invoiceLinks } from '../lib/invoices.js';
import { addressText } from './addresses.js';
import { totals } from './cart.js';
import { gateway, payLabel, payOrder, TEST_PAYMENT_TEXT, TEST_PAYMENT_TITLE } from './pay.js';

const METHOD_LABELS = {
  cod: 'Cash on delivery',
  card: 'Card',
  credit_card: 'Credit card',
  debit_card: 'Debit card',
  upi: 'UPI',
  netbanking: 'Netbanking',
  wallet: 'Wallet',
  razorpay: 'Razorpay',
};
const PAYMENT_LABELS = {
  pending: 'Not paid yet',
  completed: 'Paid',
  failed: 'Failed',
  refunded: 'Refunded',
};

/** The history, one entry per step: a later entry with the same status (received, a return asked
 * for) is named by what happened rather than repeating the status. */
function timeline(tracking) {
  let previous = null;
  return h(
    'ol',
    { class: 'timeline', 'aria-label': 'Status history' },
    tracking.statusHistory.map((entry) => {
      const repeat = entry.status === previous && entry.description;
      previous = entry.status;
      return h(
        'li',
        {},
        h('strong', {}, repeat ? entry.description : statusLabel(entry.status)),
        ' ',
        h('time', { datetime: entry.timestamp }, date(entry.timestamp)),
        ` · ${entry.by === 'customer' ? 'by you' : 'by the shop'}`,
        !repeat && entry.description ? h('p', { class: 'muted' }, entry.description) : null,
      );
    }),
  );
}

function paymentSummary(p) {
  const rows = [
    ['Method', METHOD_LABELS[p.method] || p.method],
    ['Payment', p.method === 'cod' && p.status === 'pending' ? 'Due on delivery' : PAYMENT_LABELS[p.status] || p.status],
    p.paidAt ? ['Paid', date(p.paidAt)] : null,
    p.refundedAmount ? ['Refunded', money(p.refundedAmount)] : null,
  ];
  return totals(rows);
}

/** An unpaid online order: says so, offers to pay, and says when it will be cancelled. */
function unpaidStep(order, reload) {
  const error = errorArea();
  const key = { value: null };
  const pay = h('button', { type: 'button', class: 'primary wide' }, payLabel(order, money));
  pay.addEventListener('click', () =>
    busy(pay, error, async () => {
      await payOrder(order, key);
      await reload({ paid: true });
    }),
  );
  return h(
    'section',
    { class: `card pay unpaid${gateway === 'razorpay' ? '' : ' test-payment'}`, 'aria-labelledby': 'pay-title' },
    h('h2', { id: 'pay-title' }, 'This order is not paid yet'),
    h(
      'p',
      {},
      order.paymentDueBy
        ? ['Pay by ', h('time', { datetime: order.paymentDueBy }, date(order.paymentDueBy)), ' or it will be cancelled and its items go back on sale.']
        : 'Unpaid orders are cancelled after a while and their items go back on sale.',
    ),
    gateway === 'razorpay' ? null : h('p', {}, h('strong', {}, TEST_PAYMENT_TITLE), ': ', TEST_PAYMENT_TEXT),
    pay,
    error,
  );
}

function actionButton(text, cls, work) {
  const error = errorArea();
  const button = h('button', { type: 'button', class: cls }, text);
  button.addEventListener('click', () => {
    busy(button, error, work);
  });
  return h('div', { class: 'action card' }, button, error);
}

function cancelForm(order, reload) {
  const reason = h('input', { name: 'reason', maxlength: 200 });
  const error = errorArea();
  const submit = h('button', { type: 'submit', class: 'danger' }, 'Cancel order');
  const form = h('form', { class: 'card inline-form', 'aria-label': 'Cancel this order' }, field('Reason (optional)', reason), submit, error);
  // One key for this cancellation: a double click or a retry after a lost answer cancels once.
  const idempotencyKey = newIdempotencyKey();
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const asked = `Cancel order ${order.orderNumber}? This cannot be undone; a paid order is refunded to where the money came from.`;
    if (!(await confirmAction(asked, 'Cancel order', 'Keep the order'))) return;
    busy(submit, error, async () => {
      await api.patch(`/orders/${encodeURIComponent(order._id)}/cancel`, reason.value.trim() ? { reason: reason.value.trim() } : {}, { idempotencyKey });
      await reload();
    });
  });
  return form;
}

function returnForm(order, reload) {
  const reason = h('input', { name: 'reason', required: true, maxlength: 200 });
  const error = errorArea();
  const submit = h('button', { type: 'submit' }, 'Request a return');
  const form = h('form', { class: 'card inline-form', 'aria-label': 'Return this order' }, field('Why are you returning it?', reason), submit, error);
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    busy(submit, error, async () => {
      await api.post(`/orders/${encodeURIComponent(order._id)}/return`, { reason: reason.value.trim() });
      await reload();
    });
  });
  return form;
}

function reviewForm(item, productId) {
  const rating = h('select', { name: 'rating' }, [5, 4, 3, 2, 1].map((n) => h('option', { value: n }, `${n} star${n === 1 ? '' : 's'}`)));
  const title = h('input', { name: 'title', maxlength: 100 });
  const comment = h('textarea', { name: 'comment', maxlength: 2000, rows: 3 });
  const error = errorArea();
  const done = h('p', { role: 'status' });
  const submit = h('button', { type: 'submit' }, 'Submit review');
  const form = h(
    'form',
    { class: 'card review-form', 'aria-label': `Review ${item.productName}` },
    h('h3', {}, `Review ${item.productName}`),
    field('Rating', rating),
    field('Title', title),
    field('Your review', comment),
    submit,
    error,
    done,
  );
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const body = { rating: Number(rating.value) };
    if (title.value.trim()) body.title = title.value.trim();
    if (comment.value.trim()) body.comment = comment.value.trim();
    busy(submit, error, async () => {
      await api.post(`/products/${encodeURIComponent(productId)}/reviews`, body);
      // The form goes; what stays says where the review is, and takes the focus.
      const thanks = h('p', { role: 'status', tabindex: -1 }, 'Thank you! Your review is on the ', link(`/product/${productId}`, 'product page'), '.');
      form.replaceChildren(h('h3', {}, `Review ${item.productName}`), thanks);
      thanks.focus();
    });
  });
  return form;
}

/** Ids of the products of this order the caller has already reviewed. */
async function reviewedProducts(order) {
  const me = session.user?._id;
  const ids = [...new Set(order.items.map((i) => (typeof i.productId === 'string' ? i.productId : i.productId._id)))];
  const done = new Set();
  await Promise.all(
    ids.map(async (id) => {
      try {
        const data = await api.get(`/products/${encodeURIComponent(id)}/reviews`, { limit: 100 });
        if (data.reviews.some((r) => r.userId === me)) done.add(id);
      } catch {
        /* the form stays; a second review is refused with a clear message */
      }
    }),
  );
  return done;
}

const itemProductId = (item) => (typeof item.productId === 'string' ? item.productId : item.productId._id);

export async function renderOrder(main, { id }, query) {
  mount(main, loading('Loading your order…'));
  let placed = Boolean(query.placed);

  async function reload({ paid = false } = {}) {
    if (paid) placed = true;
    let order;
    let tracking;
    try {
      [order, tracking] = await Promise.all([
        api.get(`/orders/${encodeURIComponent(id)}`),
        api.get(`/orders/${encodeURIComponent(id)}/tracking`),
      ]);
    } catch (err) {
      const error = errorArea();
      mount(main, h('h1', {}, 'Order'), error);
      showError(error, err);
      return;
    }
    const reviewed = order.status === 'delivered' ? await reviewedProducts(order) : new Set();
    draw(order, tracking, reviewed);
    if (paid) {
      const heading = main.querySelector('h1');
      heading.setAttribute('tabindex', '-1');
      heading.focus();
      announce(`Payment received. Thank you! Order ${order.orderNumber} is confirmed.`);
    }
  }

  function draw(order, tracking, reviewed) {
    const status = order.status;
    const online = order.paymentDetails.method !== 'cod';
    const unpaid = status === 'pending' && online && order.paymentDetails.status === 'pending';
    // Thanks only for an order that is paid or cash on delivery.
    const thanked = placed && !unpaid && status !== 'cancelled';
    const actions = [];
    if (unpaid) actions.push(unpaidStep(order, reload));
    if (status === 'shipped' || (status === 'delivered' && !order.receivedAt)) {
      actions.push(
        actionButton('Mark as received', 'primary', async () => {
          await api.patch(`/orders/${encodeURIComponent(order._id)}/received`, {});
          await reload();
        }),
      );
    }
    if (status === 'pending' || status === 'confirmed') actions.push(cancelForm(order, reload));
    if (status === 'delivered' && order.returnStatus === 'none') actions.push(returnForm(order, reload));

    const heading = thanked ? 'Order confirmation' : `Order ${order.orderNumber}`;
    const reviewable = status === 'delivered' ? order.items.filter((item) => !reviewed.has(itemProductId(item))) : [];
    mount(
      main,
      h('h1', {}, heading),
      thanked
        ? h(
            'p',
            { class: 'notice', role: 'status' },
            online ? `Thank you! Your payment was received and order ${order.orderNumber} is confirmed.` : `Thank you! Order ${order.orderNumber} is confirmed; you pay on delivery.`,
          )
        : null,
      h(
        'section',
        { class: 'card', 'aria-label': 'Order status' },
        h('p', { class: 'order-status' }, 'Status: ', statusBadge(status)),
        h('p', { class: 'muted' }, `Order ${order.orderNumber} · placed ${date(order.createdAt)}`),
        order.trackingNumber ? h('p', {}, `Tracking number: ${order.trackingNumber}`) : null,
        order.estimatedDelivery && !order.deliveredAt ? h('p', {}, `Estimated delivery: ${date(order.estimatedDelivery, false)}`) : null,
        order.deliveredAt ? h('p', {}, `Delivered ${date(order.deliveredAt)}`) : null,
        order.receivedAt ? h('p', {}, `You confirmed receipt ${date(order.receivedAt)}`) : null,
        order.cancellationReason ? h('p', {}, `Cancelled: ${order.cancellationReason}`) : null,
        order.returnStatus && order.returnStatus !== 'none'
          ? h('p', { class: 'return-status' }, `${RETURN_LABELS[order.returnStatus] || order.returnStatus}${order.returnDecisionReason ? `: ${order.returnDecisionReason}` : ''}`)
          : null,
        timeline(tracking),
        status !== 'pending' ? invoiceLinks(order._id) : null,
      ),
      actions,
      h(
        'section',
        { class: 'card', 'aria-labelledby': 'items-title' },
        h('h2', { id: 'items-title' }, 'Items'),
        h(
          'ul',
          { class: 'plain' },
          order.items.map((item) => h('li', {}, link(`/product/${itemProductId(item)}`, item.productName), ` × ${item.quantity} — ${money(item.totalPrice)}`)),
        ),
        totals([
          ['Subtotal', money(order.subtotal)],
          order.discount ? [`Discount${order.discountCode ? ` (${order.discountCode})` : ''}`, `− ${money(order.discount)}`] : null,
          ['Tax', money(order.tax)],
          ['Shipping', order.shippingCharges ? money(order.shippingCharges) : 'Free'],
          ['Total', money(order.totalAmount), 'grand'],
        ]),
      ),
      h('section', { class: 'card', 'aria-labelledby': 'payment-title' }, h('h2', { id: 'payment-title' }, 'Payment'), paymentSummary(order.paymentDetails)),
      h('section', { class: 'card', 'aria-labelledby': 'address-title' }, h('h2', { id: 'address-title' }, 'Delivery address'), h('p', {}, addressText(order.shippingAddress || {}))),
      order.notes ? h('section', { class: 'card' }, h('h2', {}, 'Notes'), h('p', {}, order.notes)) : null,
      reviewable.length ? h('section', { 'aria-label': 'Reviews' }, reviewable.map((item) => reviewForm(item, itemProductId(item)))) : null,
    );
  }

  await reload();
  // Live updates: this order changed, or the stream (re)connected and may have missed something.
  return on('live', ({ event, data }) => {
    if (event === 'open' || (event === 'order' && data && (data.orderId === id || data.orderNumber === id))) reload();
  });
}
