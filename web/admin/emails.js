// Emails: what the shop composed and where each stands (GET /admin/emails), the text as sent,
// and Retry for a failed one (POST /admin/emails/:id/retry). Without SMTP_URL nothing is sent and
// every email stays pending here, which is how to read them on a machine with no mail server.

import { api } from '../lib/api.js';
import { busy, date, errorArea, field, h, loading, mount, pager, showError } from '../lib/dom.js';
import { go } from '../lib/router.js';

const STATUSES = ['pending', 'sending', 'sent', 'failed'];
const STATUS_WORDS = { pending: 'Waiting to be sent', sending: 'Sending', sent: 'Sent', failed: 'Failed' };

export async function renderEmails(main, _params, query) {
  const status = h(
    'select',
    { name: 'status' },
    h('option', { value: '' }, 'All emails'),
    STATUSES.map((s) => h('option', { value: s, selected: s === query.status }, STATUS_WORDS[s])),
  );
  status.addEventListener('change', () => go('/emails', { status: status.value }));
  const list = h('section', { 'aria-label': 'Emails' }, loading());
  const viewer = h('section', { class: 'card', 'aria-label': 'Email text', hidden: true });
  mount(main, h('h1', {}, 'Emails'), h('div', { class: 'filters' }, field('Show', status)), list, viewer);

  function show(email) {
    viewer.hidden = false;
    mount(
      viewer,
      h('h2', {}, email.subject),
      h('p', {}, `To: ${email.recipientName ? `${email.recipientName} <${email.recipient}>` : email.recipient}`),
      h('pre', { class: 'email-text', tabindex: 0 }, email.textBody),
      h('button', { type: 'button', onclick: () => { viewer.hidden = true; } }, 'Close'),
    );
    viewer.scrollIntoView({ block: 'nearest' });
    viewer.querySelector('pre').focus();
  }

  async function reload() {
    const listError = errorArea();
    try {
      const { emails, pagination } = await api.get('/admin/emails', { status: query.status || undefined, page: query.page, limit: 25 });
      if (!emails.length) {
        mount(list, h('p', {}, query.status ? `No ${STATUS_WORDS[query.status].toLowerCase()} emails.` : 'No emails yet.'));
        return;
      }
      mount(
        list,
        h(
          'div',
          { class: 'table-wrap' },
          h(
            'table',
            {},
            h('thead', {}, h('tr', {}, ['Written', 'To', 'Subject', 'Status', 'Attempts', 'Last error', ''].map((t) => h('th', { scope: 'col' }, t)))),
            h(
              'tbody',
              {},
              emails.map((e) => {
                const rowError = errorArea();
                const view = h('button', { type: 'button', 'aria-label': `Read "${e.subject}"` }, 'Read');
                view.addEventListener('click', () => show(e));
                let retry = null;
                if (e.status === 'failed') {
                  retry = h('button', { type: 'button', class: 'primary', 'aria-label': `Retry "${e.subject}"` }, 'Retry');
                  retry.addEventListener('click', () =>
                    busy(retry, rowError, async () => {
                      await api.post(`/admin/emails/${encodeURIComponent(e._id)}/retry`, {});
                      await reload();
                    }),
                  );
                }
                const statusText = e.status === 'sent' && e.sentAt ? `Sent ${date(e.sentAt)}` : STATUS_WORDS[e.status] || e.status;
                return h(
                  'tr',
                  {},
                  h('td', {}, date(e.createdAt)),
                  h('td', {}, e.recipient),
                  h('th', { scope: 'row' }, e.subject),
                  h('td', {}, statusText, e.status === 'pending' && e.nextAttemptAt && e.attempts > 0 ? h('small', {}, ` (next try ${date(e.nextAttemptAt)})`) : null),
                  h('td', {}, String(e.attempts)),
                  h('td', {}, e.lastError || ''),
                  h('td', {}, view, retry, rowError),
                );
              }),
            ),
          ),
        ),
        pager(pagination, (p) => go('/emails', { status: query.status, page: p })),
      );
    } catch (err) {
      mount(list, listError);
      showError(listError, err);
    }
  }
  await reload();
}
