// One order: confirmation after checkout, the payment step, the status timeline from tracking,
// cancel / mark as received / return, and a review form after delivery. The page re-reads the
// order and its tracking whenever the live stream says this order changed (or reconnects).

import { api, newIdempotencyKey, on } from '../lib/api.js';
import { busy, date, errorArea, field, h, loading, money, mount, showError, statusBadge, statusLabel } from '../lib/dom.js';
import { link } from '../lib/router.js';
import { invoiceLinks } from '../lib/invoices.js';
import { addressText } from './addresses.js';
import { totals } from './cart.js';

const gateway = document.querySelector('meta[name="cartwright-gateway"]')?.content || 'simulated';

function timeline(tracking) {
  return h(
    'ol',
    { class: 'timeline', 'aria-label': 'Status history' },
    tracking.statusHistory.map((entry) =>
      h('li', {}, h('strong', {}, statusLabel(entry.status)), ' ', h('time', { datetime: entry.timestamp }, date(entry.timestamp)), entry.description ? h('p', { class: 'muted' }, entry.description) : null),
    ),
  );
}

function paymentSummary(p) {
  const rows = [
    ['Method', p.method === 'cod' ? 'Cash on delivery' : p.method],
    ['Payment', p.status],
    p.paidAt ? ['Paid', date(p.paidAt)] : null,
    p.refundedAmount ? ['Refunded', money(p.refundedAmount)] : null,
  ];
  return totals(rows);
}

/** Razorpay Checkout runs in a sandboxed frame with an opaque origin (the frame's own CSP sandboxes
 * it too), so its script can neither read this origin's storage nor send requests with the
 * session cookie; only the payment result comes back. */
function razorpayCheckout(order, created) {
  return new Promise((resolve, reject) => {
    const frame = h('iframe', {
      src: '/pay-frame',
      title: 'Razorpay Checkout',
      class: 'pay-frame',
      sandbox: 'allow-scripts allow-forms allow-popups allow-popups-to-escape-sandbox allow-modals',
    });
    const done = (fn, value) => {
      window.removeEventListener('message', onMessage);
      frame.remove();
      fn(value);
    };
    function onMessage(event) {
      if (event.source !== frame.contentWindow || !event.data) return;
      const message = event.data;
      if (message.type === 'ready') {
        frame.contentWindow.postMessage(
          {
            type: 'open',
            options: {
              key: created?.paymentKey,
              order_id: created?.razorpayOrder?.id || order.paymentDetails.razorpayOrderId,
              amount: created?.razorpayOrder?.amount,
              currency: created?.razorpayOrder?.currency || order.paymentDetails.currency,
              name: 'Cartwright',
              description: `Order ${order.orderNumber}`,
            },
          },
          '*',
        );
      } else if (message.type === 'paid') done(resolve, message.response);
      else if (message.type === 'dismissed') done(reject, new Error('Payment window closed; you can pay again below.'));
      else if (message.type === 'failed') done(reject, new Error(message.reason || 'The payment failed; you can try again.'));
    }
    window.addEventListener('message', onMessage);
    document.body.appendChild(frame);
  });
}

function paymentStep(order, reload) {
  const error = errorArea();
  let key = null;
  if (gateway === 'razorpay') {
    const pay = h('button', { type: 'button', class: 'primary wide' }, `Pay ${money(order.totalAmount)} with Razorpay`);
    pay.addEventListener('click', () =>
      busy(pay, error, async () => {
        let created = null;
        try {
          created = JSON.parse(sessionStorage.getItem(`cartwright.created.${order._id}`) || 'null');
        } catch {
          created = null;
        }
        const response = await razorpayCheckout(order, created);
        if (!key) key = newIdempotencyKey();
        await api.post('/orders/verify-payment', {
          razorpay_order_id: response.razorpay_order_id,
          razorpay_payment_id: response.razorpay_payment_id,
          razorpay_signature: response.razorpay_signature,
        }, { idempotencyKey: key });
        await reload();
      }),
    );
    return h('section', { class: 'card pay', 'aria-labelledby': 'pay-title' }, h('h2', { id: 'pay-title' }, 'Pay for this order'), pay, error);
  }
  const pay = h('button', { type: 'button', class: 'primary wide' }, `Pay ${money(order.totalAmount)} (test payment)`);
  pay.addEventListener('click', () => {
    if (!key) key = newIdempotencyKey();
    busy(pay, error, async () => {
      await api.post('/payments', { orderId: order._id, paymentMethod: order.paymentDetails.method }, { idempotencyKey: key });
      await reload();
    });
  });
  return h(
    'section',
    { class: 'card pay test-payment', 'aria-labelledby': 'pay-title' },
    h('h2', { id: 'pay-title' }, 'Test payment (no money is taken)'),
    h('p', {}, 'This shop runs the simulated payment gateway: the button below confirms the payment at once and charges nothing.'),
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
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    busy(submit, error, async () => {
      await api.patch(`/orders/${encodeURIComponent(order._id)}/cancel`, reason.value.trim() ? { reason: reason.value.trim() } : {}, { idempotencyKey: newIdempotencyKey() });
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

function reviewForm(item) {
  const productId = typeof item.productId === 'string' ? item.productId : item.productId._id;
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
      mount(done, 'Thank you! Your review is on the ', link(`/product/${productId}`, 'product page'), '.');
      submit.hidden = true;
    });
  });
  return form;
}

export async function renderOrder(main, { id }, query) {
  mount(main, loading('Loading your order…'));
  const placed = Boolean(query.placed);

  async function reload() {
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
    draw(order, tracking);
  }

  function draw(order, tracking) {
    const status = order.status;
    const online = order.paymentDetails.method !== 'cod';
    const actions = [];
    if (status === 'pending' && online) actions.push(paymentStep(order, reload));
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

    const heading = placed ? 'Order confirmation' : `Order ${order.orderNumber}`;
    mount(
      main,
      h('h1', {}, heading),
      placed ? h('p', { class: 'notice', role: 'status' }, `Thank you! Your order ${order.orderNumber} has been placed.`) : null,
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
          ? h('p', { class: 'return-status' }, `Return: ${order.returnStatus}${order.returnDecisionReason ? ` (${order.returnDecisionReason})` : ''}`)
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
          order.items.map((item) => {
            const productId = typeof item.productId === 'string' ? item.productId : item.productId._id;
            return h('li', {}, link(`/product/${productId}`, item.productName), ` × ${item.quantity} — ${money(item.totalPrice)}`);
          }),
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
      status === 'delivered' ? h('section', { 'aria-label': 'Reviews' }, order.items.map(reviewForm)) : null,
    );
  }

  await reload();
  // Live updates: this order changed, or the stream (re)connected and may have missed something.
  return on('live', ({ event, data }) => {
    if (event === 'open' || (event === 'order' && data && (data.orderId === id || data.orderNumber === id))) reload();
  });
}
