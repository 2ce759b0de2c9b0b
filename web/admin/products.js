// Every vendor's products and the shop's own: the list (active or not) and the form to create or
// edit every field, pictures and owner included (web/lib/products.js, shared with the vendor desk).

import { renderProductEditor, renderProductList } from '../lib/products.js';

export function renderAdminProducts(main, _params, query) {
  return renderProductList(main, query || {}, { admin: true });
}

export function renderAdminProduct(main, params) {
  return renderProductEditor(main, params, { admin: true });
}
