// Conversation model: the message lists of rooms and direct threads and the
// rules that keep them right (order, de-duplication, optimistic messages,
// unread counts, history paging), plus the room list and inbox they hang off.
//
// Must not touch the DOM, the network, storage or timers, and must not run
// anything at import time: it is plain data so that every rule lives in one
// place and node can unit-test it (tests/web/model.test.mjs). The controllers
// (chat.js, chat-*.js) feed it parsed messages and turn what it returns into DOM.
//
// A message here is {id, author, text, created_at, bot, client_id}, plus on
// optimistic (pending) ones {state: 'pending'|'failed', reason, dropped, command}.

export const BOT_NAME = 'stockbot';

export function sameUser(a, b) {
  return String(a || '').toLowerCase() === String(b || '').toLowerCase();
}

/**
 * Timestamp in microseconds since the epoch, for ordering. The server sends
 * RFC 3339 with a variable number of fraction digits, so plain string
 * comparison is not safe, and Date keeps only milliseconds. A missing or
 * unreadable time sorts last (it is newer than anything we know of).
 */
export function tsMicros(iso) {
  if (!iso) return Number.MAX_SAFE_INTEGER;
  const m = /^(.*?T\d{2}:\d{2}:\d{2})(?:\.(\d+))?(Z|[+-]\d{2}:?\d{2})?$/.exec(iso);
  if (!m) {
    const t = Date.parse(iso);
    return Number.isNaN(t) ? Number.MAX_SAFE_INTEGER : t * 1000;
  }
  const base = Date.parse(m[1] + (m[3] || 'Z'));
  if (Number.isNaN(base)) return Number.MAX_SAFE_INTEGER;
  const frac = (m[2] || '').padEnd(6, '0').slice(0, 6);
  return base * 1000 + Number(frac);
}

/**
 * The server's order: created_at, then id. Messages without an id (the bot's
 * replies) go after stored ones with the same time.
 */
export function compareMessages(a, b) {
  const ta = tsMicros(a.created_at);
  const tb = tsMicros(b.created_at);
  if (ta !== tb) return ta < tb ? -1 : 1;
  const ia = a.id == null ? Number.MAX_SAFE_INTEGER : a.id;
  const ib = b.id == null ? Number.MAX_SAFE_INTEGER : b.id;
  return ia === ib ? 0 : ia < ib ? -1 : 1;
}

/**
 * The highest stored id in a list of messages, or null when none has one
 * (optimistic copies and the bot's replies carry no id).
 */
export function highestId(messages) {
  let max = null;
  for (const m of messages || []) {
    const id = m && m.id;
    if (Number.isSafeInteger(id) && id >= 0 && (max === null || id > max)) max = id;
  }
  return max;
}

export function conversationKey(kind, ref) {
  return kind === 'room' ? `room:${ref}` : `dm:${String(ref).toLowerCase()}`;
}

/** An optimistic copy of a message we are sending, shown until the server echoes it. */
export function pendingMessage({ clientId, author, text }) {
  return {
    id: null,
    client_id: clientId,
    author,
    text,
    created_at: null,
    bot: false,
    state: 'pending',
    reason: null,
    dropped: false,
    command: text.startsWith('/'),
  };
}

/**
 * One room or direct thread. Insertions report where the message went
 * ({msg, next}: it belongs just before `next`, or last when next is null) so
 * that a view can mirror the list without re-sorting it.
 */
export class Conversation {
  constructor(kind, ref, name) {
    this.kind = kind; // 'room' | 'dm'
    this.ref = ref; // room id (number) | the other user's name
    this.name = name;
    this.key = conversationKey(kind, ref);
    /** Stored (and bot) messages, always in compareMessages order. */
    this.messages = [];
    this.byId = new Map();
    /** Our own stored messages by client_id, so a late optimistic copy is not shown twice. */
    this.byClientId = new Map();
    /** Optimistic messages by client_id, in the order they were sent. */
    this.pending = new Map();
    /** Highest stored id: the `since` of a rejoin, so a reconnect replays only what we missed. */
    this.maxId = 0;
    /** Lowest stored id: the `before` cursor of the next older page. */
    this.oldestId = null;
    /** False once the server has shown us the first message. */
    this.hasMore = true;
    /** True once the latest page has been fetched; until then live messages are all we have. */
    this.loaded = false;
    this.unread = 0;
    this.presence = new Set();
  }

