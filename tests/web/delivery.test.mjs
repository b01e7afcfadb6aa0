// Unit tests for the rules of getting a message out (web/delivery.js): the
// send key, typing notices, what a failed post becomes, which posts go out
// again after a join, and which fetches may move dm_since.
// Run: node --test tests/web/ (see model.test.mjs for why web/ has a package.json).

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';

import {
  DIRECT_TYPING_EVERY, FetchMarks, TYPING_SEND_EVERY, composerKey, failureOutcome, inFlight, isSendKey, lengthCheck, messageLength,
  resendAfterJoin, typingDue,
} from '../../web/delivery.js';
import { Conversation, pendingMessage } from '../../web/model.js';

describe('isSendKey', () => {
  it('is Enter alone', () => {
    assert.equal(isSendKey({ key: 'Enter' }), true);
    assert.equal(isSendKey({ key: 'a' }), false);
  });

  it('leaves Enter with a modifier, or while an input method composes, to the text', () => {
    for (const mod of ['shiftKey', 'altKey', 'ctrlKey', 'metaKey', 'isComposing']) {
      assert.equal(isSendKey({ key: 'Enter', [mod]: true }), false, mod);
    }
  });
});

describe('typingDue', () => {
  it('is due for text, at most once per interval', () => {
    assert.equal(typingDue('hel', 10_000, 0), true);
    assert.equal(typingDue('hello', 10_000 + TYPING_SEND_EVERY - 1, 10_000), false);
    assert.equal(typingDue('hello', 10_000 + TYPING_SEND_EVERY, 10_000), true);
  });

  it('takes another interval: a direct conversation\'s notices go once a second', () => {
    assert.equal(typingDue('hello', 10_000 + DIRECT_TYPING_EVERY, 10_000, DIRECT_TYPING_EVERY), true);
    assert.equal(typingDue('hello', 10_000 + DIRECT_TYPING_EVERY - 1, 10_000, DIRECT_TYPING_EVERY), false);
  });

  it('is never due for blanks or a command', () => {
    assert.equal(typingDue('', 10_000, 0), false);
    assert.equal(typingDue('  \n', 10_000, 0), false);
    assert.equal(typingDue('/stock=aapl.us', 10_000, 0), false);
    assert.equal(typingDue('  /stock', 10_000, 0), false);
    assert.equal(typingDue('a /b', 10_000, 0), true);
  });
});

describe('failureOutcome', () => {
  it('queues a post dropped for want of a connection while the outbox keeps it', () => {
    assert.equal(failureOutcome({ dropped: true, waiting: true }), 'queued');
  });

  it('fails (kept for a resend) a post that may have been stored', () => {
    assert.equal(failureOutcome({ unanswered: true, waiting: true }), 'failed');
    assert.equal(failureOutcome({ unanswered: true }), 'failed');
    assert.equal(failureOutcome({ dropped: true, waiting: false }), 'failed', 'dropped, but no longer in the outbox');
  });

  it('takes anything else for the server\'s refusal', () => {
    assert.equal(failureOutcome({}), 'refused');
    assert.equal(failureOutcome(), 'refused');
    assert.equal(failureOutcome({ waiting: true }), 'refused', 'even while the outbox still has it');
  });
});

describe('posts in flight', () => {
  function room() {
    const conv = new Conversation('room', 1, 'General');
    const add = (clientId, text, state) => {
      const msg = pendingMessage({ clientId, author: 'alice', text });
      conv.addPending(msg);
      if (state === 'queued') conv.queuePending(msg);
      if (state === 'failed') conv.failPending(msg, 'refused');
      return msg;
    };
    return { conv, add };
  }

  it('are the pending ones, in the order sent', () => {
    const { conv, add } = room();
    const a = add('c-1', 'one', 'pending');
    add('c-2', 'two', 'queued');
    add('c-3', 'three', 'failed');
    const d = add('c-4', '/stock=aapl.us', 'pending');
    assert.deepEqual(inFlight(conv), [a, d]);
  });

  it('go out again after a join, except commands', () => {
    const { conv, add } = room();
    const a = add('c-1', 'one', 'pending');
    add('c-2', '/stock=aapl.us', 'pending');
    add('c-3', 'queued', 'queued');
    const d = add('c-4', 'four', 'pending');
    assert.deepEqual(resendAfterJoin(conv), [a, d]);
  });

  it('leave out a post on its way over HTTP (to a room the socket was not in): HTTP answers it', () => {
    const { conv, add } = room();
    const a = add('c-1', 'one', 'pending');
    add('c-2', 'two', 'pending').overHttp = true;
    assert.deepEqual(resendAfterJoin(conv), [a]);
  });

  it('are a copy: changing a post while going through them is safe', () => {
    const { conv, add } = room();
    add('c-1', 'one', 'pending');
    add('c-2', 'two', 'pending');
    const seen = [];
    for (const msg of inFlight(conv)) {
      seen.push(msg.client_id);
      conv.dropPending(msg.client_id);
    }
    assert.deepEqual(seen, ['c-1', 'c-2']);
  });
});

