// tickertalk web client. Plain ES modules, no build step.
//
// Rule for this file: user-supplied text (messages, names) only ever reaches
// the page through textContent / attribute setters, never innerHTML.

import { Session, ApiError } from './api.js';
import { ChatSocket } from './socket.js';
import {
  $, el, show, newClientId, tsMicros, formatTime, formatFullTime, formatShortDate, avatar, sleep,
} from './util.js';

const PAGE_SIZE = 50;
const MAX_MESSAGE = 2000;
const TYPING_SEND_EVERY = 2000;
const TYPING_SHOW_FOR = 3000;
const ECHO_TIMEOUT = 15_000;
const BOT_NAME = 'stockbot';
const LAST_CONV_KEY = 'tickertalk.last_conversation';

const session = new Session();
const socket = new ChatSocket(async (forceRefresh) => {
  if (forceRefresh || session.needsRefresh(30_000)) await session.refresh();
  return session.token;
});

const state = {
  started: false,
  rooms: [], // [{id, name, created_at}]
  convs: new Map(), // key -> Conversation
  current: null, // Conversation
  tab: 'rooms',
  inbox: [], // [{username, latest_message, created_at}]
  lastRoomsFetch: 0,
};

const wide = window.matchMedia('(min-width: 1100px)');
const narrow = window.matchMedia('(max-width: 767px)');

// ---------------------------------------------------------------------------
// Conversations (rooms and direct-message threads share one model)
// ---------------------------------------------------------------------------

class Conversation {
  constructor(kind, ref, name) {
    this.kind = kind; // 'room' | 'dm'
    this.ref = ref; // room id (number) | other username
    this.name = name;
    this.key = kind === 'room' ? `room:${ref}` : `dm:${String(ref).toLowerCase()}`;
    this.byId = new Map(); // id -> msg
    this.order = []; // confirmed + bot messages, sorted
    this.pending = new Map(); // client_id -> msg
    this.maxId = 0;
    this.oldestId = null;
    this.hasMore = true;
    this.loaded = false;
    this.loading = null;
    this.loadingOlder = false;
    this.joined = false;
    this.presence = new Set();
    this.typing = new Map(); // username -> timeout id
    this.lastTypingSent = 0;
    this.unread = 0;
    this.scroll = null; // saved scroll position, null = stick to bottom
    this.draft = '';
    this.list = el('ol', { className: 'messages', testid: 'messages', attrs: { 'aria-label': `Messages in ${name}` } });
    this.pendingList = el('ol', { className: 'messages messages-pending', testid: 'pending-messages', attrs: { 'aria-label': 'Messages being sent' } });
  }

  get path() {
    return this.kind === 'room'
      ? `/v1/chat/rooms/${encodeURIComponent(this.ref)}/messages`
      : `/v1/chat/threads/${encodeURIComponent(this.ref)}`;
  }

  get hash() {
    return this.kind === 'room' ? `#room/${this.ref}` : `#dm/${encodeURIComponent(this.ref)}`;
  }
}

function roomConv(id, name) {
  const key = `room:${id}`;
  let conv = state.convs.get(key);
  if (!conv) {
    const room = state.rooms.find((r) => r.id === id);
    conv = new Conversation('room', id, name || (room ? room.name : `Room ${id}`));
    state.convs.set(key, conv);
  }
  return conv;
}

function dmConv(username) {
  const key = `dm:${String(username).toLowerCase()}`;
  let conv = state.convs.get(key);
  if (!conv) {
    conv = new Conversation('dm', username, username);
    state.convs.set(key, conv);
  }
  return conv;
}

function me() {
  return session.username || '';
}

function sameUser(a, b) {
  return String(a || '').toLowerCase() === String(b || '').toLowerCase();
}

/** Normalise a room message, bot message or DM into one shape. */
function normalise(frame) {
  if (frame.type === 4 || frame.author !== undefined) {
    return {
      id: typeof frame.id === 'number' ? frame.id : null,
      author: frame.author,
      text: frame.message ?? '',
      created_at: frame.created_at,
      bot: false,
      client_id: frame.client_id,
    };
  }
  return {
    id: typeof frame.id === 'number' ? frame.id : null,
    author: frame.chatuser,
    text: frame.chatmessage ?? '',
    created_at: frame.created_at,
    bot: frame.bot === true || (frame.id == null && sameUser(frame.chatuser, BOT_NAME)),
    client_id: frame.client_id,
  };
}

function sortKey(msg) {
  return [tsMicros(msg.created_at), msg.id == null ? Number.MAX_SAFE_INTEGER : msg.id];
}

function before(a, b) {
  const ka = sortKey(a);
  const kb = sortKey(b);
  return ka[0] < kb[0] || (ka[0] === kb[0] && ka[1] < kb[1]);
}

// ---------------------------------------------------------------------------
// Message rendering
// ---------------------------------------------------------------------------

function renderMessage(msg) {
  const own = !msg.bot && sameUser(msg.author, me());
  const classes = ['msg'];
  if (own) classes.push('own');
  if (msg.bot) classes.push('bot');
  if (msg.state === 'pending') classes.push('pending');
  if (msg.state === 'failed') classes.push('failed');

  const meta = el('div', { className: 'msg-meta' }, [
    el('span', { className: 'msg-author', testid: 'message-author', text: msg.author }),
    msg.bot ? el('span', { className: 'bot-badge', testid: 'bot-badge', text: 'Bot' }) : null,
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
    el('p', { className: 'msg-text', testid: 'message-text', text: msg.text }),
  ]);

  if (msg.state === 'pending' || msg.state === 'failed') {
    const status = el('p', { className: 'msg-status', testid: 'message-status' });
    if (msg.state === 'pending') {
      status.append(el('span', { className: 'spinner', attrs: { 'aria-hidden': 'true' } }),
        el('span', { text: msg.command ? 'Sending command…' : 'Sending…' }));
    } else {
      const retry = el('button', { className: 'link-btn', testid: 'message-retry', text: 'Retry', attrs: { type: 'button' } });
      retry.addEventListener('click', () => retryPending(msg));
      const dismiss = el('button', { className: 'link-btn', testid: 'message-dismiss', text: 'Dismiss', attrs: { type: 'button' } });
      dismiss.addEventListener('click', () => dropPending(msg.conv, msg.client_id));
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
      state: msg.state || (msg.bot ? 'bot' : 'sent'),
    },
  }, [avatar(msg.bot ? 'bot' : msg.author, msg.bot ? 'avatar-bot' : ''), body]);
  if (msg.bot) li.firstChild.textContent = '$';
  return li;
}

