// The catalog: search, category/brand/price filters, sort and pages, all as GET /products queries
// kept in the URL so a reload or the back button shows the same list.

import { api, notify, session } from '../lib/api.js';
import { busy, errorArea, field, h, loading, money, mount, pager, productImage, showError } from '../lib/dom.js';
import { go, link } from '../lib/router.js';

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
  return `${Number(product.ratingAverage).toFixed(1)} out of 5 (${product.ratingCount} review${product.ratingCount === 1 ? '' : 's'})`;
}

/** "Add to Cart": POST /cart/items, then the badge shows the cart's new item count. */
export async function addToCart(button, errorEl, productId, quantity = 1) {
  if (!session.user) {
    go('/login', { next: location.hash.replace(/^#/, '') || '/' });
    return;
  }
  await busy(button, errorEl, async () => {
    const cart = await api.post('/cart/items', { productId, quantity });
    notify('cart', cart.totalItems);
    button.dataset.added = 'true';
  });
  if (button.dataset.added && button.isConnected) {
    const status = button.parentElement.querySelector('.added');
    if (status) status.textContent = 'Added to cart';
  }
}

function card(product) {
  const error = errorArea();
  const available = (product.availableStock ?? product.stock) > 0;
  const add = h(
    'button',
    { type: 'button', class: 'primary', disabled: !available, 'aria-label': `Add ${product.name} to cart` },
    'Add to Cart',
  );
  add.addEventListener('click', () => addToCart(add, error, product._id));
  return h(
    'li',
    { class: 'card product' },
    h('a', { href: `#/product/${product._id}`, tabindex: -1, 'aria-hidden': 'true' }, productImage(product.imageUrls?.[0], '')),
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
  sort.addEventListener('change', () => apply(1));
  category.addEventListener('change', () => apply(1));
  brand.addEventListener('change', () => apply(1));

  const results = h('section', { 'aria-labelledby': 'results-title', 'aria-busy': 'true' }, loading('Loading products…'));
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
