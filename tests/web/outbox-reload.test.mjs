// The outbox across a reload: the chat controller (web/chat.js, whose
// chat-connection.js owns the outbox) in node, with a small stand-in for the
// DOM, a session whose room list answers when the test says so, and a socket
// the test opens by hand. It checks the order the page cannot choose: the
// socket may open before the room list has loaded, and the waiting messages
// must survive that.

import { describe, it, before, beforeEach, afterEach, mock } from 'node:test';
import assert from 'node:assert/strict';

// ---------------------------------------------------------------------------
// A stand-in for the page: enough of the DOM for chat*.js and render.js
// ---------------------------------------------------------------------------

class FakeClassList {
  constructor() { this.set = new Set(); }
  add(...names) { for (const n of names) this.set.add(n); }
  remove(...names) { for (const n of names) this.set.delete(n); }
  contains(name) { return this.set.has(name); }
  toggle(name, force = !this.set.has(name)) {
    if (force) this.set.add(name);
    else this.set.delete(name);
    return force;
  }
}

class FakeNode {
  constructor(tag = 'div', text = null) {
    this.tagName = tag.toUpperCase();
    this.children = [];
    this.parentNode = null;
    this.dataset = {};
    this.attributes = new Map();
    this.classList = new FakeClassList();
    this.style = {};
    this.hidden = false;
    this.disabled = false;
    this.value = '';
    this.placeholder = '';
    this.title = '';
    this.scrollTop = 0;
    this.scrollHeight = 0;
    this.clientHeight = 0;
    this.listeners = [];
    this.text = text;
  }

  get className() { return [...this.classList.set].join(' '); }
  set className(v) {
    this.classList = new FakeClassList();
    this.classList.add(...String(v).split(/\s+/).filter(Boolean));
  }

  get textContent() { return this.text ?? this.children.map((c) => c.textContent).join(''); }
  set textContent(v) {
    this.replaceChildren();
    this.text = String(v);
  }

  get firstChild() { return this.children[0] || null; }
  get previousElementSibling() { return this.sibling(-1); }
  get nextElementSibling() { return this.sibling(1); }
  sibling(step) {
    if (!this.parentNode) return null;
    const list = this.parentNode.children;
    return list[list.indexOf(this) + step] || null;
  }

  setAttribute(k, v) { this.attributes.set(k, String(v)); }
  getAttribute(k) { return this.attributes.has(k) ? this.attributes.get(k) : null; }
  removeAttribute(k) { this.attributes.delete(k); }
  addEventListener(type, fn) { this.listeners.push({ type, fn }); }
  focus() {}
  querySelector() { return null; }

  detach(node) {
    if (node.parentNode) node.parentNode.children.splice(node.parentNode.children.indexOf(node), 1);
    node.parentNode = this;
    return node;
  }

  append(...nodes) {
    this.text = null;
    for (const n of nodes) this.children.push(this.detach(typeof n === 'string' ? new FakeNode('#text', n) : n));
  }

  insertBefore(node, ref) {
    this.detach(node);
    const at = ref ? this.children.indexOf(ref) : -1;
    if (at < 0) this.children.push(node);
    else this.children.splice(at, 0, node);
    return node;
  }

  replaceChildren(...nodes) {
    for (const c of this.children) c.parentNode = null;
    this.children = [];
    this.append(...nodes);
  }

  replaceWith(node) {
    const parent = this.parentNode;
    if (!parent) return;
    parent.insertBefore(node, this);
    this.remove();
  }

  remove() {
    if (!this.parentNode) return;
    this.parentNode.children.splice(this.parentNode.children.indexOf(this), 1);
    this.parentNode = null;
  }

  /** Every descendant with this data-testid. */
  findAll(testid, found = []) {
    for (const c of this.children) {
      if (c.dataset.testid === testid) found.push(c);
      c.findAll(testid, found);
    }
    return found;
  }
}

class MemoryStorage {
  constructor() { this.map = new Map(); }
  getItem(k) { return this.map.has(k) ? this.map.get(k) : null; }
  setItem(k, v) { this.map.set(k, String(v)); }
  removeItem(k) { this.map.delete(k); }
}

