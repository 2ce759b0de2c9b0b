// Products in the consoles (CONTRACT §8): the vendor desk manages its own, the admin console
// everyone's. A list of products active or not (GET /products/manage), and one form to create or
// edit every field, with pictures uploaded from the computer (POST /uploads/images).

import { api } from './api.js';
import { busy, confirmAction, errorArea, field, h, loading, money, mount, productImage, requiredNumber, showError } from './dom.js';
import { go, link } from './router.js';

const STATUS_CHOICES = [
  ['all', 'All products'],
  ['active', 'Active'],
  ['inactive', 'Inactive'],
];

/** The list: `admin` also shows each product's vendor. */
export async function renderProductList(main, query, { admin }) {
  const title = admin ? 'Products' : 'My products';
  const status = h('select', { name: 'status' }, STATUS_CHOICES.map(([value, text]) => h('option', { value, selected: (query.status || 'all') === value }, text)));
  const search = h('input', { name: 'search', type: 'search', value: query.search || '', maxlength: 200 });
  const filters = h(
    'form',
    { class: 'card filters', 'aria-label': 'Filter products' },
    field('Show', status),
    field('Search name or brand', search),
    h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Filter')),
  );
  filters.addEventListener('submit', (e) => {
    e.preventDefault();
    go('/products', { status: status.value === 'all' ? '' : status.value, search: search.value.trim() });
  });
  const list = h('section', { 'aria-label': 'Product list' }, loading());
  mount(main, h('h1', {}, title), h('p', {}, link('/products/new', 'Add a product', { class: 'button primary' })), filters, list);

  const error = errorArea();
  try {
    const page = Math.max(1, Number(query.page) || 1);
    const { products, pagination } = await api.get('/products/manage', {
      status: query.status,
      search: query.search,
      page,
      limit: 50,
      sortBy: 'name',
      sortOrder: 'asc',
    });
    if (!products.length) {
      mount(
        list,
        h('p', { class: 'empty' }, query.status || query.search ? 'No product matches these filters.' : 'No products yet. Add your first product to start selling.'),
      );
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
          h('caption', { class: 'visually-hidden' }, title),
          h('thead', {}, h('tr', {}, ['Picture', 'Product', 'Price', 'Stock', 'Available', 'Status', ''].map((t) => h('th', { scope: 'col' }, t)))),
          h('tbody', {}, products.map((p) => row(p, () => renderProductList(main, query, { admin })))),
        ),
      ),
      pagination.totalPages > 1 ? h('p', {}, `Page ${pagination.currentPage} of ${pagination.totalPages}`) : null,
      pagination.hasNext ? h('p', {}, link(`/products?page=${page + 1}${query.status ? `&status=${query.status}` : ''}`, 'Next page')) : null,
    );
  } catch (err) {
    mount(list, error);
    showError(error, err);
  }
}

function row(product, reload) {
  const error = errorArea();
  const toggle = h('button', { type: 'button', 'aria-label': `${product.isActive ? 'Deactivate' : 'Activate'} ${product.name}` }, product.isActive ? 'Deactivate' : 'Activate');
  toggle.addEventListener('click', async () => {
    if (product.isActive) {
      const ok = await confirmAction(`Deactivate ${product.name}? Shoppers will no longer see it; orders keep their copy.`, 'Deactivate');
      if (!ok) return;
    }
    await busy(toggle, error, async () => {
      await api.patch(`/products/${encodeURIComponent(product._id)}`, { isActive: !product.isActive });
      await reload();
    });
  });
  const picture = product.imageUrls && product.imageUrls[0] ? thumbnail(product.imageUrls[0], product.name) : h('span', { class: 'muted' }, 'None');
  // Price and stock change in place; an emptied box is an error, never zero.
  const price = h('input', { type: 'number', min: 0, step: '0.01', value: product.price, 'aria-label': `Price of ${product.name}` });
  const stock = h('input', { type: 'number', min: 0, step: 1, value: product.stock, 'aria-label': `Stock of ${product.name}` });
  const saved = h('span', { role: 'status' });
  const save = h('button', { type: 'button', 'aria-label': `Save ${product.name}` }, 'Save');
  save.addEventListener('click', () =>
    busy(save, error, async () => {
      saved.textContent = '';
      const body = { price: requiredNumber(price, `Price of ${product.name}`), stock: requiredNumber(stock, `Stock of ${product.name}`) };
      const updated = await api.patch(`/products/${encodeURIComponent(product._id)}`, body);
      price.value = updated.price;
      stock.value = updated.stock;
      saved.textContent = `Saved: ${money(updated.price)}, ${updated.stock} in stock`;
    }),
  );
  return h(
    'tr',
    {},
    h('td', {}, picture),
    h('th', { scope: 'row' }, link(`/products/${encodeURIComponent(product._id)}`, product.name, { 'aria-label': `Edit ${product.name}` })),
    h('td', {}, price),
    h('td', {}, stock),
    h('td', {}, String(product.availableStock)),
    h('td', {}, product.isActive ? 'Active' : 'Inactive'),
    h('td', {}, save, ' ', toggle, ' ', saved, error),
  );
}

