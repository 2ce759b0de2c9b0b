// Notifications: GET /notifications, mark one or all as read; the bell in the header follows.

import { api, notify, on } from '../lib/api.js';
import { busy, date, errorArea, h, loading, mount, pager, showError } from '../lib/dom.js';
import { link } from '../lib/router.js';

export async function renderNotifications(main) {
  const list = h('section', { 'aria-label': 'Notifications list' }, loading());
  const allError = errorArea();
  const readAll = h('button', { type: 'button' }, 'Mark all as read');
  readAll.addEventListener('click', () =>
    busy(readAll, allError, async () => {
      await api.patch('/notifications/read-all', {});
      notify('notifications');
      await draw(1);
    }),
  );
  mount(main, h('h1', {}, 'Notifications'), h('div', { class: 'action' }, readAll, allError), list);

  async function draw(page = 1) {
    const error = errorArea();
    try {
      const data = await api.get('/notifications', { page, limit: 20 });
      mount(
        list,
        data.notifications.length
          ? h(
              'ul',
              { class: 'notifications plain' },
              data.notifications.map((n) => {
                const itemError = errorArea();
                const mark = n.isRead ? null : h('button', { type: 'button', class: 'link', 'aria-label': `Mark as read: ${n.title}` }, 'Mark as read');
                if (mark) {
                  mark.addEventListener('click', () =>
                    busy(mark, itemError, async () => {
                      await api.patch(`/notifications/${encodeURIComponent(n._id)}/read`, {});
                      notify('notifications');
                      await draw(page);
                    }),
                  );
                }
                return h(
                  'li',
                  { class: `card notification${n.isRead ? '' : ' unread'}` },
                  h('h2', { class: 'small' }, n.isRead ? '' : 'New: ', n.title),
                  h('p', {}, n.message),
                  h('p', { class: 'muted small' }, date(n.createdAt), n.orderId ? [' · ', link(`/orders/${n.orderId}`, 'View order')] : null),
                  mark,
                  itemError,
                );
              }),
            )
          : h('p', {}, 'No notifications yet.'),
        pager(data.pagination, draw),
      );
    } catch (err) {
      mount(list, error);
      showError(error, err);
    }
  }
  await draw(1);
  return on('live', ({ event }) => {
    if (event === 'notification' || event === 'open') draw(1);
  });
}
