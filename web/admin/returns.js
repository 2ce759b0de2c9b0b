// The returns queue: delivered orders with a return requested or approved. Approve, reject with a
// reason, or complete (goods back: stock restored and payment refunded) through
// PATCH /orders/admin/:orderId/return.

import { actionKey, api } from '../lib/api.js';
import { busy, date, errorArea, h, loading, money, mount, showError } from '../lib/dom.js';

async function queue() {
  const out = [];
  for (let page = 1; page <= 20; page += 1) {
    const { orders, pagination } = await api.get('/orders/admin/all', { status: 'delivered', page, limit: 100 });
    out.push(...orders.filter((o) => o.returnStatus === 'requested' || o.returnStatus === 'approved'));
    if (!pagination.hasNext) break;
  }
  return out;
}

function decide(order, action, reload, reasonInput) {
  const error = errorArea();
  const labels = { approve: 'Approve', reject: 'Reject', complete: 'Complete with refund' };
  const button = h('button', { type: 'button', class: action === 'reject' ? 'danger' : 'primary', 'aria-label': `${labels[action]} return of ${order.orderNumber}` }, labels[action]);
  const key = actionKey();
  button.addEventListener('click', () => {
    const body = { action };
    const reason = reasonInput ? reasonInput.value.trim() : '';
    if (reason) body.reason = reason;
    busy(button, error, async () => {
      await api.patch(`/orders/admin/${encodeURIComponent(order._id)}/return`, body, { idempotencyKey: key.for(body) });
      key.done();
      await reload();
    });
  });
  return [button, error];
}

export async function renderReturns(main) {
  const list = h('section', { 'aria-label': 'Returns' }, loading());
  mount(main, h('h1', {}, 'Returns'), list);
  async function reload() {
    const error = errorArea();
    try {
      const orders = await queue();
      mount(
        list,
        orders.length
          ? h(
              'ul',
              { class: 'plain' },
              orders.map((o) => {
                const reason = h('input', { maxlength: 200, 'aria-label': `Reason for ${o.orderNumber}` });
                return h(
                  'li',
                  { class: 'card', 'aria-label': `Return of ${o.orderNumber}` },
                  h('h2', {}, `Order ${o.orderNumber} · return ${o.returnStatus}`),
                  h('p', {}, `Asked ${date(o.returnRequestedAt)}: ${o.returnReason || ''}`),
                  h('p', { class: 'muted' }, `${money(o.totalAmount)} · paid by ${o.paymentDetails.method} (${o.paymentDetails.status})`),
                  h(
                    'div',
                    { class: 'inline-form' },
                    o.returnStatus === 'requested' ? [...decide(o, 'approve', reload), h('label', {}, 'Reason to reject ', reason), ...decide(o, 'reject', reload, reason)] : null,
                    o.returnStatus === 'approved' ? decide(o, 'complete', reload) : null,
                  ),
                );
              }),
            )
          : h('p', {}, 'No returns waiting.'),
      );
    } catch (err) {
      mount(list, error);
      showError(error, err);
    }
  }
  await reload();
}
