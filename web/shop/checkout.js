// Checkout: pick or add an address, choose how to pay, place the order (POST /orders with cartId,
// addressId, paymentMethod and an Idempotency-Key). One key per attempt: a retry after a network
// failure or a 5xx reuses it, so the order is never placed twice; any change starts a new attempt.

import { api, newIdempotencyKey, notify } from '../lib/api.js';
import { busy, errorArea, field, h, loading, mount, showError } from '../lib/dom.js';
import { go, link } from '../lib/router.js';
import { addressForm, addressText } from './addresses.js';
import { cartTotals } from './cart.js';

const METHODS = [
  ['card', 'Card (credit or debit)'],
  ['upi', 'UPI'],
  ['netbanking', 'Netbanking'],
  ['wallet', 'Wallet'],
  ['cod', 'Cash on delivery'],
];

export async function renderCheckout(main) {
  mount(main, h('h1', {}, 'Checkout'), loading());
  let cart;
  let addresses;
  try {
    [cart, { addresses }] = await Promise.all([api.get('/cart'), api.get('/addresses', { limit: 100 })]);
  } catch (err) {
    const error = errorArea();
    mount(main, h('h1', {}, 'Checkout'), error);
    showError(error, err);
    return;
  }
  if (!cart.items.length) {
    mount(main, h('h1', {}, 'Checkout'), h('p', {}, 'Your cart is empty. ', link('/', 'Continue shopping')));
    return;
  }

  let attemptKey = null;
  const newAttempt = () => {
    attemptKey = null;
  };
  let selected = (addresses.find((a) => a.isDefault) || addresses[0] || {})._id;

  const addressList = h('div', { class: 'choices' });
  const drawAddresses = () => {
    mount(
      addressList,
      addresses.length
        ? addresses.map((a) =>
            h(
              'label',
              { class: 'choice' },
              h('input', { type: 'radio', name: 'addressId', value: a._id, checked: a._id === selected, onchange: () => { selected = a._id; newAttempt(); } }),
              h('span', {}, addressText(a)),
            ),
          )
        : h('p', {}, 'No saved addresses: add one below.'),
    );
  };
  drawAddresses();
  const addressFieldset = h('fieldset', { class: 'card' }, h('legend', {}, 'Delivery address'), addressList);
  const newAddress = addressForm((address) => {
    addresses.push(address);
    selected = address._id;
    newAttempt();
    drawAddresses();
  }, { title: 'Add a new address' });
  // With addresses on file the form stays folded until asked for.
  const addAddress = addresses.length
    ? h('details', { class: 'card add-address' }, h('summary', {}, 'Add a new address'), newAddress)
    : newAddress;

  const methods = h(
    'fieldset',
    { class: 'card' },
    h('legend', {}, 'Payment method'),
    h(
      'div',
      { class: 'choices' },
      METHODS.map(([value, text], i) =>
        h('label', { class: 'choice' }, h('input', { type: 'radio', name: 'paymentMethod', value, checked: i === 0, onchange: newAttempt }), h('span', {}, text)),
      ),
    ),
  );
  const notes = h('textarea', { name: 'notes', maxlength: 500, rows: 2, oninput: newAttempt });
  const error = errorArea();
  const place = h('button', { type: 'button', class: 'primary wide' }, 'Place order');
  place.addEventListener('click', () => {
    const method = methods.querySelector('input[name="paymentMethod"]:checked').value;
    if (!selected) {
      showError(error, new Error('Choose or add a delivery address first.'));
      return;
    }
    if (!attemptKey) attemptKey = newIdempotencyKey();
    const key = attemptKey;
    busy(place, error, async () => {
      try {
        const body = { cartId: cart._id, addressId: selected, paymentMethod: method };
        if (notes.value.trim()) body.notes = notes.value.trim();
        const created = await api.post('/orders', body, { idempotencyKey: key });
        sessionStorage.setItem(`cartwright.created.${created.order._id}`, JSON.stringify({ razorpayOrder: created.razorpayOrder, paymentKey: created.paymentKey }));
        notify('cart', 0);
        go(`/orders/${created.order._id}`, { placed: 1 });
      } catch (err) {
        // A definite answer ends this attempt; a network failure or a 5xx keeps its key for the retry.
        if (err.status && err.status < 500) newAttempt();
        throw err;
      }
    });
  });

  mount(
    main,
    h('h1', {}, 'Checkout'),
    h(
      'div',
      { class: 'checkout' },
      h('div', {}, addressFieldset, addAddress, methods, h('div', { class: 'card' }, field('Notes for the seller (optional)', notes))),
      h(
        'section',
        { class: 'card summary', 'aria-label': 'Order summary' },
        h('h2', {}, 'Order summary'),
        h('ul', { class: 'plain' }, cart.items.map((i) => h('li', {}, `${i.productId.name} × ${i.quantity}`))),
        cartTotals(cart),
        error,
        place,
      ),
    ),
  );
}
