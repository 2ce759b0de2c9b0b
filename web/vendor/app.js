// The vendor desk: the orders that hold this vendor's products, and its products' price and stock.

import { startConsole } from '../lib/console.js';
import { renderVendorOrders } from './orders.js';
import { renderVendorProducts } from './products.js';

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
  ],
});
