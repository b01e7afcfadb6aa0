// Unit tests for the web client's conversation model (web/model.js).
// Run: node --test tests/web/
//
// The model is imported straight from web/, the very file the browser loads.
// Node decides whether a .js file is an ES module from the package.json
// nearest to that file, so web/package.json says {"type":"module"}; the
// server serves it like everything in web/, which is harmless (one line, no
// secrets), and it spares a copy, a build step or a data: URL loader here.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';

import {
  ChatModel, Conversation, compareMessages, pendingMessage, tsMicros,
} from '../../web/model.js';

const PAGE = 50;

/** A stored room message as the protocol module hands it over. */
function msg(id, createdAt, { author = 'bob', text = `message ${id}`, clientId, bot = false } = {}) {
  return { id, author, text, created_at: createdAt, bot, client_id: clientId };
}

/** Second `s` of a fixed minute, with an optional fraction written exactly as given. */
function at(s, fraction = '') {
  return `2026-11-21T10:00:${String(s).padStart(2, '0')}${fraction}Z`;
}

const ids = (conv) => conv.messages.map((m) => m.id);

/**
 * A stand-in for the DOM list: applies {msg, next} insertions the way the
 * view does (insertBefore next, or append), so the tests can check that the
 * positions the model reports rebuild exactly its own order.
 */
function mirror() {
  const items = [];
  return {
    items,
    apply(insertions) {
      for (const { msg: m, next } of insertions) {
        const i = next ? items.indexOf(next) : items.length;
        assert.notEqual(i, -1, `next message ${next && next.id} is already shown`);
        items.splice(i, 0, m);
      }
    },
  };
}

/** Stored messages `first`..`last`, one second apart, oldest first (as the server pages them). */
function page(first, last) {
  const out = [];
  for (let id = first; id <= last; id += 1) out.push(msg(id, `2026-11-21T10:${String(Math.floor(id / 60)).padStart(2, '0')}:${String(id % 60).padStart(2, '0')}Z`));
  return out;
}

describe('ordering', () => {
  it('keeps messages that arrive out of order sorted by created_at', () => {
    const conv = new Conversation('room', 1, 'General');
    conv.insert(msg(3, at(3)));
    conv.insert(msg(1, at(1)));
    conv.insert(msg(4, at(4)));
    conv.insert(msg(2, at(2)));
    assert.deepEqual(ids(conv), [1, 2, 3, 4]);
  });

  it('breaks equal timestamps by id, whatever the arrival order', () => {
    const conv = new Conversation('room', 1, 'General');
    conv.insert(msg(12, at(5, '.250000')));
    conv.insert(msg(10, at(5, '.250000')));
    conv.insert(msg(11, at(5, '.250000')));
    assert.deepEqual(ids(conv), [10, 11, 12]);
  });

  it('orders by time before id, to the microsecond', () => {
    // Ids out of step with time (two instances committing concurrently); Date alone keeps
    // milliseconds and would fall back to the id here.
    const conv = new Conversation('room', 1, 'General');
    conv.insert(msg(1, at(7, '.000002')));
    conv.insert(msg(2, at(7, '.000001')));
    assert.deepEqual(ids(conv), [2, 1]);
  });

  it('compares fractions of any length as numbers, not as strings', () => {
    // As strings "…07Z" > "…07.5Z" ('Z' > '.'), and "…07.1Z" > "…07.09999Z".
    assert.ok(compareMessages(msg(1, at(7)), msg(2, at(7, '.5'))) < 0);
    assert.ok(compareMessages(msg(1, at(7, '.09999')), msg(2, at(7, '.1'))) < 0);
    assert.equal(tsMicros(at(7, '.5')), tsMicros(at(7, '.500000')));
    assert.equal(tsMicros(at(7, '.5')) - tsMicros(at(7)), 500_000);
  });

  it('puts an id-less bot reply after stored messages of the same instant', () => {
    const conv = new Conversation('room', 1, 'General');
    conv.insert(msg(null, at(9), { author: 'stockbot', bot: true, text: 'AAPL.US quote is $93.42 per share' }));
    conv.insert(msg(8, at(9)));
    conv.insert(msg(9, at(10)));
    assert.deepEqual(ids(conv), [8, null, 9]);
  });

  it('reports where each insertion goes, so a view can mirror the list', () => {
    const conv = new Conversation('room', 1, 'General');
    const view = mirror();
    for (const m of [msg(5, at(5)), msg(2, at(2)), msg(9, at(9)), msg(1, at(1)), msg(7, at(7))]) {
      const placed = conv.insert(m);
      view.apply([placed]);
    }
    assert.deepEqual(view.items.map((m) => m.id), [1, 2, 5, 7, 9]);
    assert.deepEqual(view.items, conv.messages);
  });
});