function installPage() {
  const byId = new Map();
  const bySelector = new Map();
  globalThis.document = {
    visibilityState: 'visible',
    title: '',
    getElementById(id) {
      if (!byId.has(id)) byId.set(id, new FakeNode());
      return byId.get(id);
    },
    querySelector(sel) {
      if (!bySelector.has(sel)) bySelector.set(sel, new FakeNode());
      return bySelector.get(sel);
    },
    createElement: (tag) => new FakeNode(tag),
    createTextNode: (text) => new FakeNode('#text', text),
    addEventListener() {},
  };
  globalThis.window = globalThis;
  globalThis.localStorage = new MemoryStorage();
  globalThis.location = { hash: '', pathname: '/', protocol: 'http:', host: 'chat.test' };
  globalThis.history = { replaceState(_state, _title, url) { globalThis.location.hash = url.startsWith('#') ? url : ''; } };
}

// ---------------------------------------------------------------------------
// Stand-ins for the session (HTTP), the socket and the layout
// ---------------------------------------------------------------------------

function deferred() {
  let resolve;
  let reject;
  const promise = new Promise((res, rej) => { resolve = res; reject = rej; });
  return { promise, resolve, reject };
}

/**
 * The room list answers only when the test resolves `rooms`; a room's history
 * is `history[roomId]` (empty unless the test says), the inbox is empty.
 */
function fakeSession() {
  const rooms = deferred();
  return {
    rooms,
    history: {},
    requests: [],
    request(method, path) {
      this.requests.push(`${method} ${path}`);
      if (method === 'GET' && path.startsWith('/v1/chat/rooms?')) return rooms.promise;
      const room = /^\/v1\/chat\/rooms\/(\d+)\/messages\?limit=/.exec(path);
      if (method === 'GET' && room) return Promise.resolve(this.history[room[1]] || []);
      if (method === 'GET') return Promise.resolve([]);
      return Promise.resolve({});
    },
  };
}

/** A socket the test opens and drops; `sent` holds every frame the page sent while it was open. */
function fakeSocket() {
  return {
    isOpen: false,
    sent: [],
    start() {},
    stop() { this.isOpen = false; },
    send(frame) {
      if (!this.isOpen) return false;
      this.sent.push(frame);
      return true;
    },
    posts() { return this.sent.filter((f) => f.type === 1 || f.type === 4); },
  };
}

const fakeLayout = () => ({ tab: 'rooms', isNarrow: false, setTab(t) { this.tab = t; }, closeDrawer() {} });

const ROOMS = [{ id: 1, name: 'General' }, { id: 2, name: 'Random' }];
const OUTBOX_KEY = 'tickertalk.outbox.alice';

/** What the outbox holds in storage: client_ids in order. */
function stored() {
  return JSON.parse(localStorage.getItem(OUTBOX_KEY) || '[]').map((i) => i.client_id);
}

/** An echo or a history item of alice's message as the server sends it. */
function echo(id, roomId, text, clientId) {
  return { type: 1, id, chatroomId: roomId, chatuser: 'alice', chatmessage: text, client_id: clientId, created_at: `2026-11-21T10:00:${String(id).padStart(2, '0')}Z` };
}

/** Lets pending promise callbacks (the awaited room list, history) run. */
const settle = () => new Promise((resolve) => { setImmediate(resolve); });

