// Checkout on one page: the delivery address (a saved one, or one typed here and used as it is,
// added to the address book only when the shopper ticks the box), the payment method, notes and
// the totals. "Place order" sets the address (PUT /cart/shipping-address, or POST /addresses when
// it is to be saved), places the order (POST /orders with an Idempotency-Key) and goes straight
// into paying it; "thank you" comes only on the confirmation of a paid or cash-on-delivery order.
// One key per attempt: a retry after a network failure or a 5xx reuses it, so the order is never
// placed twice; any change to the form starts a new attempt.

import { api, newIdempotencyKey, notify } from '../lib/api.js';
import { busy, errorArea, field, h, loading, money, mount, showError } from '../lib/dom.js';
import { go, link } from '../lib/router.js';
import { addressFields, addressText } from './addresses.js';
import { cartTotals } from './cart.js';
import { gateway, payLabel, payOrder, rememberCreated, TEST_PAYMENT_TEXT, TEST_PAYMENT_TITLE } from './pay.js';

const METHODS = [
  ['card', 'Card (credit or debit)'],
  ['upi', 'UPI'],
  ['netbanking', 'Netbanking'],
  ['wallet', 'Wallet'],
  ['cod', 'Cash on delivery'],
];
const NEW = 'new';

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
  // The address saved to the book by an earlier attempt, so a retry does not save it twice.
  let savedNew = null;
  const newAttempt = () => {
    attemptKey = null;
  };

  const chosen = (addresses.find((a) => a.isDefault) || addresses[0] || {})._id || NEW;
  const typed = addressFields();
  const saveToBook = h('input', { type: 'checkbox', name: 'saveAddress' });
  const newBlock = h(
    'div',
    { class: 'new-address', id: 'new-address' },
    typed.fields,
    h('label', { class: 'choice' }, saveToBook, h('span', {}, 'Save this address to my address book')),
  );
  const showNew = (on) => {
    newBlock.hidden = !on;
    // Only the fields in use are required (and sent).
    for (const input of newBlock.querySelectorAll('input:not([type="checkbox"])')) {
      input.disabled = !on;
      if (input.dataset.required) input.required = on;
    }
  };
  const radios = addresses.map((a) =>
    h('label', { class: 'choice' }, h('input', { type: 'radio', name: 'addressId', value: a._id, checked: a._id === chosen }), h('span', {}, addressText(a))),
  );
  const addressFieldset = h(
    'fieldset',
    { class: 'card' },
    h('legend', {}, 'Delivery address'),
    addresses.length
      ? h(
          'div',
          { class: 'choices' },
          radios,
          h('label', { class: 'choice' }, h('input', { type: 'radio', name: 'addressId', value: NEW, checked: chosen === NEW, 'aria-controls': 'new-address' }), h('span', {}, 'A new address')),
        )
      : null,
    newBlock,
  );
  showNew(chosen === NEW);
  addressFieldset.addEventListener('change', (e) => {
    if (e.target.name === 'addressId') showNew(e.target.value === NEW);
    newAttempt();
    if (e.target.name !== 'addressId' && e.target.name !== 'saveAddress') savedNew = null;
  });
  addressFieldset.addEventListener('input', () => {
    newAttempt();
    savedNew = null;
  });

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
  const place = h('button', { type: 'submit', class: 'primary wide' }, 'Place order');
  const form = h(
    'form',
    { class: 'checkout', 'aria-label': 'Checkout' },
    h('div', {}, addressFieldset, methods, h('div', { class: 'card' }, field('Notes for the seller (optional)', notes))),
    h(
      'section',
      { class: 'card summary', 'aria-label': 'Order summary' },
      h('h2', {}, 'Order summary'),
      h('ul', { class: 'plain' }, cart.items.map((i) => h('li', {}, `${i.productId.name} × ${i.quantity}`))),
      cartTotals(cart),
      error,
      place,
      h('p', { class: 'muted small' }, gateway === 'razorpay' ? 'Razorpay Checkout opens as soon as you place the order.' : 'Paying comes next, on this page.'),
    ),
  );

  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const method = form.querySelector('input[name="paymentMethod"]:checked').value;
    const choice = form.querySelector('input[name="addressId"]:checked')?.value || NEW;
    if (!attemptKey) attemptKey = newIdempotencyKey();
    const key = attemptKey;
    busy(place, error, async () => {
      let addressId = choice === NEW ? null : choice;
      if (choice === NEW) {
        const address = typed.values();
        if (saveToBook.checked) {
          if (!savedNew) savedNew = await api.post('/addresses', address);
          addressId = savedNew._id;
        } else {
          // Used as typed for this order, without a trip through the address book.
          await api.put('/cart/shipping-address', address);
        }
      }
      let created;
      try {
        const body = { cartId: cart._id, paymentMethod: method };
        if (addressId) body.addressId = addressId;
        if (notes.value.trim()) body.notes = notes.value.trim();
        created = await api.post('/orders', body, { idempotencyKey: key });
      } catch (err) {
        // A definite answer ends this attempt; a network failure or a 5xx keeps its key for the retry.
        if (err.status && err.status < 500) newAttempt();
        throw err;
      }
      notify('cart', 0);
      if (created.order.paymentDetails.method === 'cod' || created.order.status !== 'pending') {
        go(`/orders/${created.order._id}`, { placed: 1 });
        return;
      }
      rememberCreated(created);
      paymentStep(main, created.order);
    });
  });

  mount(main, h('h1', {}, 'Checkout'), form);
}

/**
 * The step right after "Place order" for an online method: the order exists, unpaid. Razorpay
 * Checkout opens at once; the simulated gateway shows its test-payment button. Paid, the shopper
 * lands on the confirmation; leaving, the order page says it is unpaid and offers to pay.
 */
function paymentStep(main, order) {
  const error = errorArea();
  const key = { value: null };
  const pay = h('button', { type: 'button', class: 'primary wide' }, payLabel(order, money));
  const run = () =>
    busy(pay, error, async () => {
      await payOrder(order, key);
      go(`/orders/${order._id}`, { placed: 1 });
    });
  pay.addEventListener('click', run);
  const title = gateway === 'razorpay' ? 'Pay for your order' : TEST_PAYMENT_TITLE;
  mount(
    main,
    h('h1', {}, 'Payment'),
    h(
      'section',
      { class: `card pay${gateway === 'razorpay' ? '' : ' test-payment'}`, 'aria-labelledby': 'pay-title' },
      h('h2', { id: 'pay-title' }, title),
      h('p', {}, `Order ${order.orderNumber} is waiting for payment of ${money(order.totalAmount)}.`),
      gateway === 'razorpay' ? null : h('p', {}, TEST_PAYMENT_TEXT),
      pay,
      error,
      h('p', { class: 'muted small' }, 'Not now? ', link(`/orders/${order._id}`, 'Pay later from the order page'), ' (unpaid orders are cancelled after a while).'),
    ),
  );
  pay.focus();
  if (gateway === 'razorpay') run();
}
