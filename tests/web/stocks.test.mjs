// Unit tests for the stock figures the client shows (web/stocks.js): a change
// against the previous close, the sparkline's points, the quote's time in its
// own time zone, cashtags in text and markdown, a room's watchlist from the
// server's answer or frame 15, the commands hint, and a cashtag's past quotes
// (web/search.js).
// Run: node --test tests/web/ (see model.test.mjs for why web/ has a package.json).

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';

import {
  alertLabel, alertWords, changeFigures, changeWords, closes, commandHints, findCashtags, quoteSymbol, quoteTime,
  readWatchlist, sparkline, stockCommand, tickerItem, unalertCommand, watchlistPath, watchlistShown,
} from '../../web/stocks.js';
import { tokenize } from '../../web/text.js';
import { parseMarkdown, plainText } from '../../web/markdown.js';
import { pastQuotes, pastQuotesPath } from '../../web/search.js';
import { FRAME, parseMessage } from '../../web/protocol.js';

/** 21 trading days of closes as the bot stores them (strings), oldest first. */
function history(n = 21, from = 90) {
  return Array.from({ length: n }, (_, i) => ({ date: `2024-04-${String(i + 3).padStart(2, '0')}`, close: (from + i * 0.2).toFixed(2) }));
}

describe('a change against a base', () => {
  it('says up, down or flat in signs and arrows, not only in colour', () => {
    assert.deepEqual(
      (({ dir, sign, arrow, text }) => ({ dir, sign, arrow, text }))(changeFigures('93.42', '91.80')),
      { dir: 'up', sign: '+', arrow: '▲', text: '+1.62 (+1.76%)' },
    );
    const down = changeFigures('90', '100');
    assert.equal(down.dir, 'down');
    assert.equal(down.text, '−10.00 (−10.00%)');
    assert.equal(down.arrow, '▼');
    assert.equal(changeFigures('5.00', '5').dir, 'flat');
    assert.equal(changeFigures('5.00', '5').text, '±0.00 (±0.00%)');
    assert.equal(changeWords(changeFigures('93.42', '91.80')), 'up 1.62 (1.76%)');
    assert.equal(changeWords(changeFigures('1', '1')), 'unchanged');
  });

  it('is null when either number is missing or not a number', () => {
    for (const [v, b] of [['93.42', undefined], ['93.42', ''], ['N/D', '91'], [null, '1'], ['1', 'abc']]) {
      assert.equal(changeFigures(v, b), null, `${v} vs ${b}`);
    }
  });

  it('keeps a penny stock\'s four decimals', () => {
    assert.equal(changeFigures('0.0123', '0.0120').text, '+0.0003 (+2.50%)');
  });
});

describe('the sparkline', () => {
  it('has one point per close, spread across the box, the highest close at the top', () => {
    const line = sparkline([1, 3, 2], { width: 100, height: 20, pad: 0 });
    assert.equal(line.points, '0,20 50,0 100,10');
    assert.equal(line.count, 3);
    assert.deepEqual([line.min, line.max, line.first, line.last, line.dir], [1, 3, 1, 2, 'up']);
  });

  it('stays inside its padding and draws a flat month across the middle', () => {
    const line = sparkline([5, 5, 5], { width: 240, height: 40, pad: 2 });
    assert.equal(line.points, '2,20 120,20 238,20');
    assert.equal(line.dir, 'flat');
    const ys = sparkline(closes({ history: history() }), { width: 240, height: 40, pad: 2 }).points
      .split(' ').map((p) => Number(p.split(',')[1]));
    assert.equal(Math.max(...ys), 38);
    assert.equal(Math.min(...ys), 2);
  });

  it('skips what is not a number and needs two closes', () => {
    const quote = { history: [{ date: '2024-04-01', close: '10' }, { date: '2024-04-02', close: 'N/D' }, null, { close: '' }, { date: '2024-04-03', close: '12.5' }] };
    assert.deepEqual(closes(quote), [10, 12.5]);
    assert.equal(sparkline(closes(quote)).count, 2);
    assert.equal(sparkline([1]), null);
    assert.equal(sparkline([]), null);
    assert.equal(sparkline(closes({ history: 'nope' })), null);
    assert.deepEqual(closes({ close: '1' }), [], 'no history, no line');
  });

  it('ends at the quote\'s own close when the quote is of a later day than the history', () => {
    const h = history(3);
    assert.deepEqual(closes({ date: '2024-04-05', close: '99', history: h }), [90, 90.2, 90.4], 'same day: the history has it');
    assert.deepEqual(closes({ date: '2024-05-03', close: '99', history: h }), [90, 90.2, 90.4, 99]);
    assert.equal(sparkline(closes({ date: '2024-05-03', close: '93.42', history: history(21) })).count, 22);
  });
});