describe('the outbox across a reload (chat.js)', () => {
  let Chat;
  let chat;
  let session;
  let socket;

  before(async () => {
    installPage();
    ({ Chat } = await import('../../web/chat.js'));
  });

  /** A page that was reloaded with these messages waiting in the outbox. */
  beforeEach(() => {
    // The page's timers (echo timeouts, toasts, read markers) run only when a test moves the clock.
    mock.timers.enable({ apis: ['setTimeout', 'setInterval'] });
    installPage();
    localStorage.setItem(OUTBOX_KEY, JSON.stringify([
      { kind: 'room', ref: 1, client_id: 'c-1', text: 'typed while the server was down' },
      { kind: 'room', ref: 2, client_id: 'c-2', text: 'and one in Random' },
      { kind: 'dm', ref: 'bob', client_id: 'c-3', text: 'and one to bob' },
    ]));
    session = fakeSession();
    socket = fakeSocket();
    chat = new Chat({ session, socket, layout: fakeLayout() });
  });

  afterEach(() => {
    chat.stop();
    mock.timers.reset();
  });

  /** The socket opens (as socket.js reports it). */
  function open() {
    socket.isOpen = true;
    chat.onSocketOpen({ params: {} });
  }

  it('keeps the messages when the socket opens before the room list has loaded, then sends them in order', async () => {
    const started = chat.start('alice');
    await settle();
    open();
    await settle();
    assert.deepEqual(socket.posts(), [], 'nothing is sent before the page has shown the waiting messages');
    assert.deepEqual(stored(), ['c-1', 'c-2', 'c-3'], 'and nothing leaves the outbox');

    session.rooms.resolve(ROOMS);
    await started;
    await settle();
    // In the order typed; c-1 once more after General (opened on start) was joined: see the
    // test 'sends an in-flight post again after joining ...' below.
    assert.deepEqual(socket.posts().map((f) => f.client_id), ['c-1', 'c-2', 'c-3', 'c-1'], 'sent in the order typed');
    assert.deepEqual(socket.posts()[0], { type: 1, chatroomId: 1, chatmessage: 'typed while the server was down', client_id: 'c-1' });
    assert.deepEqual(socket.posts()[2], { type: 4, recipient: 'bob', message: 'and one to bob', client_id: 'c-3' });
    assert.deepEqual(stored(), ['c-1', 'c-2', 'c-3'], 'kept until the server answers for them');
    const general = chat.model.find('room', 1);
    assert.equal(general.pending.get('c-1').state, 'pending', 'shown as being sent');
    assert.equal(chat.uis.get(general).view.pendingList.findAll('message').length, 1, 'one bubble');

    // The echoes: stored, so the outbox lets go of them.
    chat.onFrame(echo(7, 1, 'typed while the server was down', 'c-1'));
    chat.onFrame(echo(8, 2, 'and one in Random', 'c-2'));
    chat.onFrame({ type: 4, id: 3, author: 'alice', recipient: 'bob', message: 'and one to bob', client_id: 'c-3', created_at: '2026-11-21T10:00:09Z' });
    assert.deepEqual(stored(), [], 'the outbox is empty');
    assert.equal(general.pending.size, 0);
    assert.deepEqual(general.messages.map((m) => m.id), [7], 'shown once, as stored');
    assert.equal(chat.uis.get(general).view.list.findAll('message').length, 1);
    assert.equal(chat.uis.get(general).view.pendingList.findAll('message').length, 0);

    // A later reconnect has nothing left to send.
    socket.isOpen = false;
    chat.onSocketDrop();
    open();
    assert.equal(socket.posts().length, 4);
  });

  it('sends them when the room list comes first and the socket after', async () => {
    const started = chat.start('alice');
    session.rooms.resolve(ROOMS);
    await started;
    assert.deepEqual(socket.posts(), []);
    assert.equal(chat.model.find('room', 1).pending.get('c-1').state, 'queued', 'shown as waiting for the connection');
    open();
    assert.deepEqual(socket.posts().map((f) => f.client_id), ['c-1', 'c-2', 'c-3']);
    assert.deepEqual(stored(), ['c-1', 'c-2', 'c-3']);
  });

  it('still shows and sends them when the room list fails to load', async () => {
    const started = chat.start('alice');
    open();
    session.rooms.reject(Object.assign(new Error('unavailable'), { status: 503 }));
    await started;
    assert.deepEqual(socket.posts().map((f) => f.client_id), ['c-1', 'c-2', 'c-3'], 'the server decides: a resend is safe');
    assert.deepEqual(stored(), ['c-1', 'c-2', 'c-3']);
  });

  it('drops an entry only for the server: its stored copy, or its refusal (then failed, with Retry)', async () => {
    const started = chat.start('alice');
    open();
    session.rooms.resolve(ROOMS);
    await started;
    await settle();
    // c-1: the server already had it (it arrived before the echo, e.g. in history): done.
    chat.model.find('room', 1).merge([{ id: 5, author: 'alice', text: 'typed while the server was down', created_at: '2026-11-21T10:00:05Z', bot: false, client_id: 'c-1' }]);
    // c-2: refused.
    chat.onFrame({ type: 6, client_id: 'c-2', error: { code: 'rate_limited', message: 'slow down' } });
    const random = chat.model.find('room', 2);
    assert.equal(random.pending.get('c-2').state, 'failed', 'the refused one stays on screen as failed');
    assert.equal(chat.uis.get(random).view.pendingList.findAll('message-retry').length, 1, 'with Retry');
    socket.isOpen = false;
    chat.onSocketDrop();
    open();
    assert.deepEqual(stored(), ['c-3'], 'the stored and the refused one have left the outbox; the unanswered one is still there');
    assert.deepEqual(socket.posts().map((f) => f.client_id), ['c-1', 'c-2', 'c-3', 'c-1', 'c-3'], 'and only it is sent again');
  });

  it('keeps a message the server never answered, and sends it again on the next connection', async () => {
    const started = chat.start('alice');
    open();
    session.rooms.resolve(ROOMS);
    await started;
    mock.timers.tick(15_000);
    const general = chat.model.find('room', 1);
    assert.equal(general.pending.get('c-1').state, 'failed', 'shown as failed, with Retry');
    assert.deepEqual(stored(), ['c-1', 'c-2', 'c-3'], 'but no answer is no reason to forget it');
    socket.isOpen = false;
    chat.onSocketDrop();
    open();
    assert.deepEqual(socket.posts().map((f) => f.client_id), ['c-1', 'c-2', 'c-3', 'c-1', 'c-2', 'c-3']);
  });

  it('sends an in-flight post again after joining a room whose history already shows it', async () => {
    // The post goes out (the server stores it as id 7), then the room opens: its history has
    // id 7, without a client_id, and the join asks for what came after 7, so the server skips
    // the echo. Only the answer to a second post (the stored copy, with its client_id) can
    // tell the page that this bubble is done.
    session.history[1] = [{ type: 1, id: 7, chatroomId: 1, chatuser: 'alice', chatmessage: 'typed while the server was down', created_at: '2026-11-21T10:00:07Z' }];
    const started = chat.start('alice');
    open();
    session.rooms.resolve(ROOMS);
    await started;
    await settle();
    const room1 = socket.sent.filter((f) => f.chatroomId === 1);
    assert.deepEqual(room1.map((f) => [f.type, f.client_id ?? f.since]), [[1, 'c-1'], [2, 7], [1, 'c-1']]);
    const general = chat.model.find('room', 1);
    assert.equal(general.pending.get('c-1').state, 'pending');
    chat.onFrame(echo(7, 1, 'typed while the server was down', 'c-1'));
    assert.equal(general.pending.size, 0);
    assert.deepEqual(general.messages.map((m) => m.id), [7]);
    assert.equal(chat.uis.get(general).view.list.findAll('message').length, 1, 'shown once');
    assert.equal(chat.uis.get(general).view.pendingList.findAll('message').length, 0);
    assert.deepEqual(stored(), ['c-2', 'c-3']);
  });

  it('shows a waiting message again when its bubble is gone, instead of dropping it', async () => {
    const started = chat.start('alice');
    session.rooms.resolve(ROOMS);
    await started;
    // The direct conversation was forgotten (as for an unknown user) with its bubble.
    chat.forget(chat.model.find('dm', 'bob'));
    open();
    assert.deepEqual(socket.posts().map((f) => f.client_id), ['c-1', 'c-2', 'c-3']);
    assert.equal(chat.model.find('dm', 'bob').pending.get('c-3').state, 'pending');
    assert.deepEqual(stored(), ['c-1', 'c-2', 'c-3']);
  });
});
