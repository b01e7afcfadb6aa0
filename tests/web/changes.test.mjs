// Unit tests for messages that change after they were shown (web/changes.js):
// who may edit, delete, reply and react, change frames applied by id in place
// (the same state twice shows the same thing, a message not held is put in only
// within the loaded range), the reader's own `me` kept through live frames that
// do not say it, and replies whose quote follows the original.
// Run: node --test tests/web/ (see model.test.mjs for why web/ has a package.json).

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';

import {
  REACTIONS, SNIPPET_CHARS, applyChange, applyOwnDelete, applyOwnEdit, applyOwnReaction, canDelete, canEdit,
  lastEditable, mergeReactions, messageActions, quoteText, refreshReplies, replyRef, snippetOf,
} from '../../web/changes.js';
import { ChatModel, Conversation, pendingMessage } from '../../web/model.js';
import { parseMessage } from '../../web/protocol.js';

const at = (s) => `2026-11-21T10:00:${String(s).padStart(2, '0')}Z`;

/** A room message frame as the server sends it (type 1, or 12 with `change`). */
function frame(id, extra = {}) {
  return { type: 1, id, chatroomId: 1, chatuser: 'bob', chatmessage: `message ${id}`, created_at: at(id), ...extra };
}

/** A loaded room holding messages `ids`, as history brings them. */
function room(ids, { author = 'bob' } = {}) {
  const conv = new Conversation('room', 1, 'General');
  conv.addLatestPage(ids.map((id) => parseMessage(frame(id, { chatuser: author }))), 50);
  return conv;
}

describe('who may do what', () => {
  const mine = parseMessage(frame(1, { chatuser: 'alice' }));
  const theirs = parseMessage(frame(2));
  const bot = parseMessage(frame(3, { chatuser: 'stockbot', bot: true }));
  const gone = parseMessage(frame(4, { chatuser: 'alice', chatmessage: '', deleted: true }));
  const general = new Conversation('room', 1, 'General');
  const dm = new Conversation('dm', 'bob', 'bob');

  it('lets the author edit and delete their own message, never a tombstone', () => {
    assert.equal(canEdit(mine, 'ALICE'), true);
    assert.equal(canDelete(mine, 'alice'), true);
    assert.equal(canEdit(theirs, 'alice'), false);
    assert.equal(canDelete(theirs, 'alice'), false);
    assert.equal(canEdit(gone, 'alice'), false);
    assert.equal(canDelete(gone, 'alice'), false);
  });

  it('never edits a bot answer; the room\'s creator deletes anyone\'s, the bot\'s too', () => {
    assert.equal(canEdit(bot, 'stockbot'), false);
    assert.equal(canDelete(theirs, 'alice', 'alice'), true);
    assert.equal(canDelete(bot, 'alice', 'Alice'), true);
    assert.equal(canDelete(bot, 'alice', 'carol'), false);
  });

  it('does nothing to a message that is still being sent', () => {
    const pending = pendingMessage({ clientId: 'c-1', author: 'alice', text: 'hi' });
    assert.deepEqual(messageActions(general, pending, 'alice'), []);
    assert.equal(canEdit(pending, 'alice'), false);
  });

  it('offers Reply in rooms only, React on anything stored, Edit and Delete as allowed', () => {
    assert.deepEqual(messageActions(general, mine, 'alice'), ['reply', 'react', 'edit', 'delete']);
    assert.deepEqual(messageActions(general, theirs, 'alice'), ['reply', 'react']);
    assert.deepEqual(messageActions(general, theirs, 'alice', 'alice'), ['reply', 'react', 'delete']);
    assert.deepEqual(messageActions(dm, theirs, 'alice', 'alice'), ['react'], 'no creator in a direct conversation');
    assert.deepEqual(messageActions(general, bot, 'alice'), ['reply', 'react']);
    assert.deepEqual(messageActions(general, gone, 'alice'), []);
  });

  it('finds the last message ArrowUp edits: the user\'s newest that is neither deleted nor a bot\'s', () => {
    const conv = room([1, 2, 3]);
    conv.byId.get(1).author = 'alice';
    conv.byId.get(2).author = 'alice';
    conv.byId.get(2).deleted = true;
    assert.equal(lastEditable(conv, 'alice').id, 1);
    assert.equal(lastEditable(room([1]), 'alice'), null);
  });

  it('offers the eight reactions of the picker, each with a name', () => {
    assert.deepEqual(REACTIONS.map(([e]) => e), ['👍', '❤️', '😂', '🎉', '😮', '😢', '🚀', '👀']);
    assert.ok(REACTIONS.every(([, name]) => name));
  });
});

