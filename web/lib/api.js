// The one place that talks to the server: it calls fetch, attaches the session token (only to this
// origin's API), and turns the error envelope `{success: false, message, errors}` into an ApiError.
// It also reads the live-update stream (GET /events) over fetch, because EventSource cannot send
// an Authorization header and the token must never go into a URL.

const TOKEN_KEY = 'cartwright.token';
const USER_KEY = 'cartwright.user';
const EXPIRED_KEY = 'cartwright.expired';

export class ApiError extends Error {
  constructor(status, message, errors = []) {
    super(message);
    this.status = status;
    this.errors = errors;
  }
}

export const session = {
  get token() {
    return localStorage.getItem(TOKEN_KEY);
  },
  get user() {
    try {
      return JSON.parse(localStorage.getItem(USER_KEY) || 'null');
    } catch {
      return null;
    }
  },
  /** True after the server refused the stored token, until the next login. */
  get expired() {
    return sessionStorage.getItem(EXPIRED_KEY) === '1';
  },
  expire() {
    sessionStorage.setItem(EXPIRED_KEY, '1');
    this.clear();
  },
  save(token, user) {
    sessionStorage.removeItem(EXPIRED_KEY);
    localStorage.setItem(TOKEN_KEY, token);
    localStorage.setItem(USER_KEY, JSON.stringify(user));
    notify('session', user);
  },
  clear() {
    localStorage.removeItem(TOKEN_KEY);
    localStorage.removeItem(USER_KEY);
    notify('session', null);
  },
};

// Session changes in another tab count too.
window.addEventListener('storage', (e) => {
  if (e.key === TOKEN_KEY) notify('session', session.user);
});

const listeners = new Map();
/** Subscribes to 'session', 'unauthorized' or 'cart' (totalItems changed); returns unsubscribe. */
export function on(name, fn) {
  if (!listeners.has(name)) listeners.set(name, new Set());
  listeners.get(name).add(fn);
  return () => listeners.get(name).delete(fn);
}
export function notify(name, value) {
  for (const fn of listeners.get(name) || []) fn(value);
}

function url(path, query) {
  const u = new URL(path, location.origin);
  for (const [k, v] of Object.entries(query || {})) {
    if (v !== undefined && v !== null && v !== '') u.searchParams.set(k, v);
  }
  return u.pathname + u.search;
}

/** A random key for one attempt of a money- or stock-moving request. */
export function newIdempotencyKey() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

async function request(method, path, { query, body, idempotencyKey, auth = true } = {}) {
  const headers = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const token = session.token;
  if (auth && token) headers.Authorization = `Bearer ${token}`;
  if (idempotencyKey) headers['Idempotency-Key'] = idempotencyKey;
  let response;
  try {
    response = await fetch(url(path, query), {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: 'same-origin',
      cache: 'no-store',
    });
  } catch {
    throw new ApiError(0, 'Cannot reach the shop. Check your connection and try again.');
  }
  let payload = null;
  try {
    payload = await response.json();
  } catch {
    payload = null;
  }
  if (!response.ok || !payload || payload.success === false) {
    const message =
      (payload && payload.message) ||
      (response.status === 429 ? 'Too many attempts; wait a minute and try again.' : `Request failed (${response.status})`);
    if (response.status === 401 && token) {
      session.expire();
      notify('unauthorized', message);
    }
    throw new ApiError(response.status, message, (payload && payload.errors) || []);
  }
  return { data: payload.data, message: payload.message };
}

async function data(method, path, options) {
  return (await request(method, path, options)).data;
}

export const api = {
  request,
  get: (path, query) => data('GET', path, { query }),
  post: (path, body, opts = {}) => data('POST', path, { body, ...opts }),
  put: (path, body, opts = {}) => data('PUT', path, { body, ...opts }),
  patch: (path, body, opts = {}) => data('PATCH', path, { body, ...opts }),
  del: (path, opts = {}) => data('DELETE', path, opts),

  async login(email, password) {
    const result = await data('POST', '/auth/login', { body: { email, password }, auth: false });
    session.save(result.token, result.user);
    return result.user;
  },
  async register(body) {
    const result = await data('POST', '/auth/register', { body, auth: false });
    session.save(result.token, result.user);
    return result.user;
  },
  logout() {
    sessionStorage.removeItem(EXPIRED_KEY);
    session.clear();
  },
};

/**
 * Follows the caller's live-update stream. `onEvent(name, data)` runs for each event; `onOpen()`
 * after every (re)connect, so a page can re-read what it shows (a dropped stream loses nothing).
 * Reconnects by itself with back-off (1 s doubling to 30 s, with jitter), quietly tolerating a
 * server without the endpoint. Returns a function that stops it.
 */
export function liveEvents({ onEvent, onOpen }) {
  let stopped = false;
  let controller = null;
  let delay = 1000;
  let timer = null;

  async function connect() {
    if (stopped) return;
    const token = session.token;
    if (!token) return schedule();
    controller = new AbortController();
    try {
      const response = await fetch('/events', {
        headers: { Accept: 'text/event-stream', Authorization: `Bearer ${token}` },
        credentials: 'same-origin',
        cache: 'no-store',
        signal: controller.signal,
      });
      const type = response.headers.get('content-type') || '';
      if (response.ok && type.startsWith('text/event-stream') && response.body) {
        await read(response.body);
      } else if (response.status === 401) {
        session.expire();
        notify('unauthorized', 'Your session has ended; please log in again.');
        return;
      }
    } catch {
      // Dropped or aborted: fall through to a reconnect.
    }
    schedule();
  }

  function schedule() {
    if (stopped) return;
    const wait = delay / 2 + Math.random() * (delay / 2);
    delay = Math.min(delay * 2, 30000);
    timer = setTimeout(connect, wait);
  }

  async function read(body) {
    const reader = body.getReader();
    const decoder = new TextDecoder();
    let buffer = '';
    let event = 'message';
    let dataLines = [];
    let opened = false;
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += decoder.decode(value, { stream: true });
      let newline;
      while ((newline = buffer.search(/\r\n|\r|\n/)) >= 0) {
        const line = buffer.slice(0, newline);
        buffer = buffer.slice(newline + (buffer.startsWith('\r\n', newline) ? 2 : 1));
        if (line === '') {
          if (dataLines.length) {
            const raw = dataLines.join('\n');
            let parsed = raw;
            try {
              parsed = JSON.parse(raw);
            } catch {
              parsed = raw;
            }
            if (!opened) {
              opened = true;
              delay = 1000;
              if (onOpen) onOpen();
            }
            if (event !== 'ready' && onEvent) onEvent(event, parsed);
          }
          event = 'message';
          dataLines = [];
          continue;
        }
        if (line.startsWith(':')) continue;
        const colon = line.indexOf(':');
        const name = colon < 0 ? line : line.slice(0, colon);
        let value = colon < 0 ? '' : line.slice(colon + 1);
        if (value.startsWith(' ')) value = value.slice(1);
        if (name === 'event') event = value;
        else if (name === 'data') dataLines.push(value);
      }
    }
  }

  connect();
  return () => {
    stopped = true;
    clearTimeout(timer);
    if (controller) controller.abort();
  };
}