describe('the quote\'s time, in the quote service\'s time zone', () => {
  const quote = { date: '2024-05-03', time: '22:00:09', at: '2024-05-03T22:00:09+02:00', time_zone: 'Europe/Warsaw' };

  it('names the zone, in the reader\'s words', () => {
    assert.equal(quoteTime(quote, 'en-US'), 'May 3, 22:00 GMT+2');
    assert.equal(quoteTime(quote, 'en-GB'), '3 May, 22:00 CEST');
    // The same moment, wherever the reader is: the zone is the quote's, not the browser's.
    assert.equal(quoteTime({ ...quote, at: '2024-05-03T20:00:09Z' }, 'en-GB'), '3 May, 22:00 CEST');
    assert.equal(quoteTime({ ...quote, at: '2024-01-15T10:30:00+01:00' }, 'en-GB'), '15 Jan, 10:30 CET', 'winter time');
  });

  it('falls back to the service\'s date, time and zone id when the zone is unknown', () => {
    assert.equal(quoteTime({ ...quote, time_zone: 'Mars/Olympus_Mons' }, 'en-US'), '2024-05-03 22:00 Mars/Olympus_Mons');
    assert.equal(quoteTime({ date: '2024-05-03', time: '22:00:09' }, 'en-US'), '2024-05-03 22:00', 'an older answer: no zone');
    assert.equal(quoteTime({ ...quote, at: 'not a time' }, 'en-US'), '2024-05-03 22:00 Europe/Warsaw');
    assert.equal(quoteTime({ date: '', time: '' }), '');
    assert.equal(quoteTime(null), '');
  });
});

describe('cashtags', () => {
  it('finds $ and a symbol, with an optional market suffix, not inside words or amounts', () => {
    assert.deepEqual(findCashtags('buy $AAPL and $brk.us, not US$5, a$b, $1, $$X or $TOOLONGSYMBOLNAME17'), [
      { start: 4, end: 9, text: '$AAPL', symbol: 'AAPL' },
      { start: 14, end: 21, text: '$brk.us', symbol: 'BRK.US' },
    ]);
    assert.deepEqual(findCashtags('($TSLA), $msft.'), [
      { start: 1, end: 6, text: '$TSLA', symbol: 'TSLA' },
      { start: 9, end: 14, text: '$msft', symbol: 'MSFT' },
    ]);
    assert.deepEqual(findCashtags('$A1B2C3D4E5F6G7H8').map((c) => c.text), ['$A1B2C3D4E5F6G7H8'], 'a letter and 15 more');
  });

  it('are their own pieces of text, but not inside links or code', () => {
    assert.deepEqual(tokenize('is $AAPL up? see https://x.org/$AAPL'), [
      { kind: 'text', text: 'is ' },
      { kind: 'cashtag', text: '$AAPL', symbol: 'AAPL' },
      { kind: 'text', text: ' up? see ' },
      { kind: 'link', text: 'https://x.org/$AAPL', href: 'https://x.org/$AAPL' },
    ]);
    const tree = parseMarkdown('**$TSLA** vs `$MSFT` and [$GOOG](https://x.org)');
    const found = [];
    const walk = (n) => {
      if (n.type === 'cashtag') found.push(n);
      for (const c of n.children || []) walk(c);
    };
    walk(tree);
    assert.deepEqual(found, [{ type: 'cashtag', symbol: 'TSLA', text: '$TSLA' }]);
    assert.equal(plainText(tree), '$TSLA vs $MSFT and $GOOG');
  });

  it('name the symbol the bot answers for', () => {
    assert.equal(quoteSymbol('$aapl'), 'AAPL.US');
    assert.equal(quoteSymbol('$AAPL.US'), 'AAPL.US');
    assert.equal(quoteSymbol('brk-b'), 'BRK-B.US');
    assert.equal(quoteSymbol('$GOOGLE'), 'GOOGLE', 'six letters: as typed');
    assert.equal(quoteSymbol('^spx'), '^SPX');
    assert.equal(quoteSymbol(''), '');
    assert.equal(stockCommand('AAPL.US'), '/stock=aapl.us');
    assert.equal(stockCommand('$tsla'), '/stock=tsla.us');
  });
});