  /** True when the message is already in the list (same id; same time and text for id-less bot replies). */
  has(msg) {
    if (msg.id != null) return this.byId.has(msg.id);
    return this.messages.some((m) => m.id == null && m.created_at === msg.created_at && m.text === msg.text);
  }

  /** Insert a stored or bot message. Returns {msg, next}, or null for a duplicate. */
  insert(msg) {
    if (this.has(msg)) return null;
    // Messages mostly arrive in order, so scan from the end.
    let i = this.messages.length;
    while (i > 0 && compareMessages(msg, this.messages[i - 1]) < 0) i -= 1;
    const next = this.messages[i] || null;
    this.messages.splice(i, 0, msg);
    if (msg.id != null) {
      this.byId.set(msg.id, msg);
      if (msg.id > this.maxId) this.maxId = msg.id;
      if (this.oldestId == null || msg.id < this.oldestId) this.oldestId = msg.id;
    }
    if (msg.client_id) this.byClientId.set(msg.client_id, msg);
    return { msg, next };
  }

  /**
   * A message from the server (live, replayed or fetched). Our own echo
   * replaces its optimistic copy even when the echo itself is a duplicate.
   * Returns {added: {msg, next} | null, replaced: pending message | null}.
   */
  receive(msg, me) {
    let replaced = null;
    if (msg.client_id && this.pending.has(msg.client_id)) {
      replaced = this.dropPending(msg.client_id);
    } else if (!msg.bot && sameUser(msg.author, me)) {
      // Replayed after a reconnect, without client_id: if it matches a bubble
      // that failed because the socket dropped, the server stored it after all.
      for (const p of this.pending.values()) {
        if (p.state === 'failed' && p.dropped && p.text.trim() === msg.text.trim()) {
          replaced = this.dropPending(p.client_id);
          break;
        }
      }
    }
    return { added: this.insert(msg), replaced };
  }

  /** Show an optimistic message. False when its echo has already arrived. */
  addPending(msg) {
    if (this.byClientId.has(msg.client_id) || this.pending.has(msg.client_id)) return false;
    this.pending.set(msg.client_id, msg);
    return true;
  }

  dropPending(clientId) {
    const msg = this.pending.get(clientId);
    if (!msg) return null;
    this.pending.delete(clientId);
    return msg;
  }

  /** `dropped`: failed because the connection went, so the server may have stored it anyway. */
  failPending(msg, reason, dropped = false) {
    msg.state = 'failed';
    msg.reason = reason;
    msg.dropped = dropped;
    return msg;
  }

  /** Waiting for a connection: sent by itself when one opens (the outbox keeps it meanwhile). */
  queuePending(msg) {
    msg.state = 'queued';
    msg.reason = null;
    msg.dropped = false;
    return msg;
  }

  retryPending(msg) {
    msg.state = 'pending';
    msg.reason = null;
    msg.dropped = false;
    return msg;
  }

  /** Merge fetched messages (any order, overlaps allowed). Returns the insertions, in order. */
  merge(items) {
    const inserted = [];
    for (const m of items) {
      const at = this.insert(m);
      if (at) inserted.push(at);
    }
    return inserted;
  }

  /** The first fetch: the latest page. A short page means the whole history is here. */
  addLatestPage(items, pageSize) {
    const inserted = this.merge(items);
    this.hasMore = items.length >= pageSize;
    this.loaded = true;
    return inserted;
  }

  /** Whether scrolling up should fetch another page, and from where. */
  get canLoadOlder() {
    return this.loaded && this.hasMore && this.oldestId != null;
  }

  /**
   * A page fetched with before=oldestId. A short page is the end; so is a full
   * one that brought nothing older, or we would ask for the same page forever.
   */
  addOlderPage(items, pageSize) {
    const cursor = this.oldestId;
    const inserted = this.merge(items);
    this.hasMore = items.length >= pageSize && this.oldestId !== cursor;
    return inserted;
  }

  /** Room presence frames: a full list on join, then single joins and leaves. */
  applyPresence({ users, joined, left }) {
    if (Array.isArray(users)) this.presence = new Set(users);
    if (joined) this.presence.add(joined);
    if (left) this.presence.delete(left);
  }
}

