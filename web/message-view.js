// One message on the page: its bubble (author, time, text, a stock answer's
// quote card, a pending one's status line) and its place in a run of messages
// (day separators, grouping).
//
// Turns the message it is given into DOM. Must not keep chat state, talk to the
// network or decide anything about messages (model.js); user actions go back
// out through the callbacks it is handed. User text reaches the page only
// through textContent (util.el), never innerHTML.

import { sameUser } from './model.js';
import { quoteFigures } from './protocol.js';
import { mentionsUser, parseMarkdown } from './markdown.js';
import { renderMessageText } from './message-text.js';
import { editedMark, menuButton, reactionBar, replyQuote, tombstone } from './message-parts-view.js';
import { el, formatTime, formatFullTime, avatar } from './util.js';

function dayKey(iso) {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? '' : d.toDateString();
}

function dayLabel(iso) {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '';
  const today = new Date();
  const yesterday = new Date(today.getTime() - 86_400_000);
  if (d.toDateString() === today.toDateString()) return 'Today';
  if (d.toDateString() === yesterday.toDateString()) return 'Yesterday';
  return d.toLocaleDateString(undefined, { weekday: 'long', year: 'numeric', month: 'long', day: 'numeric' });
}

/** Runs of one author within five minutes share a header. */
const GROUP_WITHIN_MS = 5 * 60_000;

/**
 * A stored message's place in its run: a day separator when its day differs
 * from the message above it, and grouped under the one above when both are by
 * the same person, a short while apart.
 */
export function restyle(node) {
  if (!node || !node.dataset) return;
  const prev = node.previousElementSibling;
  const at = node.dataset.at || '';
  const newDay = !!at && (!prev || dayKey(prev.dataset.at) !== dayKey(at));
  node.classList.toggle('new-day', newDay);
  if (newDay) node.dataset.dayLabel = dayLabel(at);
  else delete node.dataset.dayLabel;
  const grouped = !newDay && !!prev && !!at
    && prev.dataset.author === node.dataset.author
    && !node.classList.contains('bot') && !prev.classList.contains('bot')
    && !node.classList.contains('mentions-me')
    && !node.classList.contains('first-unread')
    && Date.parse(at) - Date.parse(prev.dataset.at) < GROUP_WITHIN_MS;
  node.classList.toggle('grouped', grouped);
}

/**
 * One bubble. `own` decides the side; pending/failed ones carry their status
 * line. Handlers: onRetry, onDismiss (a post on its way), and for a stored
 * message actionsOf(msg) (what its menu offers), onMenu(msg, button),
 * onReact(msg, emoji, on), onJump(id) (a reply's quote).
 */
