// Unit tests for a stock answer's bubble on a stand-in DOM (web/quote-card-view.js,
// web/message-view.js, web/message-text.js): the card's change against the previous
// close and its label, the sparkline as an SVG polyline made with createElementNS,
// the quote's time with its zone, a card without history, "Did you mean …?", a
// fired alert, the bot's notes to the typist, and cashtags as buttons.
// Run: node --test tests/web/ (see model.test.mjs for why web/ has a package.json).

import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';

import { byTestId, elements, installFakeDocument } from './fake-dom.mjs';
import { parseMessage } from '../../web/protocol.js';
import { parseMarkdown } from '../../web/markdown.js';

let renderMessage;
let renderQuoteCard;
let renderMessageText;

/** 21 daily closes ending on the quote's day (at its close), oldest first, as the bot stores them. */
const HISTORY = Array.from({ length: 21 }, (_, i) => ({
  date: new Date(Date.UTC(2024, 4, 3) - (20 - i) * 86_400_000).toISOString().slice(0, 10),
  close: i === 20 ? '93.42' : i === 19 ? '91.80' : (88 + Math.sin(i / 3) * 2 + i * 0.15).toFixed(2),
}));
const QUOTE = {
  symbol: 'AAPL.US', date: '2024-05-03', time: '22:00:09', open: '92.11', high: '94.10', low: '91.50', close: '93.42', volume: '163224109',
  time_zone: 'Europe/Warsaw', at: '2024-05-03T22:00:09+02:00', previous_close: '91.80', history: HISTORY,
};

function answer(extra) {
  return parseMessage({
    type: 1, id: 43, chatroomId: 1, chatuser: 'stockbot', bot: true, chatmessage: 'AAPL.US quote is $93.42 per share',
    created_at: '2024-05-03T20:00:10Z', asked_by: 'alice', command: '/stock=aapl.us', outcome: 'quote', quote: QUOTE, ...extra,
  });
}

function handlers(calls = []) {
  return {
    me: 'alice',
    onRetry() {},
    onDismiss() {},
    onCashtag: (tag) => calls.push(['cashtag', tag]),
    onSuggest: (command) => calls.push(['suggest', command]),
  };
}

const one = (root, testid) => {
  const found = byTestId(root, testid);
  assert.equal(found.length, 1, `one ${testid}`);
  return found[0];
};

