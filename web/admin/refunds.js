// Refunds by status (GET /admin/refunds), failed ones first: a failed refund is sent again with
// its own idempotency key kept by the server (POST /admin/refunds/:refundId/retry).

import { actionKey, api } from '../lib/api.js';
import { busy, date, errorArea, field, h, loading, money, mount, pager, showError } from '../lib/dom.js';
import { go, link } from '../lib/router.js';

const STATUSES = [
  ['failed', 'Failed'],
  ['requested', 'Waiting to be sent'],
  ['pending', 'Sent, not yet settled'],
  ['processed', 'Processed'],
];

function retryButton(refund, reload) {
  const error = errorArea();
  const button = h('button', { type: 'button', class: 'primary', 'aria-label': `Retry refund of ${refund.orderNumber}` }, 'Retry');
  const key = actionKey();
  button.addEventListener('click', () =>
    busy(button, error, async () => {
      await api.post(`/admin/refunds/${encodeURIComponent(refund._id)}/retry`, {}, { idempotencyKey: key.for(refund._id) });
      key.done();
      await reload();
    }),
  );
  return [button, error];
}

export async function renderRefunds(main, _params, query) {
  const current = query.status || 'failed';
  const status = h('select', { name: 'status' }, STATUSES.map(([value, text]) => h('option', { value, selected: value === current }, text)));
  status.addEventListener('change', () => go('/refunds', { status: status.value }));
  const list = h('section', { 'aria-label': 'Refunds' }, loading());
  mount(main, h('h1', {}, 'Refunds'), h('div', { class: 'filters' }, field('Show', status)), list);

  async function reload() {
    const error = errorArea();
    try {
      const { refunds, pagination } = await api.get('/admin/refunds', { status: current, page: query.page, limit: 50 });
      if (!refunds.length) {
        const label = STATUSES.find(([v]) => v === current)[1].toLowerCase();
        mount(list, h('p', { class: 'empty' }, `No refunds are ${label} right now.`));
        return;
      }
      mount(
        list,
        h(
          'div',
          { class: 'table-wrap' },
          h(
            'table',
            {},
            h('caption', { class: 'visually-hidden' }, 'Refunds'),
            h('thead', {}, h('tr', {}, ['Order', 'Amount', 'Status', 'Attempts', 'Last error', 'Recorded', ''].map((t) => h('th', { scope: 'col' }, t)))),
            h(
              'tbody',
              {},
              refunds.map((r) =>
                h(
                  'tr',
                  {},
                  h('th', { scope: 'row' }, link(`/orders/${encodeURIComponent(r.orderId)}`, r.orderNumber)),
                  h('td', {}, money(r.amount)),
                  h('td', {}, r.status),
                  h('td', {}, String(r.attempts)),
                  h('td', {}, r.lastError || '—'),
                  h('td', {}, date(r.createdAt)),
                  h('td', {}, r.status === 'failed' ? retryButton(r, reload) : null),
                ),
              ),
            ),
          ),
        ),
        pager(pagination, (p) => go('/refunds', { status: current, page: p })),
      );
    } catch (err) {
      mount(list, error);
      showError(error, err);
    }
  }
  await reload();
}
