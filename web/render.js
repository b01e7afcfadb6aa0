// Rendering of the chat screen around the messages: header, presence, typing
// line, history top, connection status and toasts. A message's bubble is
// message-view.js's and a conversation's list of them message-list-view.js's;
// the sidebar is sidebar-view.js's, the message box composer-view.js's.
//
// Turns data it is given into DOM. Must not keep chat state, talk to the
// network or decide anything about messages (order, duplicates, unread: that
// is model.js); user actions go back out through the callbacks it is handed.
// User text reaches the page only through textContent (util.el), never innerHTML.

import { BOT_NAME, sameUser } from './model.js';
import { $, el, show, avatar } from './util.js';

// ---------------------------------------------------------------------------
// The conversation on screen
// ---------------------------------------------------------------------------

/**
 * The conversation's title, and under it a room's topic (`entry`: the room
 * list's entry) or whether the other person of a direct conversation is
 * online (`entry`: the inbox's).
 */
export function renderHeader(conv, entry = null) {
  if (!conv) return;
  const title = $('room-title');
  title.textContent = conv.kind === 'room' ? `# ${conv.name}` : `@ ${conv.name}`;
  title.dataset.kind = conv.kind;
  title.dataset.name = conv.name;
  const topic = conv.kind === 'room' && entry && typeof entry.topic === 'string' ? entry.topic : '';
  const topicLine = $('room-topic');
  topicLine.textContent = topic;
  topicLine.title = topic;
  show(topicLine, !!topic);
  if (conv.kind === 'dm') {
    const online = !!entry && entry.online === true;
    $('room-subtitle').textContent = online ? 'Direct message · online' : 'Direct message';
  }
}

/** Nothing open: the welcome text instead of messages. */
export function renderNoConversation() {
  $('messages-host').replaceChildren();
  show($('empty-state'), true);
  $('room-title').textContent = 'Select a room';
  $('room-subtitle').textContent = '';
  show($('room-topic'), false);
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