/**
 * Everything one signed-in user has open: conversations by key, which one is
 * on screen, the room list and the inbox. A new one is made per sign-in, so
 * signing out forgets everything by dropping it.
 */
export class ChatModel {
  constructor(me = '') {
    this.me = me;
    this.conversations = new Map();
    /** The conversation on screen; its messages are read as they arrive. */
    this.active = null;
    /** False while the page is hidden: then even the active conversation counts unread. */
    this.attentive = true;
    this.rooms = []; // [{id, name, created_at}], sorted by name
    this.inbox = []; // [{username, latest_message, created_at}], newest first
    /**
     * The `dm_since` of the next socket: every direct message to or from us
     * up to this id is held (or was never needed), so a reconnect asks the
     * server only for later ones. Null until one is known.
     */
    this.dmSince = null;
  }

  /**
   * Direct messages now held: the socket's (live or replayed) and pages of
   * threads fetched while the socket was up. The cursor only moves forward.
   * Returns whether it moved.
   */
  noteDirect(messages) {
    const id = highestId(messages);
    if (id === null || (this.dmSince !== null && id <= this.dmSince)) return false;
    this.dmSince = id;
    return true;
  }

  room(id, name) {
    const key = conversationKey('room', id);
    let conv = this.conversations.get(key);
    if (!conv) {
      const room = this.rooms.find((r) => r.id === id);
      conv = new Conversation('room', id, name || (room ? room.name : `Room ${id}`));
      this.conversations.set(key, conv);
    }
    return conv;
  }

  dm(username) {
    const key = conversationKey('dm', username);
    let conv = this.conversations.get(key);
    if (!conv) {
      conv = new Conversation('dm', username, username);
      this.conversations.set(key, conv);
    }
    return conv;
  }

  /** An existing conversation only (frames for rooms we never opened are ignored). */
  find(kind, ref) {
    return this.conversations.get(conversationKey(kind, ref)) || null;
  }

  forget(conv) {
    this.conversations.delete(conv.key);
    if (this.active === conv) this.active = null;
  }

  open(conv) {
    this.active = conv;
    conv.unread = 0;
  }

  setAttentive(attentive) {
    this.attentive = attentive;
    if (attentive && this.active) this.active.unread = 0;
  }

  /**
   * Deliver a server message to a conversation. Unread counts others'
   * messages that arrive where the user is not looking.
   * Returns {added, replaced, own, counted}.
   */
  receive(conv, msg) {
    const { added, replaced } = conv.receive(msg, this.me);
    const own = !msg.bot && sameUser(msg.author, this.me);
    const watching = conv === this.active && this.attentive;
    // A direct message the inbox's count already covers (replayed after a reconnect).
    const entry = conv.kind === 'dm' ? this.inbox.find((e) => sameUser(e.username, conv.ref)) : null;
    const covered = !!entry && typeof entry.latest_id === 'number' && msg.id != null && msg.id <= entry.latest_id;
    const counted = !!added && !own && !watching && !covered;
    if (counted) conv.unread += 1;
    return { added, replaced, own, counted };
  }

  /** The optimistic message with this client_id, in whichever conversation. */
  findPending(clientId) {
    if (!clientId) return null;
    for (const conv of this.conversations.values()) {
      const msg = conv.pending.get(clientId);
      if (msg) return { conv, msg };
    }
    return null;
  }

  /**
   * A room's unread count. The server keeps read markers: once the user has
   * read a room anywhere, the count is its latest message number minus the
   * marker's (kept live by room activity frames). A room never read counts
   * only what arrived here.
   */
  roomUnread(id) {
    const conv0 = this.find('room', id);
    if (conv0 && conv0 === this.active && this.attentive) return 0; // being read right now
    const entry = this.rooms.find((r) => r.id === id);
    if (entry && typeof entry.read_seq === 'number' && typeof entry.last_seq === 'number') {
      return Math.max(0, entry.last_seq - entry.read_seq);
    }
    const conv = this.find('room', id);
    return conv ? conv.unread : 0;
  }

  /** A conversation's unread count: the server's (from the inbox and markers) plus what arrived since. */
  dmUnread(username) {
    const entry = this.inbox.find((e) => sameUser(e.username, username));
    const conv = this.find('dm', username);
    if (conv && conv === this.active && this.attentive) return 0; // being read right now
    const here = conv ? conv.unread : 0;
    return (entry && typeof entry.unread === 'number' ? entry.unread : 0) + here;
  }

