// A stock answer's quote as a card: the price, its change against the previous
// close (or, without one, the day's open: the card says which), a one-month
// sparkline drawn as inline SVG from the stored closes, the day's low–high
// range, and when the quote was taken in the quote service's own time zone.
// Also the "Did you mean …?" button of an answer that found no such symbol.
//
// Turns what it is given into DOM; a click goes back through the handler it is
// handed. Every number is computed in stocks.js; the SVG is built with
// createElementNS and attributes, never markup, and nothing of the quote is
// read as HTML.

import { quoteFigures } from './protocol.js';
import {
  changeFigures, changeWords, closes, priceText, quoteTime, quoteTimeFull, sparkline, stockCommand,
} from './stocks.js';
import { el } from './util.js';

const SVG_NS = 'http://www.w3.org/2000/svg';
/** The sparkline's drawing box, in SVG units (CSS scales it to the card's width). */
const CHART = { width: 240, height: 40, pad: 2 };

function svg(tag, attrs = {}, children = []) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  for (const child of children) node.append(child);
  return node;
}

/** The closes of about a month as a line (and its words for a screen reader), or null without two of them. */
export function renderSparkline(quote) {
  const line = sparkline(closes(quote), CHART);
  if (!line) return null;
  const month = changeFigures(line.last, line.first);
  const label = `${quote.symbol || 'Price'} over ${line.count} trading days: from ${priceText(line.first)} to ${priceText(line.last)}`
    + `${month ? `, ${changeWords(month)}` : ''}; low ${priceText(line.min)}, high ${priceText(line.max)}`;
  const chart = svg('svg', {
    class: `quote-spark ${line.dir}`,
    viewBox: `0 0 ${CHART.width} ${CHART.height}`,
    preserveAspectRatio: 'none',
    role: 'img',
    'aria-label': label,
    'data-testid': 'quote-sparkline',
    'data-points': line.count,
  }, [
    svg('title', {}, [document.createTextNode(label)]),
    svg('polyline', { class: 'quote-spark-line', points: line.points, fill: 'none', 'vector-effect': 'non-scaling-stroke' }),
  ]);
  return chart;
}

/**
 * The card of a quote, or null when it has no usable price (the sentence says
 * it all then). The change is against `previous_close` when the answer has it,
 * else against the day's open; its label says which, and its sign and arrow say
 * the direction, so it does not rely on colour.
 */
export function renderQuoteCard(quote) {
  const q = quoteFigures(quote);
  if (!q) return null;
  const close = Number(q.close);
  const vsPrev = changeFigures(close, quote.previous_close);
  const vsOpen = changeFigures(close, q.open);
  const main = vsPrev || vsOpen;
  const basis = vsPrev ? 'vs prev close' : 'since open';
  const basisTitle = vsPrev ? `Change since the previous close (${priceText(Number(quote.previous_close))})` : 'Change since the open';
  const bar = el('div', {
    className: 'quote-range-bar',
    attrs: { role: 'img', 'aria-label': `Day's range ${priceText(q.low)} to ${priceText(q.high)}, closed at ${priceText(close)}` },
  }, [el('span', { className: 'quote-range-mark' })]);
  // Set through the CSSOM: the CSP (style-src 'self') refuses style attributes.
  bar.firstChild.style.left = `${(q.position * 100).toFixed(1)}%`;
  const when = quoteTime(quote);
  const details = [
    when ? el('time', {
      className: 'quote-time', testid: 'quote-time', text: when,
      attrs: { datetime: typeof quote.at === 'string' ? quote.at : null, title: quoteTimeFull(quote) || null },
    }) : null,
    el('span', { text: `open ${priceText(q.open)}` }),
    // The day's own move, when the headline change is against the previous close.
    vsPrev && vsOpen ? el('span', { testid: 'quote-day-change', text: `day ${vsOpen.text}` }) : null,
  ].filter(Boolean);
  return el('div', { className: 'quote-card', testid: 'quote-card' }, [
    el('div', { className: 'quote-head' }, [
      el('span', { className: 'quote-symbol', testid: 'quote-symbol', text: q.symbol }),
      el('span', { className: 'quote-price', testid: 'quote-price', text: `$${priceText(close)}` }),
      el('span', { className: `quote-move ${main.dir}`, attrs: { title: basisTitle } }, [
        el('span', { className: 'quote-arrow', text: main.arrow, attrs: { 'aria-hidden': 'true' } }),
        el('span', { className: 'quote-change', testid: 'quote-change', text: main.text }),
        el('span', { className: 'quote-basis', testid: 'quote-basis', text: basis }),
      ]),
    ]),
    renderSparkline(quote),
    el('div', { className: 'quote-range', testid: 'quote-range' }, [
      el('span', { className: 'quote-low', text: priceText(q.low) }),
      bar,
      el('span', { className: 'quote-high', text: priceText(q.high) }),
    ]),
    details.length ? el('p', { className: 'quote-when', testid: 'quote-when' }, joined(details, ' · ')) : null,
  ]);
}

function joined(nodes, sep) {
  return nodes.flatMap((n, i) => (i ? [document.createTextNode(sep), n] : [n]));
}

/**
 * "Did you mean AAPL.US?" under an answer that found no such symbol: a button
 * that puts `/stock=aapl.us` in the message box (`onSuggest(command)`), to send
 * or change. Null without a usable suggestion.
 */
export function renderSuggestion(suggestion, onSuggest) {
  const command = typeof suggestion === 'string' ? stockCommand(suggestion) : '';
  if (!command || !onSuggest || !/^\/stock=[a-z0-9.^_-]{1,24}$/.test(command)) return null;
  const symbol = command.slice('/stock='.length).toUpperCase();
  const b = el('button', {
    className: 'link-btn quote-suggestion',
    testid: 'quote-suggestion',
    text: `Did you mean ${symbol}?`,
    dataset: { command },
    attrs: { type: 'button', title: `Put ${command} in the message box` },
  });
  b.addEventListener('click', () => onSuggest(command));
  return el('p', { className: 'quote-suggest' }, [b]);
}
