// An order's GST invoices and credit notes (CONTRACT §10) as links to their PDFs, fetched when
// the disclosure is first opened, so lists of orders cost nothing until someone asks.
import { api } from './api.js';
import { h, mount } from './dom.js';

const KIND_LABELS = { invoice: 'Tax invoice', credit_note: 'Credit note' };

export function invoiceLinks(orderId) {
  const list = h('ul', { class: 'plain' });
  const details = h('details', { class: 'invoices' }, h('summary', {}, 'Invoices'), list);
  let loaded = false;
  details.addEventListener('toggle', async () => {
    if (!details.open || loaded) return;
    loaded = true;
    try {
      const documents = await api.get(`/orders/${encodeURIComponent(orderId)}/invoices`);
      mount(
        list,
        documents.length
          ? documents.map((d) => h('li', {}, h('a', { href: d.pdfUrl, target: '_blank', rel: 'noopener' }, `${KIND_LABELS[d.kind] || d.kind} ${d.number} (PDF)`)))
          : h('li', { class: 'muted' }, 'No invoice for this order.'),
      );
    } catch (err) {
      loaded = false;
      mount(list, h('li', { class: 'muted' }, err.code === 'not_found' ? 'No invoice for this order.' : err.message));
    }
  });
  return details;
}