describe('de-duplication', () => {
  it('keeps one copy of a message that arrives twice with the same id', () => {
    const conv = new Conversation('room', 1, 'General');
    assert.ok(conv.insert(msg(4, at(4))));
    assert.equal(conv.insert(msg(4, at(4))), null);
    const { added } = conv.receive(msg(4, at(4)), 'alice');
    assert.equal(added, null);
    assert.deepEqual(ids(conv), [4]);
  });

  it('replaces the optimistic message with the server echo that carries its client_id', () => {
    const conv = new Conversation('room', 1, 'General');
    const pending = pendingMessage({ clientId: 'c-1', author: 'alice', text: 'hi' });
    assert.equal(conv.addPending(pending), true);
    assert.equal(conv.pending.size, 1);

    const echo = msg(20, at(20), { author: 'alice', text: 'hi', clientId: 'c-1' });
    const { added, replaced } = conv.receive(echo, 'alice');
    assert.equal(replaced, pending, 'the pending copy is handed back for its bubble to go');
    assert.equal(added.msg, echo);
    assert.equal(conv.pending.size, 0);
    assert.deepEqual(conv.messages, [echo]);
  });

  it('ignores an optimistic insert whose echo has already arrived', () => {
    const conv = new Conversation('room', 1, 'General');
    conv.receive(msg(21, at(21), { author: 'alice', text: 'fast', clientId: 'c-2' }), 'alice');
    const late = pendingMessage({ clientId: 'c-2', author: 'alice', text: 'fast' });
    assert.equal(conv.addPending(late), false);
    assert.equal(conv.pending.size, 0);
    assert.equal(conv.messages.length, 1);
  });

  it('drops the pending copy even when its echo is a duplicate of a message already shown', () => {
    // A retried send: the server answers the retry with the message it had already stored.
    const conv = new Conversation('room', 1, 'General');
    conv.insert(msg(22, at(22), { author: 'alice', text: 'again' }));
    const pending = pendingMessage({ clientId: 'c-3', author: 'alice', text: 'again' });
    conv.addPending(pending);
    const { added, replaced } = conv.receive(msg(22, at(22), { author: 'alice', text: 'again', clientId: 'c-3' }), 'alice');
    assert.equal(added, null);
    assert.equal(replaced, pending);
    assert.equal(conv.pending.size, 0);
    assert.deepEqual(ids(conv), [22]);
  });

  it('does not touch pending messages for someone else\'s echo', () => {
    const conv = new Conversation('room', 1, 'General');
    conv.addPending(pendingMessage({ clientId: 'c-4', author: 'alice', text: 'mine' }));
    const { replaced } = conv.receive(msg(23, at(23), { author: 'bob', text: 'mine' }), 'alice');
    assert.equal(replaced, null);
    assert.equal(conv.pending.size, 1);
  });

  it('clears a bubble that failed on a dropped connection when the replay shows it was stored', () => {
    const conv = new Conversation('room', 1, 'General');
    const lost = pendingMessage({ clientId: 'c-5', author: 'alice', text: 'did it go?' });
    conv.addPending(lost);
    conv.failPending(lost, 'connection lost', true);
    // Replays after a reconnect carry no client_id.
    const { replaced, added } = conv.receive(msg(24, at(24), { author: 'Alice', text: 'did it go? ' }), 'alice');
    assert.equal(replaced, lost);
    assert.ok(added);
    assert.equal(conv.pending.size, 0);
  });

  it('keeps a bubble the server refused, even if the same text later arrives', () => {
    const conv = new Conversation('room', 1, 'General');
    const refused = pendingMessage({ clientId: 'c-6', author: 'alice', text: 'spam' });
    conv.addPending(refused);
    conv.failPending(refused, 'too many messages, wait a moment');
    const { replaced } = conv.receive(msg(25, at(25), { author: 'alice', text: 'spam' }), 'alice');
    assert.equal(replaced, null);
    assert.equal(conv.pending.get('c-6'), refused);
  });

  it('recognises a repeated id-less bot reply by its time and text', () => {
    const conv = new Conversation('room', 1, 'General');
    const quote = { author: 'stockbot', bot: true, text: 'AAPL.US quote is $93.42 per share' };
    assert.ok(conv.insert(msg(null, at(30), quote)));
    assert.equal(conv.insert(msg(null, at(30), quote)), null);
    assert.ok(conv.insert(msg(null, at(30), { ...quote, text: 'MSFT.US quote is $334.27 per share' })));
    assert.equal(conv.messages.length, 2);
  });
});

