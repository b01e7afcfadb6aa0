// Unit tests for a message's bubble as it changes (web/message-view.js and
// web/message-parts-view.js) on a stand-in DOM: "(edited)", the tombstone of a
// deleted message (no text, no menu, no reactions), a reply's quote (a button
// to the original, "message deleted" once it is), the reactions as toggle
// buttons (aria-pressed for the reader's own, a label that says how many) and
// the menu button, offered only where the menu has something.
// Run: node --test tests/web/ (see model.test.mjs for why web/ has a package.json).

import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';

import { byTestId, installFakeDocument } from './fake-dom.mjs';
import { parseMessage } from '../../web/protocol.js';

let renderMessage;
let reactionLabel;

function handlers(calls = []) {
  return {
    me: 'alice',
    onRetry() {},
    onDismiss() {},
    actionsOf: (msg) => (msg.deleted ? [] : ['reply', 'react']),
    onMenu: (msg) => calls.push(['menu', msg.id]),
    onReact: (msg, emoji, on) => calls.push(['react', msg.id, emoji, on]),
    onJump: (id) => calls.push(['jump', id]),
  };
}

function frame(extra) {
  return parseMessage({ type: 1, id: 9, chatroomId: 1, chatuser: 'bob', chatmessage: 'hello', created_at: '2026-11-21T10:00:00Z', ...extra });
}

describe('a message\'s bubble as it changes', () => {
  before(async () => {
    installFakeDocument();
    ({ renderMessage } = await import('../../web/message-view.js'));
    ({ reactionLabel } = await import('../../web/message-parts-view.js'));
  });

  it('says "(edited)" on an edited message', () => {
    const li = renderMessage(frame({ edited_at: '2026-11-21T10:05:00Z' }), handlers());
    assert.equal(byTestId(li, 'message-edited')[0].textContent, '(edited)');
    assert.equal(byTestId(renderMessage(frame({}), handlers()), 'message-edited').length, 0);
  });

  it('shows a deleted message as a tombstone: same id, no text, no menu, no reactions', () => {
    const li = renderMessage(frame({ chatmessage: '', deleted: true, reactions: [{ emoji: '👍', count: 1 }] }), handlers());
    assert.equal(li.dataset.id, '9');
    assert.equal(byTestId(li, 'message-tombstone')[0].textContent, 'message deleted');
    assert.equal(byTestId(li, 'message-text').length, 0);
    assert.equal(byTestId(li, 'message-menu-button').length, 0);
    assert.equal(byTestId(li, 'reaction').length, 0);
  });

  it('quotes the original of a reply in a button that goes to it', () => {
    const calls = [];
    const li = renderMessage(frame({ reply_to: { id: 4, chatuser: 'carol', snippet: 'is **AAPL** up?' } }), handlers(calls));
    const [quote] = byTestId(li, 'reply-quote');
    assert.equal(quote.tagName, 'BUTTON');
    assert.equal(byTestId(quote, 'reply-snippet')[0].textContent, 'is AAPL up?');
    quote.fire('click');
    assert.deepEqual(calls, [['jump', 4]]);
    const gone = renderMessage(frame({ reply_to: { id: 4, chatuser: 'carol', snippet: '', deleted: true } }), handlers());
    assert.equal(byTestId(gone, 'reply-snippet')[0].textContent, 'message deleted');
  });

  it('shows reactions as toggles: pressed for the reader\'s own, a click asks for the other state', () => {
    const calls = [];
    const li = renderMessage(frame({ reactions: [{ emoji: '👍', count: 2, me: true }, { emoji: '🚀', count: 1, me: false }] }), handlers(calls));
    const [up, rocket] = byTestId(li, 'reaction');
    assert.equal(up.getAttribute('aria-pressed'), 'true');
    assert.equal(rocket.getAttribute('aria-pressed'), 'false');
    assert.equal(byTestId(up, 'reaction-count')[0].textContent, '2');
    up.fire('click');
    rocket.fire('click');
    assert.deepEqual(calls, [['react', 9, '👍', false], ['react', 9, '🚀', true]]);
  });

  it('says what a reaction button is in words', () => {
    assert.equal(reactionLabel({ emoji: '👍', count: 2, me: true }), 'thumbs up: 2 people, you included. Take yours back');
    assert.equal(reactionLabel({ emoji: '🦄', count: 1, me: false }), '🦄: 1 person. Add yours');
  });

  it('has a menu button (keyboard reachable: a real button) only where the menu offers something', () => {
    const calls = [];
    const li = renderMessage(frame({}), handlers(calls));
    const [button] = byTestId(li, 'message-menu-button');
    assert.equal(button.tagName, 'BUTTON');
    assert.equal(button.getAttribute('aria-haspopup'), 'menu');
    button.fire('click');
    assert.deepEqual(calls, [['menu', 9]]);
    const pending = renderMessage({ ...frame({}), id: null, state: 'pending', client_id: 'c-1' }, handlers());
    assert.equal(byTestId(pending, 'message-menu-button').length, 0, 'not while it is being sent');
  });
});
