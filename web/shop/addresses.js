// The address book (GET/POST /addresses, DELETE /addresses/:id), and the form the checkout reuses.

import { api } from '../lib/api.js';
import { busy, errorArea, field, formValues, h, loading, mount, showError } from '../lib/dom.js';

export function addressText(a) {
  return [a.name, a.street, `${a.city}, ${a.state} ${a.zipCode}`, a.country, a.phone].filter(Boolean).join(' · ');
}

/** The "add an address" form; `onSaved(address)` runs after POST /addresses. */
export function addressForm(onSaved, { title = 'Add an address' } = {}) {
  const error = errorArea();
  const save = h('button', { type: 'submit', class: 'primary' }, 'Save address');
  const form = h(
    'form',
    { class: 'card address-form', 'aria-label': title },
    h('h2', {}, title),
    field('Full name', h('input', { name: 'name', autocomplete: 'name', maxlength: 100 })),
    field('Street', h('input', { name: 'street', required: true, autocomplete: 'street-address' })),
    field('City', h('input', { name: 'city', required: true, autocomplete: 'address-level2' })),
    field('State', h('input', { name: 'state', required: true, autocomplete: 'address-level1' })),
    field('ZIP code', h('input', { name: 'zipCode', required: true, autocomplete: 'postal-code' })),
    field('Country', h('input', { name: 'country', value: 'India', autocomplete: 'country-name' })),
    field('Phone', h('input', { name: 'phone', type: 'tel', required: true, autocomplete: 'tel' })),
    error,
    save,
  );
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const body = formValues(form);
    for (const k of ['name', 'country']) if (!body[k]) delete body[k];
    busy(save, error, async () => {
      const address = await api.post('/addresses', body);
      form.reset();
      onSaved(address);
    });
  });
  return form;
}

export async function renderAddresses(main) {
  const list = h('section', { 'aria-labelledby': 'book-title' }, loading());
  mount(main, h('h1', { id: 'book-title' }, 'Address book'), list, addressForm(() => draw()));
  async function draw() {
    const error = errorArea();
    try {
      const { addresses } = await api.get('/addresses', { limit: 100 });
      mount(
        list,
        addresses.length
          ? h(
              'ul',
              { class: 'addresses' },
              addresses.map((a) => {
                const itemError = errorArea();
                const del = h('button', { type: 'button', class: 'link danger', 'aria-label': `Delete address ${a.street}` }, 'Delete');
                del.addEventListener('click', () =>
                  busy(del, itemError, async () => {
                    await api.del(`/addresses/${encodeURIComponent(a._id)}`);
                    draw();
                  }),
                );
                return h('li', { class: 'card' }, h('p', {}, addressText(a), a.isDefault ? h('strong', {}, ' (default)') : null), del, itemError);
              }),
            )
          : h('p', {}, 'No saved addresses yet.'),
      );
    } catch (err) {
      mount(list, error);
      showError(error, err);
    }
  }
  await draw();
}
