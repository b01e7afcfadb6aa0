// The signed-in user's conversations: the set of them, which one is on
// screen, the room list and the inbox they hang off, unread counts (the
// server's read markers plus what arrived here) and the direct-message cursor
// of the next socket. One conversation's own rules are conversation.js's.
//
// Must not touch the DOM, the network, storage or timers, and must not run
// anything at import time: it is plain data so that every rule lives in one
// place and node can unit-test it (tests/web/model.test.mjs). The controllers
// (chat.js, chat-*.js) feed it parsed messages and turn what it returns into DOM.

import { Conversation, conversationKey, highestId, sameUser, tsMicros } from './conversation.js';

export {
  BOT_NAME, Conversation, compareMessages, conversationKey, highestId, pendingMessage, sameUser, tsMicros,
} from './conversation.js';

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
    this.rooms = []; // [{id, name, created_at, topic, created_by, last_seq, read_seq, ...}], sorted by name
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
    const conv = this.find('room', id);
    if (conv && conv === this.active && this.attentive) return 0; // being read right now
    const entry = this.rooms.find((r) => r.id === id);
    // No marker on the server (the room had no message to mark when it was read): where it was left.
    const read = entry && typeof entry.read_seq === 'number' ? entry.read_seq : conv && conv.seenSeq;
    if (entry && typeof read === 'number' && typeof entry.last_seq === 'number') {
      return Math.max(0, entry.last_seq - read);
    }
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
        // Read to the end: none of its mentions is unread any more (the server counts the rest).
        if (entry.read_seq >= entry.last_seq) entry.unread_mentions = 0;
      }
      const conv = this.find('room', id);
      if (conv) conv.unread = 0;
    } else if (typeof marker.username === 'string') {
      const entry = this.inbox.find((e) => sameUser(e.username, marker.username));
      if (entry && typeof marker.unread === 'number') entry.unread = marker.unread;
      if (entry && typeof marker.last_read_id === 'number' && !(marker.last_read_id < (entry.last_read_id ?? 0))) {
        entry.last_read_id = marker.last_read_id;
      }
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
    this.sortRooms();
  }

  /** A room renamed or given a topic (or read again): its entry follows, and the list's order. */
  updateRoom(room) {
    const entry = this.rooms.find((r) => r.id === room.id);
    if (!entry) return false;
    entry.name = room.name;
    if (typeof room.topic === 'string') entry.topic = room.topic;
    if (room.created_by !== undefined) entry.created_by = room.created_by;
    this.sortRooms();
    return true;
  }

  /** A room the user left: out of the list, so out of the unread counts. */
  removeRoom(id) {
    this.rooms = this.rooms.filter((r) => r.id !== id);
  }

  sortRooms() {
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