/** Insert a confirmed (or bot) message. Returns false for a duplicate. */
function addMessage(conv, msg) {
  if (msg.id != null) {
    if (conv.byId.has(msg.id)) return false;
  } else {
    // Bot messages carry no id; the same one is never sent twice, but be safe.
    const dup = conv.order.some((m) => m.id == null && m.created_at === msg.created_at && m.text === msg.text);
    if (dup) return false;
  }
  msg.node = renderMessage(msg);
  // Find position: messages mostly arrive in order, so scan from the end.
  let i = conv.order.length;
  while (i > 0 && before(msg, conv.order[i - 1])) i -= 1;
  const next = conv.order[i];
  conv.order.splice(i, 0, msg);
  conv.list.insertBefore(msg.node, next ? next.node : null);
  if (msg.id != null) {
    conv.byId.set(msg.id, msg);
    if (msg.id > conv.maxId) conv.maxId = msg.id;
    if (conv.oldestId == null || msg.id < conv.oldestId) conv.oldestId = msg.id;
  }
  return true;
}

function addPending(conv, msg) {
  msg.conv = conv;
  conv.pending.set(msg.client_id, msg);
  msg.node = renderMessage(msg);
  conv.pendingList.append(msg.node);
}

function updatePending(msg) {
  const fresh = renderMessage(msg);
  msg.node.replaceWith(fresh);
  msg.node = fresh;
}

function dropPending(conv, clientId) {
  const msg = conv.pending.get(clientId);
  if (!msg) return;
  clearTimeout(msg.timer);
  conv.pending.delete(clientId);
  msg.node.remove();
}

function failPending(msg, reason, dropped = false) {
  clearTimeout(msg.timer);
  msg.state = 'failed';
  msg.reason = reason;
  msg.dropped = dropped;
  updatePending(msg);
}

function findPending(clientId) {
  if (!clientId) return null;
  for (const conv of state.convs.values()) {
    const msg = conv.pending.get(clientId);
    if (msg) return msg;
  }
  return null;
}

// ---------------------------------------------------------------------------
// Scrolling
// ---------------------------------------------------------------------------

const listEl = $('message-list');

function nearBottom() {
  return listEl.scrollHeight - listEl.scrollTop - listEl.clientHeight < 80;
}

function scrollToBottom() {
  listEl.scrollTop = listEl.scrollHeight;
  show($('jump-latest'), false);
}

// ---------------------------------------------------------------------------
// Incoming frames
// ---------------------------------------------------------------------------

function onFrame(frame) {
  switch (frame.type) {
    case 1: return onRoomMessage(frame);
    case 3: return undefined; // leave confirmed
    case 4: return onDirectMessage(frame);
    case 5: return onTyping(frame);
    case 6: return onError(frame);
    case 7: return onPresence(frame);
    case 8: return onCommandAck(frame);
    default: return undefined;
  }
}

function deliver(conv, msg) {
  const isCurrent = conv === state.current;
  const stick = isCurrent && nearBottom();
  // Our own message: replace the pending bubble.
  if (msg.client_id && conv.pending.has(msg.client_id)) {
    dropPending(conv, msg.client_id);
  } else if (!msg.bot && sameUser(msg.author, me())) {
    // Replayed after a reconnect (no client_id): if it matches a bubble that
    // failed because the socket dropped, the server did store it after all.
    for (const p of conv.pending.values()) {
      if (p.state === 'failed' && p.dropped && p.text.trim() === msg.text.trim()) {
        dropPending(conv, p.client_id);
        break;
      }
    }
  }
  if (!addMessage(conv, msg)) return;
  if (msg.author && conv.typing.has(msg.author)) clearTyping(conv, msg.author);
  if (msg.bot && conv.typing.has(BOT_NAME)) clearTyping(conv, BOT_NAME);
  const own = !msg.bot && sameUser(msg.author, me());
  if (isCurrent && document.visibilityState === 'visible') {
    if (stick || own) scrollToBottom();
    else show($('jump-latest'), true);
  } else if (!own) {
    conv.unread += 1;
    renderUnread();
  }
}

function onRoomMessage(frame) {
  if (typeof frame.chatroomId !== 'number') return;
  const known = state.rooms.some((r) => r.id === frame.chatroomId);
  if (!known) loadRooms().catch(() => {});
  const conv = roomConv(frame.chatroomId);
  deliver(conv, normalise(frame));
}

function onDirectMessage(frame) {
  const other = sameUser(frame.author, me()) ? frame.recipient : frame.author;
  if (!other) return;
  const conv = dmConv(other);
  const msg = normalise(frame);
  if (conv.loaded || conv === state.current || conv.pending.has(msg.client_id)) {
    deliver(conv, msg);
  } else {
    // Not opened yet: keep the message so the thread shows it, count unread.
    if (addMessage(conv, msg) && !sameUser(msg.author, me())) {
      conv.unread += 1;
      renderUnread();
    }
  }
  bumpInbox(other, msg.text, msg.created_at);
}

function onTyping(frame) {
  if (typeof frame.chatroomId !== 'number' || !frame.chatuser || sameUser(frame.chatuser, me())) return;
  const conv = state.convs.get(`room:${frame.chatroomId}`);
  if (!conv) return;
  setTyping(conv, frame.chatuser, TYPING_SHOW_FOR);
}

