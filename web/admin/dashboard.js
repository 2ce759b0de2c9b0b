// The dashboard: sales, orders to fulfil and top products over a date range (one set of orders:
// paid online or cash on delivery, said on the screen), revenue received, and the status
// breakdown, all computed by the server (GET /orders/admin/stats/daily and GET /orders/admin/stats). Charts are
// SVG elements made through the DOM; every figure is the API's own.

import { api } from '../lib/api.js';
import { busy, errorArea, field, h, loading, money, mount, showError, statusLabel } from '../lib/dom.js';
import { go, link } from '../lib/router.js';

const SVG = 'http://www.w3.org/2000/svg';
function s(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  for (const c of children) el.appendChild(typeof c === 'string' ? document.createTextNode(c) : c);
  return el;
}

const utcDay = (d) => d.toISOString().slice(0, 10);

/** A bar chart of `values` (numbers) under `labels`; `format` renders a value as text. */
function barChart(title, labels, values, format, alt = false) {
  const width = 640;
  const height = 220;
  const pad = { top: 16, right: 8, bottom: 34, left: 8 };
  const max = Math.max(1, ...values);
  const n = Math.max(1, values.length);
  const slot = (width - pad.left - pad.right) / n;
  const barWidth = Math.max(2, slot * 0.7);
  const plot = height - pad.top - pad.bottom;
  const svg = s('svg', { viewBox: `0 0 ${width} ${height}`, class: 'chart', role: 'img', 'aria-label': title });
  svg.appendChild(s('title', {}, title));
  svg.appendChild(s('line', { x1: pad.left, x2: width - pad.right, y1: height - pad.bottom, y2: height - pad.bottom, class: 'axis' }));
  const every = Math.ceil(n / 10);
  values.forEach((value, i) => {
    const barHeight = (value / max) * plot;
    const x = pad.left + i * slot + (slot - barWidth) / 2;
    const y = height - pad.bottom - barHeight;
    const bar = s('rect', { x, y, width: barWidth, height: Math.max(0, barHeight), class: alt ? 'bar alt' : 'bar' });
    bar.appendChild(s('title', {}, `${labels[i]}: ${format(value)}`));
    svg.appendChild(bar);
    if (value > 0 && n <= 16) svg.appendChild(s('text', { x: x + barWidth / 2, y: y - 3, 'text-anchor': 'middle' }, format(value)));
    if (i % every === 0) svg.appendChild(s('text', { x: x + barWidth / 2, y: height - pad.bottom + 14, 'text-anchor': 'middle' }, labels[i].slice(5)));
  });
  return h('figure', { class: 'card' }, h('figcaption', {}, h('h2', {}, title)), svg);
}

function breakdownChart(rows) {
  const width = 640;
  const rowHeight = 26;
  const height = Math.max(1, rows.length) * rowHeight + 8;
  const max = Math.max(1, ...rows.map((r) => r.count));
  const svg = s('svg', { viewBox: `0 0 ${width} ${height}`, class: 'chart', role: 'img', 'aria-label': 'Orders by status' });
  rows.forEach((r, i) => {
    const y = 4 + i * rowHeight;
    svg.appendChild(s('text', { x: 0, y: y + 15 }, statusLabel(r._id)));
    svg.appendChild(s('rect', { x: 130, y, width: Math.max(2, (r.count / max) * 330), height: rowHeight - 8, class: 'bar' }));
    svg.appendChild(s('text', { x: 470, y: y + 15 }, `${r.count} · ${money(r.totalAmount)}`));
  });
  return svg;
}

