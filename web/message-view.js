// One message on the page: its bubble (author, time, text, a stock answer's
// quote card (quote-card-view.js), a pending one's status line) and its place
// in a run of messages (day separators, grouping).
//
// Turns the message it is given into DOM. Must not keep chat state, talk to the
// network or decide anything about messages (model.js); user actions go back
// out through the callbacks it is handed. User text reaches the page only
// through textContent (util.el), never innerHTML.

import { sameUser } from './model.js';
import { renderQuoteCard, renderSuggestion } from './quote-card-view.js';
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
 * onReact(msg, emoji, on), onJump(id) (a reply's quote); onCashtag(text) (a
 * $cashtag chosen) and onSuggest(command) (a bot's "Did you mean …?").
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
  // The bot's words to the typist alone (usage, /help, lists): no id, never stored.
  if (msg.bot && msg.id == null && !msg.state) classes.push('bot-note');
  const alert = msg.bot && msg.outcome === 'alert';
  if (alert) classes.push('price-alert');
  if (msg.deleted) classes.push('deleted');
  if (msg.state === 'pending' || msg.state === 'queued') classes.push('pending');
  if (msg.state === 'failed') classes.push('failed');

  const meta = el('div', { className: 'msg-meta' }, [
    el('span', { className: 'msg-author', testid: 'message-author', text: msg.author }),
    msg.bot ? el('span', { className: 'bot-badge', testid: 'bot-badge', text: 'Bot' }) : null,
    // Not by colour alone: a mention of the user says so in words too.
    mentionsMe ? el('span', { className: 'mention-tag', testid: 'mention-tag', text: 'Mentions you' }) : null,
    alert && !msg.deleted ? el('span', { className: 'alert-tag', testid: 'alert-tag', text: 'Price alert' }) : null,
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
    msg.deleted ? tombstone() : el('div', { className: 'msg-text', testid: 'message-text' }, renderMessageText(tree, me, { onCashtag: handlers.onCashtag })),
    msg.bot && !msg.deleted ? renderQuoteCard(msg.quote) : null,
    msg.bot && !msg.deleted && !msg.quote ? renderSuggestion(msg.suggestion, handlers.onSuggest) : null,
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
