// Unit tests for which rooms the page's socket is in (web/joins.js, and the
// `since` a conversation asks for, web/conversation.js): the room on screen, or
// the last one while a direct conversation is; a room left behind is left once
// its posts have their echo; coming back replays from where it was left, or
// reads afresh when too much was missed; posts to a room the socket is not in
// go over HTTP. And the rooms controller doing it (web/chat-joins.js): a type
// 3 leave for the room the user leaves, a join with `since` for the new one.
// Run: node --test tests/web/ (see model.test.mjs for why web/ has a package.json).

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';

import {
  REPLAY_MESSAGES, keptRoom, postRoute, rejoinPlan, roomsToLeave,
} from '../../web/joins.js';
import { Conversation } from '../../web/model.js';
import { JoinsController } from '../../web/chat-joins.js';

const general = new Conversation('room', 1, 'General');
const random = new Conversation('room', 2, 'Random');
const withBob = new Conversation('dm', 'bob', 'bob');

describe('keptRoom', () => {
  it('is the room on screen', () => {
    assert.equal(keptRoom(random, general), random);
    assert.equal(keptRoom(general, null), general);
  });

  it('stays the last room while a direct conversation is on screen (the user stays online)', () => {
    assert.equal(keptRoom(withBob, general), general);
    assert.equal(keptRoom(withBob, null), null, 'a direct conversation opened first: no room');
    assert.equal(keptRoom(null, random), random);
  });
});

describe('roomsToLeave', () => {
  it('leaves every joined room but the kept one', () => {
    const rooms = [
      { conv: general, joined: true, inFlight: 0 },
      { conv: random, joined: true, inFlight: 0 },
    ];
    assert.deepEqual(roomsToLeave(rooms, random), [general]);
    assert.deepEqual(roomsToLeave(rooms, null), [general, random]);
  });

  it('waits for the echo of a post on its way (it comes only to sockets in the room)', () => {
    assert.deepEqual(roomsToLeave([{ conv: general, joined: true, inFlight: 1 }], random), []);
  });

  it('has nothing to leave in a room not joined', () => {
    assert.deepEqual(roomsToLeave([{ conv: general, joined: false, inFlight: 0 }], random), []);
  });
});

describe('rejoinPlan', () => {
  it('replays what was missed when it fits a replay', () => {
    assert.equal(rejoinPlan(10, 10), 'since');
    assert.equal(rejoinPlan(10, 10 + REPLAY_MESSAGES), 'since');
  });

  it('reads the latest page afresh when a replay could be cut short', () => {
    assert.equal(rejoinPlan(10, 11 + REPLAY_MESSAGES), 'reload');
  });

  it('replays when it does not know how far behind it is', () => {
    assert.equal(rejoinPlan(null, 900), 'since');
    assert.equal(rejoinPlan(3, undefined), 'since');
  });
});

describe('postRoute', () => {
  it('posts on the socket to the room on screen or a joined one, and every direct message', () => {
    assert.equal(postRoute(general, false, general), 'socket', 'on screen, joining');
    assert.equal(postRoute(random, true, general), 'socket', 'joined');
    assert.equal(postRoute(withBob, false, general), 'socket');
  });

  it('posts over HTTP to a room the socket is not in (a post on the socket would join it)', () => {
    assert.equal(postRoute(random, false, general), 'http');
    assert.equal(postRoute(random, false, null), 'http');
  });
});

describe('a conversation\'s `since`', () => {
  function loaded(ids) {
    const conv = new Conversation('room', 1, 'General');
    conv.addLatestPage(ids.map((id) => ({ id, author: 'bob', text: `m${id}`, created_at: `2026-11-21T10:00:${String(id).padStart(2, '0')}Z`, bot: false })), 50);
    return conv;
  }

  it('is the newest message held while the socket is in the room', () => {
    assert.equal(loaded([1, 2, 3]).since, 3);
  });

  it('stays where the room was left, whatever is put in meanwhile (the user\'s own posts over HTTP)', () => {
    const conv = loaded([1, 2, 3]);
    conv.markLeft();
    conv.insert({ id: 9, author: 'alice', text: 'mine', created_at: '2026-11-21T10:00:09Z', bot: false });
    assert.equal(conv.since, 3, 'messages 4 to 8 are still to be replayed');
    conv.markLeft();
    assert.equal(conv.since, 3, 'leaving twice does not move it');
    conv.markJoined();
    assert.equal(conv.since, 9);
  });
});