describe('a stock answer\'s card', () => {
  before(async () => {
    installFakeDocument();
    ({ renderMessage } = await import('../../web/message-view.js'));
    ({ renderQuoteCard } = await import('../../web/quote-card-view.js'));
    ({ renderMessageText } = await import('../../web/message-text.js'));
  });

  it('shows the price and its change against the previous close, labelled, with a sign and an arrow', () => {
    const li = renderMessage(answer(), handlers());
    const card = one(li, 'quote-card');
    assert.equal(one(card, 'quote-price').textContent, '$93.42');
    assert.equal(one(card, 'quote-change').textContent, '+1.62 (+1.76%)');
    assert.equal(one(card, 'quote-basis').textContent, 'vs prev close');
    const move = [...elements(card)].find((e) => e.className.startsWith('quote-move'));
    assert.match(move.className, /\bup\b/);
    assert.ok(move.textContent.startsWith('▲'), 'an arrow besides the colour');
    assert.equal(one(card, 'quote-day-change').textContent, 'day +1.31 (+1.42%)', 'the day\'s own move stays');
    assert.match(one(card, 'quote-range').textContent, /91\.50.*94\.10/);
  });

  it('draws a month of closes as an SVG polyline, one point per close', () => {
    const card = renderQuoteCard(QUOTE);
    const svg = [...elements(card)].find((e) => e.tagName === 'svg');
    assert.equal(svg.namespaceURI, 'http://www.w3.org/2000/svg');
    assert.equal(svg.getAttribute('role'), 'img');
    assert.match(svg.getAttribute('aria-label'), /^AAPL\.US over 21 trading days: from /);
    const polyline = [...elements(svg)].find((e) => e.tagName === 'polyline');
    const points = polyline.getAttribute('points').split(' ');
    assert.equal(points.length, 21);
    for (const p of points) assert.match(p, /^\d+(\.\d)?,\d+(\.\d)?$/);
    assert.equal(svg.getAttribute('data-points'), '21');
  });

  it('says when, in the quote service\'s zone', () => {
    const time = one(renderQuoteCard(QUOTE), 'quote-time');
    assert.equal(time.tagName, 'TIME');
    assert.equal(time.getAttribute('datetime'), '2024-05-03T22:00:09+02:00');
    // The reader's locale decides the words (GMT+2 in en-US, CEST in en-GB): the zone is always named.
    assert.match(time.textContent, /22:00 (GMT\+2|CEST)$/);
  });

  it('without history: the price, no chart, the change since the open (and says so)', () => {
    const { history, previous_close: prev, ...bare } = QUOTE;
    const card = renderQuoteCard(bare);
    assert.equal(one(card, 'quote-price').textContent, '$93.42');
    assert.equal([...elements(card)].filter((e) => e.tagName === 'svg').length, 0);
    assert.equal(one(card, 'quote-change').textContent, '+1.31 (+1.42%)');
    assert.equal(one(card, 'quote-basis').textContent, 'since open');
    assert.equal(byTestId(card, 'quote-day-change').length, 0);
    const old = renderQuoteCard({ symbol: 'AAPL.US', date: '2024-05-03', time: '22:00:09', open: '92.11', high: '94.10', low: '91.50', close: '93.42' });
    assert.equal(one(old, 'quote-time').textContent, '2024-05-03 22:00', 'an answer stored before zones: as the service wrote it');
    assert.equal(renderQuoteCard({ symbol: 'X', close: 'N/D' }), null);
  });

  it('offers "Did you mean …?" on a no-data answer: the command goes to the message box', () => {
    const calls = [];
    const li = renderMessage(answer({
      chatmessage: 'APPL.US quote is not available. Did you mean AAPL.US (Apple)?', outcome: 'no_data', quote: undefined, suggestion: 'AAPL.US',
    }), handlers(calls));
    assert.equal(byTestId(li, 'quote-card').length, 0);
    const b = one(li, 'quote-suggestion');
    assert.equal(b.tagName, 'BUTTON');
    assert.equal(b.getAttribute('type'), 'button');
    assert.equal(b.textContent, 'Did you mean AAPL.US?');
    b.fire('click');
    assert.deepEqual(calls, [['suggest', '/stock=aapl.us']]);
    const odd = renderMessage(answer({ outcome: 'no_data', quote: undefined, suggestion: '<img src=x>' }), handlers());
    assert.equal(byTestId(odd, 'quote-suggestion').length, 0, 'nothing that is not a symbol');
  });

  it('marks a fired alert, and the bot\'s unstored notes', () => {
    const fired = renderMessage(answer({
      chatmessage: 'Alert: AAPL.US is $201.50, above $200 (set by alice)', outcome: 'alert', asked_by: undefined, command: undefined,
      alert: { id: 12, symbol: 'AAPL.US', op: '>', threshold: '200', set_by: 'alice' }, quote: { ...QUOTE, close: '201.50', high: '202', history: undefined },
    }), handlers());
    assert.match(fired.className, /\bprice-alert\b/);
    assert.equal(one(fired, 'alert-tag').textContent, 'Price alert');
    assert.equal(one(fired, 'quote-price').textContent, '$201.50');
    const help = renderMessage(parseMessage({ type: 1, chatroomId: 1, chatuser: 'stockbot', bot: true, chatmessage: 'Commands:\n/stock=CODE a quote\n/help this list' }), handlers());
    assert.match(help.className, /\bbot-note\b/);
    assert.equal(one(help, 'message-text').textContent, 'Commands:\n/stock=CODE a quote\n/help this list', 'its lines kept');
  });
});

describe('cashtags in a message', () => {
  it('are buttons that say which tag was chosen; the text stays text', () => {
    const calls = [];
    const li = renderMessage(parseMessage({ type: 1, id: 9, chatroomId: 1, chatuser: 'bob', chatmessage: 'is $AAPL or **$tsla.us** up? `$MSFT`', created_at: '2024-05-03T20:00:00Z' }), handlers(calls));
    const tags = byTestId(li, 'cashtag');
    assert.deepEqual(tags.map((t) => [t.tagName, t.getAttribute('type'), t.textContent, t.dataset.symbol]), [
      ['BUTTON', 'button', '$AAPL', 'AAPL'],
      ['BUTTON', 'button', '$tsla.us', 'TSLA.US'],
    ]);
    tags[1].fire('click');
    assert.deepEqual(calls, [['cashtag', '$tsla.us']]);
    assert.equal(one(li, 'message-text').textContent, 'is $AAPL or $tsla.us up? $MSFT');
  });

  it('are plain text where nothing handles them', () => {
    const nodes = renderMessageText(parseMarkdown('see $AAPL'), 'alice');
    assert.equal([...elements(nodes)].filter((e) => e.tagName === 'BUTTON').length, 0);
    assert.equal(nodes.map((n) => n.textContent).join(''), 'see $AAPL');
  });
});
