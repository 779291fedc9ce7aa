// jwtd-client.js - browser (and Node >= 18) client for jwtd's cookie flow (docs/api.md §5).
//
// One ES module, no dependencies, built on fetch. What it does:
//   - keeps the access token in memory only (never localStorage/sessionStorage); the refresh
//     token lives in jwtd's HttpOnly cookie, which JavaScript cannot read;
//   - adds `Authorization: Bearer <access>` to requests made with client.fetch();
//   - on a 401 refreshes once and retries; concurrent callers share ONE refresh
//     (single-flight: one refresh, the failed requests queued behind it);
//   - coordinates tabs: refreshes run under a Web Lock (navigator.locks) so two tabs never
//     present the same cookie at once, and a tab that waited for the lock reuses the token
//     the other tab just broadcast (BroadcastChannel) instead of rotating again; login and
//     logout are broadcast so every tab follows. Without Web Locks the server's reuse grace
//     (JWTD_REFRESH_REUSE_GRACE) still hands concurrent refreshes the same successor;
//   - refreshes proactively shortly before the access token expires;
//   - picks up X-New-Access-Token (jwtd's auto-refresh) from any response;
//   - restore() re-establishes the session on page load from the cookie;
//   - emits "login", "logout", "refresh" and "tokenchange" events (EventTarget).
//
// Types: jwtd-client.d.ts beside this file.

const DEFAULT_CHANNEL = 'jwtd-auth';
const DEFAULT_LOCK = 'jwtd-refresh';

/**
 * Error raised by the client; `status`, `code` and `body` (the parsed answer) come from jwtd's
 * answer when there is one. A login that needs its second factor rejects with code
 * "mfa_required" and body.mfa_token: finish it with verifyMfa().
 */
export class JwtdError extends Error {
  constructor(message, status = 0, code = '', body = null) {
    super(message);
    this.name = 'JwtdError';
    this.status = status;
    this.code = code;
    this.body = body;
  }
}

/** Decodes a JWT's payload (no verification: the server verifies). Returns null if malformed. */
export function decodeJwt(token) {
  try {
    const part = String(token).split('.')[1];
    const b64 = part.replace(/-/g, '+').replace(/_/g, '/');
    const padded = b64 + '='.repeat((4 - (b64.length % 4)) % 4);
    const text =
      typeof atob === 'function'
        ? decodeURIComponent(
            Array.from(atob(padded), (c) => '%' + c.charCodeAt(0).toString(16).padStart(2, '0')).join(''),
          )
        : Buffer.from(padded, 'base64').toString('utf8');
    return JSON.parse(text);
  } catch {
    return null;
  }
}

async function errorFrom(res, fallback) {
  let body = null;
  try {
    body = await res.json();
  } catch {
    /* not JSON */
  }
  const msg = (body && (body.detail || body.error)) || fallback;
  const err = new JwtdError(msg, res.status, (body && body.code) || '', body);
  // a login's second step: what the page needs to finish it
  if (body && body.code === 'mfa_required') {
    err.mfaToken = body.mfa_token;
    err.factors = body.factors || [];
  }
  return err;
}

export class JwtdClient extends EventTarget {
  /**
   * @param {object} [options]
   * @param {string} [options.baseUrl] jwtd's origin ('' = same origin)
   * @param {typeof fetch} [options.fetch] fetch implementation (default: the global one)
   * @param {number} [options.refreshBeforeExpiry] seconds before expiry to refresh (default 30,
   *   capped at a quarter of the token's lifetime)
   * @param {boolean} [options.proactive] schedule refreshes before expiry (default true)
   * @param {string|null} [options.channelName] BroadcastChannel name (null: no cross-tab messages)
   * @param {string} [options.lockName] Web Lock name
   */
  constructor(options = {}) {
    super();
    this.baseUrl = (options.baseUrl || '').replace(/\/$/, '');
    this._fetch = options.fetch || globalThis.fetch.bind(globalThis);
    this.refreshBeforeExpiry = options.refreshBeforeExpiry ?? 30;
    this.proactive = options.proactive ?? true;
    this.lockName = options.lockName || DEFAULT_LOCK;
    this._access = null;
    this._claims = null;
    this._user = null;
    this._gen = 0; // bumped whenever the access token changes
    this._inflight = null; // the refresh in progress (single-flight)
    this._timer = null;
    this._localLock = Promise.resolve();
    const channelName = options.channelName === undefined ? DEFAULT_CHANNEL : options.channelName;
    this._channel =
      channelName && typeof BroadcastChannel === 'function' ? new BroadcastChannel(channelName) : null;
    if (this._channel) this._channel.onmessage = (e) => this._onMessage(e.data);
  }