describe('applyChange', () => {
  it('updates the held message in place, so its node stays the same', () => {
    const conv = room([1, 2, 3]);
    const held = conv.byId.get(2);
    const result = applyChange(conv, parseMessage(frame(2, { type: 12, change: 'edited', chatmessage: 'fixed', edited_at: at(30) })), 'alice');
    assert.equal(result.updated, held);
    assert.equal(held.text, 'fixed');
    assert.equal(held.edited_at, at(30));
    assert.deepEqual(conv.messages.map((m) => m.id), [1, 2, 3], 'same place, nothing added');
  });

  it('shows the same state when the same change comes twice (live, then in a replay)', () => {
    const conv = room([1, 2]);
    const change = frame(1, { type: 12, change: 'edited', chatmessage: 'once', edited_at: at(40) });
    applyChange(conv, parseMessage(change), 'alice');
    const first = { ...conv.byId.get(1) };
    applyChange(conv, parseMessage({ ...change, change: undefined }), 'alice');
    assert.deepEqual(conv.byId.get(1), first);
  });

  it('turns a deleted message into a tombstone with the same id, no text and no reactions', () => {
    const conv = room([1, 2]);
    applyChange(conv, parseMessage(frame(1, { type: 12, reactions: [{ emoji: '👍', count: 1 }], reaction: { emoji: '👍', chatuser: 'bob', on: true } })), 'alice');
    applyChange(conv, parseMessage(frame(1, { type: 12, change: 'deleted', chatmessage: '', deleted: true })), 'alice');
    const held = conv.byId.get(1);
    assert.equal(held.deleted, true);
    assert.equal(held.text, '');
    assert.deepEqual(held.reactions, []);
    assert.deepEqual(conv.messages.map((m) => m.id), [1, 2]);
  });

  it('drops a bot answer\'s quote when it is deleted', () => {
    const quote = { symbol: 'AAPL.US', open: '1', high: '2', low: '1', close: '2' };
    const conv = room([]);
    conv.insert(parseMessage(frame(5, { chatuser: 'stockbot', bot: true, quote, asked_by: 'bob', command: '/stock=aapl.us' })));
    applyChange(conv, parseMessage(frame(5, { type: 12, chatuser: 'stockbot', bot: true, chatmessage: '', deleted: true })), 'alice');
    assert.equal(conv.byId.get(5).quote, undefined);
    assert.equal(conv.byId.get(5).asked_by, undefined);
  });

  it('puts in a changed message it does not hold when it falls within the loaded range', () => {
    const conv = room([1, 3]);
    const result = applyChange(conv, parseMessage(frame(2, { type: 12, change: 'edited', chatmessage: 'missed', edited_at: at(9) })), 'alice');
    assert.equal(result.inserted.msg.id, 2);
    assert.equal(result.inserted.next.id, 3);
    assert.deepEqual(conv.messages.map((m) => m.id), [1, 2, 3]);
    assert.equal(conv.byId.get(2).change, undefined, 'what changed is not part of the message');
  });

  it('ignores a change to a message older than what is loaded, or newer, or in a room never loaded', () => {
    const conv = room([10, 11]);
    assert.equal(applyChange(conv, parseMessage(frame(3, { type: 12 })), 'alice'), null);
    assert.equal(applyChange(conv, parseMessage(frame(12, { type: 12 })), 'alice'), null);
    assert.equal(applyChange(new Conversation('room', 1, 'General'), parseMessage(frame(3, { type: 12 })), 'alice'), null);
    assert.deepEqual(conv.messages.map((m) => m.id), [10, 11]);
  });

  it('applies a direct message\'s change (type 13) the same way', () => {
    const conv = new Conversation('dm', 'bob', 'bob');
    conv.addLatestPage([parseMessage({ type: 4, id: 7, author: 'bob', recipient: 'alice', message: 'hello', created_at: at(7) })], 50);
    applyChange(conv, parseMessage({ type: 13, change: 'edited', id: 7, author: 'bob', recipient: 'alice', message: 'hello there', edited_at: at(8), created_at: at(7) }), 'alice');
    assert.equal(conv.byId.get(7).text, 'hello there');
  });
});