// ---------------------------------------------------------------------------
// The controller, with stand-ins for the chat and its socket
// ---------------------------------------------------------------------------

function fakeChat() {
  const uis = new Map();
  const chat = {
    started: true,
    sent: [],
    model: { conversations: new Map(), rooms: [{ id: 1, name: 'General', last_seq: 40, read_seq: 40 }, { id: 2, name: 'Random', last_seq: 7 }] },
    current: null,
    socket: { send: (frame) => { chat.sent.push(frame); return true; } },
    uis,
    ui(conv) {
      if (!uis.has(conv)) uis.set(conv, { joined: false, typing: new Map(), replaying: null, leftAtSeq: null });
      return uis.get(conv);
    },
    rooms: { clearTyping() {} },
    connection: { sendPending() {} },
    isCurrent(conv) { return chat.current === conv; },
    open(conv) {
      chat.current = conv;
      chat.model.conversations.set(conv.key, conv);
    },
  };
  return chat;
}

describe('JoinsController: presence follows the room on screen', () => {
  it('sends a type 3 leave for the room the user leaves and joins the next with `since`', () => {
    const chat = fakeChat();
    const joins = new JoinsController(chat);
    const a = new Conversation('room', 1, 'General');
    const b = new Conversation('room', 2, 'Random');
    chat.open(a);
    joins.settleJoins();
    joins.joinRoom(a);
    assert.deepEqual(chat.sent, [{ type: 2, chatroomId: 1, since: 0 }]);
    a.insert({ id: 5, author: 'bob', text: 'hi', created_at: '2026-11-21T10:00:05Z', bot: false });
    chat.open(b);
    joins.settleJoins();
    joins.joinRoom(b);
    assert.deepEqual(chat.sent.slice(1), [{ type: 3, chatroomId: 1 }, { type: 2, chatroomId: 2, since: 0 }]);
    assert.equal(chat.ui(a).joined, false);
    assert.equal(chat.ui(a).leftAtSeq, 40, 'where the room was left, for rejoinPlan');
    // Back to the first: joined again from where it was left.
    chat.open(a);
    joins.settleJoins();
    joins.joinRoom(a);
    assert.deepEqual(chat.sent.slice(3), [{ type: 3, chatroomId: 2 }, { type: 2, chatroomId: 1, since: 5 }]);
  });

  it('keeps the last room while a direct conversation is on screen', () => {
    const chat = fakeChat();
    const joins = new JoinsController(chat);
    const a = new Conversation('room', 1, 'General');
    chat.open(a);
    joins.settleJoins();
    joins.joinRoom(a);
    chat.open(new Conversation('dm', 'bob', 'bob'));
    joins.settleJoins();
    assert.deepEqual(chat.sent, [{ type: 2, chatroomId: 1, since: 0 }], 'no leave');
    assert.equal(joins.kept, a);
  });

  it('leaves a room with a post on its way only once the post is done', () => {
    const chat = fakeChat();
    const joins = new JoinsController(chat);
    const a = new Conversation('room', 1, 'General');
    const b = new Conversation('room', 2, 'Random');
    chat.open(a);
    joins.joinRoom(a);
    a.pending.set('c-1', { client_id: 'c-1', state: 'pending' });
    chat.open(b);
    joins.settleJoins();
    assert.equal(chat.sent.filter((f) => f.type === 3).length, 0, 'its echo is still to come');
    a.pending.delete('c-1');
    joins.settleJoins();
    assert.deepEqual(chat.sent.filter((f) => f.type === 3), [{ type: 3, chatroomId: 1 }]);
  });

  it('counts a room never read on the server as read up to where it was left', () => {
    const chat = fakeChat();
    const joins = new JoinsController(chat);
    const b = new Conversation('room', 2, 'Random');
    chat.open(b);
    joins.joinRoom(b);
    chat.open(new Conversation('room', 1, 'General'));
    joins.settleJoins();
    assert.equal(b.seenSeq, 7, 'later messages count as unread from room activity');
    assert.equal(chat.model.rooms[1].read_seq, undefined, 'the server\'s entry is left as the server said');
  });
});
