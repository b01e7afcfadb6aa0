// Unit tests for finding a conversation (web/navigation.js): the URL fragment
// that reopens one after a reload, what "Message a user" accepts, the room
// opened by default, and a sidebar entry's unread count.
// Run: node --test tests/web/ (see model.test.mjs for why web/ has a package.json).

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';

import {
  conversationHash, defaultRoom, dmTargetProblem, parseConversationHash, typedUsername, unreadForKey,
} from '../../web/navigation.js';
import { ChatModel, Conversation } from '../../web/model.js';

describe('conversation fragments', () => {
  it('names a room by id and a thread by the other user', () => {
    assert.equal(conversationHash(new Conversation('room', 12, 'General')), '#room/12');
    assert.equal(conversationHash(new Conversation('dm', 'Bob_2', 'Bob_2')), '#dm/Bob_2');
  });

  it('reads back what it wrote', () => {
    assert.deepEqual(parseConversationHash(conversationHash(new Conversation('room', 12, 'General'))), { kind: 'room', id: 12 });
    assert.deepEqual(parseConversationHash(conversationHash(new Conversation('dm', 'Bob_2', 'Bob_2'))), { kind: 'dm', name: 'Bob_2' });
    assert.deepEqual(parseConversationHash('#dm/%62ob'), { kind: 'dm', name: 'bob' }, 'an encoded name is decoded');
  });

  it('names nothing for anything else', () => {
    for (const hash of [null, undefined, '', '#', '#room/', '#room/x1', '#room/1/2', '#rooms/1', 'room/1', '#dm/', '#dm/ab', '#dm/1bob', '#dm/bob%20x', '#dm/bob/x']) {
      assert.equal(parseConversationHash(hash), null, String(hash));
    }
  });

  it('names no conversation for a badly encoded name', () => {
    assert.equal(parseConversationHash('#dm/%E0%A4%A'), null);
  });
});

describe('"Message a user"', () => {
  it('takes the typed name without spaces around it or a leading @', () => {
    assert.equal(typedUsername('  @bob '), 'bob');
    assert.equal(typedUsername('bob@'), 'bob@');
    assert.equal(typedUsername('@@bob'), '@bob');
  });

  it('refuses what cannot be a username, and the user themself', () => {
    assert.equal(dmTargetProblem('bob', 'alice'), '');
    assert.equal(dmTargetProblem('Bob_2000', 'alice'), '');
    for (const bad of ['', 'bo', '2bob', 'bob smith', '@bob', 'b'.repeat(33)]) {
      assert.equal(dmTargetProblem(bad, 'alice'), 'Enter a valid username.', bad);
    }
    assert.equal(dmTargetProblem('ALICE', 'alice'), 'That is you.');
  });
});

describe('defaultRoom', () => {
  it('is General whatever its case, else the first room, else none', () => {
    assert.deepEqual(defaultRoom([{ id: 1, name: 'Alpha' }, { id: 2, name: 'general' }]), { id: 2, name: 'general' });
    assert.deepEqual(defaultRoom([{ id: 3, name: 'Alpha' }, { id: 4, name: 'Beta' }]), { id: 3, name: 'Alpha' });
    assert.equal(defaultRoom([]), undefined);
  });
});

describe('unreadForKey', () => {
  it('asks the model for the room or the thread the key names', () => {
    const model = new ChatModel('alice');
    model.setRooms([{ id: 4, name: 'General', last_seq: 10, read_seq: 7 }]);
    model.setInbox([{ username: 'Bob', unread: 2, latest_id: 30 }]);
    assert.equal(unreadForKey(model, 'room:4'), 3);
    assert.equal(unreadForKey(model, 'dm:bob'), 2);
    assert.equal(unreadForKey(model, 'room:5'), 0);
    assert.equal(unreadForKey(model, 'dm:carol'), 0);
  });
});
