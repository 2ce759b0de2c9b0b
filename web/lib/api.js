// The one place that talks to the server: it calls fetch and turns the error envelope
// `{success: false, code, message, errors}` into an ApiError. Callers branch on `err.code` (the
// server's stable codes, `ErrorCode` in src/domain/error.rs), never on the message, which is for people.
//
// The session lives in an HttpOnly cookie the server sets at login (CONTRACT §8): no script of
// this origin (nor any third-party code running on it, such as the API docs) can read the token,
// and nothing secret is kept in localStorage or sessionStorage. The browser sends the cookie by
// itself; every request that changes something also carries `X-CSRF-Token`, a value the server
// derives from the session and hands only to this origin's pages (in the login answer, or from
// `GET /auth/session` after a reload). It is kept in memory only. The live-update stream
// (GET /events) is read over fetch with the same cookie.

// Non-secret: the logged-in user's name and role, for display and to tell other tabs.
const USER_KEY = 'cartwright.user';
// Non-secret: "the server ended the session", shown once on the login page.
const EXPIRED_KEY = 'cartwright.expired';
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

export class ApiError extends Error {
  constructor(status, message, errors = [], code = null) {
    super(message);
    this.status = status;
    this.errors = errors;
    // The envelope's code; null when no envelope arrived (offline, or a bare protocol error).
    this.code = code;
  }
}

function storedUser() {
  try {
    return JSON.parse(localStorage.getItem(USER_KEY) || 'null');
  } catch {
    return null;
  }
}

let currentUser = storedUser();
let csrfToken = null;

export const session = {
  /** The logged-in user ({_id, name, email, role, ...}) or null. */
  get user() {
    return currentUser;
  },
  /** True after the server refused the session, until the next login. */
  get expired() {
    return sessionStorage.getItem(EXPIRED_KEY) === '1';
  },
  expire() {
    sessionStorage.setItem(EXPIRED_KEY, '1');
    this.clear();
  },
  save(user, csrf) {
    sessionStorage.removeItem(EXPIRED_KEY);
    currentUser = user;
    if (csrf) csrfToken = csrf;
    localStorage.setItem(USER_KEY, JSON.stringify(user));
    notify('session', user);
  },
  clear() {
    currentUser = null;
    csrfToken = null;
    localStorage.removeItem(USER_KEY);
    notify('session', null);
  },
  /**
   * Asks the server who this cookie belongs to (once at start, and when another tab logs in):
   * learns the user and the CSRF token. A session the server ended is reported as expired when
   * this page believed it was logged in.
   */
  async restore() {
    const believed = currentUser;
    let response;
    try {
      response = await fetch('/auth/session', {
        headers: { Accept: 'application/json' },
        credentials: 'same-origin',
        cache: 'no-store',
      });
    } catch {
      return currentUser; // offline: keep what we knew; the next request tells
    }
    let payload = null;
    try {
      payload = await response.json();
    } catch {
      payload = null;
    }
    if (response.ok && payload && payload.success) {
      this.save(payload.data.user, payload.data.csrfToken);
    } else if (response.status === 401) {
      if (believed) this.expire();
      else csrfToken = null;
    }
    return currentUser;
  },
};

// Session changes in another tab count too: a logout there ends this tab's session; a login
// there replaced the cookie, so this tab learns the new user and CSRF token.
window.addEventListener('storage', (e) => {
  if (e.key !== USER_KEY) return;
  if (e.newValue === null) {
    currentUser = null;
    csrfToken = null;
    notify('session', null);
  } else {
    session.restore();
  }
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

/** The address of a file the API serves (a CSV export): the session cookie goes with the
 *  browser's own download, so a plain link is enough. */
export function downloadUrl(path, query) {
  return url(path, query);
}

/** A random key for one attempt of a money- or stock-moving request. */
export function newIdempotencyKey() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

/**
 * One idempotency key per intended action: the same action retried (after an error or a lost
 * answer, or clicked twice) reuses its key, so the server applies it once; another body, or the
 * next action after a success, gets a new key.
 */
export function actionKey() {
  let key = null;
  let last = null;
  return {
    for(body) {
      const text = JSON.stringify(body);
      if (text !== last || !key) {
        last = text;
        key = newIdempotencyKey();
      }
      return key;
    },
    done() {
      key = null;
      last = null;
    },
  };
}

async function request(method, path, { query, body, form, idempotencyKey, auth = true } = {}) {
  const headers = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  // A FormData body (a file upload) sets its own multipart Content-Type with the boundary.
  const loggedIn = auth && Boolean(currentUser);
  if (loggedIn && !SAFE_METHODS.has(method)) {
    if (!csrfToken) await session.restore();
    if (csrfToken) headers['X-CSRF-Token'] = csrfToken;
  }
  if (idempotencyKey) headers['Idempotency-Key'] = idempotencyKey;
  let response;
  try {
    response = await fetch(url(path, query), {
      method,
      headers,
      body: form !== undefined ? form : body === undefined ? undefined : JSON.stringify(body),
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
    if (response.status === 401 && loggedIn && currentUser) {
      session.expire();
      notify('unauthorized', message);
    }
    throw new ApiError(response.status, message, (payload && payload.errors) || [], (payload && payload.code) || null);
  }
  return { data: payload.data, message: payload.message };
}

// Work an app does right after a log-in or registration, before the page moves on (the
// storefront merges the cart kept while logged out).
const loginHooks = [];
export function afterLogin(fn) {
  loginHooks.push(fn);
}
async function runLoginHooks(user) {
  for (const fn of loginHooks) {
    try {
      await fn(user);
    } catch {
      /* the hook reports its own trouble */
    }
  }
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
  /** Sends one file as the multipart field `name` (POST /uploads/images takes `image`). */
  upload: (path, file, name = 'image') => {
    const form = new FormData();
    form.append(name, file);
    return data('POST', path, { form });
  },

  // The answer also holds the bearer token for API clients; the page ignores it (the cookie
  // carries the session).
  async login(email, password) {
    const result = await data('POST', '/auth/login', { body: { email, password }, auth: false });
    session.save(result.user, result.csrfToken);
    await runLoginHooks(result.user);
    return result.user;
  },
  async register(body) {
    const result = await data('POST', '/auth/register', { body, auth: false });
    session.save(result.user, result.csrfToken);
    await runLoginHooks(result.user);
    return result.user;
  },
  /** Ends the session on the server (every token of the account) and here. */
  async logout() {
    try {
      await data('POST', '/auth/logout', { body: {} });
    } catch {
      /* already ended, or offline: the cookie is gone or dies with its token */
    }
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
    if (!currentUser) return schedule();
    controller = new AbortController();
    try {
      const response = await fetch('/events', {
        headers: { Accept: 'text/event-stream' },
        credentials: 'same-origin',
        cache: 'no-store',
        signal: controller.signal,
      });
      const type = response.headers.get('content-type') || '';
      if (response.ok && type.startsWith('text/event-stream') && response.body) {
        await read(response.body);
      } else if (response.status === 401) {
        if (currentUser) session.expire();
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