/** The small size of an uploaded picture when there is one; other same-origin pictures as they are. */
function thumbnail(url, alt) {
  const small = /^\/uploads\/[0-9a-f]{32}-large\.(jpg|png)$/.test(url) ? url.replace('-large.', '-thumb.') : url;
  const img = productImage(small, alt);
  img.setAttribute('width', '48');
  img.setAttribute('height', '48');
  img.classList.add('thumb');
  return img;
}

/** The form: `params.id` edits that product, none creates one. */
export async function renderProductEditor(main, params, { admin }) {
  const editing = params.id && params.id !== 'new';
  const heading = editing ? 'Edit product' : 'Add a product';
  mount(main, h('h1', {}, heading), loading());
  let product = null;
  let vendors = [];
  try {
    if (editing) product = await api.get(`/products/${encodeURIComponent(params.id)}`);
    if (admin) vendors = (await api.get('/admin/users', { role: 'vendor', limit: 100 })).users || [];
  } catch (err) {
    const error = errorArea();
    mount(main, h('h1', {}, heading), error, h('p', {}, link('/products', 'Back to products')));
    showError(error, err);
    return;
  }
  const p = product || { name: '', description: '', price: '', stock: '', brand: '', category: '', sku: '', imageUrls: [], isActive: true, vendorId: null };

  // Each field's own error line, filled from the API's `errors[].field`.
  const fieldErrors = {};
  const input = (name, el) => {
    const note = h('p', { class: 'error field-error', id: `${name}-error`, hidden: true });
    fieldErrors[name] = note;
    el.name = name;
    el.setAttribute('aria-describedby', note.id);
    return [el, note];
  };
  const [name, nameError] = input('name', h('input', { required: true, maxlength: 200, value: p.name }));
  const [description, descriptionError] = input('description', h('textarea', { maxlength: 5000, rows: 4 }));
  description.value = p.description || '';
  const [price, priceError] = input('price', h('input', { type: 'number', min: 0, step: '0.01', required: true, inputmode: 'decimal', value: p.price === '' ? '' : String(p.price) }));
  const [stock, stockError] = input('stock', h('input', { type: 'number', min: 0, step: 1, required: true, inputmode: 'numeric', value: p.stock === '' ? '' : String(p.stock) }));
  const [brand, brandError] = input('brand', h('input', { maxlength: 100, value: p.brand || '' }));
  const [category, categoryError] = input('category', h('input', { maxlength: 100, value: p.category || '' }));
  const [sku, skuError] = input('sku', h('input', { maxlength: 64, value: p.sku || '' }));
  const active = h('input', { type: 'checkbox', name: 'isActive', checked: p.isActive });
  const [vendor, vendorError] = admin
    ? input(
        'vendorId',
        h(
          'select',
          {},
          h('option', { value: '' }, 'The shop (no vendor)'),
          vendors.map((v) => h('option', { value: v._id, selected: v._id === p.vendorId }, `${v.name} (${v.email})`)),
        ),
      )
    : [null, null];

  // Pictures: uploaded one by one; the list is what the product will hold when saved.
  const images = [...(p.imageUrls || [])];
  const pictureList = h('ul', { class: 'pictures', 'aria-label': 'Pictures' });
  const [file, imageError] = input('imageUrls', h('input', { type: 'file', accept: 'image/jpeg,image/png,image/webp' }));
  const uploadStatus = h('p', { role: 'status', class: 'muted' });
  function drawPictures() {
    mount(
      pictureList,
      images.length
        ? images.map((url, i) =>
            h(
              'li',
              {},
              thumbnail(url, `Picture ${i + 1} of ${name.value || 'the product'}`),
              h(
                'button',
                {
                  type: 'button',
                  'aria-label': `Remove picture ${i + 1}`,
                  onclick: () => {
                    images.splice(i, 1);
                    drawPictures();
                    uploadStatus.textContent = 'Picture removed; save to keep the change.';
                  },
                },
                'Remove',
              ),
            ),
          )
        : h('li', { class: 'muted' }, 'No pictures yet.'),
    );
  }
  drawPictures();
  file.addEventListener('change', async () => {
    const chosen = file.files && file.files[0];
    if (!chosen) return;
    showFieldError('imageUrls', null);
    uploadStatus.textContent = `Uploading ${chosen.name}…`;
    file.disabled = true;
    try {
      const { url } = await api.upload('/uploads/images', chosen);
      images.push(url);
      drawPictures();
      uploadStatus.textContent = `Uploaded ${chosen.name}; save to keep it.`;
    } catch (err) {
      uploadStatus.textContent = '';
      showFieldError('imageUrls', err.errors && err.errors[0] ? `${err.errors[0].message}` : err.message);
    } finally {
      file.disabled = false;
      file.value = '';
    }
  });

  function showFieldError(fieldName, message) {
    const note = fieldErrors[fieldName];
    if (!note) return false;
    note.hidden = !message;
    note.textContent = message || '';
    const control = note.previousElementSibling;
    if (control) {
      if (message) control.setAttribute('aria-invalid', 'true');
      else control.removeAttribute('aria-invalid');
    }
    return true;
  }

  const error = errorArea();
  const saved = h('p', { role: 'status' });
  const save = h('button', { type: 'submit', class: 'primary' }, editing ? 'Save changes' : 'Create product');
  const form = h(
    'form',
    { class: 'card product-form', 'aria-label': heading, novalidate: true },
    field('Name', name),
    nameError,
    field('Description', description),
    descriptionError,
    field('Price', price),
    priceError,
    field('Stock', stock),
    stockError,
    field('Brand', brand),
    brandError,
    field('Category', category),
    categoryError,
    field('SKU', sku),
    skuError,
    admin ? field('Vendor', vendor) : null,
    vendorError,
    h('div', { class: 'field checkbox' }, h('label', {}, active, ' Active (shown in the shop)')),
    h('fieldset', {}, h('legend', {}, 'Pictures'), pictureList, field('Add a picture (JPEG, PNG or WebP, up to 10 MB)', file), imageError, uploadStatus),
    h('div', { class: 'actions' }, save, ' ', link('/products', 'Back to products')),
    error,
    saved,
  );
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    for (const key of Object.keys(fieldErrors)) showFieldError(key, null);
    saved.textContent = '';
    busy(save, error, async () => {
      const problems = [];
      let body;
      try {
        body = { name: name.value.trim() };
        if (!body.name) problems.push(['name', 'Name is required']);
        for (const [key, el, label] of [
          ['price', price, 'Price'],
          ['stock', stock, 'Stock'],
        ]) {
          try {
            body[key] = requiredNumber(el, label);
          } catch (err) {
            problems.push([key, err.message]);
          }
        }
      } finally {
        for (const [key, message] of problems) showFieldError(key, message);
      }
      if (problems.length) {
        const err = new Error('Please correct the fields marked below.');
        err.errors = [];
        throw err;
      }
      Object.assign(body, {
        description: description.value.trim(),
        brand: brand.value.trim(),
        category: category.value.trim(),
        sku: sku.value.trim() || null,
        imageUrls: images,
        isActive: active.checked,
      });
      if (admin) body.vendorId = vendor.value || null;
      if (!admin && editing) body.vendorId = undefined;
      try {
        const result = editing
          ? await api.put(`/products/${encodeURIComponent(p._id)}`, body)
          : await api.post('/products', body);
        if (!editing) {
          go(`/products/${encodeURIComponent(result._id)}`, { created: 1 });
          return;
        }
        saved.textContent = `Saved: ${result.name}, ${money(result.price)}, ${result.stock} in stock.`;
      } catch (err) {
        const fields = (err.errors || []).filter((fe) => showFieldError(fe.field, fe.message));
        if (fields.length) err.errors = [];
        throw err;
      }
    });
  });
  mount(main, h('h1', {}, heading), form);
  if (editing && new URLSearchParams(location.hash.split('?')[1] || '').get('created')) saved.textContent = `Created ${p.name}.`;
}
