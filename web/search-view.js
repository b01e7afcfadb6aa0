// The sidebar's search results: each says where it was written (a room or a
// direct conversation) and when, who wrote it, and the text around what was
// found, the found words in <mark>; for a cashtag, its symbol's past quotes
// too. Everything from the server goes in with textContent: its pieces are
// text, never markup.
//
// Turns what it is given into DOM; a click goes back through `onOpen`.

import { highlightRuns, resultPlace } from './search.js';
import { $, el, show, formatTime, formatFullTime } from './util.js';

/** A result's text: plain runs, and the matches in <mark>. */
export function highlightNodes(result) {
  return highlightRuns(result).map((run) => (run.match
    ? el('mark', { className: 'search-match', testid: 'search-match', text: run.text })
    : document.createTextNode(run.text)));
}

function resultItem(result, rooms, onOpen, testid = 'search-result') {
  const place = resultPlace(result, rooms);
  const b = el('button', {
    className: 'search-result',
    testid,
    dataset: { id: result.id, place },
    attrs: { type: 'button' },
  }, [
    el('span', { className: 'search-where' }, [
      el('span', { className: 'search-place', testid: 'search-place', text: place }),
      el('time', {
        className: 'search-time',
        text: formatTime(result.created_at),
        attrs: { datetime: result.created_at, title: formatFullTime(result.created_at) },
      }),
    ]),
    el('span', { className: 'search-line' }, [
      el('span', { className: 'search-author', text: `${result.chatuser}: ` }),
      el('span', { className: 'search-text', testid: 'search-text' }, highlightNodes(result)),
    ]),
  ]);
  b.addEventListener('click', () => onOpen(result));
  return el('li', {}, [b]);
}

/** The results so far (`results`, every page shown), and whether "More results" can bring more. */
export function renderSearchResults(results, { rooms, more, onOpen }) {
  show($('search-panel'), true);
  $('search-results').replaceChildren(...results.map((r) => resultItem(r, rooms, onOpen)));
  show($('search-more'), !!more);
}

export function renderSearchStatus(text) {
  $('search-status').textContent = text;
}

/**
 * A cashtag's symbol's past quotes (the bot's answers), above its discussion:
 * `results` null hides the list; [] says there are none.
 */
export function renderPastQuotes(symbol, results, { rooms, onOpen }) {
  const box = $('search-quotes');
  if (!results) {
    show(box, false);
    $('search-quote-list').replaceChildren();
    return;
  }
  $('search-quotes-title').textContent = `Past quotes of ${symbol}`;
  $('search-quote-list').replaceChildren(...results.map((r) => resultItem(r, rooms, onOpen, 'past-quote')));
  $('search-quotes-empty').textContent = results.length ? '' : `No quote of ${symbol} asked for yet.`;
  show($('search-quotes-empty'), !results.length);
  show(box, true);
}

export function hideSearch() {
  renderPastQuotes('', null, {});
  show($('search-panel'), false);
  $('search-results').replaceChildren();
  $('search-status').textContent = '';
  show($('search-more'), false);
}
