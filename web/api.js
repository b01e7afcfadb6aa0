// HTTP API client and session (access + refresh token) handling.
//
// Owns the tokens and every HTTP request's plumbing (problem details, one
// refresh-and-retry on 401). Must not touch the DOM or know about chat: the
// views turn an ApiError into words, the controller decides which routes to call.

const REFRESH_KEY = 'tickertalk.refresh_token';
const USER_KEY = 'tickertalk.username';

export class ApiError extends Error {
  constructor(status, problem = {}, retryAfter = null) {
    super(problem.detail || problem.title || (status ? `HTTP ${status}` : 'Network error'));
    this.status = status;
    this.title = problem.title || '';
    this.detail = problem.detail || '';
    this.errors = problem.errors && typeof problem.errors === 'object' ? problem.errors : {};
    this.retryAfter = retryAfter;
  }

  /** A sentence a person can read. */
  get friendly() {
    switch (this.status) {
      case 0: return 'Cannot reach the server. Check your connection and try again.';
      case 401: return this.detail ? capitalise(this.detail) : 'Please sign in again.';
      case 403: return 'You are not allowed to do that.';
      case 404: return this.detail ? capitalise(this.detail) : 'Not found.';
      case 413: return 'That is too large.';
      case 429: return `Slow down: too many requests.${this.retryAfter ? ` Try again in ${this.retryAfter}s.` : ''}`;
      case 503: return 'The service is temporarily unavailable. Try again shortly.';
      default:
        if (this.status >= 500) return 'Something went wrong on the server. Try again.';
        return this.detail ? capitalise(this.detail) : (this.title || 'Request failed.');
    }
  }
}

function capitalise(s) {
  return s ? s[0].toUpperCase() + s.slice(1) : s;
}

async function parseBody(res) {
  if (res.status === 204) return null;
  const text = await res.text();
  if (!text) return null;
  try {
    return JSON.parse(text);
  } catch {
    return { detail: text.slice(0, 200) };
  }
}

async function rawRequest(method, path, { body, token } = {}) {
  const headers = { Accept: 'application/json, application/problem+json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (token) headers.Authorization = `Bearer ${token}`;
  let res;
  try {
    res = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: 'same-origin',
      cache: 'no-store',
    });
  } catch {
    throw new ApiError(0);
  }
  const data = await parseBody(res);
  if (!res.ok) {
    const ra = res.headers.get('Retry-After');
    throw new ApiError(res.status, data || {}, ra ? Number(ra) || ra : null);
  }
  return data;
}

/**
 * Holds the current session. The refresh token lives in localStorage (so a
 * reload keeps you signed in); the short-lived access token only in memory.
 */
export class Session extends EventTarget {
  constructor() {
    super();
    this.token = null;
    this.expiresAt = 0;
    this.user = null;
    this.refreshTimer = null;
    this.inflight = null;
  }

  get username() {
    return this.user ? this.user.username : null;
  }

  static storedRefreshToken() {
    try {
      return localStorage.getItem(REFRESH_KEY);
    } catch {
      return null;
    }
  }

  static storedUsername() {
    try {
      return localStorage.getItem(USER_KEY);
    } catch {
      return null;
    }
  }

  /** Adopt a session response from signup / login / refresh. */
  adopt(data) {
    const { token, refresh_token: refreshToken, expires_at: expiresAt, ...user } = data;
    this.token = token;
    this.expiresAt = Date.parse(expiresAt) || Date.now() + 10 * 60 * 1000;
    if (user && user.username) this.user = { ...(this.user || {}), ...user };
    try {
      if (refreshToken) localStorage.setItem(REFRESH_KEY, refreshToken);
      if (this.user) localStorage.setItem(USER_KEY, this.user.username);
    } catch {
      /* storage disabled: session lasts for this page only */
    }
    this.scheduleRefresh();
    this.dispatchEvent(new Event('token'));
  }

  scheduleRefresh() {
    clearTimeout(this.refreshTimer);
    if (!this.token) return;
    const now = Date.now();
    const lifetime = Math.max(0, this.expiresAt - now);
    // Refresh a minute early, or at 75 % of a short lifetime; never sooner than 5 s.
    const lead = Math.min(60_000, lifetime * 0.25);
    const delay = Math.max(5_000, lifetime - lead);
    this.refreshTimer = setTimeout(() => this.timedRefresh(), delay);
  }

  timedRefresh() {
    this.refresh().catch((err) => {
      // 401 is handled through the 'expired' event; anything else (server
      // down, 503) is retried while the session is still ours.
      if (err.status !== 401 && this.token) {
        clearTimeout(this.refreshTimer);
        this.refreshTimer = setTimeout(() => this.timedRefresh(), 10_000);
      }
    });
  }

  /** True when the access token is missing or about to expire. */
  needsRefresh(marginMs = 15_000) {
    return !this.token || Date.now() + marginMs >= this.expiresAt;
  }

  /**
   * Exchange the stored refresh token for a new session. Concurrent calls
   * share one request; across tabs the Web Locks API serialises rotation.
   */
  refresh() {
    if (this.inflight) return this.inflight;
    const run = async () => {
      const attempt = async () => {
        const rt = Session.storedRefreshToken();
        if (!rt) throw new ApiError(401, { detail: 'not signed in' });
        try {
          return await rawRequest('POST', '/v1/auth/refresh', { body: { refresh_token: rt } });
        } catch (err) {
          // Another tab may have rotated the token while we were asking.
          if (err.status === 401 && Session.storedRefreshToken() && Session.storedRefreshToken() !== rt) {
            return rawRequest('POST', '/v1/auth/refresh', { body: { refresh_token: Session.storedRefreshToken() } });
          }
          throw err;
        }
      };
      const data = navigator.locks
        ? await navigator.locks.request('tickertalk-refresh', attempt)
        : await attempt();
      this.adopt(data);
      return data;
    };
    this.inflight = run()
      .catch((err) => {
        if (err.status === 401) {
          this.clear();
          this.dispatchEvent(new Event('expired'));
        }
        throw err;
      })
      .finally(() => {
        this.inflight = null;
      });
    return this.inflight;
  }

  /** Forget everything locally. */
  clear() {
    clearTimeout(this.refreshTimer);
    this.token = null;
    this.expiresAt = 0;
    this.user = null;
    try {
      localStorage.removeItem(REFRESH_KEY);
    } catch {
      /* ignore */
    }
  }

  /** An authenticated request; on 401 refresh once and retry. */
  async request(method, path, body) {
    if (this.needsRefresh(5_000) && Session.storedRefreshToken()) {
      await this.refresh();
    }
    try {
      return await rawRequest(method, path, { body, token: this.token });
    } catch (err) {
      if (err.status !== 401 || !Session.storedRefreshToken()) throw err;
      await this.refresh();
      return rawRequest(method, path, { body, token: this.token });
    }
  }

  async signup(fields) {
    const data = await rawRequest('POST', '/v1/auth/signup', { body: fields });
    this.adopt(data);
    return data;
  }

  async login(identifier, password) {
    const body = identifier.includes('@')
      ? { email: identifier, password }
      : { username: identifier, password };
    const data = await rawRequest('POST', '/v1/auth/login', { body });
    this.adopt(data);
    return data;
  }

  async logout() {
    const token = this.token;
    this.clear();
    if (token) {
      try {
        await rawRequest('DELETE', '/v1/auth/token', { token });
      } catch {
        /* the local session is gone either way */
      }
    }
  }
}
