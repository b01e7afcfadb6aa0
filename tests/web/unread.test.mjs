// Unit tests for what is new in a conversation (web/unread.js): where the "New
// messages" divider goes and how many unread messages of a room mention the user.
// Run: node --test tests/web/ (see model.test.mjs for why web/ has a package.json).

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';

import { ChatModel } from '../../web/model.js';
import {
  firstUnread, settledRule, unreadMentions, unreadMentionsForKey, unreadMessages, unreadRule,
} from '../../web/unread.js';

function msg(id, author = 'bob', text = `message ${id}`, { bot = false } = {}) {
  return { id, author, text, created_at: `2026-11-21T10:00:${String(id % 60).padStart(2, '0')}Z`, bot, client_id: undefined };
}

/** alice's model with room 1 (General) read up to message `readId` of `lastSeq`, holding `messages`. */
function roomModel({ readId = 3, readSeq = 3, lastSeq = 6, messages = [] } = {}) {
  const model = new ChatModel('alice');
  model.setRooms([{ id: 1, name: 'General', last_seq: lastSeq, read_seq: readSeq, last_read_id: readId }]);
  const conv = model.room(1, 'General');
  conv.merge(messages);
  return { model, conv };
}

describe('unreadRule', () => {
  it('is "after the marker\'s message" for a room read before', () => {
    const { model, conv } = roomModel();
    assert.deepEqual(unreadRule(model, conv), { afterId: 3 });
  });

  it('is null with nothing unread, and for the conversation being read', () => {
    const { model, conv } = roomModel({ readSeq: 6 });
    assert.equal(unreadRule(model, conv), null);
    const other = roomModel();
    other.model.open(other.conv);
    assert.equal(unreadRule(other.model, other.conv), null, 'open and looked at: read');
    other.model.setAttentive(false);
    assert.deepEqual(unreadRule(other.model, other.conv), { afterId: 3 }, 'open in a hidden tab: not read');
  });

  it('is a count for a direct conversation (the server counts its unread)', () => {
    const model = new ChatModel('alice');
    model.setInbox([{ username: 'bob', latest_message: 'hi', latest_id: 9, unread: 2 }]);
    assert.deepEqual(unreadRule(model, model.dm('bob')), { count: 2 });
  });
});

describe('firstUnread and unreadMessages', () => {
  const messages = [msg(1), msg(2), msg(3), msg(4, 'alice'), msg(5), msg(6, 'stockbot', 'AAPL', { bot: true })];

  it('puts the divider above the first message of others after the marker', () => {
    const { model, conv } = roomModel({ messages });
    const rule = unreadRule(model, conv);
    assert.deepEqual(unreadMessages(conv, rule, 'alice').map((m) => m.id), [5, 6], 'own messages are never new');
    assert.equal(firstUnread(conv, rule, 'alice').id, 5);
  });

  it('counts back from the newest for a count', () => {
    const { conv } = roomModel({ messages });
    assert.equal(firstUnread(conv, { count: 3 }, 'alice').id, 3);
    assert.equal(firstUnread(conv, { count: 99 }, 'alice').id, 1, 'more unread than loaded: the oldest loaded');
    assert.equal(firstUnread(conv, null, 'alice'), null);
  });

  it('settles a count on the message it found, so later messages do not move the divider', () => {
    const { conv } = roomModel({ messages });
    const first = firstUnread(conv, { count: 2 }, 'alice');
    const rule = settledRule({ count: 2 }, first, conv, 'alice');
    assert.deepEqual(rule, { afterId: 4 });
    conv.merge([msg(7), msg(8)]);
    assert.equal(firstUnread(conv, rule, 'alice').id, 5);
    assert.deepEqual(settledRule({ count: 99 }, conv.messages[0], conv, 'alice'), { count: 99 }, 'not all loaded: still a count');
  });
});

describe('unreadMentions', () => {
  it('counts the unread messages that name the user, not in code, not the bot\'s', () => {
    const { model, conv } = roomModel({
      messages: [msg(2, 'bob', 'old @alice'), msg(4, 'bob', 'hey @Alice'), msg(5, 'bob', '`@alice` in code'),
        msg(6, 'stockbot', '@alice AAPL', { bot: true })],
    });
    assert.equal(unreadMentions(model, conv), 1);
    assert.equal(unreadMentionsForKey(model, 'room:1'), 1);
    assert.equal(unreadMentionsForKey(model, 'dm:bob'), 0);
    model.open(conv);
    assert.equal(unreadMentions(model, conv), 0, 'being read');
  });

  it('is 0 for a room this page holds no messages of', () => {
    const { model } = roomModel();
    assert.equal(unreadMentionsForKey(model, 'room:2'), 0);
  });
});