function setTyping(conv, user, ms) {
  clearTimeout(conv.typing.get(user));
  conv.typing.set(user, setTimeout(() => clearTyping(conv, user), ms));
  if (conv === state.current) renderTyping();
}

function clearTyping(conv, user) {
  clearTimeout(conv.typing.get(user));
  conv.typing.delete(user);
  if (conv === state.current) renderTyping();
}

const ERROR_TEXT = {
  rate_limited: 'You are sending messages too fast. Wait a moment and try again.',
  message_too_long: `Message is too long (at most ${MAX_MESSAGE} characters).`,
  empty_message: 'Message is empty.',
  unknown_room: 'That room does not exist.',
  unknown_user: 'There is no user with that name.',
  unavailable: 'The server cannot store messages right now. Try again shortly.',
  invalid_frame: 'The server could not read that message.',
  unknown_type: 'The server did not understand that request.',
};

// Shorter wording for the failed bubble itself.
const REASON_TEXT = {
  rate_limited: 'too many messages, wait a moment',
  message_too_long: `longer than ${MAX_MESSAGE} characters`,
  empty_message: 'the message is empty',
  unknown_room: 'the room does not exist',
  unknown_user: 'no such user',
  unavailable: 'the server could not store it',
};

function errorText(err) {
  if (!err || typeof err !== 'object') return 'Something went wrong.';
  return ERROR_TEXT[err.code] || err.message || 'Something went wrong.';
}

function onError(frame) {
  const err = frame.error || {};
  const text = errorText(err);
  const msg = findPending(frame.client_id);
  if (msg) failPending(msg, REASON_TEXT[err.code] || text);
  // A typing notice racing a (re)join is harmless: not worth a popup.
  if (!msg && err.code === 'not_in_room') return;
  toast(text, { code: err.code || 'error' });
}

function onPresence(frame) {
  if (typeof frame.chatroomId !== 'number') return;
  const conv = state.convs.get(`room:${frame.chatroomId}`);
  if (!conv) return;
  if (Array.isArray(frame.users)) conv.presence = new Set(frame.users);
  if (frame.joined) conv.presence.add(frame.joined);
  if (frame.left) {
    conv.presence.delete(frame.left);
    clearTyping(conv, frame.left);
  }
  if (conv === state.current) renderPresence();
}

function onCommandAck(frame) {
  const msg = findPending(frame.client_id);
  const conv = msg ? msg.conv : state.convs.get(`room:${frame.chatroomId}`);
  if (msg) dropPending(msg.conv, msg.client_id);
  // The bot answers shortly; show that it is working on it.
  if (conv) setTyping(conv, BOT_NAME, 10_000);
}

// ---------------------------------------------------------------------------
// Socket lifecycle
// ---------------------------------------------------------------------------

function joinRoom(conv) {
  conv.joined = true;
  socket.send({ type: 2, chatroomId: conv.ref, since: conv.maxId });
}

socket.addEventListener('frame', (ev) => onFrame(ev.detail.frame));

socket.addEventListener('open', () => {
  // Rejoin every room we were in, asking for what we missed.
  for (const conv of state.convs.values()) {
    if (conv.kind === 'room' && conv.joined) joinRoom(conv);
  }
  // DMs have no `since`: refetch the open thread and merge (deduplicated by id).
  if (state.current && state.current.kind === 'dm' && state.current.loaded) {
    refreshThread(state.current).catch(() => {});
  }
  if (Date.now() - state.lastRoomsFetch > 5_000) loadRooms().catch(() => {});
  loadInbox().catch(() => {});
});

socket.addEventListener('drop', () => {
  for (const conv of state.convs.values()) {
    for (const msg of conv.pending.values()) {
      if (msg.state === 'pending') failPending(msg, 'connection lost', true);
    }
    for (const user of [...conv.typing.keys()]) clearTyping(conv, user);
  }
});

socket.addEventListener('revoked', () => {
  endSession('You were signed out.');
});

let statusTimer = null;
socket.addEventListener('status', (ev) => {
  const { state: s, retryInMs } = ev.detail;
  const box = $('connection-status');
  const text = $('connection-text');
  clearInterval(statusTimer);
  box.dataset.state = s;
  if (s === 'online') text.textContent = 'Connected';
  else if (s === 'connecting') text.textContent = 'Connecting…';
  else if (s === 'waiting') {
    const until = Date.now() + retryInMs;
    const tick = () => {
      const secs = Math.max(0, Math.ceil((until - Date.now()) / 1000));
      text.textContent = secs > 0 ? `Reconnecting in ${secs}s…` : 'Reconnecting…';
    };
    tick();
    statusTimer = setInterval(tick, 500);
  } else text.textContent = 'Offline';
  updateComposerState();
});

// ---------------------------------------------------------------------------
// Loading data
// ---------------------------------------------------------------------------

async function loadRooms() {
  state.lastRoomsFetch = Date.now();
  const rooms = await session.request('GET', '/v1/chat/rooms');
  state.rooms = Array.isArray(rooms) ? rooms : [];
  for (const r of state.rooms) {
    const conv = state.convs.get(`room:${r.id}`);
    if (conv) conv.name = r.name;
  }
  renderRooms();
  if (state.current && state.current.kind === 'room') renderHeader();
}

async function loadInbox() {
  let inbox;
  try {
    inbox = await session.request('GET', '/v1/chat/inbox');
  } catch (err) {
    if (state.started) {
      $('dm-list-error').textContent = `Could not load your conversations. ${err.friendly || ''}`.trim();
      show($('dm-list-error'), true);
    }
    throw err;
  }
  show($('dm-list-error'), false);
  state.inbox = Array.isArray(inbox) ? inbox : [];
  renderInbox();
}

