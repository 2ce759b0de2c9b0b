// Paying for an order: Razorpay Checkout in a sandboxed frame, or the simulated gateway's test
// payment. The checkout opens it at once after "Place order"; the order page offers it again for an
// order left unpaid.

import { api, newIdempotencyKey } from '../lib/api.js';
import { h } from '../lib/dom.js';

export const gateway = document.querySelector('meta[name="cartwright-gateway"]')?.content || 'simulated';

const createdKey = (id) => `cartwright.created.${id}`;

/** Keeps the gateway order of a just-placed order (Razorpay needs it to open Checkout). */
export function rememberCreated(created) {
  sessionStorage.setItem(createdKey(created.order._id), JSON.stringify({ razorpayOrder: created.razorpayOrder, paymentKey: created.paymentKey }));
}

function recalled(id) {
  try {
    return JSON.parse(sessionStorage.getItem(createdKey(id)) || 'null');
  } catch {
    return null;
  }
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

/**
 * Pays `order` (an online method, unpaid): opens Razorpay Checkout and verifies its answer, or
 * confirms the simulated test payment. `key` holds the attempt's Idempotency-Key so a retry after a
 * network failure cannot pay twice. Resolves when the server says the order is paid.
 */
export async function payOrder(order, key) {
  if (!key.value) key.value = newIdempotencyKey();
  if (gateway === 'razorpay') {
    const response = await razorpayCheckout(order, recalled(order._id));
    await api.post(
      '/orders/verify-payment',
      {
        razorpay_order_id: response.razorpay_order_id,
        razorpay_payment_id: response.razorpay_payment_id,
        razorpay_signature: response.razorpay_signature,
      },
      { idempotencyKey: key.value },
    );
  } else {
    await api.post('/payments', { orderId: order._id, paymentMethod: order.paymentDetails.method }, { idempotencyKey: key.value });
  }
  sessionStorage.removeItem(createdKey(order._id));
}

/** The pay button's words. */
export function payLabel(order, money) {
  return gateway === 'razorpay' ? `Pay ${money(order.totalAmount)} with Razorpay` : `Pay ${money(order.totalAmount)} (test payment)`;
}

export const TEST_PAYMENT_TITLE = 'Test payment (no money is taken)';
export const TEST_PAYMENT_TEXT = 'This shop runs the simulated payment gateway: the button below confirms the payment at once and charges nothing.';