describe('the reader\'s own reactions (me)', () => {
  const counts = (list) => list.map((r) => [r.emoji, r.count, r.me]);

  it('takes `me` where the server says it (history, the replay)', () => {
    assert.deepEqual(counts(mergeReactions([], [{ emoji: '👍', count: 2, me: true }, { emoji: '🎉', count: 1, me: false }], null, 'alice')),
      [['👍', 2, true], ['🎉', 1, false]]);
  });

  it('sets it from a live frame when the reaction was the reader\'s, on or off', () => {
    const before = [{ emoji: '👍', count: 1, me: false }];
    assert.deepEqual(counts(mergeReactions(before, [{ emoji: '👍', count: 2 }], { emoji: '👍', chatuser: 'Alice', on: true }, 'alice')), [['👍', 2, true]]);
    const mine = [{ emoji: '👍', count: 2, me: true }];
    assert.deepEqual(counts(mergeReactions(mine, [{ emoji: '👍', count: 1 }], { emoji: '👍', chatuser: 'alice', on: false }, 'alice')), [['👍', 1, false]]);
  });

  it('keeps it when someone else reacts, and drops an emoji nobody uses any more', () => {
    const mine = [{ emoji: '👍', count: 1, me: true }, { emoji: '🎉', count: 1, me: false }];
    assert.deepEqual(counts(mergeReactions(mine, [{ emoji: '👍', count: 2 }], { emoji: '👍', chatuser: 'bob', on: true }, 'alice')), [['👍', 2, true]]);
    assert.deepEqual(counts(mergeReactions(mine, [{ emoji: '👍', count: 1 }, { emoji: '🚀', count: 1 }], { emoji: '🚀', chatuser: 'bob', on: true }, 'alice')),
      [['👍', 1, true], ['🚀', 1, false]]);
  });

  it('keeps it through a change that is not a reaction (an edit carries counts only)', () => {
    const conv = room([1]);
    applyChange(conv, parseMessage(frame(1, { type: 12, reactions: [{ emoji: '👀', count: 1, me: true }] })), 'alice');
    applyChange(conv, parseMessage(frame(1, { type: 12, change: 'edited', chatmessage: 'new', reactions: [{ emoji: '👀', count: 1 }] })), 'alice');
    assert.deepEqual(counts(conv.byId.get(1).reactions), [['👀', 1, true]]);
  });

  it('counts the reader\'s own toggle at once, and not twice when the live frame came first', () => {
    const msg = { id: 1, reactions: [] };
    assert.equal(applyOwnReaction(msg, '🚀', true), true);
    assert.deepEqual(counts(msg.reactions), [['🚀', 1, true]]);
    assert.equal(applyOwnReaction(msg, '🚀', true), false, 'already counted');
    assert.deepEqual(counts(msg.reactions), [['🚀', 1, true]]);
    const shared = { id: 2, reactions: [{ emoji: '👍', count: 3, me: false }] };
    applyOwnReaction(shared, '👍', true);
    assert.deepEqual(counts(shared.reactions), [['👍', 4, true]]);
    applyOwnReaction(shared, '👍', false);
    assert.deepEqual(counts(shared.reactions), [['👍', 3, false]]);
    applyOwnReaction(msg, '🚀', false);
    assert.deepEqual(msg.reactions, [], 'the last one taken back: gone');
  });
});

describe('the user\'s own edits and deletions (HTTP answers)', () => {
  it('applies an edit\'s answer unless the socket already brought a newer one', () => {
    const conv = room([1], { author: 'alice' });
    applyOwnEdit(conv, { id: 1, text: 'v2', edited_at: at(20) });
    assert.equal(conv.byId.get(1).text, 'v2');
    applyChange(conv, parseMessage(frame(1, { type: 12, chatuser: 'alice', chatmessage: 'v3', edited_at: at(30) })), 'alice');
    applyOwnEdit(conv, { id: 1, text: 'v2', edited_at: at(20) });
    assert.equal(conv.byId.get(1).text, 'v3', 'a late answer does not undo a later edit');
  });

  it('makes the tombstone at once on a 204', () => {
    const conv = room([1], { author: 'alice' });
    conv.byId.get(1).reactions = [{ emoji: '👍', count: 1, me: true }];
    assert.equal(applyOwnDelete(conv, 1).deleted, true);
    assert.deepEqual(conv.byId.get(1).reactions, []);
    assert.equal(applyOwnDelete(conv, 99), null);
  });
});

describe('replies', () => {
  it('quote the start of the original as the server keeps it', () => {
    const long = `**bold** ${'x'.repeat(200)}`;
    assert.equal([...snippetOf({ text: long })].length, SNIPPET_CHARS);
    assert.deepEqual(replyRef({ id: 4, author: 'bob', text: 'hi *there*' }), { id: 4, chatuser: 'bob', snippet: 'hi *there*', deleted: false });
    assert.equal(quoteText({ id: 4, snippet: 'hi *there*' }), 'hi there', 'shown without markdown\'s marks');
    assert.equal(quoteText({ id: 4, snippet: '', deleted: true }), 'message deleted');
  });

  it('follow the original when it is edited or deleted', () => {
    const conv = room([1, 2, 3]);
    conv.byId.get(2).reply_to = { id: 1, chatuser: 'bob', snippet: 'message 1' };
    conv.byId.get(3).reply_to = { id: 2, chatuser: 'bob', snippet: 'message 2' };
    const original = conv.byId.get(1);
    assert.deepEqual(refreshReplies(conv, original), [], 'nothing changed, nothing to redraw');
    original.text = 'edited';
    assert.deepEqual(refreshReplies(conv, original).map((m) => m.id), [2]);
    assert.equal(conv.byId.get(2).reply_to.snippet, 'edited');
    applyOwnDelete(conv, 1);
    refreshReplies(conv, original);
    assert.deepEqual(conv.byId.get(2).reply_to, { id: 1, chatuser: 'bob', snippet: '', deleted: true });
  });
});

describe('the model still drops repeated new messages', () => {
  it('a type 1 frame with an id already held is a duplicate; a change to it is not', () => {
    const model = new ChatModel('alice');
    const conv = model.room(1, 'General');
    conv.addLatestPage([parseMessage(frame(1))], 50);
    assert.equal(model.receive(conv, parseMessage(frame(1, { chatmessage: 'other' }))).added, null);
    assert.equal(conv.byId.get(1).text, 'message 1');
    assert.ok(applyChange(conv, parseMessage(frame(1, { type: 12, chatmessage: 'other' })), 'alice').updated);
    assert.equal(conv.byId.get(1).text, 'other');
  });
});
