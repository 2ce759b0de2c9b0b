// DOM helpers. Every string reaches the page as a text node or an attribute value set through the
// DOM, never parsed as markup, so a product called `<img src=x onerror=alert(1)>` shows as typed.

/** h('button', {class: 'primary', onclick: fn}, 'Add to Cart', child, [more]) */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith('on') && typeof value === 'function') {
      el.addEventListener(key.slice(2), value);
    } else if (key === 'dataset') {
      Object.assign(el.dataset, value);
    } else if (key === 'value' || key === 'checked' || key === 'selected') {
      el[key] = value;
    } else {
      el.setAttribute(key, value === true ? '' : String(value));
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child === undefined || child === null || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else if (child instanceof Node) el.appendChild(child);
    else el.appendChild(document.createTextNode(String(child)));
  }
}

/** Replaces a node's children. */
export function mount(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

const currency = document.querySelector('meta[name="cartwright-currency"]')?.content || 'INR';
const formatter = (() => {
  try {
    return new Intl.NumberFormat(undefined, { style: 'currency', currency });
  } catch {
    return null;
  }
})();

/** Formats an amount the API computed (major units). Display only: no arithmetic on money here. */
export function money(amount) {
  if (amount === undefined || amount === null) return '';
  return formatter ? formatter.format(amount) : `${amount} ${currency}`;
}

export function date(iso, withTime = true) {
  if (!iso) return '';
  const d = new Date(iso);
  return withTime ? d.toLocaleString() : d.toLocaleDateString();
}

export const STATUS_LABELS = {
  pending: 'Pending payment',
  confirmed: 'Confirmed',
  processing: 'Processing',
  shipped: 'Shipped',
  delivered: 'Delivered',
  cancelled: 'Cancelled',
  returned: 'Returned',
};

export function statusLabel(status) {
  return STATUS_LABELS[status] || status;
}

export const RETURN_LABELS = {
  requested: 'Return requested',
  approved: 'Return approved',
  rejected: 'Return declined',
  completed: 'Returned and refunded',
};

export function statusBadge(status) {
  return h('span', { class: `status status-${status}` }, statusLabel(status));
}

/**
 * Runs `work` while `button` is disabled and marked busy, then shows the error (if any) in
 * `errorEl`. Returns work's result, or undefined when it failed. A second click while busy does
 * nothing, so nothing is submitted twice.
 */
export async function busy(button, errorEl, work) {
  if (button && button.disabled) return undefined;
  const isButton = button && button.tagName === 'BUTTON';
  const label = isButton ? button.textContent : '';
  if (button) {
    button.disabled = true;
    button.setAttribute('aria-busy', 'true');
    if (isButton) button.textContent = `${label}…`;
  }
  if (errorEl) showError(errorEl, null);
  try {
    return await work();
  } catch (err) {
    if (errorEl) showError(errorEl, err);
    else throw err;
    return undefined;
  } finally {
    if (button && button.isConnected) {
      button.disabled = false;
      button.removeAttribute('aria-busy');
      if (isButton) button.textContent = label;
    }
  }
}

/** An in-place error area: role=alert so screen readers announce it. */
export function errorArea() {
  return h('p', { class: 'error', role: 'alert', hidden: true });
}

// The API names fields as its JSON does (`zipCode`) and words its messages for developers; people
// read the label they see on the form. The API's own text stays as it is for API clients.
const FIELD_LABELS = {
  name: 'Name',
  email: 'Email',
  password: 'Password',
  currentPassword: 'Current password',
  newPassword: 'New password',
  phone: 'Phone',
  street: 'Street',
  city: 'City',
  state: 'State',
  zipCode: 'ZIP code',
  country: 'Country',
  quantity: 'Quantity',
  minPrice: 'Min price',
  maxPrice: 'Max price',
  discountCode: 'Discount code',
  rating: 'Rating',
  title: 'Title',
  comment: 'Your review',
  reason: 'Reason',
  notes: 'Notes',
  search: 'Search',
  paymentMethod: 'Payment method',
  price: 'Price',
  stock: 'Stock',
  startsAt: 'Start date',
  endsAt: 'End date',
  usageLimit: 'Usage limit',
  perUserLimit: 'Per-user limit',
  minOrderAmount: 'Minimum order',
  maxDiscountAmount: 'Maximum discount',
  lowStockThreshold: 'Low-stock alert at',
};
const ID_FIELDS = /^(id|[a-z]+Id)$/;

/** The words a shopper reads for one of the API's field errors. */
export function fieldMessage(fieldName, message) {
  if (ID_FIELDS.test(fieldName)) return 'This link is out of date or mistyped; go back and choose again.';
  let text = String(message || '');
  // The field says what is wrong with it; its rule is one, whatever the API's words.
  if (fieldName === 'zipCode') return 'Enter a ZIP or PIN code of 3 to 12 letters, digits, spaces or hyphens.';
  if (fieldName === 'phone') return 'Enter a phone number of 5 to 20 digits (+, -, spaces and brackets are fine).';
  text = text.replace(/\b([a-z]+[A-Z][A-Za-z]*)\b/g, (w) => (FIELD_LABELS[w] ? FIELD_LABELS[w].toLowerCase() : w));
  // A message that is already a sentence ("Your current password is not right") stands alone.
  if (/^[A-Z]/.test(text)) return text;
  const label = FIELD_LABELS[fieldName] || fieldName || '';
  return `${label} ${text}.`.replace(/\s+/g, ' ').replace(/\.\.$/, '.').trim();
}

/**
 * The words a shopper reads for an error with no field notes: chosen by the API's `code` where
 * ours say it better, else the API's own message. Never decided by the message's text.
 */
export function friendlyMessage(err) {
  const message = String((err && err.message) || err || '');
  switch (err && err.code) {
    case 'already_reviewed':
      return 'You have already reviewed this product.';
    case 'validation_failed':
      return err.errors && err.errors.length ? 'Please check the highlighted field.' : message;
    default:
      return message;
  }
}

function fieldErrorFor(control) {
  const box = control.closest('.field') || control.parentElement;
  let note = box.querySelector(':scope > .field-error[data-api-note]');
  if (!note) {
    note = h('p', { class: 'field-error', id: `${control.id || control.name}-error`, 'data-api-note': '' });
    box.appendChild(note);
  }
  return note;
}

// Undoes only what `showError` did: a form may keep field notes of its own (the consoles' product
// editor), which stay as they are.
function clearFieldErrors(form) {
  for (const control of form.querySelectorAll('[data-api-note-id]')) {
    const noteId = control.getAttribute('data-api-note-id');
    control.removeAttribute('data-api-note-id');
    control.removeAttribute('aria-invalid');
    const describedBy = (control.getAttribute('aria-describedby') || '').split(' ').filter((id) => id && id !== noteId);
    if (describedBy.length) control.setAttribute('aria-describedby', describedBy.join(' '));
    else control.removeAttribute('aria-describedby');
  }
  for (const note of form.querySelectorAll('.field-error[data-api-note]')) note.remove();
}

/**
 * Shows `err` in `el` (or hides `el` when `err` is null). Errors about a field of the form around
 * `el` (the API's `errors[].field`) go next to that field, with `aria-invalid` and
 * `aria-describedby`, and the first such field takes the focus; the rest are said in `el`.
 */
export function showError(el, err) {
  const form = el.closest('form');
  if (form) clearFieldErrors(form);
  if (!err) {
    el.hidden = true;
    el.textContent = '';
    return;
  }
  el.hidden = false;
  const said = [];
  let first = null;
  for (const e of err.errors || []) {
    if (!e || !e.message) continue;
    const control = e.field && form ? form.querySelector(`[name="${CSS.escape(e.field)}"]`) : null;
    const words = fieldMessage(e.field, e.message);
    if (control) {
      const note = fieldErrorFor(control);
      note.textContent = words;
      control.setAttribute('aria-invalid', 'true');
      if (!control.hasAttribute('data-api-note-id')) {
        control.setAttribute('data-api-note-id', note.id);
        control.setAttribute('aria-describedby', [control.getAttribute('aria-describedby'), note.id].filter(Boolean).join(' '));
      }
      if (!first) first = control;
    }
    if (e.field) said.push(words);
  }
  if (first) first.focus();
  if (said.length) {
    el.textContent = said.join(' ');
  } else {
    el.textContent = friendlyMessage(err);
  }
}

/** Says `text` through the page's polite live region (cart changes, saved forms). */
export function announce(text) {
  const region = document.getElementById('announcer');
  if (!region) return;
  region.textContent = '';
  // A fresh text node after a tick, so the same words twice are announced twice.
  setTimeout(() => {
    region.textContent = text;
  }, 50);
}

export function loading(text = 'Loading…') {
  return h('p', { class: 'loading', role: 'status' }, text);
}

/** A labelled form field. */
export function field(label, input, hint) {
  const id = input.id || `f-${Math.random().toString(36).slice(2, 9)}`;
  input.id = id;
  return h('div', { class: 'field' }, h('label', { for: id }, label), input, hint ? h('small', {}, hint) : null);
}

/** Reads a form's named controls into a plain object of trimmed strings. */
export function formValues(form) {
  const out = {};
  for (const [key, value] of new FormData(form).entries()) out[key] = String(value).trim();
  return out;
}

/** Same-origin image URLs only: the policy allows nothing else, so others become a placeholder,
 * and so does a missing URL (never a request for `/undefined`). `large` is the product page's
 * picture: loaded at once, at the size it is shown. */
export function productImage(url, alt, { large = false } = {}) {
  let safe = null;
  if (typeof url === 'string' && url.trim()) {
    try {
      const parsed = new URL(url, location.href);
      if (parsed.origin === location.origin) safe = parsed.pathname + parsed.search;
    } catch {
      safe = null;
    }
  }
  const [width, height] = large ? [480, 560] : [240, 280];
  if (safe) return h('img', { src: safe, alt, loading: large ? 'eager' : 'lazy', decoding: 'async', width, height });
  return alt
    ? h('div', { class: 'placeholder', role: 'img', 'aria-label': alt }, 'No picture')
    : h('div', { class: 'placeholder', 'aria-hidden': 'true' }, 'No picture');
}

export function pager(pagination, go) {
  if (!pagination || pagination.totalPages <= 1) return null;
  const { currentPage, totalPages } = pagination;
  return h(
    'nav',
    { class: 'pager', 'aria-label': 'Pages' },
    h('button', { type: 'button', disabled: !pagination.hasPrev, onclick: () => go(currentPage - 1) }, 'Previous'),
    h('span', {}, `Page ${currentPage} of ${totalPages}`),
    h('button', { type: 'button', disabled: !pagination.hasNext, onclick: () => go(currentPage + 1) }, 'Next'),
  );
}

/**
 * Asks before a destructive or role-changing action, in a modal <dialog> (focus moves into it and
 * Escape cancels). Resolves true only when the person presses the confirming button.
 */
export function confirmAction(message, confirmLabel = 'Confirm', keepLabel = 'Cancel') {
  return new Promise((resolve) => {
    const yes = h('button', { type: 'button', class: 'primary' }, confirmLabel);
    const no = h('button', { type: 'button' }, keepLabel);
    const text = h('p', { id: `confirm-${Math.random().toString(36).slice(2, 9)}` }, message);
    const dialog = h('dialog', { 'aria-labelledby': text.id, class: 'confirm' }, text, h('div', { class: 'actions' }, yes, ' ', no));
    let answer = false;
    yes.addEventListener('click', () => {
      answer = true;
      dialog.close();
    });
    no.addEventListener('click', () => dialog.close());
    dialog.addEventListener('close', () => {
      dialog.remove();
      resolve(answer);
    });
    document.body.appendChild(dialog);
    dialog.showModal();
    no.focus();
  });
}

/** The number typed in a numeric box, or an error naming the field when it is empty or not a number. */
export function requiredNumber(input, label) {
  const raw = String(input.value).trim();
  if (raw === '' || !Number.isFinite(Number(raw))) {
    const err = new Error(`${label} is required: enter a number`);
    err.errors = [];
    throw err;
  }
  return Number(raw);
}
