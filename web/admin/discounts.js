// Discount codes: list, create, activate/deactivate, delete (/admin/discounts).

import { api } from '../lib/api.js';
import { busy, confirmAction, date, errorArea, field, formValues, h, loading, money, mount, showError } from '../lib/dom.js';

export async function renderDiscounts(main) {
  const list = h('section', { 'aria-label': 'Discount codes' }, loading());
  const error = errorArea();
  const create = h('button', { type: 'submit', class: 'primary' }, 'Create code');
  const form = h(
    'form',
    { class: 'card filters', 'aria-label': 'New discount code' },
    field('Code', h('input', { name: 'code', required: true, maxlength: 20 })),
    field('Type', h('select', { name: 'type' }, h('option', { value: 'percent' }, 'Percent'), h('option', { value: 'fixed' }, 'Fixed amount'))),
    field('Value', h('input', { name: 'value', type: 'number', step: '0.01', min: 0, required: true })),
    field('Minimum order', h('input', { name: 'minOrderAmount', type: 'number', step: '0.01', min: 0 })),
    field('Maximum discount', h('input', { name: 'maxDiscountAmount', type: 'number', step: '0.01', min: 0 })),
    field('Usage limit', h('input', { name: 'usageLimit', type: 'number', step: 1, min: 1 })),
    field('Per-user limit', h('input', { name: 'perUserLimit', type: 'number', step: 1, min: 1 })),
    field('Ends on', h('input', { name: 'endsAt', type: 'date' })),
    h('div', { class: 'actions' }, create, error),
  );
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const v = formValues(form);
    const body = { code: v.code, type: v.type, value: Number(v.value) };
    for (const k of ['minOrderAmount', 'maxDiscountAmount', 'usageLimit', 'perUserLimit']) if (v[k]) body[k] = Number(v[k]);
    if (v.endsAt) body.endsAt = new Date(`${v.endsAt}T23:59:59Z`).toISOString();
    busy(create, error, async () => {
      await api.post('/admin/discounts', body);
      form.reset();
      await reload();
    });
  });
  mount(main, h('h1', {}, 'Discount codes'), form, list);

  async function reload() {
    const listError = errorArea();
    try {
      const { discounts } = await api.get('/admin/discounts', { limit: 100 });
      mount(
        list,
        h(
          'div',
          { class: 'table-wrap' },
          h(
            'table',
            {},
            h('thead', {}, h('tr', {}, ['Code', 'Discount', 'Minimum', 'Used', 'Ends', 'Active', ''].map((t) => h('th', { scope: 'col' }, t)))),
            h(
              'tbody',
              {},
              discounts.map((d) => {
                const rowError = errorArea();
                const toggle = h('button', { type: 'button', 'aria-label': `${d.isActive ? 'Deactivate' : 'Activate'} ${d.code}` }, d.isActive ? 'Deactivate' : 'Activate');
                toggle.addEventListener('click', async () => {
                  if (d.isActive && !(await confirmAction(`Deactivate code ${d.code}? Carts holding it lose the discount.`, 'Deactivate'))) return;
                  await busy(toggle, rowError, async () => {
                    // PUT replaces the whole definition: send it as listed, with only the switch turned.
                    const definition = {
                      type: d.type,
                      value: d.value,
                      minOrderAmount: d.minOrderAmount,
                      maxDiscountAmount: d.maxDiscountAmount,
                      startsAt: d.startsAt,
                      endsAt: d.endsAt,
                      usageLimit: d.usageLimit,
                      perUserLimit: d.perUserLimit,
                    };
                    await api.put(`/admin/discounts/${encodeURIComponent(d.code)}`, { ...definition, isActive: !d.isActive });
                    await reload();
                  });
                });
                const del = h('button', { type: 'button', class: 'link danger', 'aria-label': `Delete ${d.code}` }, 'Delete');
                del.addEventListener('click', async () => {
                  if (!(await confirmAction(`Delete code ${d.code}? This cannot be undone.`, 'Delete'))) return;
                  await busy(del, rowError, async () => {
                    await api.del(`/admin/discounts/${encodeURIComponent(d.code)}`);
                    await reload();
                  });
                });
                return h(
                  'tr',
                  {},
                  h('th', { scope: 'row' }, d.code),
                  h('td', {}, d.type === 'percent' ? `${d.value}%${d.maxDiscountAmount ? ` (up to ${money(d.maxDiscountAmount)})` : ''}` : money(d.value)),
                  h('td', {}, money(d.minOrderAmount)),
                  h('td', {}, `${d.usedCount}${d.usageLimit ? ` of ${d.usageLimit}` : ''}`),
                  h('td', {}, d.endsAt ? date(d.endsAt, false) : '—'),
                  h('td', {}, d.isActive ? 'Yes' : 'No'),
                  h('td', {}, toggle, ' ', del, rowError),
                );
              }),
            ),
          ),
        ),
      );
    } catch (err) {
      mount(list, listError);
      showError(listError, err);
    }
  }
  await reload();
}