describe('a room\'s watchlist', () => {
  const frame = {
    type: 15,
    chatroomId: 1,
    symbols: [
      { symbol: 'AAPL.US', quote: { symbol: 'AAPL.US', close: '93.42', previous_close: '91.80', date: '2024-05-03' }, refreshed_at: '2024-05-03T20:01:00Z' },
      { symbol: 'TSLA.US', quote: null, refreshed_at: null },
      { symbol: 'MSFT.US', quote: { symbol: 'MSFT.US', close: '334.27' } },
      { quote: {} },
      'junk',
    ],
    alerts: [
      { id: 12, symbol: 'AAPL.US', op: '>', threshold: '200', set_by: 'alice', created_at: '2024-05-03T20:00:00Z' },
      { id: 13, symbol: 'TSLA.US', op: '%', threshold: '5', set_by: 'bob' },
      { id: 'x', symbol: 'NOPE' },
      null,
    ],
  };

  it('is read from frame 15 (the whole state), anything malformed left out', () => {
    assert.equal(FRAME.WATCHLIST, 15);
    const state = readWatchlist(frame);
    assert.deepEqual(state.symbols.map((s) => s.symbol), ['AAPL.US', 'TSLA.US', 'MSFT.US']);
    assert.equal(state.symbols[1].quote, null);
    assert.deepEqual(state.alerts.map((a) => a.id), [12, 13]);
    assert.equal(state.alerts[0].created_at, '2024-05-03T20:00:00Z');
    assert.equal(state.alerts[1].created_at, null);
    assert.ok(watchlistShown(state));
    assert.equal(watchlistShown(readWatchlist({ symbols: [], alerts: [] })), false, 'nothing watched, no alert: hidden');
    assert.equal(watchlistShown(readWatchlist({ symbols: [], alerts: [frame.alerts[0]] })), true, 'an alert alone shows it');
    assert.deepEqual(readWatchlist(null), { symbols: [], alerts: [] });
    assert.deepEqual(readWatchlist({ symbols: 'x', alerts: {} }), { symbols: [], alerts: [] });
  });

  it('shows each symbol\'s price and change against the previous close, "…" before its first price', () => {
    const [aapl, tsla, msft] = readWatchlist(frame).symbols.map(tickerItem);
    assert.equal(aapl.price, '93.42');
    assert.equal(aapl.change.text, '+1.62 (+1.76%)');
    assert.equal(aapl.change.dir, 'up');
    assert.deepEqual(tsla, { symbol: 'TSLA.US', price: '…', change: null, priced: false });
    assert.equal(msft.price, '334.27');
    assert.equal(msft.change, null, 'no previous close: no change shown');
  });

  it('words alerts and the command that cancels one', () => {
    const [above, move] = readWatchlist(frame).alerts;
    assert.equal(alertLabel(above), 'AAPL.US > 200');
    assert.equal(alertWords(above), 'AAPL.US above 200');
    assert.equal(alertLabel(move), 'TSLA.US ±5%');
    assert.equal(alertWords({ ...above, op: '<' }), 'AAPL.US below 200');
    assert.equal(unalertCommand(12), '/unalert=12');
    assert.equal(watchlistPath(7), '/v1/chat/rooms/7/watchlist');
  });
});

