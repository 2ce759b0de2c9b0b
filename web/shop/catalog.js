// The catalog: search, category/brand/price filters, sort and pages, all as GET /products queries
// kept in the URL so a reload or the back button shows the same list.

import { api, notify, session } from '../lib/api.js';
import { announce, busy, errorArea, field, h, loading, money, mount, pager, productImage, showError } from '../lib/dom.js';
import { go, link } from '../lib/router.js';
import { addGuest, guestCount } from './guest-cart.js';

const SORTS = [
  ['createdAt:desc', 'Newest'],
  ['price:asc', 'Price: low to high'],
  ['price:desc', 'Price: high to low'],
  ['name:asc', 'Name: A to Z'],
  ['rating:desc', 'Best rated'],
];

export const label = (code) => (code ? code.charAt(0).toUpperCase() + code.slice(1).replace(/_/g, ' ') : '');

let facets = null;
async function loadFacets() {
  if (facets) return facets;
  const data = await api.get('/products', { limit: 100 });
  facets = {
    categories: [...new Set(data.products.map((p) => p.category).filter(Boolean))].sort(),
    brands: [...new Set(data.products.map((p) => p.brand).filter(Boolean))].sort(),
  };
  return facets;
}

export function stockText(product) {
  const left = product.availableStock ?? product.stock;
  if (left <= 0) return 'Out of stock';
  if (left <= 5) return `Only ${left} left`;
  return 'In stock';
}

export function rating(product) {
  if (!product.ratingCount) return 'No reviews yet';
  // Stars are drawn by CSS elsewhere; the words are what everyone reads.
  return `${Number(product.ratingAverage).toFixed(1)} out of 5 (${product.ratingCount} review${product.ratingCount === 1 ? '' : 's'})`;
}

/**
 * "Add to Cart": POST /cart/items, then the badge shows the cart's new item count; logged out, the
 * line is kept in this browser until log-in. The status next to the button says what happened
 * (and only the latest outcome: an error clears "Added", an addition clears the error), the live
 * region announces it, and the focus stays on the button.
 */
export async function addToCart(button, errorEl, product, quantity = 1) {
  const status = button.parentElement.querySelector('.added');
  if (status) status.textContent = '';
  let added = false;
  await busy(button, errorEl, async () => {
    if (session.user) {
      const cart = await api.post('/cart/items', { productId: product._id, quantity });
      notify('cart', cart.totalItems);
    } else {
      addGuest(product, quantity);
      notify('cart', guestCount());
    }
    added = true;
  });
  if (!button.isConnected) return;
  button.focus();
  if (added) {
    const text = `Added ${quantity} × ${product.name} to your cart.`;
    if (status) status.textContent = session.user ? 'Added to cart' : 'Added to cart (kept in this browser until you log in)';
    announce(text);
  }
}

function card(product) {
  const error = errorArea();
  const available = (product.availableStock ?? product.stock) > 0;
  // The accessible name starts with the words on the button, so "click Add to Cart" works by voice.
  const add = h(
    'button',
    { type: 'button', class: 'primary', disabled: !available, 'aria-label': `Add to Cart: ${product.name}` },
    'Add to Cart',
  );
  add.addEventListener('click', () => addToCart(add, error, product));
  return h(
    'li',
    { class: 'card product' },
    h('a', { href: `#/product/${product._id}`, tabindex: -1, 'aria-hidden': 'true', class: 'picture' }, productImage(product.imageUrls?.[0], '')),
    h('h2', {}, link(`/product/${product._id}`, product.name)),
    h('p', { class: 'muted' }, [product.brand, label(product.category)].filter(Boolean).join(' · ')),
    h('p', { class: 'price' }, money(product.price)),
    h('p', { class: available ? 'stock' : 'stock out' }, stockText(product)),
    h('p', { class: 'muted small' }, rating(product)),
    add,
    h('p', { class: 'added', role: 'status' }),
    error,
  );
}

export async function renderCatalog(main, _params, query) {
  const [sortBy, sortOrder] = (query.sort || 'createdAt:desc').split(':');
  const search = h('input', { name: 'search', type: 'search', value: query.search || '', placeholder: 'Shampoo, SalonPro…' });
  const category = h('select', { name: 'category' }, h('option', { value: '' }, 'All categories'));
  const brand = h('select', { name: 'brand' }, h('option', { value: '' }, 'All brands'));
  const minPrice = h('input', { name: 'minPrice', type: 'number', min: 0, step: '0.01', inputmode: 'decimal', value: query.minPrice || '' });
  const maxPrice = h('input', { name: 'maxPrice', type: 'number', min: 0, step: '0.01', inputmode: 'decimal', value: query.maxPrice || '' });
  const sort = h('select', { name: 'sort' }, SORTS.map(([v, t]) => h('option', { value: v, selected: v === `${sortBy}:${sortOrder}` }, t)));
  const form = h(
    'form',
    { class: 'filters', role: 'search', 'aria-label': 'Search and filter products' },
    field('Search', search),
    field('Category', category),
    field('Brand', brand),
    field('Min price', minPrice),
    field('Max price', maxPrice),
    field('Sort by', sort),
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, 'Apply'), link('/', 'Clear', { class: 'button' })),
  );
  const apply = (page) =>
    go('/', {
      search: search.value.trim(),
      category: category.value,
      brand: brand.value,
      minPrice: minPrice.value,
      maxPrice: maxPrice.value,
      sort: sort.value === 'createdAt:desc' ? '' : sort.value,
      page: page > 1 ? page : '',
    });
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    apply(1);
  });
  // The lists apply with the Apply button (or Enter), never while a choice is being moved through
  // with the arrow keys (WCAG 3.2.2).

  const results = h('section', { class: 'results', 'aria-labelledby': 'results-title', 'aria-busy': 'true' }, loading('Loading products…'));
  mount(main, h('h1', { class: 'visually-hidden' }, 'Shop'), form, results);

  const error = errorArea();
  try {
    const data = await api.get('/products', {
      search: query.search,
      category: query.category,
      brand: query.brand,
      minPrice: query.minPrice,
      maxPrice: query.maxPrice,
      sortBy,
      sortOrder,
      page: query.page,
      limit: 12,
    });
    const { products, pagination } = data;
    mount(
      results,
      h('h2', { id: 'results-title', class: 'small' }, `${pagination.totalItems} product${pagination.totalItems === 1 ? '' : 's'}`),
      products.length
        ? h('ul', { class: 'grid', 'aria-label': 'Products' }, products.map(card))
        : h('p', {}, 'No products match. Try another search or clear the filters.'),
      pager(pagination, apply),
    );
  } catch (err) {
    mount(results, error);
    showError(error, err);
  }
  results.removeAttribute('aria-busy');
  // The category and brand lists come after the products, so they never delay the grid.
  loadFacets()
    .then((f) => {
      for (const c of f.categories) category.appendChild(h('option', { value: c, selected: c === query.category }, label(c)));
      for (const b of f.brands) brand.appendChild(h('option', { value: b, selected: b === query.brand }, b));
    })
    .catch(() => {});
}
