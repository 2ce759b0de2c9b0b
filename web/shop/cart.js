// The cart: +/− (PATCH /cart/items/:productId), remove (DELETE), discount code, and the totals the
// API computed. Errors (a 409 for stock, say) show next to the line they belong to. After every
// change the focus stays on the control used (or the next sensible one) and the live region says
// the new quantity and total. Logged out, the cart is the one kept in this browser.

import { api, notify, session } from '../lib/api.js';
import { announce, busy, errorArea, field, h, loading, money, mount, productImage, showError } from '../lib/dom.js';
import { go, link } from '../lib/router.js';
import { guestLines, MAX_LINE_QUANTITY, setGuestQuantity, takeMergeNotice } from './guest-cart.js';

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

/** Puts the focus back on the control with this key after a redraw, or on the first fallback found. */
function refocus(root, ...keys) {
  for (const key of keys) {
    const el = key && root.querySelector(`[data-focus="${CSS.escape(key)}"]`);
    if (el && !el.disabled) {
      el.focus();
      return;
    }
  }
}

function quantityRow(p, quantity, most, onChange, onRemove) {
  const minus = h('button', { type: 'button', class: 'qty', 'aria-label': `Decrease quantity of ${p.name}`, disabled: quantity <= 1, dataset: { focus: `minus-${p._id}` } }, '−');
  const plus = h('button', { type: 'button', class: 'qty', 'aria-label': `Increase quantity of ${p.name}`, disabled: quantity >= most, dataset: { focus: `plus-${p._id}` } }, '+');
  const remove = h('button', { type: 'button', class: 'link danger', 'aria-label': `Remove ${p.name}`, dataset: { focus: `remove-${p._id}` } }, 'Remove');
  minus.addEventListener('click', () => onChange(minus, quantity - 1));
  plus.addEventListener('click', () => onChange(plus, quantity + 1));
  remove.addEventListener('click', () => onRemove(remove));
  return h(
    'div',
    { class: 'qty-row', role: 'group', 'aria-label': `Quantity of ${p.name}` },
    minus,
    h('output', { 'aria-label': `Quantity of ${p.name}` }, String(quantity)),
    plus,
    remove,
    quantity >= most ? h('span', { class: 'muted small' }, most >= MAX_LINE_QUANTITY ? `At most ${MAX_LINE_QUANTITY}` : `All ${most} in stock`) : null,
  );
}

/** One cart line as a card: picture, name, unit price and its quantity controls, then
 * the account cart's error area and line total (the guest cart has neither). */
function lineCard(p, unitPrice, quantityControls, error = null, total = null) {
  return h(
    'li',
    { class: 'card line', 'aria-label': p.name },
    productImage(p.imageUrls?.[0], ''),
    h(
      'div',
      { class: 'line-main' },
      h('h2', { class: 'small' }, link(`/product/${p._id}`, p.name)),
      h('p', { class: 'muted' }, `${money(unitPrice)} each`),
      quantityControls,
      error,
    ),
    total,
  );
}

