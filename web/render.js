// Rendering of the chat screen: message bubbles and the message list of a
// conversation (with its "New messages" divider), header, presence, typing
// line, history top, connection status and toasts. The sidebar is
// sidebar-view.js's, the message box composer-view.js's.
//
// Turns data it is given into DOM. Must not keep chat state, talk to the
// network or decide anything about messages (order, duplicates, unread: that
// is model.js); user actions go back out through the callbacks it is handed.
// User text reaches the page only through textContent (util.el), never innerHTML.

import { BOT_NAME, sameUser } from './model.js';
import { quoteFigures } from './protocol.js';
import { mentionsUser, parseMarkdown } from './markdown.js';
import { renderMessageText } from './message-text.js';
import {
  $, el, show, formatTime, formatFullTime, avatar,
} from './util.js';

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

/** One bubble. `own` decides the side; pending/failed ones carry their status line. */
export function renderMessage(msg, { me, onRetry, onDismiss }) {
  const own = !msg.bot && sameUser(msg.author, me);
  const tree = parseMarkdown(msg.text);
  const mentionsMe = !own && !msg.bot && mentionsUser(tree, me);
  const classes = ['msg'];
  if (mentionsMe) classes.push('mentions-me');
  if (own) classes.push('own');
  if (msg.bot) classes.push('bot');
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
  ]);

  const body = el('div', { className: 'msg-body' }, [
    meta,
    msg.asked_by
      ? el('p', { className: 'msg-asked', testid: 'message-asked', text: `${msg.asked_by} asked ${msg.command || ''}`.trim() })
      : null,
    el('div', { className: 'msg-text', testid: 'message-text' }, renderMessageText(tree, me)),
    msg.bot ? renderQuoteCard(msg.quote) : null,
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
  }, [avatar(msg.bot ? 'bot' : msg.author, msg.bot ? 'avatar-bot' : ''), body]);
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

/**
 * The DOM of one conversation: stored messages, then the ones being sent.
 * Mirrors the model's list: the model says where a message goes ({msg, next}),
 * this only puts the bubble there. Kept while the conversation is off screen,
 * so switching back is instant and keeps the scroll position.
 */
export class MessageListView {
  constructor(name, { me, onRetry, onDismiss }) {
    this.handlers = { me, onRetry, onDismiss };
    this.nodes = new WeakMap(); // message -> its <li>
    /** The <li> that carries the "New messages" divider, or null. */
    this.firstUnread = null;
    this.list = el('ol', { className: 'messages', testid: 'messages', attrs: { 'aria-label': `Messages in ${name}` } });
    this.pendingList = el('ol', { className: 'messages messages-pending', testid: 'pending-messages', attrs: { 'aria-label': 'Messages being sent' } });
  }

  get elements() {
    return [this.list, this.pendingList];
  }

  /** Insert a stored message before `next` (or last). */
  place({ msg, next }) {
    const node = renderMessage(msg, this.handlers);
    this.nodes.set(msg, node);
    this.list.insertBefore(node, next ? this.nodes.get(next) || null : null);
    restyle(node);
    restyle(node.nextElementSibling);
  }

  placeAll(insertions) {
    for (const at of insertions) this.place(at);
  }

  /**
   * The "New messages" divider above `msg` (a stored message on the list), or
   * nowhere for null. Part of the message's <li>, so messages placed before
   * or after it later never land between the divider and its message.
   * Returns the divider, or null.
   */
  setFirstUnread(msg) {
    const node = (msg && this.nodes.get(msg)) || null;
    if (node !== this.firstUnread) {
      const old = this.firstUnread;
      if (old) {
        old.classList.remove('first-unread');
        old.querySelector('.unread-divider')?.remove();
        restyle(old);
      }
      this.firstUnread = node;
      if (node) {
        node.classList.add('first-unread');
        node.prepend(el('div', { className: 'unread-divider', testid: 'unread-divider', text: 'New messages' }));
        restyle(node);
      }
    }
    return this.firstUnread ? this.firstUnread.firstChild : null;
  }

  addPending(msg) {
    const node = renderMessage(msg, this.handlers);
    this.nodes.set(msg, node);
    this.pendingList.append(node);
  }

  /** Redraw a pending bubble after its state changed (sending → failed → sending). */
  updatePending(msg) {
    const old = this.nodes.get(msg);
    if (!old) return;
    const fresh = renderMessage(msg, this.handlers);
    old.replaceWith(fresh);
    this.nodes.set(msg, fresh);
  }

  removePending(msg) {
    const node = this.nodes.get(msg);
    if (node) node.remove();
    this.nodes.delete(msg);
  }
}

// ---------------------------------------------------------------------------
// The conversation on screen
// ---------------------------------------------------------------------------

export function renderHeader(conv) {
  if (!conv) return;
  const title = $('room-title');
  title.textContent = conv.kind === 'room' ? `# ${conv.name}` : `@ ${conv.name}`;
  title.dataset.kind = conv.kind;
  title.dataset.name = conv.name;
  if (conv.kind === 'dm') $('room-subtitle').textContent = 'Direct message';
}

/** Nothing open: the welcome text instead of messages. */
export function renderNoConversation() {
  $('messages-host').replaceChildren();
  show($('empty-state'), true);
  $('room-title').textContent = 'Select a room';
  $('room-subtitle').textContent = '';
}

export function renderConversation(view) {
  $('messages-host').replaceChildren(...view.elements);
  show($('empty-state'), false);
}

