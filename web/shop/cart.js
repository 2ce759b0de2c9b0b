// The cart: +/− (PATCH /cart/items/:productId), remove (DELETE), discount code, and the totals the
// API computed. Errors (a 409 for stock, say) show next to the line they belong to.

import { api, notify } from '../lib/api.js';
import { busy, errorArea, field, h, loading, money, mount, productImage, showError } from '../lib/dom.js';
import { go, link } from '../lib/router.js';

export function totals(rows) {
  return h(
    'dl',
    { class: 'totals' },
    rows.filter(Boolean).map(([name, value, cls]) => [h('dt', { class: cls }, name), h('dd', { class: cls }, value)]),
  );
}

export function cartTotals(cart) {
  return totals([
    ['Subtotal', money(cart.totalAmount)],
    cart.discount ? [`Discount${cart.discountCode ? ` (${cart.discountCode})` : ''}`, `− ${money(cart.discount)}`] : null,
    ['Tax', money(cart.estimatedTax)],
    ['Shipping', cart.shippingCharges ? money(cart.shippingCharges) : 'Free'],
    ['Total', money(cart.estimatedTotal), 'grand'],
  ]);
}

export async function renderCart(main) {
  mount(main, h('h1', {}, 'Your cart'), loading());
  const pageError = errorArea();
  let cart;
  try {
    const reply = await api.request('GET', '/cart');
    cart = reply.data;
    draw(reply.message);
  } catch (err) {
    mount(main, h('h1', {}, 'Your cart'), pageError);
    showError(pageError, err);
  }

  function draw(message) {
    notify('cart', cart.totalItems);
    if (!cart.items.length) {
      mount(main, h('h1', {}, 'Your cart'), h('p', {}, 'Your cart is empty. ', link('/', 'Continue shopping')));
      return;
    }
    const notice = message && !/retrieved|updated|added|removed successfully|applied/i.test(message) ? h('p', { class: 'notice', role: 'status' }, message) : null;
    mount(
      main,
      h('h1', {}, 'Your cart'),
      notice,
      h('ul', { class: 'lines', 'aria-label': 'Cart items' }, cart.items.map(line)),
      discountForm(),
      h('section', { class: 'card summary', 'aria-label': 'Order summary' }, h('h2', {}, 'Summary'), cartTotals(cart), checkoutButton()),
    );
  }

  function line(item) {
    const p = item.productId;
    const error = errorArea();
    const change = (button, quantity) =>
      busy(button, error, async () => {
        cart = await api.patch(`/cart/items/${encodeURIComponent(p._id)}`, { quantity });
        draw();
      });
    const minus = h('button', { type: 'button', class: 'qty', 'aria-label': `Decrease quantity of ${p.name}`, disabled: item.quantity <= 1 }, '−');
    const plus = h('button', { type: 'button', class: 'qty', 'aria-label': `Increase quantity of ${p.name}` }, '+');
    const remove = h('button', { type: 'button', class: 'link danger', 'aria-label': `Remove ${p.name}` }, 'Remove');
    minus.addEventListener('click', () => change(minus, item.quantity - 1));
    plus.addEventListener('click', () => change(plus, item.quantity + 1));
    remove.addEventListener('click', () =>
      busy(remove, error, async () => {
        cart = await api.del(`/cart/items/${encodeURIComponent(p._id)}`);
        draw();
      }),
    );
    return h(
      'li',
      { class: 'card line', 'aria-label': p.name },
      productImage(p.imageUrls?.[0], ''),
      h(
        'div',
        { class: 'line-main' },
        h('h2', { class: 'small' }, link(`/product/${p._id}`, p.name)),
        h('p', { class: 'muted' }, `${money(item.price)} each`),
        h(
          'div',
          { class: 'qty-row', role: 'group', 'aria-label': `Quantity of ${p.name}` },
          minus,
          h('output', { 'aria-label': `Quantity of ${p.name}` }, String(item.quantity)),
          plus,
          remove,
        ),
        error,
      ),
      h('p', { class: 'price' }, money(item.totalPrice)),
    );
  }

  function discountForm() {
    const error = errorArea();
    if (cart.discountCode) {
      const remove = h('button', { type: 'button', class: 'link' }, 'Remove code');
      remove.addEventListener('click', () =>
        busy(remove, error, async () => {
          cart = await api.del('/cart/discount');
          draw();
        }),
      );
      return h('section', { class: 'card', 'aria-label': 'Discount code' }, h('p', {}, `Discount code ${cart.discountCode} applied. `, remove), error);
    }
    const input = h('input', { name: 'discountCode', maxlength: 20, autocomplete: 'off' });
    const apply = h('button', { type: 'submit' }, 'Apply code');
    const form = h('form', { class: 'card inline-form', 'aria-label': 'Apply a discount code' }, field('Discount code', input), apply, error);
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      busy(apply, error, async () => {
        cart = await api.post('/cart/discount', { discountCode: input.value.trim() });
        draw();
      });
    });
    return form;
  }

  function checkoutButton() {
    return h('button', { type: 'button', class: 'primary wide', onclick: () => go('/checkout') }, 'Checkout');
  }
}
