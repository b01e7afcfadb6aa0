// WebSocket connection with automatic reconnect (exponential backoff + jitter).
//
// Owns the transport only: one socket at a time, its token, its retries, and
// JSON in and out. Must not know what a frame means (protocol.js builds and
// reads them) or touch the DOM; the app listens to its events instead.
//
// Events dispatched (CustomEvent, detail as noted):
//   'status'  {state: 'connecting'|'online'|'waiting'|'offline', retryInMs?, attempt?}
//   'open'    {params}                 every time a connection is established; params:
//                                      the query it was opened with, besides the token
//   'frame'   {frame}                  every parsed JSON frame from the server
//   'drop'    {code, reason, wasOpen}  a connection ended (before a retry is scheduled)
//   'revoked' {}                       the server closed with 4001 (session revoked)
//   'refused' {origin, serverHost}     the server will not take a socket from this page's
//                                      origin (asked after failed opens: browsers hide the 403)

const MIN_DELAY = 500;
const MAX_DELAY = 15_000;

export class ChatSocket extends EventTarget {
  /**
   * @param {(forceRefresh: boolean) => Promise<string>} getToken resolves a fresh access token
   * @param {() => Record<string, string>} getParams more query parameters for the next
   *   connection, asked for right before each one opens
   */
  constructor(getToken, getParams = () => ({})) {
    super();
    this.getToken = getToken;
    this.getParams = getParams;
    this.ws = null;
    this.attempt = 0;
    this.failedOpens = 0;
    this.timer = null;
    this.stopped = true;
    this.state = 'offline';
    this.openedAt = 0;
    this.onOnline = () => {
      if (!this.stopped && this.state === 'waiting') this.connectNow();
    };
    window.addEventListener('online', this.onOnline);
  }

  get isOpen() {
    return !!this.ws && this.ws.readyState === WebSocket.OPEN;
  }

  setState(state, extra = {}) {
    this.state = state;
    this.dispatchEvent(new CustomEvent('status', { detail: { state, ...extra } }));
  }

  start() {
    this.stopped = false;
    this.attempt = 0;
    this.connectNow();
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    const ws = this.ws;
    this.ws = null;
    if (ws) {
      ws.onopen = ws.onclose = ws.onmessage = ws.onerror = null;
      try {
        ws.close(1000, 'bye');
      } catch {
        /* ignore */
      }
    }
    this.setState('offline');
  }

  /** Drop the current connection (if any) and connect again right away. */
  reconnect() {
    if (this.stopped) return;
    const ws = this.ws;
    this.ws = null;
    if (ws) {
      ws.onopen = ws.onclose = ws.onmessage = ws.onerror = null;
      try {
        ws.close(1000, 'reconnect');
      } catch {
        /* ignore */
      }
      this.dispatchEvent(new CustomEvent('drop', { detail: { code: 1000, reason: 'reconnect', wasOpen: true } }));
    }
    this.connectNow();
  }

  async connectNow() {
    clearTimeout(this.timer);
    if (this.stopped) return;
    this.setState('connecting', { attempt: this.attempt });
    let token;
    try {
      token = await this.getToken(this.failedOpens >= 2);
    } catch (err) {
      if (this.stopped) return;
      if (err && err.status === 401) {
        // Session is gone; the app reacts to the session's 'expired' event.
        this.stopped = true;
        this.setState('offline');
        return;
      }
      this.scheduleRetry();
      return;
    }
    if (this.stopped) return;
    const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
    const params = { ...this.getParams() };
    const query = new URLSearchParams({ token });
    for (const [key, value] of Object.entries(params)) query.set(key, value);
    const url = `${scheme}://${location.host}/v1/ws?${query}`;
    let ws;
    try {
      ws = new WebSocket(url);
    } catch {
      this.scheduleRetry();
      return;
    }
    this.ws = ws;
    let wasOpen = false;
    ws.onopen = () => {
      if (this.ws !== ws) return;
      wasOpen = true;
      this.openedAt = Date.now();
      this.failedOpens = 0;
      this.refused = null;
      this.setState('online');
      this.dispatchEvent(new CustomEvent('open', { detail: { params } }));
    };
    ws.onmessage = (ev) => {
      if (this.ws !== ws) return;
      let frame;
      try {
        frame = JSON.parse(ev.data);
      } catch {
        return;
      }
      if (frame && typeof frame === 'object') {
        this.dispatchEvent(new CustomEvent('frame', { detail: { frame } }));
      }
    };
    ws.onerror = () => {
      /* onclose follows */
    };
    ws.onclose = (ev) => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.dispatchEvent(new CustomEvent('drop', { detail: { code: ev.code, reason: ev.reason, wasOpen } }));
      if (ev.code === 4001) {
        this.stopped = true;
        this.setState('offline');
        this.dispatchEvent(new CustomEvent('revoked'));
        return;
      }
      if (this.stopped) return;
      if (!wasOpen) {
        // Refused before the handshake: maybe the token expired (401), maybe the server is down,
        // maybe this page's origin is not accepted (403). The browser does not say which.
        this.failedOpens += 1;
        if (this.failedOpens === 2) this.diagnose();
      } else if (Date.now() - this.openedAt > 30_000) {
        // A connection that lived a while resets the backoff.
        this.attempt = 0;
      }
      this.scheduleRetry();
    };
  }

  /**
   * Asks the server whether it accepts sockets from this page's origin; if not,
   * says so ('refused') so the app can tell the user why instead of only
   * "Reconnecting…". A server that cannot be reached says nothing here.
   */
  async diagnose() {
    try {
      const res = await fetch(`/v1/ws/check?origin=${encodeURIComponent(location.origin)}`, { cache: 'no-store' });
      if (!res.ok) return;
      const body = await res.json();
      if (body && body.allowed === false && !this.stopped) {
        this.refused = { origin: location.origin, serverHost: body.server_host || null };
        this.dispatchEvent(new CustomEvent('refused', { detail: this.refused }));
        this.setState(this.state, { refused: this.refused });
      }
    } catch {
      /* the server is down: "Reconnecting" says enough */
    }
  }

  scheduleRetry() {
    if (this.stopped) return;
    const base = Math.min(MAX_DELAY, MIN_DELAY * 2 ** this.attempt);
    const delay = Math.round(base / 2 + Math.random() * (base / 2));
    this.attempt = Math.min(this.attempt + 1, 10);
    this.setState('waiting', { retryInMs: delay, attempt: this.attempt, refused: this.refused || null });
    this.timer = setTimeout(() => this.connectNow(), delay);
  }

  /** Send a frame; returns false when the socket is not open. */
  send(frame) {
    if (!this.isOpen) return false;
    try {
      this.ws.send(JSON.stringify(frame));
      return true;
    } catch {
      return false;
    }
  }
}
