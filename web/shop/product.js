// One product: images, price, stock state, "Add to Cart", and its reviews with the average rating.

import { api } from '../lib/api.js';
import { date, errorArea, field, h, loading, money, mount, pager, productImage, showError } from '../lib/dom.js';
import { addToCart, label, rating, stockText } from './catalog.js';
import { MAX_LINE_QUANTITY } from './guest-cart.js';

/** A rating in words; the stars beside it are decoration that screen readers skip. */
function stars(n) {
  return h(
    'span',
    { class: 'stars' },
    h('span', { 'aria-hidden': 'true' }, '★'.repeat(n) + '☆'.repeat(5 - n)),
    h('span', { class: 'rating-words' }, ` ${n} out of 5`),
  );
}

/** The large picture and, with more than one, thumbnails that choose it. */
function gallery(product) {
  const urls = (product.imageUrls || []).filter((u) => typeof u === 'string' && u.trim());
  if (!urls.length) return h('div', { class: 'gallery' }, productImage(null, `${product.name}: no picture yet`, { large: true }));
  const big = h('figure', { class: 'gallery-main' }, productImage(urls[0], `${product.name}, picture 1`, { large: true }));
  if (urls.length === 1) return h('div', { class: 'gallery' }, big);
  const thumbs = urls.map((u, i) => {
    const button = h(
      'button',
      { type: 'button', class: 'thumb', 'aria-label': `Show picture ${i + 1}`, 'aria-pressed': String(i === 0) },
      productImage(u, ''),
    );
    button.addEventListener('click', () => {
      mount(big, productImage(u, `${product.name}, picture ${i + 1}`, { large: true }));
      for (const t of thumbs) t.setAttribute('aria-pressed', String(t === button));
    });
    return button;
  });
  return h('div', { class: 'gallery' }, big, h('div', { class: 'thumbs', role: 'group', 'aria-label': 'Pictures' }, thumbs));
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
  const most = Math.max(1, Math.min(MAX_LINE_QUANTITY, left));
  const quantity = h('input', { type: 'number', name: 'quantity', min: 1, max: most, step: 1, value: 1, inputmode: 'numeric', required: true });
  const error = errorArea();
  const add = h('button', { type: 'button', class: 'primary', disabled: left <= 0 }, 'Add to Cart');
  add.addEventListener('click', () => {
    // Whole numbers from 1 to what is left, said next to the field; never silently another number.
    const raw = quantity.value.trim();
    const n = Number(raw);
    let problem = null;
    if (!raw || !Number.isInteger(n) || n < 1) problem = 'Enter a whole number of 1 or more.';
    else if (n > most) problem = left <= MAX_LINE_QUANTITY ? `Only ${left} left: enter ${left} or fewer.` : `At most ${MAX_LINE_QUANTITY} at a time.`;
    if (problem) {
      error.hidden = false;
      error.textContent = problem;
      quantity.setAttribute('aria-invalid', 'true');
      quantity.setAttribute('aria-describedby', error.id);
      add.parentElement.querySelector('.added').textContent = '';
      quantity.focus();
      return;
    }
    quantity.removeAttribute('aria-invalid');
    addToCart(add, error, product, n);
  });
  error.id = 'quantity-error';
  const reviews = h('section', { class: 'card', 'aria-labelledby': 'reviews-title' }, loading('Loading reviews…'));
  mount(
    main,
    h(
      'article',
      { class: 'product-page' },
      gallery(product),
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