function bumpInbox(username, text, createdAt) {
  const i = state.inbox.findIndex((e) => sameUser(e.username, username));
  const entry = i >= 0 ? state.inbox.splice(i, 1)[0] : { username };
  entry.latest_message = text;
  entry.created_at = createdAt;
  state.inbox.unshift(entry);
  renderInbox();
}

/** First page of history for a conversation. */
function loadInitial(conv) {
  if (conv.loaded) return Promise.resolve();
  if (conv.loading) return conv.loading;
  conv.loading = (async () => {
    const list = await session.request('GET', `${conv.path}?limit=${PAGE_SIZE}`);
    const items = Array.isArray(list) ? list : [];
    for (const m of items) addMessage(conv, normalise(m));
    conv.hasMore = items.length >= PAGE_SIZE;
    conv.loaded = true;
  })().finally(() => {
    conv.loading = null;
  });
  return conv.loading;
}

async function refreshThread(conv) {
  const list = await session.request('GET', `${conv.path}?limit=${PAGE_SIZE}`);
  const stick = conv === state.current && nearBottom();
  for (const m of Array.isArray(list) ? list : []) addMessage(conv, normalise(m));
  if (stick) scrollToBottom();
}

async function loadOlder(conv) {
  if (conv.loadingOlder || !conv.loaded || !conv.hasMore || conv.oldestId == null) return;
  conv.loadingOlder = true;
  renderHistoryTop();
  try {
    const list = await session.request('GET', `${conv.path}?before=${conv.oldestId}&limit=${PAGE_SIZE}`);
    const items = Array.isArray(list) ? list : [];
    const isCurrent = conv === state.current;
    const fromBottom = listEl.scrollHeight - listEl.scrollTop;
    for (const m of items) addMessage(conv, normalise(m));
    conv.hasMore = items.length >= PAGE_SIZE;
    if (isCurrent) listEl.scrollTop = listEl.scrollHeight - fromBottom; // keep the view still
  } catch (err) {
    toast(`Could not load older messages: ${err.friendly || err.message}`);
  } finally {
    conv.loadingOlder = false;
    if (conv === state.current) renderHistoryTop();
  }
}

// ---------------------------------------------------------------------------
// Opening a conversation
// ---------------------------------------------------------------------------

async function openConversation(conv, { focus = true } = {}) {
  const prev = state.current;
  if (prev && prev !== conv) {
    prev.scroll = nearBottom() ? null : listEl.scrollTop;
    prev.draft = $('composer-input').value;
  }
  state.current = conv;
  conv.unread = 0;
  try {
    localStorage.setItem(LAST_CONV_KEY, conv.hash);
  } catch {
    /* ignore */
  }
  if (location.hash !== conv.hash) history.replaceState(null, '', conv.hash);
  if (conv.kind === 'dm' && state.tab !== 'dms') setTab('dms');
  if (conv.kind === 'room' && state.tab !== 'rooms') setTab('rooms');

  $('messages-host').replaceChildren(conv.list, conv.pendingList);
  show($('empty-state'), false);
  const input = $('composer-input');
  input.value = conv.draft || '';
  input.placeholder = conv.kind === 'room' ? `Message #${conv.name}` : `Message @${conv.name}`;
  renderHeader();
  renderRooms();
  renderInbox();
  renderUnread();
  renderPresence();
  renderTyping();
  renderHistoryTop();
  updateComposerState();
  closeDrawer(false);
  scrollToBottom();

  try {
    await loadInitial(conv);
  } catch (err) {
    if (state.current === conv) {
      if (conv.kind === 'dm' && err.status === 404) {
        toast(`There is no user named ${conv.name}.`);
        state.convs.delete(conv.key);
        state.current = null;
        renderEmpty();
        return;
      }
      toast(`Could not load messages: ${err.friendly || err.message}`);
    }
    return;
  }
  if (conv.kind === 'room' && !conv.joined) joinRoom(conv);
  if (state.current !== conv) return;
  renderHistoryTop();
  if (conv.scroll == null) scrollToBottom();
  else listEl.scrollTop = conv.scroll;
  // Short history that does not fill the screen: fetch more right away.
  if (conv.hasMore && listEl.scrollHeight <= listEl.clientHeight) loadOlder(conv);
  if (focus && !narrow.matches) input.focus({ preventScroll: true });
}

function renderEmpty() {
  $('messages-host').replaceChildren();
  show($('empty-state'), true);
  $('room-title').textContent = 'Select a room';
  $('room-subtitle').textContent = '';
  renderPresence();
  renderTyping();
  renderHistoryTop();
  updateComposerState();
}

function openFromHash(hash) {
  let m = /^#room\/(\d+)$/.exec(hash || '');
  if (m) {
    const id = Number(m[1]);
    const room = state.rooms.find((r) => r.id === id);
    if (room) {
      openConversation(roomConv(room.id, room.name));
      return true;
    }
    return false;
  }
  m = /^#dm\/(.+)$/.exec(hash || '');
  if (m) {
    const name = decodeURIComponent(m[1]);
    if (/^[A-Za-z][A-Za-z0-9_]{2,31}$/.test(name)) {
      openConversation(dmConv(name));
      return true;
    }
  }
  return false;
}

window.addEventListener('hashchange', () => {
  if (!state.started) return;
  if (state.current && location.hash === state.current.hash) return;
  openFromHash(location.hash);
});

// ---------------------------------------------------------------------------
// Rendering: sidebar, header, presence, typing
// ---------------------------------------------------------------------------

