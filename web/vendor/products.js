// The vendor's own products: the list (active or not) and the form to create or edit every field,
// pictures included (web/lib/products.js, shared with the admin console).

import { renderProductEditor, renderProductList } from '../lib/products.js';

export function renderVendorProducts(main, _params, query) {
  return renderProductList(main, query || {}, { admin: false });
}

export function renderVendorProduct(main, params) {
  return renderProductEditor(main, params, { admin: false });
}