export function renderMessage(msg, handlers) {
  const { me, onRetry, onDismiss } = handlers;
  const own = !msg.bot && sameUser(msg.author, me);
  const tree = parseMarkdown(msg.deleted ? '' : msg.text);
  const mentionsMe = !own && !msg.bot && !msg.deleted && mentionsUser(tree, me);
  const classes = ['msg'];
  if (mentionsMe) classes.push('mentions-me');
  if (own) classes.push('own');
  if (msg.bot) classes.push('bot');
  if (msg.deleted) classes.push('deleted');
  if (msg.state === 'pending' || msg.state === 'queued') classes.push('pending');
  if (msg.state === 'failed') classes.push('failed');

  const meta = el('div', { className: 'msg-meta' }, [
    el('span', { className: 'msg-author', testid: 'message-author', text: msg.author }),
    msg.bot ? el('span', { className: 'bot-badge', testid: 'bot-badge', text: 'Bot' }) : null,
    // Not by colour alone: a mention of the user says so in words too.
    mentionsMe ? el('span', { className: 'mention-tag', testid: 'mention-tag', text: 'Mentions you' }) : null,
    msg.created_at
      ? el('time', {
        className: 'msg-time',
        testid: 'message-time',
        text: formatTime(msg.created_at),
        attrs: { datetime: msg.created_at, title: formatFullTime(msg.created_at) },
      })
      : null,
    editedMark(msg),
  ]);

  const actions = msg.state || !handlers.actionsOf ? [] : handlers.actionsOf(msg);
  const body = el('div', { className: 'msg-body' }, [
    meta,
    msg.reply_to && !msg.deleted ? replyQuote(msg.reply_to, handlers.onJump) : null,
    msg.asked_by && !msg.deleted
      ? el('p', { className: 'msg-asked', testid: 'message-asked', text: `${msg.asked_by} asked ${msg.command || ''}`.trim() })
      : null,
    msg.deleted ? tombstone() : el('div', { className: 'msg-text', testid: 'message-text' }, renderMessageText(tree, me)),
    msg.bot && !msg.deleted ? renderQuoteCard(msg.quote) : null,
    msg.state ? null : reactionBar(msg, handlers.onReact),
  ]);

  if (msg.state === 'pending' || msg.state === 'failed' || msg.state === 'queued') {
    const status = el('p', { className: 'msg-status', testid: 'message-status' });
    if (msg.state === 'pending') {
      status.append(el('span', { className: 'spinner', attrs: { 'aria-hidden': 'true' } }),
        el('span', { text: msg.command ? 'Sending command…' : 'Sending…' }));
    } else if (msg.state === 'queued') {
      const dismiss = el('button', { className: 'link-btn', testid: 'message-dismiss', text: 'Dismiss', attrs: { type: 'button' } });
      dismiss.addEventListener('click', () => onDismiss(msg));
      status.append(el('span', { className: 'msg-status-icon', text: '…', attrs: { 'aria-hidden': 'true' } }),
        el('span', { testid: 'message-queued', text: 'Waiting for the connection: it will be sent by itself' }),
        dismiss);
    } else {
      const retry = el('button', { className: 'link-btn', testid: 'message-retry', text: 'Retry', attrs: { type: 'button' } });
      retry.addEventListener('click', () => onRetry(msg));
      const dismiss = el('button', { className: 'link-btn', testid: 'message-dismiss', text: 'Dismiss', attrs: { type: 'button' } });
      dismiss.addEventListener('click', () => onDismiss(msg));
      status.append(
        el('span', { className: 'msg-status-icon', text: '!', attrs: { 'aria-hidden': 'true' } }),
        el('span', { testid: 'message-error', text: `Not sent: ${msg.reason || 'unknown error'}` }),
        retry, dismiss,
      );
    }
    body.append(status);
  }

  const li = el('li', {
    className: classes.join(' '),
    testid: 'message',
    dataset: {
      id: msg.id ?? undefined,
      clientId: msg.client_id ?? undefined,
      author: msg.author,
      at: msg.created_at ?? undefined,
      state: msg.state || (msg.bot ? 'bot' : 'sent'),
    },
  }, [avatar(msg.bot ? 'bot' : msg.author, msg.bot ? 'avatar-bot' : ''), body,
    actions.length ? menuButton(msg, handlers.onMenu) : null]);
  if (msg.bot) li.firstChild.textContent = '$';
  return li;
}

/** Two decimals, or as many as the price needs up to four (penny stocks). */
function price(n) {
  const digits = Math.abs(n) >= 1 ? 2 : 4;
  return n.toLocaleString(undefined, { minimumFractionDigits: 2, maximumFractionDigits: digits });
}

/**
 * A stock answer's quote as a card: the price, the day's change from the open
 * (colour and a sign, so it does not rely on colour alone) and the day's
 * low–high range as a small bar with the close marked. Nothing when the
 * answer has no usable quote (the sentence says it all then).
 */
export function renderQuoteCard(quote) {
  const q = quoteFigures(quote);
  if (!q) return null;
  const dir = q.change > 0 ? 'up' : q.change < 0 ? 'down' : 'flat';
  const sign = q.change > 0 ? '+' : q.change < 0 ? '−' : '±';
  const changeText = `${sign}${price(Math.abs(q.change))} (${sign}${Math.abs(q.pct).toFixed(2)}%)`;
  const bar = el('div', {
    className: 'quote-range-bar',
    attrs: { role: 'img', 'aria-label': `Day's range ${price(q.low)} to ${price(q.high)}, closed at ${price(Number(q.close))}` },
  }, [el('span', { className: 'quote-range-mark' })]);
  // Set through the CSSOM: the CSP (style-src 'self') refuses style attributes.
  bar.firstChild.style.left = `${(q.position * 100).toFixed(1)}%`;
  return el('div', { className: 'quote-card', testid: 'quote-card' }, [
    el('div', { className: 'quote-head' }, [
      el('span', { className: 'quote-symbol', testid: 'quote-symbol', text: q.symbol }),
      el('span', { className: 'quote-price', testid: 'quote-price', text: `$${price(Number(q.close))}` }),
      el('span', { className: `quote-change ${dir}`, testid: 'quote-change', text: changeText, attrs: { title: 'Change since the open' } }),
    ]),
    el('div', { className: 'quote-range', testid: 'quote-range' }, [
      el('span', { className: 'quote-low', text: price(q.low) }),
      bar,
      el('span', { className: 'quote-high', text: price(q.high) }),
    ]),
    q.date ? el('p', { className: 'quote-when', text: `${q.date}${q.time ? ` ${q.time}` : ''} · open ${price(q.open)}` }) : null,
  ]);
}
