// The vendor desk: the orders that hold this vendor's products, and its products (every field,
// pictures, active or not).

import { startConsole } from '../lib/console.js';
import { renderVendorOrders } from './orders.js';
import { renderVendorProduct, renderVendorProducts } from './products.js';

startConsole({
  role: 'vendor',
  title: 'Vendor desk',
  links: [
    ['/', 'Orders'],
    ['/products', 'My products'],
  ],
  routes: [
    ['/', renderVendorOrders],
    ['/products', renderVendorProducts],
    ['/products/:id', renderVendorProduct],
  ],
});
