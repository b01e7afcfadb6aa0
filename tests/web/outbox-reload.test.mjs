// The outbox across a reload: the chat controller (web/chat.js, whose
// chat-connection.js owns the outbox) in node, with a stand-in for the page
// (fake-page.mjs), a session whose room list answers when the test says so, and a socket
// the test opens by hand. It checks the order the page cannot choose: the
// socket may open before the room list has loaded, and the waiting messages
// must survive that. Posts to rooms the socket is not in go over HTTP (so the
// user is not listed "here" in them); the session stand-in answers those when
// the test says so.

import { describe, it, before, beforeEach, afterEach, mock } from 'node:test';
import assert from 'node:assert/strict';

import { installPage } from './fake-page.mjs';

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
 * is `history[roomId]` (empty unless the test says; a deferred one answers
 * when the test resolves it), the inbox is empty. A post over HTTP waits in
 * `posts` until the test answers it (`answerPosts`: stored, or refused).
 */
function fakeSession() {
  const rooms = deferred();
  return {
    rooms,
    history: {},
    requests: [],
    posts: [],
    nextId: 20,
    request(method, path, body) {
      this.requests.push(`${method} ${path}`);
      if (method === 'GET' && path.startsWith('/v1/chat/rooms?')) return rooms.promise;
      const room = /^\/v1\/chat\/rooms\/(\d+)\/messages(\?limit=)?/.exec(path);
      if (method === 'GET' && room && room[2]) {
        const h = this.history[room[1]];
        return h && h.promise ? h.promise : Promise.resolve(h || []);
      }
      if (method === 'POST' && room) {
        const post = { room: Number(room[1]), body, answer: deferred() };
        this.posts.push(post);
        return post.answer.promise;
      }
      if (method === 'GET') return Promise.resolve([]);
      return Promise.resolve({});
    },
    /** The posts over HTTP so far: [room, client_id]. */
    posted() {
      return this.posts.map((p) => [p.room, p.body.client_id]);
    },
    /** Answers every waiting post: stored (with an id), or refused with `error`. */
    answerPosts(error = null) {
      for (const p of this.posts) {
        if (p.answered) continue;
        p.answered = true;
        if (error) p.answer.reject(error);
        else p.answer.resolve(echo(this.nextId++, p.room, p.body.chatmessage, p.body.client_id));
      }
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
    // In the order typed: the rooms' before any room was opened (so over HTTP: the socket is
    // in no room, and posting there would list the user as "here"), the direct message on the socket.
    assert.deepEqual(session.posted(), [[1, 'c-1'], [2, 'c-2']], 'posted to the rooms in the order typed');
    assert.deepEqual(session.posts[0].body, { chatmessage: 'typed while the server was down', client_id: 'c-1' });
    assert.deepEqual(socket.posts(), [{ type: 4, recipient: 'bob', message: 'and one to bob', client_id: 'c-3' }]);
    assert.deepEqual(stored(), ['c-1', 'c-2', 'c-3'], 'kept until the server answers for them');
    const general = chat.model.find('room', 1);
    assert.equal(general.pending.get('c-1').state, 'pending', 'shown as being sent');
    assert.equal(chat.uis.get(general).view.pendingList.findAll('message').length, 1, 'one bubble');
    assert.deepEqual(socket.sent.filter((f) => f.type === 1), [], 'joining General sends none of them again');

    // The answers: stored, so the outbox lets go of them.
    session.answerPosts();
    await settle();
    chat.onFrame({ type: 4, id: 3, author: 'alice', recipient: 'bob', message: 'and one to bob', client_id: 'c-3', created_at: '2026-11-21T10:00:09Z' });
    assert.deepEqual(stored(), [], 'the outbox is empty');
    assert.equal(general.pending.size, 0);
    assert.deepEqual(general.messages.map((m) => m.id), [20], 'shown once, as stored');
    // The same message coming back on the socket (the joined room's replay) is not shown twice.
    chat.onFrame(echo(20, 1, 'typed while the server was down'));
    assert.equal(chat.uis.get(general).view.list.findAll('message').length, 1);
    assert.equal(chat.uis.get(general).view.pendingList.findAll('message').length, 0);

    // A later reconnect has nothing left to send.
    socket.isOpen = false;
    chat.onSocketDrop();
    open();
    assert.equal(socket.posts().length, 1);
    assert.equal(session.posts.length, 2);
  });

  it('sends them when the room list comes first and the socket after', async () => {
    const started = chat.start('alice');
    session.rooms.resolve(ROOMS);
    await started;
    assert.deepEqual(socket.posts(), []);
    assert.equal(chat.model.find('room', 1).pending.get('c-1').state, 'queued', 'shown as waiting for the connection');
    await settle();
    open();
    // General is open by now: joined again first, then its message sent on the socket; Random's over HTTP.
    assert.deepEqual(socket.sent.filter((f) => f.chatroomId === 1).map((f) => [f.type, f.client_id ?? f.since]), [[2, 0], [1, 'c-1']]);
    assert.deepEqual(socket.posts().map((f) => f.client_id), ['c-1', 'c-3']);
    assert.deepEqual(session.posted(), [[2, 'c-2']]);
    assert.deepEqual(stored(), ['c-1', 'c-2', 'c-3']);
  });

  it('still shows and sends them when the room list fails to load', async () => {
    const started = chat.start('alice');
    open();
    session.rooms.reject(Object.assign(new Error('unavailable'), { status: 503 }));
    await started;
    assert.deepEqual(session.posted(), [[1, 'c-1'], [2, 'c-2']], 'the server decides: a resend is safe');
    assert.deepEqual(socket.posts().map((f) => f.client_id), ['c-3']);
    assert.deepEqual(stored(), ['c-1', 'c-2', 'c-3']);
  });

  it('drops an entry only for the server: its stored copy, or its refusal (then failed, with Retry)', async () => {
    const started = chat.start('alice');
    open();
    session.rooms.resolve(ROOMS);
    await started;
    await settle();
    // c-1 and c-2 (over HTTP): refused, rate limited.
    session.answerPosts(Object.assign(new Error('slow down'), { status: 429, friendly: 'Slow down' }));
    await settle();
    const random = chat.model.find('room', 2);
    assert.equal(random.pending.get('c-2').state, 'failed', 'the refused one stays on screen as failed');
    assert.equal(chat.uis.get(random).view.pendingList.findAll('message-retry').length, 1, 'with Retry');
    // c-3 (on the socket): refused by an error frame naming it.
    chat.onFrame({ type: 6, client_id: 'c-3', error: { code: 'unknown_user', message: 'no bob' } });
    assert.equal(chat.model.find('dm', 'bob').pending.get('c-3').state, 'failed');
    // A late stored copy of a refused one (history, say) still ends its bubble.
    chat.model.find('room', 1).merge([{ id: 5, author: 'alice', text: 'typed while the server was down', created_at: '2026-11-21T10:00:05Z', bot: false, client_id: 'c-1' }]);
    socket.isOpen = false;
    chat.onSocketDrop();
    open();
    assert.deepEqual(stored(), [], 'every refused one has left the outbox');
    assert.deepEqual(session.posted(), [[1, 'c-1'], [2, 'c-2']], 'and none is sent again');
    assert.deepEqual(socket.posts().map((f) => f.client_id), ['c-3']);
  });

  it('keeps a message the server never answered, and sends it again on the next connection', async () => {
    const started = chat.start('alice');
    open();
    session.rooms.resolve(ROOMS);
    await started;
    mock.timers.tick(15_000);
    const general = chat.model.find('room', 1);
    assert.equal(general.pending.get('c-1').state, 'failed', 'shown as failed, with Retry');
    assert.equal(chat.model.find('dm', 'bob').pending.get('c-3').state, 'failed', 'the socket\'s too');
    assert.deepEqual(stored(), ['c-1', 'c-2', 'c-3'], 'but no answer is no reason to forget it');
    socket.isOpen = false;
    chat.onSocketDrop();
    open();
    await settle();
    // General is on screen by now: its message goes on the socket, and once more after the
    // room's join (see 'sends an in-flight post again after joining ...' below).
    assert.deepEqual(socket.posts().map((f) => f.client_id), ['c-3', 'c-1', 'c-3', 'c-1']);
    assert.deepEqual(session.posted(), [[1, 'c-1'], [2, 'c-2'], [2, 'c-2']]);
  });

  it('sends an in-flight post again after joining a room whose history already shows it', async () => {
    // The user sends at once, while the room's first page (and so its join) is still on its
    // way: the post goes on the socket. The server stores it as id 7; the history then has id
    // 7, without a client_id, and the join asks for what came after 7, so the server skips the
    // echo. Only the answer to a second post (the stored copy, with its client_id) can tell the
    // page that this bubble is done.
    localStorage.removeItem(OUTBOX_KEY);
    chat = new Chat({ session, socket, layout: fakeLayout() });
    session.history[1] = deferred();
    const started = chat.start('alice');
    open();
    session.rooms.resolve(ROOMS);
    await started;
    await settle();
    chat.composer.value = 'quick one';
    chat.compose.sendMessage();
    const [post] = socket.posts();
    assert.equal(post.chatroomId, 1);
    session.history[1].resolve([{ type: 1, id: 7, chatroomId: 1, chatuser: 'alice', chatmessage: 'quick one', created_at: '2026-11-21T10:00:07Z' }]);
    await settle();
    const room1 = socket.sent.filter((f) => f.chatroomId === 1);
    assert.deepEqual(room1.map((f) => [f.type, f.client_id ?? f.since]), [[1, post.client_id], [2, 7], [1, post.client_id]]);
    const general = chat.model.find('room', 1);
    assert.equal(general.pending.get(post.client_id).state, 'pending');
    chat.onFrame(echo(7, 1, 'quick one', post.client_id));
    assert.equal(general.pending.size, 0);
    assert.deepEqual(general.messages.map((m) => m.id), [7]);
    assert.equal(chat.uis.get(general).view.list.findAll('message').length, 1, 'shown once');
    assert.equal(chat.uis.get(general).view.pendingList.findAll('message').length, 0);
    assert.deepEqual(stored(), []);
  });

  it('shows a waiting message again when its bubble is gone, instead of dropping it', async () => {
    const started = chat.start('alice');
    session.rooms.resolve(ROOMS);
    await started;
    // The direct conversation was forgotten (as for an unknown user) with its bubble.
    chat.forget(chat.model.find('dm', 'bob'));
    open();
    assert.deepEqual(socket.posts().map((f) => f.client_id), ['c-1', 'c-3'], 'General is on screen: on the socket');
    assert.deepEqual(session.posted(), [[2, 'c-2']]);
    assert.equal(chat.model.find('dm', 'bob').pending.get('c-3').state, 'pending');
    assert.deepEqual(stored(), ['c-1', 'c-2', 'c-3']);
  });
});