export async function renderDashboard(main, _params, query) {
  const today = new Date();
  const from = query.from || utcDay(new Date(today.getTime() - 13 * 86400000));
  const to = query.to || utcDay(today);
  const fromInput = h('input', { type: 'date', name: 'from', value: from, required: true });
  const toInput = h('input', { type: 'date', name: 'to', value: to, required: true });
  const error = errorArea();
  const show = h('button', { type: 'submit', class: 'primary' }, 'Show');
  const form = h('form', { class: 'inline-form card', 'aria-label': 'Date range' }, field('From (UTC)', fromInput), field('To (UTC)', toInput), show, error);
  const todayButton = h('button', { type: 'button', onclick: () => go('/', { from: utcDay(new Date()), to: utcDay(new Date()) }) }, 'Today');
  form.appendChild(todayButton);
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    go('/', { from: fromInput.value, to: toInput.value });
  });
  const body = h('div', { 'aria-live': 'polite' }, loading('Loading figures…'));
  mount(main, h('h1', {}, 'Dashboard'), form, body);

  // A reversed range is said as such, next to the dates, instead of blanking every figure.
  if (from > to) {
    fromInput.setAttribute('aria-invalid', 'true');
    mount(body, h('p', { class: 'error', role: 'alert' }, `The start date (${from}) is after the end date (${to}): choose a start on or before the end.`));
    return;
  }

  await busy(show, error, async () => {
    const [daily, stats] = await Promise.all([
      api.get('/orders/admin/stats/daily', { from, to }).catch((err) => (err.code === 'not_found' ? null : Promise.reject(err))),
      api.get('/orders/admin/stats', { startDate: from, endDate: to }),
    ]);
    const o = stats.overview;
    const sales = daily ? daily.totals.saleAmount : o.saleAmount;
    const orders = daily ? daily.totals.saleOrders : o.saleOrders;
    const breakdown = (daily ? daily.statusBreakdown : stats.statusBreakdown) || [];
    const toFulfil = (status) => breakdown.find((r) => r._id === status)?.count || 0;
    mount(
      body,
      h(
        'p',
        { class: 'muted', id: 'figures-note' },
        'Sales, orders, average order, orders to fulfil and top products count the orders paid online or taken as cash on delivery; orders still waiting for their payment and cancelled orders are left out. Revenue received is the money taken so far: online payments and delivered cash orders, less refunds.',
      ),
      h(
        'dl',
        { class: 'kpis card', 'aria-label': 'Totals for the range', 'aria-describedby': 'figures-note' },
        h('div', { class: 'kpi' }, h('dt', {}, 'Sales'), h('dd', { 'data-kpi': 'sales', 'data-value': sales }, money(sales))),
        h('div', { class: 'kpi' }, h('dt', {}, 'Orders'), h('dd', { 'data-kpi': 'orders' }, String(orders))),
        h('div', { class: 'kpi' }, h('dt', {}, 'Average order'), h('dd', { 'data-kpi': 'average' }, money(o.averageSale))),
        h('div', { class: 'kpi' }, h('dt', {}, 'Revenue received'), h('dd', { 'data-kpi': 'revenue', 'data-value': o.totalRevenue }, money(o.totalRevenue))),
      ),
      h(
        'section',
        { class: 'card', 'aria-labelledby': 'fulfil-title' },
        h('h2', { id: 'fulfil-title' }, 'Orders to fulfil'),
        o.ordersToFulfil
          ? h(
              'p',
              { 'data-kpi': 'to-fulfil', 'data-value': o.ordersToFulfil },
              `${o.ordersToFulfil} to send: `,
              link(`/orders?status=confirmed`, `${toFulfil('confirmed')} confirmed`),
              ', ',
              link(`/orders?status=processing`, `${toFulfil('processing')} processing`),
              '.',
            )
          : h('p', { class: 'empty', 'data-kpi': 'to-fulfil', 'data-value': 0 }, 'Nothing to send: every order of the range is shipped, delivered or not yet paid.'),
      ),
      h(
        'section',
        { class: 'card', 'aria-labelledby': 'top-title' },
        h('h2', { id: 'top-title' }, 'Top products'),
        stats.topProducts && stats.topProducts.length
          ? h(
              'div',
              { class: 'table-wrap' },
              h(
                'table',
                {},
                h('thead', {}, h('tr', {}, ['Product', 'Units', 'Sales'].map((t) => h('th', { scope: 'col' }, t)))),
                h('tbody', {}, stats.topProducts.map((p) => h('tr', {}, h('th', { scope: 'row' }, p.name), h('td', {}, String(p.units)), h('td', {}, money(p.amount))))),
              ),
            )
          : h('p', { class: 'empty' }, 'No sales in this range yet, so no top products.'),
      ),
      daily
        ? [
            barChart('Orders per day', daily.days.map((d) => d.date), daily.days.map((d) => d.saleOrders), (v) => String(v)),
            barChart('Revenue per day', daily.days.map((d) => d.date), daily.days.map((d) => d.revenue), (v) => money(v), true),
          ]
        : h('p', { class: 'notice' }, 'This server does not offer the daily series yet (GET /orders/admin/stats/daily).'),
      h(
        'section',
        { class: 'card', 'aria-labelledby': 'breakdown-title' },
        h('h2', { id: 'breakdown-title' }, 'All orders placed, by status'),
        breakdown.length ? breakdownChart(breakdown) : h('p', { class: 'empty' }, 'No orders were placed in this range.'),
      ),
    );
  });
  if (!error.hidden) mount(body);
}