function renderRooms() {
  const ul = $('room-list');
  const items = state.rooms.map((room) => {
    const conv = state.convs.get(`room:${room.id}`);
    const active = state.current && state.current.key === `room:${room.id}`;
    const unread = conv ? conv.unread : 0;
    const btn = el('button', {
      className: `conv-item${active ? ' active' : ''}${unread ? ' has-unread' : ''}`,
      testid: 'room-item',
      attrs: { type: 'button', 'aria-current': active ? 'page' : null },
      dataset: { roomId: room.id, roomName: room.name },
    }, [
      el('span', { className: 'conv-hash', text: '#', attrs: { 'aria-hidden': 'true' } }),
      el('span', { className: 'conv-name', text: room.name }),
      unread ? el('span', { className: 'badge', testid: 'room-unread', text: unread > 99 ? '99+' : unread, attrs: { 'aria-label': `${unread} unread` } }) : null,
    ]);
    btn.addEventListener('click', () => openConversation(roomConv(room.id, room.name)));
    return el('li', {}, [btn]);
  });
  ul.replaceChildren(...items);
  show($('room-list-empty'), state.rooms.length === 0);
}

function renderInbox() {
  const ul = $('dm-list');
  const seen = new Set();
  const entries = [...state.inbox];
  // Conversations opened locally that have no messages yet.
  for (const conv of state.convs.values()) {
    if (conv.kind === 'dm' && !entries.some((e) => sameUser(e.username, conv.ref))) {
      entries.push({ username: conv.ref, latest_message: '', created_at: null });
    }
  }
  const items = [];
  for (const entry of entries) {
    const key = String(entry.username).toLowerCase();
    if (seen.has(key)) continue;
    seen.add(key);
    const conv = state.convs.get(`dm:${key}`);
    const active = state.current && state.current.key === `dm:${key}`;
    const unread = conv ? conv.unread : 0;
    const btn = el('button', {
      className: `conv-item dm-item${active ? ' active' : ''}${unread ? ' has-unread' : ''}`,
      testid: 'dm-item',
      attrs: { type: 'button', 'aria-current': active ? 'page' : null },
      dataset: { username: entry.username },
    }, [
      avatar(entry.username, 'avatar-small'),
      el('span', { className: 'dm-text' }, [
        el('span', { className: 'dm-top' }, [
          el('span', { className: 'conv-name', text: entry.username }),
          entry.created_at ? el('span', { className: 'dm-date', text: formatShortDate(entry.created_at) }) : null,
        ]),
        el('span', { className: 'dm-preview', text: entry.latest_message || 'No messages yet' }),
      ]),
      unread ? el('span', { className: 'badge', testid: 'dm-unread', text: unread, attrs: { 'aria-label': `${unread} unread` } }) : null,
    ]);
    btn.addEventListener('click', () => openConversation(dmConv(entry.username)));
    items.push(el('li', {}, [btn]));
  }
  ul.replaceChildren(...items);
  show($('dm-list-empty'), items.length === 0);
}

function renderUnread() {
  let rooms = 0;
  let dms = 0;
  for (const conv of state.convs.values()) {
    if (conv.kind === 'room') rooms += conv.unread;
    else dms += conv.unread;
  }
  const badge = $('dm-unread-total');
  badge.textContent = dms > 99 ? '99+' : String(dms);
  show(badge, dms > 0);
  show($('nav-unread-dot'), rooms + dms > 0);
  document.title = rooms + dms > 0 ? `(${rooms + dms}) tickertalk` : 'tickertalk';
  renderRooms();
  renderInbox();
}

function renderHeader() {
  const conv = state.current;
  if (!conv) return;
  $('room-title').textContent = conv.kind === 'room' ? `# ${conv.name}` : `@ ${conv.name}`;
  $('room-title').dataset.kind = conv.kind;
  $('room-title').dataset.name = conv.name;
  if (conv.kind === 'dm') $('room-subtitle').textContent = 'Direct message';
}

function renderPresence() {
  const conv = state.current;
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
    sameUser(u, me()) ? el('span', { className: 'muted small', text: '(you)' }) : null,
  ]));
  $('presence-list').replaceChildren(...items);
  show($('presence-empty'), users.length === 0);
  $('presence-count').textContent = String(users.length);
  $('room-subtitle').textContent = users.length === 1 ? '1 person here' : `${users.length} people here`;
}

function renderTyping() {
  const conv = state.current;
  const box = $('typing-indicator');
  if (!conv) {
    box.textContent = '';
    return;
  }
  const names = [...conv.typing.keys()];
  let text = '';
  if (names.length === 1) {
    text = sameUser(names[0], BOT_NAME) ? `${BOT_NAME} is fetching a quote…` : `${names[0]} is typing…`;
  } else if (names.length === 2) text = `${names[0]} and ${names[1]} are typing…`;
  else if (names.length > 2) text = 'Several people are typing…';
  box.textContent = text;
  box.classList.toggle('active', names.length > 0);
}

function renderHistoryTop() {
  const conv = state.current;
  const loading = !!conv && (!!conv.loading || conv.loadingOlder);
  show($('history-loading'), loading);
  show($('load-older'), !!conv && conv.loaded && conv.hasMore && !conv.loadingOlder);
  const start = $('history-start');
  if (conv && conv.loaded && !conv.hasMore) {
    start.textContent = conv.kind === 'room'
      ? `This is the beginning of #${conv.name}.`
      : `This is the beginning of your conversation with ${conv.name}.`;
    show(start, true);
  } else show(start, false);
}

function updateComposerState() {
  const enabled = !!state.current;
  $('composer-input').disabled = !enabled;
  document.querySelector('[data-testid="send-button"]').disabled = !enabled;
}

// ---------------------------------------------------------------------------
// Sending
// ---------------------------------------------------------------------------

function sendFrame(msg) {
  const conv = msg.conv;
  const frame = conv.kind === 'room'
    ? { type: 1, chatroomId: conv.ref, chatmessage: msg.text, client_id: msg.client_id }
    : { type: 4, recipient: conv.ref, message: msg.text, client_id: msg.client_id };
  if (!socket.send(frame)) {
    failPending(msg, 'you are offline');
    return;
  }
  clearTimeout(msg.timer);
  msg.timer = setTimeout(() => {
    if (msg.state === 'pending' && msg.conv.pending.has(msg.client_id)) failPending(msg, 'no reply from the server');
  }, ECHO_TIMEOUT);
}