describe('unread counting', () => {
  function setUp() {
    const model = new ChatModel('alice');
    const general = model.room(1, 'General');
    const random = model.room(2, 'Random');
    const bob = model.dm('bob');
    model.open(general);
    return { model, general, random, bob };
  }

  it('counts others\' messages in a conversation that is not open', () => {
    const { model, general, random } = setUp();
    assert.equal(model.receive(random, msg(1, at(1))).counted, true);
    model.receive(random, msg(2, at(2)));
    assert.equal(random.unread, 2);
    assert.equal(general.unread, 0);
  });

  it('does not count messages in the open conversation while the page is visible', () => {
    const { model, general } = setUp();
    const r = model.receive(general, msg(1, at(1)));
    assert.ok(r.added);
    assert.equal(r.counted, false);
    assert.equal(general.unread, 0);
  });

  it('does not count the user\'s own messages, whatever the case of the name', () => {
    const { model, random } = setUp();
    const r = model.receive(random, msg(1, at(1), { author: 'ALICE' }));
    assert.equal(r.own, true);
    assert.equal(r.counted, false);
    assert.equal(random.unread, 0);
  });

  it('counts a bot reply even though the user asked for it', () => {
    const { model, random } = setUp();
    model.receive(random, msg(null, at(1), { author: 'stockbot', bot: true, text: 'quote' }));
    assert.equal(random.unread, 1);
  });

  it('does not count a duplicate twice', () => {
    const { model, random } = setUp();
    model.receive(random, msg(1, at(1)));
    assert.equal(model.receive(random, msg(1, at(1))).counted, false);
    assert.equal(random.unread, 1);
  });

  it('resets the count when the conversation is opened', () => {
    const { model, random } = setUp();
    model.receive(random, msg(1, at(1)));
    model.receive(random, msg(2, at(2)));
    model.open(random);
    assert.equal(random.unread, 0);
    model.receive(random, msg(3, at(3)));
    assert.equal(random.unread, 0, 'open now, so no longer counted');
  });

  it('counts in the open conversation while the page is hidden, and clears when it shows again', () => {
    const { model, general } = setUp();
    model.setAttentive(false);
    model.receive(general, msg(1, at(1)));
    assert.equal(general.unread, 1);
    model.setAttentive(true);
    assert.equal(general.unread, 0);
  });

  it('follows the server\'s read markers and room activity once a room has a marker', () => {
    const { model, random } = setUp();
    model.setRooms([
      { id: 1, name: 'General', last_seq: 10, read_seq: 10, unread: 0 },
      { id: 2, name: 'Random', last_seq: 7, read_seq: 4, unread: 3 },
      { id: 3, name: 'Never', last_seq: 50, read_seq: null, unread: 0 },
    ]);
    assert.equal(model.roomUnread(2), 3, 'from the room list');
    assert.equal(model.roomUnread(3), 0, 'a room never read counts nothing it did not see');
    assert.equal(model.noteActivity([{ id: 2, last_seq: 9 }, { id: 99, last_seq: 1 }]), true);
    assert.equal(model.roomUnread(2), 5);
    assert.equal(model.noteActivity([{ id: 2, last_seq: 8 }]), false, 'activity never goes back');
    model.receive(random, msg(1, at(1)));
    // Another tab read it all: the marker frame clears it here too.
    model.applyMarker({ chatroomId: 2, last_read_id: 77, read_seq: 9, unread: 0 });
    assert.equal(model.roomUnread(2), 0);
    assert.equal(random.unread, 0);
    // An older marker (a late answer) does not move it back.
    model.applyMarker({ room_id: 2, last_read_id: 70, read_seq: 6, last_seq: 9, unread: 3 });
    assert.equal(model.roomUnread(2), 0);
    assert.deepEqual(model.unreadTotals(), { rooms: 0, dms: 0 });
  });

  it('counts direct messages from the inbox\'s unread plus what arrived since', () => {
    const { model, bob } = setUp();
    model.setInbox([{ username: 'bob', latest_message: 'x', created_at: at(1), unread: 2 }]);
    model.receive(bob, msg(5, at(5), { author: 'bob' }));
    assert.equal(model.dmUnread('BOB'), 3);
    model.applyMarker({ username: 'bob', last_read_id: 5, unread: 0 });
    assert.equal(model.dmUnread('bob'), 0);
  });

  it('adds rooms and direct threads up separately', () => {
    const { model, random, bob } = setUp();
    model.receive(random, msg(1, at(1)));
    model.receive(bob, msg(2, at(2), { author: 'bob' }));
    model.receive(bob, msg(3, at(3), { author: 'bob' }));
    assert.deepEqual(model.unreadTotals(), { rooms: 1, dms: 2 });
  });
});