  /** The current access token (memory only), or null. */
  get accessToken() {
    return this._access;
  }
  /** The signed-in user as jwtd returned it, or null. */
  get user() {
    return this._user;
  }
  get isAuthenticated() {
    return this._access !== null;
  }
  /** Seconds until the access token expires (negative when expired), or null. */
  secondsLeft() {
    if (!this._claims || typeof this._claims.exp !== 'number') return null;
    return this._claims.exp - Date.now() / 1000;
  }

  // ---- session ------------------------------------------------------------------------------

  /** Signs in; jwtd sets the refresh cookie. Resolves to the user. */
  async login(username, password) {
    const res = await this._fetch(this.baseUrl + '/api/auth/login/', {
      method: 'POST',
      credentials: 'include',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ username, password }),
    });
    if (!res.ok) throw await errorFrom(res, 'Login failed');
    return this._signedIn(await res.json());
  }

  /**
   * The second step of a login that rejected with code "mfa_required": the mfa_token of that
   * answer and a code of the user's authenticator app (or a recovery code). jwtd sets the
   * refresh cookie. Resolves to the user.
   */
  async verifyMfa(mfaToken, code) {
    const res = await this._fetch(this.baseUrl + '/auth/mfa/verify', {
      method: 'POST',
      credentials: 'include',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ mfa_token: mfaToken, code }),
    });
    if (!res.ok) throw await errorFrom(res, 'Verification failed');
    return this._signedIn(await res.json());
  }

  _signedIn(body) {
    this._user = body.user || null;
    this._setAccess(body.access, 'login');
    this._post({ type: 'login', access: body.access, user: this._user });
    this._emit('login', { user: this._user });
    return this._user;
  }

  /**
   * Restores the session from the refresh cookie (page load). Resolves to the user, or null
   * when there is no valid cookie.
   */
  async restore() {
    try {
      await this.refresh();
    } catch (e) {
      if (e instanceof JwtdError && (e.status === 401 || e.status === 403)) return null;
      throw e;
    }
    return this.loadUser();
  }

  /** GET /api/auth/verify/: refreshes this.user from the server. */
  async loadUser() {
    const res = await this.fetch(this.baseUrl + '/api/auth/verify/');
    if (!res.ok) throw await errorFrom(res, 'Not signed in');
    const body = await res.json();
    this._user = body.user || null;
    return this._user;
  }

  /**
   * Signs out: jwtd revokes the session and clears the cookie; every tab follows. The refresh
   * cookie alone is enough for jwtd, so this works after the access token has expired. The
   * local state is cleared in any case; the promise rejects (JwtdError with jwtd's status and
   * code) when jwtd did not confirm the logout, so a caller never mistakes a session that may
   * still be alive on the server for a signed-out one.
   */
  async logout() {
    const token = this._access;
    let error = null;
    try {
      const headers = token ? { Authorization: 'Bearer ' + token } : {};
      const res = await this._fetch(this.baseUrl + '/api/auth/logout/', {
        method: 'POST',
        credentials: 'include',
        headers,
      });
      if (!res.ok) error = await errorFrom(res, 'Logout failed');
    } catch (e) {
      error = e;
    }
    this._post({ type: 'logout' });
    this._signedOut('logout');
    if (error) throw error;
  }

  /**
   * Gets a new access token from the refresh cookie. Single-flight within the tab; across
   * tabs serialized by a Web Lock. Resolves to the access token; rejects with a JwtdError
   * (and signs out on 401) when the cookie is missing, expired or revoked.
   */
  refresh() {
    if (this._inflight) return this._inflight;
    const gen = this._gen;
    this._inflight = this._withLock(async () => {
      // While this tab waited for the lock another tab may have refreshed and broadcast
      // its token: take it instead of rotating the cookie again.
      if (this._gen !== gen && this._access && !this._expiringSoon()) return this._access;
      const res = await this._fetch(this.baseUrl + '/api/auth/refresh/', {
        method: 'POST',
        credentials: 'include',
      });
      if (!res.ok) {
        const err = await errorFrom(res, 'Refresh failed');
        if (res.status === 401) {
          const had = this._access !== null;
          this._signedOut('expired', had);
        }
        throw err;
      }
      const body = await res.json();
      this._setAccess(body.access, 'refresh');
      this._post({ type: 'token', access: body.access });
      return body.access;
    }).finally(() => {
      this._inflight = null;
    });
    return this._inflight;
  }

  /**
   * fetch() with the Bearer header; on 401 refreshes once and retries; adopts
   * X-New-Access-Token. Same arguments and result as fetch. Only call it for APIs that
   * should see the access token. Credentials (cookies) go to jwtd (baseUrl) and to
   * same-origin URLs unless init.credentials says otherwise.
   */
  async fetch(input, init = {}) {
    if (!this._access && this._inflight) await this._inflight.catch(() => {});
    // jwtd itself gets the cookie (auto-refresh needs it), other APIs only same-origin ones
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    const toJwtd = !this.baseUrl || !/^[a-z][a-z0-9+.-]*:/i.test(url) || url.startsWith(this.baseUrl + '/');
    const credentials = toJwtd ? 'include' : 'same-origin';
    const send = (token) => {
      const headers = new Headers(init.headers || {});
      if (token) headers.set('Authorization', 'Bearer ' + token);
      return this._fetch(input, { credentials, ...init, headers });
    };
    const used = this._access;
    let res = await send(used);
    if (res.status === 401 && used) {
      let token = null;
      try {
        token = this._access !== used ? this._access : await this.refresh();
      } catch {
        return res;
      }
      res = await send(token);
    }
    this._pickUp(res);
    return res;
  }

  /** Stops timers and closes the channel. */
  destroy() {
    clearTimeout(this._timer);
    this._timer = null;
    if (this._channel) this._channel.close();
    this._channel = null;
  }

  // ---- internals ----------------------------------------------------------------------------

  _pickUp(res) {
    const fresh = res.headers.get('X-New-Access-Token');
    if (fresh && fresh !== this._access) {
      this._setAccess(fresh, 'auto-refresh');
      this._post({ type: 'token', access: fresh });
    }
  }

  _expiringSoon() {
    const left = this.secondsLeft();
    return left === null || left <= 1;
  }

  _setAccess(token, reason) {
    this._access = token;
    this._claims = decodeJwt(token);
    this._gen++;
    this._schedule();
    this._emit('tokenchange', { reason });
    if (reason !== 'login') this._emit('refresh', { reason });
  }

  _signedOut(reason, emit = true) {
    const was = this._access !== null || this._user !== null;
    this._access = null;
    this._claims = null;
    this._user = null;
    this._gen++;
    clearTimeout(this._timer);
    this._timer = null;
    if (was && emit) this._emit('logout', { reason });
  }

  _schedule() {
    clearTimeout(this._timer);
    this._timer = null;
    if (!this.proactive || !this._claims || typeof this._claims.exp !== 'number') return;
    const lifetime = this._claims.exp - (this._claims.iat || Date.now() / 1000);
    const lead = Math.min(this.refreshBeforeExpiry, lifetime / 4);
    const jitter = Math.random() * Math.min(1, lead / 4);
    const ms = Math.max(0, (this._claims.exp - lead - jitter) * 1000 - Date.now());
    this._timer = setTimeout(() => {
      this._timer = null;
      this.refresh().catch(() => {});
    }, ms);
    if (this._timer && typeof this._timer.unref === 'function') this._timer.unref();
  }

  _withLock(fn) {
    const locks = globalThis.navigator && globalThis.navigator.locks;
    if (locks && typeof locks.request === 'function') {
      return locks.request(this.lockName, { mode: 'exclusive' }, fn);
    }
    // No Web Locks (Node, old browsers): serialize within this context only.
    const run = this._localLock.then(fn, fn);
    this._localLock = run.catch(() => {});
    return run;
  }

  _post(msg) {
    if (this._channel) this._channel.postMessage(msg);
  }

  _onMessage(msg) {
    if (!msg || typeof msg !== 'object') return;
    if (msg.type === 'token' && typeof msg.access === 'string') {
      if (msg.access !== this._access) this._setAccess(msg.access, 'other-tab');
    } else if (msg.type === 'login' && typeof msg.access === 'string') {
      this._user = msg.user || null;
      this._setAccess(msg.access, 'login');
      this._emit('login', { user: this._user, fromOtherTab: true });
    } else if (msg.type === 'logout') {
      this._signedOut('other-tab');
    }
  }

  _emit(type, detail) {
    const ev = typeof CustomEvent === 'function' ? new CustomEvent(type, { detail }) : new Event(type);
    if (!('detail' in ev)) ev.detail = detail;
    this.dispatchEvent(ev);
  }
}

export default JwtdClient;