function sendMessage() {
  const conv = state.current;
  const input = $('composer-input');
  const text = input.value.trim();
  if (!conv || !text) return;
  const msg = {
    id: null,
    client_id: newClientId(),
    author: me(),
    text,
    created_at: null,
    bot: false,
    state: 'pending',
    command: text.startsWith('/'),
  };
  addPending(conv, msg);
  input.value = '';
  conv.draft = '';
  updateCharCount();
  show($('composer-error'), false);
  scrollToBottom();
  sendFrame(msg);
}

function retryPending(msg) {
  msg.state = 'pending';
  msg.reason = null;
  msg.dropped = false;
  updatePending(msg);
  sendFrame(msg);
}

function updateCharCount() {
  const n = $('composer-input').value.trim().length;
  const counter = $('char-count');
  counter.textContent = `${n} / ${MAX_MESSAGE}`;
  counter.classList.toggle('over', n > MAX_MESSAGE);
  show(counter, n > MAX_MESSAGE - 200);
}

function maybeSendTyping() {
  const conv = state.current;
  if (!conv || conv.kind !== 'room' || !conv.joined) return;
  const value = $('composer-input').value;
  if (!value.trim() || value.trimStart().startsWith('/')) return;
  const now = Date.now();
  if (now - conv.lastTypingSent < TYPING_SEND_EVERY) return;
  if (socket.send({ type: 5, chatroomId: conv.ref })) conv.lastTypingSent = now;
}

// ---------------------------------------------------------------------------
// Toasts
// ---------------------------------------------------------------------------

function toast(text, { code = 'error', kind = 'error', timeout = 7000 } = {}) {
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

// ---------------------------------------------------------------------------
// Auth screen
// ---------------------------------------------------------------------------

function setFieldError(prefix, field, message) {
  const p = $(`${prefix}-${field}-error`);
  const input = $(`${prefix}-${field}`);
  if (p) {
    p.textContent = message || '';
    show(p, !!message);
  }
  if (input) input.setAttribute('aria-invalid', message ? 'true' : 'false');
}

function clearFormErrors(prefix, fields) {
  for (const f of fields) setFieldError(prefix, f, '');
  show($(`${prefix}-error`), false);
}

function setFormError(prefix, message) {
  const p = $(`${prefix}-error`);
  p.textContent = message;
  show(p, !!message);
}

const FIELD_LABEL = { username: 'Username', email: 'Email', password: 'Password', name: 'Name' };

function describeFieldError(field, value) {
  const v = String(value);
  if (v === 'taken') return `This ${field === 'email' ? 'email' : field} is already taken.`;
  if (v === 'reserved') return `This ${field} is reserved.`;
  if (v === 'required') return `${FIELD_LABEL[field] || field} is required.`;
  return v ? v[0].toUpperCase() + v.slice(1) + (/[.!?]$/.test(v) ? '' : '.') : '';
}

function applyProblem(prefix, fields, err) {
  let placed = false;
  for (const [field, message] of Object.entries(err.errors || {})) {
    if (fields.includes(field)) {
      setFieldError(prefix, field, describeFieldError(field, message));
      placed = true;
    }
  }
  if (!placed || err.status === 409 || err.status >= 500 || err.status === 0 || err.status === 429) {
    let text = err.friendly;
    if (err.status === 409 && !placed) text = err.detail ? err.friendly : 'That account already exists.';
    if (err.status === 409 && placed) text = 'Choose another one and try again.';
    if (err.status === 422 && placed) text = '';
    if (text) setFormError(prefix, text);
  }
  const firstBad = fields.find((f) => $(`${prefix}-${f}`)?.getAttribute('aria-invalid') === 'true');
  if (firstBad) $(`${prefix}-${firstBad}`).focus();
}

function setAuthTab(which) {
  const login = which === 'login';
  $('auth-tab-login').setAttribute('aria-selected', String(login));
  $('auth-tab-signup').setAttribute('aria-selected', String(!login));
  $('auth-tab-login').tabIndex = login ? 0 : -1;
  $('auth-tab-signup').tabIndex = login ? -1 : 0;
  show($('login-form'), login);
  show($('signup-form'), !login);
}

function showAuth(notice = '') {
  show($('splash'), false);
  show($('app-screen'), false);
  show($('auth-screen'), true);
  const n = $('auth-notice');
  n.textContent = notice;
  show(n, !!notice);
  const remembered = Session.storedUsername();
  if (remembered && !$('login-identifier').value) $('login-identifier').value = remembered;
  setAuthTab('login');
  ($('login-identifier').value ? $('login-password') : $('login-identifier')).focus();
}

async function withBusy(form, fn) {
  const btn = form.querySelector('button[type="submit"]');
  btn.disabled = true;
  form.setAttribute('aria-busy', 'true');
  try {
    await fn();
  } finally {
    btn.disabled = false;
    form.removeAttribute('aria-busy');
  }
}

$('login-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  const form = ev.currentTarget;
  const identifier = $('login-identifier').value.trim();
  const password = $('login-password').value;
  clearFormErrors('login', ['identifier', 'password']);
  let bad = false;
  if (!identifier) {
    setFieldError('login', 'identifier', 'Enter your email or username.');
    bad = true;
  }
  if (!password) {
    setFieldError('login', 'password', 'Enter your password.');
    bad = true;
  }
  if (bad) {
    (identifier ? $('login-password') : $('login-identifier')).focus();
    return;
  }
  withBusy(form, async () => {
    try {
      await session.login(identifier, password);
      $('login-password').value = '';
      startApp();
    } catch (err) {
      if (err.status === 401) {
        setFormError('login', 'Wrong email/username or password.');
        $('login-password').select();
        $('login-password').focus();
      } else if (err.status === 422) {
        const errors = {};
        for (const [k, v] of Object.entries(err.errors || {})) {
          errors[k === 'password' ? 'password' : 'identifier'] = v;
        }
        applyProblem('login', ['identifier', 'password'], new ApiError(422, { detail: err.detail, errors }));
      } else {
        setFormError('login', err.friendly || 'Sign in failed.');
      }
    }
  });
});

