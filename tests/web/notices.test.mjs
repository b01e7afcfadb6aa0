// Unit tests for what reaches the signed-in user personally (web/notices.js):
// which messages are mentions, the Mentions list, which ones are worth a
// browser notification and what it says, and the "Notify me" button's words.
// Run: node --test tests/web/ (see model.test.mjs for why web/ has a package.json).

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';

import {
  MENTIONS_KEPT, addMention, isMention, mentionLines, notificationFor, notifyToggleLabel, wantsNotification,
} from '../../web/notices.js';
import { Conversation } from '../../web/model.js';

const general = new Conversation('room', 1, 'General');
const withBob = new Conversation('dm', 'bob', 'bob');

function msg(text, { author = 'bob', bot = false, id = 1 } = {}) {
  return { id, author, text, created_at: '2026-11-21T10:00:00Z', bot, client_id: undefined };
}

describe('isMention', () => {
  it('is someone\'s room message that names the user, in any case', () => {
    assert.equal(isMention(general, msg('hi @alice'), 'alice'), true);
    assert.equal(isMention(general, msg('hi @ALICE!'), 'alice'), true);
    assert.equal(isMention(general, msg('hi alice'), 'alice'), false, 'without the @');
    assert.equal(isMention(general, msg('mail alice@example.com'), 'alice'), false);
  });

  it('never counts the bot, nor a direct message (that is for the user anyway)', () => {
    assert.equal(isMention(general, msg('@alice AAPL.US is $93.42', { author: 'stockbot', bot: true }), 'alice'), false);
    assert.equal(isMention(withBob, msg('hi @alice'), 'alice'), false);
  });
});

describe('the Mentions list', () => {
  it('puts the newest first, each message once', () => {
    const a = { conv: general, msg: msg('@alice a', { id: 1 }) };
    const b = { conv: general, msg: msg('@alice b', { id: 2 }) };
    let list = addMention([], a);
    list = addMention(list, b);
    assert.deepEqual(list, [b, a]);
    assert.deepEqual(addMention(list, { conv: general, msg: a.msg }).map((m) => m.msg), [a.msg, b.msg], 'seen again: moved up, not doubled');
    assert.deepEqual(addMention(undefined, a), [a]);
  });

  it(`keeps the latest ${MENTIONS_KEPT}`, () => {
    let list = [];
    for (let id = 1; id <= MENTIONS_KEPT + 5; id += 1) list = addMention(list, { conv: general, msg: msg(`@alice ${id}`, { id }) });
    assert.equal(list.length, MENTIONS_KEPT);
    assert.equal(list[0].msg.id, MENTIONS_KEPT + 5);
    assert.equal(list.at(-1).msg.id, 6);
  });

  it('shows who, where, and the start of the text', () => {
    assert.deepEqual(mentionLines(general, msg(`@alice ${'x'.repeat(100)}`)), { name: 'bob in #General', preview: `@alice ${'x'.repeat(73)}` });
  });
});

describe('notifications', () => {
  it('are wanted for a mention or a person\'s direct message', () => {
    assert.equal(wantsNotification(general, msg('@alice'), true), true);
    assert.equal(wantsNotification(general, msg('hello all'), false), false);
    assert.equal(wantsNotification(withBob, msg('hi'), false), true);
    assert.equal(wantsNotification(withBob, msg('quote', { bot: true }), false), false);
  });

  it('say who wrote where, with the start of the text, one per conversation', () => {
    assert.deepEqual(notificationFor(general, msg('@alice look')), {
      title: 'bob in #General', options: { body: '@alice look', tag: 'room:1' },
    });
    const long = 'y'.repeat(200);
    assert.deepEqual(notificationFor(withBob, msg(long)), {
      title: 'bob (direct message)', options: { body: 'y'.repeat(140), tag: 'dm:bob' },
    });
  });

  it('are switched by a button that says whether they are on', () => {
    const title = 'Browser notifications for mentions and direct messages while this tab is hidden';
    assert.deepEqual(notifyToggleLabel(false), { pressed: 'false', text: 'Notify me', title });
    assert.deepEqual(notifyToggleLabel(true), { pressed: 'true', text: 'Notifications on', title });
  });
});
