// A client of the original direct-message server's API (`/api/*`), written
// from that API's description alone, the way its own clients were: node's
// fetch, an HS256 JWT signed here with node's crypto, and a WebSocket (`ws`).
// It knows nothing of `/v1` or of this repository's code.
//
//   POST /api/register     first_name, last_name, username, password, email, phone (all required)
//   POST /api/auth_token   username, password -> data[0] {access_key_id, secret_access_key, ...}
//   GET  /api/inbox        ?page=&per_page=
//   GET  /api/thread/:user ?page=&per_page=, newest first
//   GET  /api/ws           ?access_token=<jwt>; send {author, recipient, message}, receive
//                          {author, recipient, message, message_type, created_at}
//
// Every answer is an envelope {status, data: [...], error: {code, errors, message}, page,
// per_page, current_page}. The client signs its own tokens: HS256 with secret_access_key as the
// key and `access_key: <access_key_id>` in the JWT header, sent as `Authorization: Bearer` or as
// the `access_token` query parameter.

import { createHmac } from 'node:crypto';
import WebSocket from 'ws';

/** A refused request: the HTTP status and the envelope's error. */
export class ClassicError extends Error {
  constructor(status, envelope) {
    const err = (envelope && envelope.error) || {};
    super(`HTTP ${status}: ${err.message || 'error'} ${JSON.stringify(err.errors ?? envelope)}`);
    this.status = status;
    this.envelope = envelope;
  }
}

const b64url = (value) => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');

/**
 * An HS256 JWT naming its key in the header, signed with the key's secret.
 * `claims` are free; the server requires `exp`, at most an hour ahead.
 */
export function signJwt(key, { ttlSecs = 300, claims = {} } = {}) {
  const now = Math.floor(Date.now() / 1000);
  const header = b64url({ alg: 'HS256', typ: 'JWT', access_key: key.access_key_id });
  const payload = b64url({ iat: now, exp: now + ttlSecs, ...claims });
  const input = `${header}.${payload}`;
  const signature = createHmac('sha256', key.secret_access_key).update(input).digest('base64url');
  return `${input}.${signature}`;
}

export class ClassicClient {
  /**
   * @param {string} origin e.g. http://127.0.0.1:8080
   * @param {{access_key_id: string, secret_access_key: string} | null} key
   */
  constructor(origin, key = null) {
    this.origin = origin;
    this.key = key;
  }

  /** The same credentials against another server (an instance sharing the same data). */
  at(origin) {
    return new ClassicClient(origin, this.key);
  }

  jwt(options) {
    if (!this.key) throw new Error('not logged in');
    return signJwt(this.key, options);
  }

  /**
   * One request. `form` is sent form-encoded, `json` as JSON. `auth`: 'header' (default),
   * 'query' (access_token parameter) or false. Resolves with {status, envelope} on success,
   * rejects with a ClassicError otherwise.
   */
  async request(method, path, { form, json, query = {}, auth = 'header', token } = {}) {
    const url = new URL(path, this.origin);
    for (const [k, v] of Object.entries(query)) url.searchParams.set(k, String(v));
    const headers = { Accept: 'application/json' };
    if (auth) {
      const jwt = token || this.jwt();
      if (auth === 'query') url.searchParams.set('access_token', jwt);
      else headers.Authorization = `Bearer ${jwt}`;
    }
    let body;
    if (form) {
      headers['Content-Type'] = 'application/x-www-form-urlencoded';
      body = new URLSearchParams(form).toString();
    } else if (json) {
      headers['Content-Type'] = 'application/json';
      body = JSON.stringify(json);
    }
    const res = await fetch(url, { method, headers, body });
    const text = await res.text();
    let envelope;
    try {
      envelope = JSON.parse(text);
    } catch {
      throw new ClassicError(res.status, { error: { message: `not JSON: ${text.slice(0, 200)}` } });
    }
    if (!res.ok || envelope.status !== 'success') throw new ClassicError(res.status, envelope);
    return { status: res.status, envelope };
  }

