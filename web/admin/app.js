// The admin console: dashboard, orders, products, returns, refunds, discount codes, users and emails.

import { startConsole } from '../lib/console.js';
import { renderDashboard } from './dashboard.js';

const lazy = (file, name) => async (...args) => (await import(file))[name](...args);

startConsole({
  role: 'admin',
  title: 'Admin console',
  links: [
    ['/', 'Dashboard'],
    ['/orders', 'Orders'],
    ['/products', 'Products'],
    ['/returns', 'Returns'],
    ['/refunds', 'Refunds'],
    ['/discounts', 'Discount codes'],
    ['/users', 'Users'],
    ['/emails', 'Emails'],
  ],
  routes: [
    ['/', renderDashboard],
    ['/orders', lazy('./orders.js', 'renderAdminOrders')],
    ['/orders/:id', lazy('./order.js', 'renderAdminOrder')],
    ['/products', lazy('./products.js', 'renderAdminProducts')],
    ['/products/:id', lazy('./products.js', 'renderAdminProduct')],
    ['/returns', lazy('./returns.js', 'renderReturns')],
    ['/refunds', lazy('./refunds.js', 'renderRefunds')],
    ['/discounts', lazy('./discounts.js', 'renderDiscounts')],
    ['/users', lazy('./users.js', 'renderUsers')],
    ['/emails', lazy('./emails.js', 'renderEmails')],
  ],
});