describe('history paging', () => {
  it('a full latest page leaves more to load, from the oldest id', () => {
    const conv = new Conversation('room', 1, 'General');
    assert.equal(conv.canLoadOlder, false, 'nothing to page from before the first fetch');
    conv.addLatestPage(page(51, 100), PAGE);
    assert.equal(conv.loaded, true);
    assert.equal(conv.hasMore, true);
    assert.equal(conv.canLoadOlder, true);
    assert.equal(conv.oldestId, 51);
    assert.equal(conv.maxId, 100);
  });

  it('a short latest page is the whole history', () => {
    const conv = new Conversation('room', 1, 'General');
    conv.addLatestPage(page(1, 7), PAGE);
    assert.equal(conv.hasMore, false);
    assert.equal(conv.canLoadOlder, false);
    assert.deepEqual(ids(conv), [1, 2, 3, 4, 5, 6, 7]);
  });

  it('prepends an older page in order, and the view can follow', () => {
    const conv = new Conversation('room', 1, 'General');
    const view = mirror();
    view.apply(conv.addLatestPage(page(51, 100), PAGE));
    const inserted = conv.addOlderPage(page(1, 50), PAGE);
    view.apply(inserted);
    assert.equal(inserted.length, 50);
    assert.deepEqual(ids(conv), page(1, 100).map((m) => m.id));
    assert.deepEqual(view.items, conv.messages);
    assert.equal(conv.oldestId, 1);
  });

  it('de-duplicates a page that overlaps what is already shown', () => {
    const conv = new Conversation('room', 1, 'General');
    conv.addLatestPage(page(51, 100), PAGE);
    // A live message that came in meanwhile, and a page that reaches back into the known ones.
    conv.receive(msg(101, '2026-11-21T10:05:00Z'), 'alice');
    const inserted = conv.addOlderPage(page(11, 60), PAGE);
    assert.deepEqual(inserted.map((i) => i.msg.id), page(11, 50).map((m) => m.id));
    const all = ids(conv);
    assert.equal(new Set(all).size, all.length, 'no id twice');
    assert.deepEqual(all, [...page(11, 100).map((m) => m.id), 101]);
    assert.equal(conv.hasMore, true);
  });

  it('a short older page is the beginning of history', () => {
    const conv = new Conversation('room', 1, 'General');
    conv.addLatestPage(page(21, 70), PAGE);
    conv.addOlderPage(page(1, 20), PAGE);
    assert.equal(conv.hasMore, false);
    assert.equal(conv.canLoadOlder, false);
    assert.equal(conv.messages[0].id, 1);
  });

  it('stops paging when a full page brings nothing older, instead of asking again forever', () => {
    const conv = new Conversation('room', 1, 'General');
    conv.addLatestPage(page(51, 100), PAGE);
    const inserted = conv.addOlderPage(page(51, 100), PAGE);
    assert.deepEqual(inserted, []);
    assert.equal(conv.hasMore, false);
  });

  it('keeps live messages that came before the first fetch, without doubling them', () => {
    const model = new ChatModel('alice');
    const conv = model.dm('bob');
    model.receive(conv, msg(99, at(59), { author: 'bob' }));
    assert.equal(conv.loaded, false);
    conv.addLatestPage([msg(98, at(58), { author: 'bob' }), msg(99, at(59), { author: 'bob' })], PAGE);
    assert.deepEqual(ids(conv), [98, 99]);
    assert.equal(conv.hasMore, false);
  });
});