describe('stock answers as the model keeps them', () => {
  it('keep the outcome, a suggestion and a fired alert', () => {
    const msg = parseMessage({
      type: 1, id: 50, chatroomId: 1, chatuser: 'stockbot', bot: true, chatmessage: 'APPL.US quote is not available. Did you mean AAPL.US (Apple)?',
      outcome: 'no_data', suggestion: 'AAPL.US', created_at: '2024-05-03T20:00:00Z',
    });
    assert.equal(msg.outcome, 'no_data');
    assert.equal(msg.suggestion, 'AAPL.US');
    const fired = parseMessage({
      type: 1, id: 51, chatroomId: 1, chatuser: 'stockbot', bot: true, chatmessage: 'Alert: AAPL.US is $201.50, above $200 (set by alice)',
      outcome: 'alert', alert: { id: 12, symbol: 'AAPL.US', op: '>', threshold: '200', set_by: 'alice' }, quote: { symbol: 'AAPL.US', close: '201.50' },
    });
    assert.equal(fired.outcome, 'alert');
    assert.equal(fired.alert.id, 12);
    assert.equal(parseMessage({ type: 1, chatuser: 'bob', chatmessage: 'hi', suggestion: '' }).suggestion, undefined);
  });
});

describe('the commands hint', () => {
  it('lists every command for a lone "/", then those the typed word may be', () => {
    assert.equal(commandHints('/').length, 7);
    assert.deepEqual(commandHints('/al').map(([f]) => f), ['/alert=CODE>PRICE', '/alerts']);
    assert.deepEqual(commandHints('/ALERT=aapl').map(([f]) => f), ['/alert=CODE>PRICE']);
    assert.deepEqual(commandHints('/stock aapl').map(([f]) => f), ['/stock=CODE']);
    assert.deepEqual(commandHints('/h').map(([f]) => f), ['/help']);
  });

  it('lists nothing once the text is not a command', () => {
    for (const t of ['', 'hello', ' /stock', '/nope', '/help\nmore', '/alertsx']) assert.deepEqual(commandHints(t), [], JSON.stringify(t));
  });
});

describe('a cashtag\'s past quotes', () => {
  const result = (id, chatuser, chatmessage) => ({ id, chatroomId: 1, chatuser, chatmessage, created_at: '2024-05-03T20:00:00Z', highlight: [] });

  it('are the bot\'s answers that quote the symbol, newest first, five at most', () => {
    const results = [
      result(1, 'alice', 'AAPL.US is cheap at $90'),
      result(2, 'stockbot', 'AAPL.US quote is $93.42 per share'),
      result(3, 'stockbot', 'AAPL.USD quote is $1 per share'),
      result(4, 'StockBot', 'Alert: AAPL.US is $201.50, above 200 (set by alice).'),
      result(5, 'stockbot', 'MSFT.US quote is $334.27 per share'),
      result(10, 'stockbot', 'APPL.US quote is not available. Did you mean AAPL.US (Apple)? Try /stock=aapl.us'),
      result(11, 'stockbot', 'AAPL.US quote is not available'),
      result(12, 'stockbot', 'Alert 2 set: #2 AAPL.US below 50 (ann). It posts here once.'),
      ...[6, 7, 8, 9].map((id) => result(id, 'stockbot', `AAPL.US quote is $9${id} per share`)),
    ];
    assert.deepEqual(pastQuotes(results, 'AAPL.US').map((r) => r.id), [2, 4, 6, 7, 8], 'no other symbol, no answer without a price');
    assert.deepEqual(pastQuotes(results, ''), []);
    assert.equal(pastQuotesPath('AAPL.US'), '/v1/search?q=AAPL.US&limit=50&order=newest');
  });
});
