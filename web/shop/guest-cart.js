// The cart of a shopper who is not logged in: kept in this browser (localStorage, product ids and
// quantities only, nothing secret) and merged into the account's cart at log-in or registration
// (POST /cart/items per line, only as many as stock and the line limits allow).

import { api } from '../lib/api.js';

const KEY = 'cartwright.guestCart';
const NOTICE_KEY = 'cartwright.mergeNotice';
// The API's own limit on one line (POST /cart/items answers 409 above it).
export const MAX_LINE_QUANTITY = 100;

/** [{productId, quantity}] */
export function guestLines() {
  try {
    const lines = JSON.parse(localStorage.getItem(KEY) || '[]');
    return Array.isArray(lines) ? lines.filter((l) => l && typeof l.productId === 'string' && Number.isInteger(l.quantity) && l.quantity > 0) : [];
  } catch {
    return [];
  }
}

function store(lines) {
  if (lines.length) localStorage.setItem(KEY, JSON.stringify(lines));
  else localStorage.removeItem(KEY);
}

export function guestCount() {
  return guestLines().reduce((n, l) => n + l.quantity, 0);
}

/** Sets a line's quantity (0 removes it). */
export function setGuestQuantity(productId, quantity) {
  const lines = guestLines().filter((l) => l.productId !== productId);
  if (quantity > 0) {
    const old = guestLines().findIndex((l) => l.productId === productId);
    const line = { productId, quantity };
    if (old >= 0) lines.splice(old, 0, line);
    else lines.push(line);
  }
  store(lines);
  return guestCount();
}

/** Adds `quantity` of a product, refusing more than its stock or the line limit; returns the new line quantity. */
export function addGuest(product, quantity) {
  const current = guestLines().find((l) => l.productId === product._id)?.quantity || 0;
  const available = product.availableStock ?? product.stock ?? 0;
  const limit = Math.min(available, MAX_LINE_QUANTITY);
  if (current + quantity > limit) {
    const left = Math.max(0, limit - current);
    const err = new Error(
      left
        ? `Only ${left} more can go in your cart${current ? ` (it already holds ${current})` : ''}.`
        : `No more can go in your cart${current ? `: it already holds ${current}, all there is` : ''}.`,
    );
    err.status = 409;
    err.code = 'insufficient_stock';
    throw err;
  }
  setGuestQuantity(product._id, current + quantity);
  return current + quantity;
}

export function clearGuest() {
  localStorage.removeItem(KEY);
}

/** What the last merge could not bring over, shown once on the cart page. */
export function takeMergeNotice() {
  const text = sessionStorage.getItem(NOTICE_KEY);
  sessionStorage.removeItem(NOTICE_KEY);
  return text;
}

/**
 * Moves the browser's lines into the account's cart. Each line goes in with as many units as
 * fit (stock left after what the account's cart already holds, and the per-line limit); what did
 * not fit is named in a notice. The browser's cart is emptied either way: its lines now live on
 * the server, or the notice says why not.
 */
export async function mergeGuestCart() {
  const lines = guestLines();
  if (!lines.length) return;
  const problems = [];
  let cart;
  try {
    cart = await api.get('/cart');
  } catch {
    return; // keep the lines for the next log-in
  }
  for (const line of lines) {
    let product;
    try {
      product = await api.get(`/products/${encodeURIComponent(line.productId)}`);
    } catch {
      problems.push('A product from your cart is no longer for sale.');
      continue;
    }
    const inCart = cart.items.find((i) => (i.productId?._id || i.productId) === product._id)?.quantity || 0;
    const available = product.availableStock ?? product.stock ?? 0;
    const fits = Math.max(0, Math.min(line.quantity, available - inCart, MAX_LINE_QUANTITY - inCart));
    if (fits <= 0) {
      problems.push(`${product.name}: none could be added (${available > 0 ? 'your cart already holds all there is' : 'out of stock'}).`);
      continue;
    }
    try {
      cart = await api.post('/cart/items', { productId: product._id, quantity: fits });
      if (fits < line.quantity) problems.push(`${product.name}: only ${fits} of ${line.quantity} could be added (stock).`);
    } catch (err) {
      problems.push(`${product.name}: ${err.code === 'cart_full' ? 'your cart is full' : 'could not be added'}.`);
    }
  }
  clearGuest();
  if (problems.length) sessionStorage.setItem(NOTICE_KEY, `Some items from before you logged in could not be added. ${problems.join(' ')}`);
}
