// Unit tests for the web client's frame module (web/protocol.js): the frames
// it builds are the contract's, and server frames become model messages.
// Run: node --test tests/web/ (see model.test.mjs for why web/ has a package.json).

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';

import {
  postFrame, joinFrame, typingFrame, parseMessage, parseHistory, directPeer, errorText, failureReason, quoteFigures,
} from '../../web/protocol.js';

describe('client frames', () => {
  it('posts to a room with type 1 and to a user with type 4, carrying the client_id', () => {
    assert.deepEqual(postFrame('room', 7, 'hi', 'c-1'), { type: 1, chatroomId: 7, chatmessage: 'hi', client_id: 'c-1' });
    assert.deepEqual(postFrame('dm', 'bob', 'psst', 'c-2'), { type: 4, recipient: 'bob', message: 'psst', client_id: 'c-2' });
  });

  it('joins with since and sends typing notices', () => {
    assert.deepEqual(joinFrame(3, 42), { type: 2, chatroomId: 3, since: 42 });
    assert.deepEqual(typingFrame(3), { type: 5, chatroomId: 3 });
  });
});

describe('server frames', () => {
  it('reads a room message, keeping the echo\'s client_id', () => {
    const m = parseMessage({ type: 1, id: 42, chatroomId: 1, chatuser: 'bob', chatmessage: 'hi', created_at: '2026-11-21T10:00:00.123456Z', client_id: 'c-17' });
    assert.deepEqual(m, { id: 42, author: 'bob', text: 'hi', created_at: '2026-11-21T10:00:00.123456Z', bot: false, client_id: 'c-17' });
  });

  it('reads a stored stock answer: who asked, the command and the quote', () => {
    const quote = { symbol: 'AAPL.US', date: '2024-05-03', time: '22:00:09', open: '92.11', high: '94.10', low: '91.50', close: '93.42', volume: '163224109' };
    const m = parseMessage({ type: 1, id: 9, chatroomId: 1, chatuser: 'stockbot', bot: true, chatmessage: 'AAPL.US quote is $93.42 per share', created_at: 't', asked_by: 'alice', command: '/stock=aapl.us', outcome: 'quote', quote });
    assert.equal(m.bot, true);
    assert.equal(m.asked_by, 'alice');
    assert.equal(m.command, '/stock=aapl.us');
    assert.deepEqual(m.quote, quote);
    const f = quoteFigures(quote);
    assert.equal(f.change.toFixed(2), '1.31');
    assert.equal(f.pct.toFixed(2), '1.42');
    assert.ok(f.position > 0.7 && f.position < 0.75, `close sits at ${f.position} of the range`);
  });

  it('shows no card for a quote it cannot read', () => {
    assert.equal(quoteFigures(undefined), null);
    assert.equal(quoteFigures({ symbol: 'X', open: 'N/D', high: '1', low: '1', close: '1' }), null);
    assert.equal(quoteFigures({ symbol: 'X', open: '1', high: '1', low: '2', close: '1' }), null, 'high below low');
    assert.equal(quoteFigures({ symbol: 'X', open: '0', high: '1', low: '1', close: '1' }).position, 0.5, 'a flat day: the middle');
  });

  it('marks bot replies, with or without the bot flag', () => {
    assert.equal(parseMessage({ type: 1, chatroomId: 1, chatuser: 'stockbot', bot: true, chatmessage: 'q', created_at: 't' }).bot, true);
    assert.equal(parseMessage({ type: 1, chatroomId: 1, chatuser: 'StockBot', chatmessage: 'q', created_at: 't' }).bot, true);
    assert.equal(parseMessage({ type: 1, id: 5, chatroomId: 1, chatuser: 'stockbot_fan', chatmessage: 'q', created_at: 't' }).bot, false);
  });

  it('reads a direct message from the socket and from history alike', () => {
    const frame = { type: 4, id: 7, author: 'bob', recipient: 'alice', message: 'hello', message_type: 0, created_at: 't' };
    const { type, ...item } = frame;
    assert.deepEqual(parseMessage(frame), parseMessage(item));
    assert.equal(parseMessage(frame).text, 'hello');
    assert.equal(directPeer(frame, 'ALICE'), 'bob');
    assert.equal(directPeer(frame, 'bob'), 'alice');
  });

  it('treats a history response that is not a list as empty', () => {
    assert.deepEqual(parseHistory(null), []);
    assert.deepEqual(parseHistory({ detail: 'oops' }), []);
    assert.equal(parseHistory([{ id: 1, chatuser: 'a', chatmessage: 'x', created_at: 't' }]).length, 1);
  });

  it('words error frames for a toast and for the failed bubble', () => {
    assert.match(errorText({ code: 'message_too_long', message: 'server words' }), /at most 2000/);
    assert.equal(errorText({ code: 'something_new', message: 'server words' }), 'server words');
    assert.equal(failureReason({ code: 'rate_limited' }), 'too many messages, wait a moment');
    assert.equal(failureReason({}), 'Something went wrong.');
  });
});