describe('FetchMarks', () => {
  it('lets a fetch count when one connection stayed up throughout', () => {
    const marks = new FetchMarks();
    marks.changed(); // open
    const mark = marks.mark(true);
    assert.equal(marks.holds(mark, true), true);
  });

  it('does not when the socket was down at the start', () => {
    const marks = new FetchMarks();
    const mark = marks.mark(false);
    assert.equal(mark, null);
    marks.changed(); // opened meanwhile
    assert.equal(marks.holds(mark, true), false);
  });

  it('does not when the socket dropped meanwhile, even if another one is up by the end', () => {
    const marks = new FetchMarks();
    marks.changed(); // open
    const mark = marks.mark(true);
    marks.changed(); // drop
    assert.equal(marks.holds(mark, false), false);
    marks.changed(); // open again
    assert.equal(marks.holds(mark, true), false);
  });

  it('does not when the socket is down at the end', () => {
    const marks = new FetchMarks();
    marks.changed();
    const mark = marks.mark(true);
    assert.equal(marks.holds(mark, false), false);
  });
});

describe('messageLength and lengthCheck', () => {
  it('counts what is sent (trimmed) as the server does: characters, not UTF-16 units', () => {
    assert.equal(messageLength('  hello \n'), 5);
    assert.equal(messageLength('😀😀'), 2, 'an emoji is one character');
    assert.equal('😀😀'.length, 4);
    assert.equal(messageLength('é'.repeat(2000)), 2000);
  });

  it('shows the count from 90% of the limit, and says by how much it is over', () => {
    assert.deepEqual(lengthCheck('x'.repeat(1799), 2000), { count: 1799, max: 2000, over: false, excess: 0, shown: false });
    assert.equal(lengthCheck('x'.repeat(1800), 2000).shown, true);
    assert.deepEqual(lengthCheck('x'.repeat(2000), 2000), { count: 2000, max: 2000, over: false, excess: 0, shown: true });
    assert.deepEqual(lengthCheck(`${'x'.repeat(2013)}   `, 2000), { count: 2013, max: 2000, over: true, excess: 13, shown: true });
    assert.equal(lengthCheck('😀'.repeat(1500), 2000).over, false, '3,000 UTF-16 units, 1,500 characters');
  });
});

describe('composerKey', () => {
  it('sends on Enter, and refuses a message too long without sending it', () => {
    assert.equal(composerKey({ key: 'Enter' }), 'send');
    assert.equal(composerKey({ key: 'Enter' }, { over: true }), 'refuse');
    assert.equal(composerKey({ key: 'Enter', shiftKey: true }, { over: true }), null, 'Shift+Enter is a new line, over or not');
  });

  it('Escape cancels a reply or edit, else leaves the box', () => {
    assert.equal(composerKey({ key: 'Escape' }, { mode: { kind: 'edit' } }), 'cancel');
    assert.equal(composerKey({ key: 'Escape' }), 'leave');
    assert.equal(composerKey({ key: 'Escape', isComposing: true }), null, 'Escape ends an input method first');
  });

  it('ArrowUp in an empty box asks to edit the last message; elsewhere it moves the caret', () => {
    assert.equal(composerKey({ key: 'ArrowUp' }, { empty: true }), 'edit-last');
    assert.equal(composerKey({ key: 'ArrowUp' }, { empty: false }), null);
    assert.equal(composerKey({ key: 'ArrowUp', shiftKey: true }, { empty: true }), null);
    assert.equal(composerKey({ key: 'ArrowUp' }, { empty: true, mode: { kind: 'reply' } }), null);
    assert.equal(composerKey({ key: 'a' }), null);
  });
});
