// Unit tests for catching up on direct messages after a reconnect: the cursor
// the model keeps (web/model.js), the query it becomes (web/protocol.js) and
// the socket URL that carries it (web/socket.js, with a stand-in WebSocket).
// Run: node --test tests/web/ (see model.test.mjs for why web/ has a package.json).

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';

import { ChatModel, highestId } from '../../web/model.js';
import { socketParams, parseMessage } from '../../web/protocol.js';

function dm(id, { author = 'bob', recipient = 'alice', text = `dm ${id}`, createdAt = `2026-11-21T10:00:${String(id % 60).padStart(2, '0')}Z` } = {}) {
  return parseMessage({ type: 4, id, author, recipient, message: text, message_type: 0, created_at: createdAt });
}

describe('highestId', () => {
  it('is the largest stored id, whatever the order', () => {
    assert.equal(highestId([dm(3), dm(11), dm(7)]), 11);
    assert.equal(highestId([dm(0)]), 0);
  });

  it('is null when nothing has an id (empty list, optimistic copies, bot replies)', () => {
    assert.equal(highestId([]), null);
    assert.equal(highestId(undefined), null);
    assert.equal(highestId([{ id: null, text: 'pending' }, { text: 'bot' }]), null);
  });

  it('skips ids that are not whole non-negative numbers', () => {
    assert.equal(highestId([{ id: '99' }, { id: -4 }, { id: 2.5 }, { id: Number.NaN }, { id: 5 }]), 5);
  });
});

describe('the model\'s dm_since cursor', () => {
  it('is unknown at first, so the first socket asks for no replay', () => {
    const model = new ChatModel('alice');
    assert.equal(model.dmSince, null);
    assert.deepEqual(socketParams(model.dmSince), {});
  });

  it('moves to the highest direct message held, and never back', () => {
    const model = new ChatModel('alice');
    assert.equal(model.noteDirect([dm(4), dm(9)]), true);
    assert.equal(model.dmSince, 9);
    assert.equal(model.noteDirect([dm(6)]), false, 'an older page (or a replayed duplicate) leaves it');
    assert.equal(model.noteDirect([dm(9)]), false);
    assert.equal(model.noteDirect([]), false);
    assert.equal(model.dmSince, 9);
    model.noteDirect([dm(12, { author: 'alice', recipient: 'carol' })]);
    assert.equal(model.dmSince, 12, 'messages of any thread, sent or received, count');
    assert.deepEqual(socketParams(model.dmSince), { dm_since: '12' });
  });

  it('starts over with each sign-in (a new model)', () => {
    const first = new ChatModel('alice');
    first.noteDirect([dm(30)]);
    assert.equal(new ChatModel('bob').dmSince, null);
  });
});

describe('socketParams', () => {
  it('names dm_since only for a real message id', () => {
    assert.deepEqual(socketParams(0), { dm_since: '0' });
    assert.deepEqual(socketParams(123), { dm_since: '123' });
    for (const bad of [null, undefined, -1, 1.5, '7', Number.NaN, Number.MAX_SAFE_INTEGER + 2]) {
      assert.deepEqual(socketParams(bad), {}, String(bad));
    }
  });
});

describe('replayed messages in the inbox', () => {
  it('an older message arriving after a fresh inbox does not replace its latest', () => {
    const model = new ChatModel('alice');
    model.setInbox([{ username: 'bob', latest_message: 'newest', created_at: '2026-11-21T10:00:09.500001Z' }]);
    model.bumpInbox('bob', 'older', '2026-11-21T10:00:09.5Z');
    assert.equal(model.inbox[0].latest_message, 'newest');
    model.bumpInbox('bob', 'newer still', '2026-11-21T10:00:10Z');
    assert.equal(model.inbox[0].latest_message, 'newer still');
  });
});

describe('ChatSocket URL', () => {
  // A browser stand-in: just what socket.js touches.
  const saved = {};
  const opened = [];
  class FakeWebSocket {
    static OPEN = 1;

    constructor(url) {
      this.url = url;
      this.readyState = 0;
      opened.push(this);
    }

    close() {
      this.readyState = 3;
    }

    /** The server accepted: what the browser does on a handshake. */
    accept() {
      this.readyState = 1;
      this.onopen?.();
    }

    /** The connection ended. */
    drop(code = 1006) {
      this.readyState = 3;
      this.onclose?.({ code, reason: '' });
    }
  }

  let ChatSocket;
  before(async () => {
    for (const k of ['window', 'location', 'WebSocket']) saved[k] = globalThis[k];
    globalThis.window = new EventTarget();
    globalThis.location = { protocol: 'http:', host: 'chat.test:8080' };
    globalThis.WebSocket = FakeWebSocket;
    ({ ChatSocket } = await import('../../web/socket.js'));
  });
  after(() => {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete globalThis[k];
      else globalThis[k] = v;
    }
  });

  /** Lets the socket's awaited getToken settle. */
  const tick = () => new Promise((resolve) => { setImmediate(resolve); });

  it('asks for the params right before each connection and reports them on open', async () => {
    let since = null;
    const socket = new ChatSocket(async () => 'tok.en-1', () => socketParams(since));
    const opens = [];
    socket.addEventListener('open', (ev) => opens.push(ev.detail));
    socket.start();
    await tick();
    const first = new URL(opened.at(-1).url);
    assert.equal(`${first.protocol}//${first.host}${first.pathname}`, 'ws://chat.test:8080/v1/ws');
    assert.equal(first.searchParams.get('token'), 'tok.en-1');
    assert.equal(first.searchParams.has('dm_since'), false, 'nothing known: no dm_since');
    opened.at(-1).accept();
    assert.deepEqual(opens, [{ params: {} }]);

    since = 41;
    socket.reconnect();
    await tick();
    const second = new URL(opened.at(-1).url);
    assert.equal(second.searchParams.get('dm_since'), '41');
    assert.equal(second.searchParams.get('token'), 'tok.en-1');
    opened.at(-1).accept();
    assert.deepEqual(opens.at(-1), { params: { dm_since: '41' } });
    socket.stop();
  });

  it('keeps the default of no extra params', async () => {
    const socket = new ChatSocket(async () => 'a b+c');
    socket.start();
    await tick();
    const url = new URL(opened.at(-1).url);
    assert.equal(url.searchParams.get('token'), 'a b+c', 'the token is encoded');
    assert.deepEqual([...url.searchParams.keys()], ['token']);
    socket.stop();
  });
});