  /** Room activity (a type 10 frame): the rooms' latest message numbers. */
  noteActivity(rooms) {
    let changed = false;
    for (const { id, last_seq: seq } of Array.isArray(rooms) ? rooms : []) {
      const entry = this.rooms.find((r) => r.id === id);
      if (entry && typeof seq === 'number' && !(seq <= entry.last_seq)) {
        entry.last_seq = seq;
        changed = true;
      }
    }
    return changed;
  }

  /**
   * A read marker moved (our PUT's answer, or a type 11 frame from another
   * tab or device). Counts from here on come from the server's marker.
   */
  applyMarker(marker) {
    if (!marker) return;
    if (typeof marker.room_id === 'number' || typeof marker.chatroomId === 'number') {
      const id = marker.room_id ?? marker.chatroomId;
      const entry = this.rooms.find((r) => r.id === id);
      if (entry && typeof marker.read_seq === 'number' && !(marker.read_seq < (entry.read_seq ?? 0))) {
        entry.read_seq = marker.read_seq;
        entry.last_read_id = marker.last_read_id;
        if (typeof marker.last_seq === 'number' && !(marker.last_seq < entry.last_seq)) entry.last_seq = marker.last_seq;
      }
      const conv = this.find('room', id);
      if (conv) conv.unread = 0;
    } else if (typeof marker.username === 'string') {
      const entry = this.inbox.find((e) => sameUser(e.username, marker.username));
      if (entry && typeof marker.unread === 'number') entry.unread = marker.unread;
      const conv = this.find('dm', marker.username);
      if (conv) conv.unread = 0;
    }
  }

  unreadTotals() {
    let rooms = 0;
    const ids = new Set(this.rooms.map((r) => r.id));
    for (const conv of this.conversations.values()) if (conv.kind === 'room') ids.add(conv.ref);
    for (const id of ids) rooms += this.roomUnread(id);
    let dms = 0;
    for (const e of this.inboxEntries()) dms += this.dmUnread(e.username);
    return { rooms, dms };
  }

  hasRoom(id) {
    return this.rooms.some((r) => r.id === id);
  }

  setRooms(rooms) {
    this.rooms = Array.isArray(rooms) ? rooms : [];
    for (const r of this.rooms) {
      const conv = this.find('room', r.id);
      if (conv) conv.name = r.name;
    }
  }

  addRoom(room) {
    if (!this.hasRoom(room.id)) this.rooms.push(room);
    this.rooms.sort((a, b) => a.name.localeCompare(b.name, undefined, { sensitivity: 'base' }));
  }

  /** A fresh inbox from the server: its unread counts cover everything up to each `latest_id`. */
  setInbox(inbox) {
    this.inbox = Array.isArray(inbox) ? inbox : [];
    for (const e of this.inbox) {
      const conv = typeof e.latest_id === 'number' ? this.find('dm', e.username) : null;
      if (conv && conv !== this.active) conv.unread = 0;
    }
  }

  /**
   * A direct message moved its conversation to the top of the inbox. One
   * older than the entry's latest (a replayed message arriving after a fresh
   * inbox) changes nothing.
   */
  bumpInbox(username, text, createdAt) {
    const i = this.inbox.findIndex((e) => sameUser(e.username, username));
    if (i >= 0 && this.inbox[i].created_at && createdAt
      && tsMicros(createdAt) < tsMicros(this.inbox[i].created_at)) return;
    const entry = i >= 0 ? this.inbox.splice(i, 1)[0] : { username };
    entry.latest_message = text;
    entry.created_at = createdAt;
    this.inbox.unshift(entry);
  }

  /** The inbox plus threads opened here that have no message yet, one entry per user. */
  inboxEntries() {
    const entries = [...this.inbox];
    for (const conv of this.conversations.values()) {
      if (conv.kind === 'dm' && !entries.some((e) => sameUser(e.username, conv.ref))) {
        entries.push({ username: conv.ref, latest_message: '', created_at: null });
      }
    }
    const seen = new Set();
    return entries.filter((e) => {
      const key = String(e.username).toLowerCase();
      if (seen.has(key)) return false;
      seen.add(key);
      return true;
    });
  }
}