$('signup-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  const form = ev.currentTarget;
  const fields = ['username', 'email', 'password'];
  clearFormErrors('signup', fields);
  const username = $('signup-username').value.trim();
  const email = $('signup-email').value.trim();
  const password = $('signup-password').value;
  // Quick local checks; the server has the final word.
  let bad = false;
  if (!username) { setFieldError('signup', 'username', 'Choose a username.'); bad = true; }
  if (!email) { setFieldError('signup', 'email', 'Enter your email.'); bad = true; }
  if (!password) { setFieldError('signup', 'password', 'Choose a password.'); bad = true; }
  if (bad) {
    $(`signup-${fields.find((f) => $(`signup-${f}`).getAttribute('aria-invalid') === 'true')}`).focus();
    return;
  }
  withBusy(form, async () => {
    try {
      await session.signup({ username, email, password });
      $('signup-password').value = '';
      startApp();
    } catch (err) {
      applyProblem('signup', fields, err);
    }
  });
});

for (const [id, which] of [['auth-tab-login', 'login'], ['auth-tab-signup', 'signup']]) {
  $(id).addEventListener('click', () => {
    setAuthTab(which);
    $(which === 'login' ? 'login-identifier' : 'signup-username').focus();
  });
  $(id).addEventListener('keydown', (ev) => {
    if (ev.key === 'ArrowRight' || ev.key === 'ArrowLeft') {
      ev.preventDefault();
      const other = which === 'login' ? 'signup' : 'login';
      setAuthTab(other);
      $(`auth-tab-${other}`).focus();
    }
  });
}

// ---------------------------------------------------------------------------
// App chrome: tabs, drawer, presence panel, forms
// ---------------------------------------------------------------------------

function setTab(which) {
  state.tab = which;
  const rooms = which === 'rooms';
  $('tab-rooms').setAttribute('aria-selected', String(rooms));
  $('tab-dms').setAttribute('aria-selected', String(!rooms));
  $('tab-rooms').tabIndex = rooms ? 0 : -1;
  $('tab-dms').tabIndex = rooms ? -1 : 0;
  show($('rooms-panel'), rooms);
  show($('dms-panel'), !rooms);
  if (!rooms) loadInbox().catch(() => {});
}

for (const [id, which] of [['tab-rooms', 'rooms'], ['tab-dms', 'dms']]) {
  $(id).addEventListener('click', () => setTab(which));
  $(id).addEventListener('keydown', (ev) => {
    if (ev.key === 'ArrowRight' || ev.key === 'ArrowLeft') {
      ev.preventDefault();
      const other = which === 'rooms' ? 'dms' : 'rooms';
      setTab(other);
      $(`tab-${other}`).focus();
    }
  });
}

function openDrawer() {
  $('app-screen').classList.add('drawer-open');
  show($('drawer-backdrop'), true);
  $('nav-toggle').setAttribute('aria-expanded', 'true');
  const active = $('sidebar').querySelector('.conv-item.active') || $('sidebar').querySelector('.conv-item, button');
  if (active) active.focus();
}

function closeDrawer(returnFocus = true) {
  const wasOpen = $('app-screen').classList.contains('drawer-open');
  $('app-screen').classList.remove('drawer-open');
  show($('drawer-backdrop'), false);
  $('nav-toggle').setAttribute('aria-expanded', 'false');
  if (wasOpen && returnFocus) $('nav-toggle').focus();
}

$('nav-toggle').addEventListener('click', openDrawer);
$('nav-close').addEventListener('click', () => closeDrawer());
$('drawer-backdrop').addEventListener('click', () => closeDrawer());
document.addEventListener('keydown', (ev) => {
  if (ev.key !== 'Escape') return;
  if ($('app-screen').classList.contains('drawer-open')) closeDrawer();
  else if ($('app-screen').classList.contains('presence-shown')) togglePresence();
});

function presenceVisible() {
  const app = $('app-screen');
  return wide.matches ? !app.classList.contains('presence-hidden') : app.classList.contains('presence-shown');
}

function togglePresence() {
  const app = $('app-screen');
  if (wide.matches) app.classList.toggle('presence-hidden');
  else app.classList.toggle('presence-shown');
  $('presence-toggle').setAttribute('aria-expanded', String(presenceVisible()));
}

$('presence-toggle').addEventListener('click', togglePresence);
wide.addEventListener('change', () => {
  $('app-screen').classList.remove('presence-shown');
  $('presence-toggle').setAttribute('aria-expanded', String(presenceVisible()));
});

$('create-room-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  const form = ev.currentTarget;
  const input = $('create-room-input');
  const name = input.value.trim();
  const error = $('create-room-error');
  show(error, false);
  input.setAttribute('aria-invalid', 'false');
  const fail = (text) => {
    error.textContent = text;
    show(error, true);
    input.setAttribute('aria-invalid', 'true');
    input.focus();
  };
  if (!name) {
    fail('Enter a room name.');
    return;
  }
  withBusy(form, async () => {
    try {
      const room = await session.request('POST', '/v1/chat/rooms', { name });
      input.value = '';
      if (!state.rooms.some((r) => r.id === room.id)) state.rooms.push(room);
      state.rooms.sort((a, b) => a.name.localeCompare(b.name, undefined, { sensitivity: 'base' }));
      renderRooms();
      openConversation(roomConv(room.id, room.name));
    } catch (err) {
      if (err.status === 409) fail(err.errors?.name ? `A room called "${name}" already exists.` : err.friendly);
      else if (err.status === 422) fail(describeFieldError('name', err.errors?.name || err.detail || 'invalid name'));
      else fail(err.friendly || 'Could not create the room.');
    }
  });
});