export async function renderCart(main) {
  if (!session.user) return renderGuestCart(main);
  mount(main, h('h1', {}, 'Your cart'), loading());
  const pageError = errorArea();
  let cart;
  const merged = takeMergeNotice();
  try {
    cart = await api.get('/cart');
    draw(cart.notices, [], merged);
  } catch (err) {
    mount(main, h('h1', {}, 'Your cart'), pageError);
    showError(pageError, err);
  }

  function draw(notices, focusKeys = [], merged = null) {
    notify('cart', cart.totalItems);
    if (!cart.items.length) {
      mount(main, h('h1', { tabindex: -1, dataset: { focus: 'empty' } }, 'Your cart'), h('p', {}, 'Your cart is empty. ', link('/', 'Continue shopping')));
      refocus(main, ...focusKeys, focusKeys.length ? 'empty' : null);
      return;
    }
    // What the read changed (a line dropped, a code removed), as the API says it; none on a routine read.
    const note = notices && notices.length ? notices.join(' ') : null;
    const notice = note || merged ? h('p', { class: 'notice', role: 'status' }, [merged, note].filter(Boolean).join(' ')) : null;
    mount(
      main,
      h('h1', {}, 'Your cart'),
      notice,
      h('ul', { class: 'lines', 'aria-label': 'Cart items' }, cart.items.map(line)),
      discountForm(),
      h('section', { class: 'card summary', 'aria-label': 'Order summary' }, h('h2', {}, 'Summary'), cartTotals(cart), checkoutButton()),
    );
    refocus(main, ...focusKeys);
  }

  function line(item, index) {
    const p = item.productId;
    const error = errorArea();
    const most = Math.max(1, Math.min(MAX_LINE_QUANTITY, p.availableStock ?? p.stock));
    const next = cart.items[index + 1] || cart.items[index - 1];
    const change = (button, quantity) =>
      busy(button, error, async () => {
        cart = await api.patch(`/cart/items/${encodeURIComponent(p._id)}`, { quantity });
        // At a limit the button used is disabled: the focus goes to its partner.
        draw(null, [button.dataset.focus, `plus-${p._id}`, `minus-${p._id}`]);
        announce(`${p.name}: quantity ${quantity}. Cart total ${money(cart.estimatedTotal)}.`);
      });
    const remove = (button) =>
      busy(button, error, async () => {
        cart = await api.del(`/cart/items/${encodeURIComponent(p._id)}`);
        draw(null, [next ? `remove-${next.productId._id}` : null, 'checkout']);
        announce(`${p.name} removed. ${cart.items.length ? `Cart total ${money(cart.estimatedTotal)}.` : 'Your cart is empty.'}`);
      });
    return lineCard(p, item.price, quantityRow(p, item.quantity, most, change, remove), error, h('p', { class: 'price' }, money(item.totalPrice)));
  }

  function discountForm() {
    const error = errorArea();
    if (cart.discountCode) {
      const remove = h('button', { type: 'button', class: 'link', dataset: { focus: 'remove-code' } }, 'Remove code');
      remove.addEventListener('click', () =>
        busy(remove, error, async () => {
          cart = await api.del('/cart/discount');
          draw(null, ['discount-input']);
          announce(`Discount code removed. Cart total ${money(cart.estimatedTotal)}.`);
        }),
      );
      return h('section', { class: 'card', 'aria-label': 'Discount code' }, h('p', {}, `Discount code ${cart.discountCode} applied. `, remove), error);
    }
    const input = h('input', { name: 'discountCode', maxlength: 20, autocomplete: 'off', dataset: { focus: 'discount-input' } });
    const apply = h('button', { type: 'submit' }, 'Apply code');
    const form = h('form', { class: 'card inline-form', 'aria-label': 'Apply a discount code' }, field('Discount code', input), apply, error);
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      busy(apply, error, async () => {
        cart = await api.post('/cart/discount', { discountCode: input.value.trim() });
        draw(null, ['remove-code']);
        announce(`Discount code applied. Cart total ${money(cart.estimatedTotal)}.`);
      });
    });
    return form;
  }

  function checkoutButton() {
    return h('button', { type: 'button', class: 'primary wide', dataset: { focus: 'checkout' }, onclick: () => go('/checkout') }, 'Checkout');
  }
}

/** The cart kept in this browser while logged out: lines with today's prices; totals come after log-in. */
async function renderGuestCart(main) {
  mount(main, h('h1', {}, 'Your cart'), loading());
  const products = new Map();
  await Promise.all(
    guestLines().map(async (l) => {
      try {
        products.set(l.productId, await api.get(`/products/${encodeURIComponent(l.productId)}`));
      } catch {
        setGuestQuantity(l.productId, 0); // no longer for sale
      }
    }),
  );
  draw([]);

  function draw(focusKeys) {
    const lines = guestLines().filter((l) => products.has(l.productId));
    notify('cart', lines.reduce((n, l) => n + l.quantity, 0));
    if (!lines.length) {
      mount(main, h('h1', { tabindex: -1, dataset: { focus: 'empty' } }, 'Your cart'), h('p', {}, 'Your cart is empty. ', link('/', 'Continue shopping')));
      refocus(main, ...focusKeys, focusKeys.length ? 'empty' : null);
      return;
    }
    const next = `/checkout`;
    mount(
      main,
      h('h1', {}, 'Your cart'),
      h('ul', { class: 'lines', 'aria-label': 'Cart items' }, lines.map((l, i) => line(l, lines[i + 1] || lines[i - 1]))),
      h(
        'section',
        { class: 'card summary', 'aria-label': 'Order summary' },
        h('h2', {}, 'Summary'),
        h('p', {}, 'Your cart is kept in this browser. Log in or create an account to see tax, delivery and the total, and to check out; these items come with you.'),
        h('p', { class: 'actions' }, link(`/login?next=${encodeURIComponent(next)}`, 'Log in to check out', { class: 'button primary' }), ' ', link(`/register?next=${encodeURIComponent(next)}`, 'Create an account', { class: 'button' })),
      ),
    );
    refocus(main, ...focusKeys);
  }

  function line(l, neighbour) {
    const p = products.get(l.productId);
    const most = Math.max(1, Math.min(MAX_LINE_QUANTITY, p.availableStock ?? p.stock));
    const change = (button, quantity) => {
      setGuestQuantity(p._id, quantity);
      draw([button.dataset.focus, `plus-${p._id}`, `minus-${p._id}`]);
      announce(`${p.name}: quantity ${quantity}.`);
    };
    const remove = () => {
      setGuestQuantity(p._id, 0);
      draw([neighbour ? `remove-${neighbour.productId}` : null]);
      announce(`${p.name} removed.`);
    };
    return lineCard(p, p.price, quantityRow(p, Math.min(l.quantity, most), most, change, remove));
  }
}
