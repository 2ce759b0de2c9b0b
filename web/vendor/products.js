// The vendor's own products with price and stock editing (PATCH /products/:id).

import { api, session } from '../lib/api.js';
import { busy, errorArea, h, loading, money, mount, showError } from '../lib/dom.js';

async function myProducts() {
  const me = session.user;
  const mine = [];
  for (let page = 1; page <= 50; page += 1) {
    const { products, pagination } = await api.get('/products', { page, limit: 100, sortBy: 'name', sortOrder: 'asc' });
    mine.push(...products.filter((p) => p.vendorId === me._id));
    if (!pagination.hasNext) break;
  }
  return mine;
}

function row(product) {
  const price = h('input', { type: 'number', min: 0, step: '0.01', value: product.price, 'aria-label': `Price of ${product.name}` });
  const stock = h('input', { type: 'number', min: 0, step: 1, value: product.stock, 'aria-label': `Stock of ${product.name}` });
  const error = errorArea();
  const saved = h('span', { role: 'status' });
  const save = h('button', { type: 'button', 'aria-label': `Save ${product.name}` }, 'Save');
  save.addEventListener('click', () =>
    busy(save, error, async () => {
      saved.textContent = '';
      const updated = await api.patch(`/products/${encodeURIComponent(product._id)}`, { price: Number(price.value), stock: Number(stock.value) });
      price.value = updated.price;
      stock.value = updated.stock;
      saved.textContent = `Saved: ${money(updated.price)}, ${updated.stock} in stock`;
    }),
  );
  return h('tr', {}, h('th', { scope: 'row' }, product.name), h('td', {}, price), h('td', {}, stock), h('td', {}, String(product.availableStock)), h('td', {}, save, ' ', saved, error));
}

export async function renderVendorProducts(main) {
  mount(main, h('h1', {}, 'My products'), loading());
  const error = errorArea();
  try {
    const products = await myProducts();
    mount(
      main,
      h('h1', {}, 'My products'),
      products.length
        ? h(
            'div',
            { class: 'table-wrap' },
            h(
              'table',
              {},
              h('caption', { class: 'visually-hidden' }, 'Your products'),
              h('thead', {}, h('tr', {}, ['Product', 'Price', 'Stock', 'Available', ''].map((t) => h('th', { scope: 'col' }, t)))),
              h('tbody', {}, products.map(row)),
            ),
          )
        : h('p', {}, 'You have no active products.'),
    );
  } catch (err) {
    mount(main, h('h1', {}, 'My products'), error);
    showError(error, err);
  }
}