describe('the chat model', () => {
  it('gives one conversation per room and per user, names compared without case', () => {
    const model = new ChatModel('alice');
    assert.equal(model.room(1, 'General'), model.room(1));
    assert.equal(model.dm('Bob'), model.dm('bob'));
    assert.equal(model.find('dm', 'BOB'), model.dm('bob'));
    assert.equal(model.find('room', 2), null);
  });

  it('names a room from the room list when the caller does not know it', () => {
    const model = new ChatModel('alice');
    model.setRooms([{ id: 3, name: 'Stocks' }]);
    assert.equal(model.room(3).name, 'Stocks');
    model.setRooms([{ id: 3, name: 'Markets' }]);
    assert.equal(model.room(3).name, 'Markets', 'a rename reaches the open conversation');
  });

  it('finds a pending message by client_id in whichever conversation holds it', () => {
    const model = new ChatModel('alice');
    model.room(1, 'General');
    const dm = model.dm('bob');
    const p = pendingMessage({ clientId: 'c-9', author: 'alice', text: 'psst' });
    dm.addPending(p);
    assert.deepEqual(model.findPending('c-9'), { conv: dm, msg: p });
    assert.equal(model.findPending('c-missing'), null);
    assert.equal(model.findPending(undefined), null);
  });

  it('moves a thread to the top of the inbox when a message arrives, and lists opened threads once', () => {
    const model = new ChatModel('alice');
    model.setInbox([
      { username: 'carol', latest_message: 'hey', created_at: at(1) },
      { username: 'bob', latest_message: 'yo', created_at: at(0) },
    ]);
    model.bumpInbox('Bob', 'news', at(5));
    model.dm('dave');
    model.dm('carol');
    const entries = model.inboxEntries();
    assert.deepEqual(entries.map((e) => e.username), ['bob', 'carol', 'dave']);
    assert.equal(entries[0].latest_message, 'news');
    assert.equal(entries[2].latest_message, '');
  });

  it('forgetting the open conversation leaves nothing open', () => {
    const model = new ChatModel('alice');
    const conv = model.dm('nobody');
    model.open(conv);
    model.forget(conv);
    assert.equal(model.active, null);
    assert.equal(model.find('dm', 'nobody'), null);
  });

  it('keeps rooms sorted by name without case when one is added', () => {
    const model = new ChatModel('alice');
    model.setRooms([{ id: 1, name: 'General' }, { id: 2, name: 'random' }]);
    model.addRoom({ id: 3, name: 'Markets' });
    model.addRoom({ id: 3, name: 'Markets' });
    assert.deepEqual(model.rooms.map((r) => r.id), [1, 3, 2]);
  });
});