export function renderPresence(conv, me) {
  const isRoom = !!conv && conv.kind === 'room';
  $('app-screen').classList.toggle('no-presence', !isRoom);
  show($('presence-toggle'), isRoom);
  if (!isRoom) {
    $('presence-list').replaceChildren();
    return;
  }
  const users = [...conv.presence].sort((a, b) => a.localeCompare(b, undefined, { sensitivity: 'base' }));
  const items = users.map((u) => el('li', { className: 'presence-user', testid: 'presence-user', dataset: { username: u } }, [
    el('span', { className: 'presence-avatar' }, [avatar(u, 'avatar-small'), el('span', { className: 'online-dot', attrs: { 'aria-hidden': 'true' } })]),
    el('span', { className: 'presence-name', text: u }),
    sameUser(u, me) ? el('span', { className: 'muted small', text: '(you)' }) : null,
  ]));
  $('presence-list').replaceChildren(...items);
  show($('presence-empty'), users.length === 0);
  $('presence-count').textContent = String(users.length);
  $('room-subtitle').textContent = users.length === 1 ? '1 person here' : `${users.length} people here`;
}

/** `names`: who is typing in the conversation on screen (the bot "types" while fetching a quote). */
export function renderTyping(names) {
  const box = $('typing-indicator');
  let text = '';
  if (names.length === 1) {
    text = sameUser(names[0], BOT_NAME) ? `${BOT_NAME} is fetching a quote…` : `${names[0]} is typing…`;
  } else if (names.length === 2) text = `${names[0]} and ${names[1]} are typing…`;
  else if (names.length > 2) text = 'Several people are typing…';
  box.textContent = text;
  box.classList.toggle('active', names.length > 0);
}

/** The top of the message list: a spinner, "Load older messages", or the start of history. */
export function renderHistoryTop(conv, { loading, loadingOlder }) {
  show($('history-loading'), !!conv && (loading || loadingOlder));
  show($('load-older'), !!conv && conv.loaded && conv.hasMore && !loadingOlder);
  const start = $('history-start');
  if (conv && conv.loaded && !conv.hasMore) {
    start.textContent = conv.kind === 'room'
      ? `This is the beginning of #${conv.name}.`
      : `This is the beginning of your conversation with ${conv.name}.`;
    show(start, true);
  } else show(start, false);
}

// ---------------------------------------------------------------------------
// Connection status and toasts
// ---------------------------------------------------------------------------

/** The header's connection pill; counts down to the next reconnect attempt. */
export class ConnectionStatus {
  constructor() {
    this.box = $('connection-status');
    this.text = $('connection-text');
    this.timer = null;
  }

  /** `detail` of ChatSocket's 'status' event. */
  show({ state, retryInMs, refused }) {
    clearInterval(this.timer);
    this.box.dataset.state = state;
    showRefusal(state === 'online' ? null : refused);
    if (state === 'online') this.text.textContent = 'Connected';
    else if (state === 'connecting') this.text.textContent = 'Connecting…';
    else if (state === 'waiting') {
      const until = Date.now() + retryInMs;
      const tick = () => {
        const secs = Math.max(0, Math.ceil((until - Date.now()) / 1000));
        this.text.textContent = secs > 0 ? `Reconnecting in ${secs}s…` : 'Reconnecting…';
      };
      tick();
      this.timer = setInterval(tick, 500);
    } else this.text.textContent = 'Offline';
  }
}

/**
 * Why the server refuses this page's WebSocket, in words the user (or whoever
 * runs the server) can act on; hidden when `refused` is null.
 */
export function showRefusal(refused) {
  const box = $('connection-refused');
  if (!box) return;
  show(box, !!refused);
  if (!refused) return;
  const seen = refused.serverHost ? ` (the server sees its own address as ${refused.serverHost})` : '';
  box.textContent = `The chat server does not accept live connections from this page's address, ${refused.origin}${seen}. `
    + `Whoever runs it can add ${refused.origin} to ALLOWED_ORIGINS, or, if it sits behind a proxy, `
    + 'list that proxy in TRUSTED_PROXIES so the server knows the address you use. Until then messages cannot be sent or received live.';
}

export function toast(text, { code = 'error', kind = 'error', timeout = 7000 } = {}) {
  const box = $('toasts');
  // The same error again (e.g. a burst of rate_limited): renew it instead of stacking.
  for (const existing of box.children) {
    if (existing.dataset.code === code && existing.querySelector('.toast-text')?.textContent === text) {
      clearTimeout(existing.timer);
      existing.timer = setTimeout(() => existing.remove(), timeout);
      const count = Number(existing.dataset.count || 1) + 1;
      existing.dataset.count = String(count);
      existing.querySelector('.toast-count').textContent = `×${count}`;
      return;
    }
  }
  const close = el('button', { className: 'toast-close', text: '×', attrs: { type: 'button', 'aria-label': 'Dismiss' } });
  const node = el('div', { className: `toast toast-${kind}`, testid: 'toast', dataset: { code } }, [
    el('span', { className: 'toast-text', text }), el('span', { className: 'toast-count', attrs: { 'aria-hidden': 'true' } }), close,
  ]);
  const remove = () => node.remove();
  close.addEventListener('click', remove);
  box.append(node);
  while (box.children.length > 3) box.firstChild.remove();
  node.timer = setTimeout(remove, timeout);
}