  /** POST /api/register, form-encoded. Keeps the new account's key. */
  async register(person) {
    const { status, envelope } = await this.request('POST', '/api/register', { form: person, auth: false });
    this.key = envelope.data[0].token;
    return { status, envelope };
  }

  /** POST /api/auth_token: a fresh key for these credentials, kept for later requests. */
  async logIn(username, password) {
    const { envelope } = await this.request('POST', '/api/auth_token', { json: { username, password }, auth: false });
    this.key = envelope.data[0];
    return envelope.data[0];
  }

  /** GET /api/inbox: the envelope (conversations in `data`). */
  async inbox({ page, perPage, auth } = {}) {
    return (await this.request('GET', '/api/inbox', { query: pageQuery(page, perPage), auth })).envelope;
  }

  /** GET /api/thread/:username: the envelope (messages in `data`, newest first). */
  async thread(username, { page, perPage, auth } = {}) {
    const path = `/api/thread/${encodeURIComponent(username)}`;
    return (await this.request('GET', path, { query: pageQuery(page, perPage), auth })).envelope;
  }

  /** Opens GET /api/ws with a freshly signed token; resolves once the socket is open. */
  connect() {
    const url = new URL('/api/ws', this.origin);
    url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
    url.searchParams.set('access_token', this.jwt());
    return ClassicSocket.open(url.toString());
  }
}

function pageQuery(page, perPage) {
  const q = {};
  if (page !== undefined) q.page = page;
  if (perPage !== undefined) q.per_page = perPage;
  return q;
}

/** An open /api/ws socket: frames arrive into a queue that `next` takes from. */
export class ClassicSocket {
  static open(url, { timeout = 10_000 } = {}) {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url);
      const timer = setTimeout(() => {
        ws.terminate();
        reject(new Error(`/api/ws did not open within ${timeout} ms`));
      }, timeout);
      ws.once('unexpected-response', (_req, res) => {
        clearTimeout(timer);
        ws.terminate();
        reject(new Error(`/api/ws refused: HTTP ${res.statusCode}`));
      });
      ws.once('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
      ws.once('open', () => {
        clearTimeout(timer);
        resolve(new ClassicSocket(ws));
      });
    });
  }

  constructor(ws) {
    this.ws = ws;
    /** Frames not yet taken by `next`. */
    this.queue = [];
    this.waiters = [];
    this.closed = null;
    ws.on('error', () => { /* 'close' follows */ });
    ws.on('message', (data, isBinary) => {
      if (isBinary) return;
      let frame;
      try {
        frame = JSON.parse(data.toString());
      } catch {
        return;
      }
      this.queue.push(frame);
      this.wake();
    });
    ws.on('close', (code, reason) => {
      this.closed = { code, reason: reason.toString() };
      this.wake();
    });
  }

  wake() {
    for (const w of [...this.waiters]) w();
  }

  /** Sends one frame: {recipient, message} (an `author` is ignored by the server). */
  send(frame) {
    this.ws.send(JSON.stringify(frame));
  }

  /** The first frame (queued or to come) that matches, taken off the queue. */
  next(matches = () => true, { timeout = 10_000 } = {}) {
    return new Promise((resolve, reject) => {
      let timer;
      const check = () => {
        const i = this.queue.findIndex(matches);
        if (i >= 0) {
          done();
          resolve(this.queue.splice(i, 1)[0]);
        } else if (this.closed) {
          done();
          reject(new Error(`/api/ws closed (${this.closed.code} ${this.closed.reason}) before the frame came`));
        }
      };
      const done = () => {
        clearTimeout(timer);
        this.waiters = this.waiters.filter((w) => w !== check);
      };
      timer = setTimeout(() => {
        done();
        reject(new Error(`no matching /api/ws frame within ${timeout} ms; got ${JSON.stringify(this.queue)}`));
      }, timeout);
      this.waiters.push(check);
      check();
    });
  }

  close() {
    if (this.closed) return Promise.resolve(this.closed);
    return new Promise((resolve) => {
      this.ws.once('close', (code) => resolve({ code }));
      this.ws.close(1000, 'bye');
      setTimeout(() => {
        this.ws.terminate();
        resolve({ code: 1006 });
      }, 2_000).unref();
    });
  }
}
