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

export function showError(el, err) {
  if (!err) {
    el.hidden = true;
    el.textContent = '';
    return;
  }
  el.hidden = false;
  const fields = (err.errors || []).filter((e) => e && e.message && e.field && !String(err.message).includes(e.message));
  el.textContent = fields.length
    ? `${err.message}: ${fields.map((e) => `${e.field} ${e.message}`).join('; ')}`
    : err.message || String(err);
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

/** Same-origin image URLs only: the policy allows nothing else, so others become a placeholder. */
export function productImage(url, alt) {
  let safe = null;
  try {
    const parsed = new URL(url, location.href);
    if (parsed.origin === location.origin) safe = parsed.pathname + parsed.search;
  } catch {
    safe = null;
  }
  if (safe) return h('img', { src: safe, alt, loading: 'lazy', width: 120, height: 140 });
  return h('div', { class: 'placeholder', role: 'img', 'aria-label': alt }, 'No image');
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
export function confirmAction(message, confirmLabel = 'Confirm') {
  return new Promise((resolve) => {
    const yes = h('button', { type: 'button', class: 'primary' }, confirmLabel);
    const no = h('button', { type: 'button' }, 'Cancel');
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
