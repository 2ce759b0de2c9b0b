// The address book (GET/POST /addresses, PUT/DELETE /addresses/:id) and the address fields the
// checkout reuses.

import { api } from '../lib/api.js';
import { announce, busy, errorArea, field, h, loading, mount, showError } from '../lib/dom.js';

export function addressText(a) {
  return [a.name, a.street, `${a.city}, ${a.state} ${a.zipCode}`, a.country, a.phone].filter(Boolean).join(' · ');
}

/** The fields of one address (named as the API names them, so its errors land next to them), and
 * their values as the API takes them (an empty name or country left out). */
export function addressFields(initial = {}) {
  const input = (name, attrs) => h('input', { name, value: initial[name] ?? '', ...attrs, dataset: attrs.required ? { required: 'true' } : undefined });
  const fields = [
    field('Full name', input('name', { autocomplete: 'name', maxlength: 100 })),
    field('Street', input('street', { required: true, autocomplete: 'street-address', maxlength: 200 })),
    field('City', input('city', { required: true, autocomplete: 'address-level2', maxlength: 100 })),
    field('State', input('state', { required: true, autocomplete: 'address-level1', maxlength: 100 })),
    field('ZIP code', input('zipCode', { required: true, autocomplete: 'postal-code', maxlength: 12 })),
    field('Country', input('country', { autocomplete: 'country-name', maxlength: 100, value: initial.country ?? 'India' })),
    field('Phone', input('phone', { type: 'tel', required: true, autocomplete: 'tel', maxlength: 20 })),
  ];
  const box = h('div', { class: 'address-fields' }, fields);
  return {
    fields: box,
    values() {
      const out = {};
      for (const el of box.querySelectorAll('input')) out[el.name] = el.value.trim();
      for (const k of ['name', 'country']) if (!out[k]) delete out[k];
      return out;
    },
  };
}

/** An address form: adds (POST) or, given `address`, edits (PUT); `onSaved(address)` runs after. */
export function addressForm(onSaved, { title = 'Add an address', address = null, onCancel = null } = {}) {
  const error = errorArea();
  const fields = addressFields(address || {});
  const save = h('button', { type: 'submit', class: 'primary' }, address ? 'Save changes' : 'Save address');
  const cancel = onCancel ? h('button', { type: 'button', onclick: onCancel }, 'Cancel') : null;
  const headingId = `address-form-${address ? address._id : 'new'}`;
  const form = h(
    'form',
    { class: 'card address-form', 'aria-labelledby': headingId },
    h('h2', { id: headingId }, title),
    fields.fields,
    error,
    h('div', { class: 'actions' }, save, cancel),
  );
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    busy(save, error, async () => {
      const saved = address
        ? await api.put(`/addresses/${encodeURIComponent(address._id)}`, fields.values())
        : await api.post('/addresses', fields.values());
      if (!address) form.reset();
      onSaved(saved);
    });
  });
  return form;
}

export async function renderAddresses(main) {
  const list = h('section', { 'aria-labelledby': 'book-title' }, loading());
  const status = h('p', { class: 'notice', role: 'status', hidden: true });
  mount(
    main,
    h('h1', { id: 'book-title' }, 'Address book'),
    status,
    list,
    addressForm((a) => {
      said(`Address ${a.street} added.`);
      draw();
    }),
  );
  let addresses = [];
  function said(text) {
    status.hidden = false;
    status.textContent = text;
  }

  async function draw(focusKey) {
    const error = errorArea();
    try {
      ({ addresses } = await api.get('/addresses', { limit: 100 }));
    } catch (err) {
      mount(list, error);
      showError(error, err);
      return;
    }
    mount(list, addresses.length ? h('ul', { class: 'addresses plain' }, addresses.map(item)) : h('p', {}, 'No saved addresses yet.'));
    const target = focusKey && list.querySelector(`[data-focus="${CSS.escape(focusKey)}"]`);
    if (target) target.focus();
  }

  function item(a, index) {
    const itemError = errorArea();
    const li = h('li', { class: 'card' });
    const show = () => {
      const edit = h('button', { type: 'button', class: 'link', 'aria-label': `Edit address ${a.street}`, dataset: { focus: `edit-${a._id}` } }, 'Edit');
      const del = h('button', { type: 'button', class: 'link danger', 'aria-label': `Delete address ${a.street}` }, 'Delete');
      edit.addEventListener('click', () => {
        mount(
          li,
          addressForm(
            (saved) => {
              said(`Address ${saved.street} saved.`);
              draw(`edit-${a._id}`);
            },
            { title: `Edit address ${a.street}`, address: a, onCancel: () => { show(); li.querySelector('button').focus(); } },
          ),
        );
        li.querySelector('input').focus();
      });
      del.addEventListener('click', () => confirmDelete(del));
      mount(li, h('p', {}, addressText(a), a.isDefault ? h('strong', {}, ' (default)') : null), h('div', { class: 'actions' }, edit, del), itemError);
    };
    // Deleting asks first, in place: "Delete" becomes "Yes, delete" / "Keep it".
    const confirmDelete = (del) => {
      const yes = h('button', { type: 'button', class: 'danger' }, 'Yes, delete');
      const no = h('button', { type: 'button' }, 'Keep it');
      const box = h('div', { class: 'actions', role: 'group', 'aria-label': `Delete address ${a.street}?` }, h('span', {}, 'Delete this address?'), yes, no);
      del.parentElement.replaceWith(box);
      no.addEventListener('click', () => {
        show();
        li.querySelector(`[data-focus="edit-${a._id}"]`).focus();
      });
      yes.addEventListener('click', () =>
        busy(yes, itemError, async () => {
          await api.del(`/addresses/${encodeURIComponent(a._id)}`);
          announce(`Address ${a.street} deleted.`);
          const next = addresses[index + 1] || addresses[index - 1];
          await draw(next ? `edit-${next._id}` : null);
        }),
      );
      yes.focus();
    };
    show();
    return li;
  }
  await draw();
}
