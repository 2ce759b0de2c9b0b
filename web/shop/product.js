// One product: images, price, stock state, "Add to Cart", and its reviews with the average rating.

import { api } from '../lib/api.js';
import { date, errorArea, field, h, loading, money, mount, pager, productImage, showError } from '../lib/dom.js';
import { addToCart, label, rating, stockText } from './catalog.js';

function stars(n) {
  return h('span', { class: 'stars', 'aria-label': `${n} out of 5 stars` }, '★'.repeat(n) + '☆'.repeat(5 - n));
}

async function renderReviews(section, productId, page = 1) {
  const error = errorArea();
  try {
    const data = await api.get(`/products/${encodeURIComponent(productId)}/reviews`, { page, limit: 10 });
    mount(
      section,
      h('h2', { id: 'reviews-title' }, 'Reviews'),
      h(
        'p',
        { class: 'rating-summary' },
        data.ratingCount
          ? `Average rating ${Number(data.ratingAverage).toFixed(1)} out of 5 from ${data.ratingCount} review${data.ratingCount === 1 ? '' : 's'}`
          : 'No reviews yet.',
      ),
      h(
        'ul',
        { class: 'reviews' },
        data.reviews.map((r) =>
          h(
            'li',
            { class: 'review' },
            h('p', {}, stars(r.rating), ' ', h('strong', {}, r.title || '')),
            r.comment ? h('p', {}, r.comment) : null,
            h('p', { class: 'muted small' }, `${r.userName} · ${date(r.createdAt, false)}`),
          ),
        ),
      ),
      pager(data.pagination, (p) => renderReviews(section, productId, p)),
    );
  } catch (err) {
    mount(section, h('h2', {}, 'Reviews'), error);
    showError(error, err);
  }
}

export async function renderProduct(main, { id }) {
  mount(main, loading());
  let product;
  try {
    product = await api.get(`/products/${encodeURIComponent(id)}`);
  } catch (err) {
    const error = errorArea();
    mount(main, h('h1', {}, 'Product'), error);
    showError(error, err);
    return;
  }
  document.title = `${product.name} · Cartwright`;
  const left = product.availableStock ?? product.stock;
  const quantity = h('input', { type: 'number', name: 'quantity', min: 1, max: Math.max(1, Math.min(100, left)), value: 1, inputmode: 'numeric' });
  const error = errorArea();
  const add = h('button', { type: 'button', class: 'primary', disabled: left <= 0 }, 'Add to Cart');
  add.addEventListener('click', () => addToCart(add, error, product._id, Number(quantity.value) || 1));
  const images = product.imageUrls?.length ? product.imageUrls : [null];
  const reviews = h('section', { class: 'card', 'aria-labelledby': 'reviews-title' }, loading('Loading reviews…'));
  mount(
    main,
    h(
      'article',
      { class: 'product-page' },
      h('div', { class: 'gallery' }, images.map((u, i) => productImage(u, `${product.name}, picture ${i + 1}`))),
      h(
        'div',
        { class: 'details' },
        h('h1', {}, product.name),
        h('p', { class: 'muted' }, [product.brand, label(product.category)].filter(Boolean).join(' · ')),
        h('p', { class: 'price big' }, money(product.price)),
        h('p', { class: left > 0 ? 'stock' : 'stock out' }, stockText(product)),
        h('p', { class: 'muted' }, rating(product)),
        product.description ? h('p', {}, product.description) : null,
        h('div', { class: 'buy' }, field('Quantity', quantity), add, h('p', { class: 'added', role: 'status' }), error),
      ),
    ),
    reviews,
  );
  await renderReviews(reviews, product._id);
}