$('dm-start-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  const form = ev.currentTarget;
  const input = $('dm-start-input');
  const name = input.value.trim().replace(/^@/, '');
  const error = $('dm-start-error');
  show(error, false);
  const fail = (text) => {
    error.textContent = text;
    show(error, true);
    input.setAttribute('aria-invalid', 'true');
    input.focus();
  };
  if (!/^[A-Za-z][A-Za-z0-9_]{2,31}$/.test(name)) {
    fail('Enter a valid username.');
    return;
  }
  if (sameUser(name, me())) {
    fail('That is you.');
    return;
  }
  withBusy(form, async () => {
    const conv = dmConv(name);
    try {
      await loadInitial(conv);
    } catch (err) {
      state.convs.delete(conv.key);
      fail(err.status === 404 ? `There is no user named ${name}.` : err.friendly);
      return;
    }
    input.value = '';
    input.setAttribute('aria-invalid', 'false');
    openConversation(conv);
  });
});

const composer = $('composer-input');
composer.addEventListener('keydown', (ev) => {
  if (ev.key === 'Enter' && !ev.shiftKey && !ev.isComposing && !ev.altKey && !ev.ctrlKey && !ev.metaKey) {
    ev.preventDefault();
    sendMessage();
  }
});
composer.addEventListener('input', () => {
  updateCharCount();
  maybeSendTyping();
  autosize();
});
$('composer-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  sendMessage();
  composer.focus();
});

// Grow the message box with its content (CSS field-sizing where supported).
const nativeAutosize = window.CSS && CSS.supports && CSS.supports('field-sizing', 'content');
function autosize() {
  if (nativeAutosize) return;
  composer.style.height = 'auto';
  composer.style.height = `${Math.min(composer.scrollHeight, 200)}px`;
}

listEl.addEventListener('scroll', () => {
  const conv = state.current;
  if (!conv) return;
  if (nearBottom()) show($('jump-latest'), false);
  if (listEl.scrollTop < 120 && conv.hasMore) loadOlder(conv);
}, { passive: true });
$('load-older').addEventListener('click', () => {
  if (state.current) loadOlder(state.current);
});
document.querySelector('.skip-link').addEventListener('click', (ev) => {
  ev.preventDefault();
  if (!composer.disabled) composer.focus();
});
$('jump-latest').addEventListener('click', () => {
  scrollToBottom();
  composer.focus();
});

$('logout-button').addEventListener('click', async () => {
  socket.stop();
  await session.logout();
  endSession('You have signed out.', false);
});

document.addEventListener('visibilitychange', () => {
  if (document.visibilityState !== 'visible' || !state.started) return;
  if (session.needsRefresh(60_000)) session.refresh().catch(() => {});
  if (socket.state === 'waiting') socket.connectNow();
  if (state.current) {
    state.current.unread = 0;
    renderUnread();
  }
});

window.addEventListener('focus', () => {
  if (state.started && Date.now() - state.lastRoomsFetch > 30_000) loadRooms().catch(() => {});
});

session.addEventListener('expired', () => {
  if (state.started) endSession('Your session has ended. Please sign in again.');
});

// ---------------------------------------------------------------------------
// Start / stop
// ---------------------------------------------------------------------------

function resetState() {
  for (const conv of state.convs.values()) {
    for (const t of conv.typing.values()) clearTimeout(t);
    for (const p of conv.pending.values()) clearTimeout(p.timer);
  }
  state.convs.clear();
  state.rooms = [];
  state.inbox = [];
  state.current = null;
  $('messages-host').replaceChildren();
  $('room-list').replaceChildren();
  $('dm-list').replaceChildren();
  $('presence-list').replaceChildren();
  $('typing-indicator').textContent = '';
  $('toasts').replaceChildren();
  show($('dm-list-error'), false);
  show($('jump-latest'), false);
  document.title = 'tickertalk';
}

function endSession(notice, stopSocket = true) {
  if (stopSocket) socket.stop();
  session.clear();
  state.started = false;
  resetState();
  history.replaceState(null, '', location.pathname);
  showAuth(notice);
}

async function startApp() {
  if (!session.user || !session.user.username) {
    try {
      const user = await session.request('GET', '/v1/auth/me');
      session.user = user;
    } catch (err) {
      showAuth(err.friendly);
      return;
    }
  }
  state.started = true;
  show($('splash'), false);
  show($('auth-screen'), false);
  show($('app-screen'), true);
  $('current-user').textContent = session.username;
  const meAv = $('me-avatar');
  meAv.className = avatar(session.username).className;
  meAv.textContent = avatar(session.username).textContent;
  setTab('rooms');
  renderEmpty();
  socket.start();
  try {
    await loadRooms();
  } catch (err) {
    toast(`Could not load rooms: ${err.friendly || err.message}`);
  }
  loadInbox().catch(() => {});
  let last = null;
  try {
    last = localStorage.getItem(LAST_CONV_KEY);
  } catch {
    /* ignore */
  }
  if (openFromHash(location.hash) || openFromHash(last)) return;
  const general = state.rooms.find((r) => r.name.toLowerCase() === 'general') || state.rooms[0];
  if (general) openConversation(roomConv(general.id, general.name), { focus: !narrow.matches });
}

async function boot() {
  if (!Session.storedRefreshToken()) {
    showAuth();
    return;
  }
  let delay = 1000;
  for (;;) {
    try {
      await session.refresh();
      break;
    } catch (err) {
      if (err.status === 401 || err.status === 400 || err.status === 422) {
        showAuth('Your session has ended. Please sign in again.');
        return;
      }
      $('splash-text').textContent = `Cannot reach the server. Retrying in ${Math.round(delay / 1000)}s…`;
      await sleep(delay);
      delay = Math.min(delay * 2, 15_000);
      $('splash-text').textContent = 'Reconnecting…';
    }
  }
  startApp();
}

boot();
