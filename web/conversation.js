// One conversation's messages and the rules that keep them right: order,
// de-duplication, optimistic messages, history paging, and a stored message
// changed in place (an edit, a deletion, reactions). Also the few helpers every
// module shares about messages (who wrote it, when, in which order).
//
// Must not touch the DOM, the network, storage or timers, and must not run
// anything at import time: plain data, unit-tested under node
// (tests/web/model.test.mjs, tests/web/changes.test.mjs). model.js holds the
// session's set of conversations and re-exports everything here.
//
// A message here is {id, author, text, created_at, bot, client_id}, plus, when
// the server says so, {edited_at, deleted, reply_to, reactions}; optimistic
// (pending) ones have {state: 'pending'|'failed'|'queued', reason, dropped, command}.

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

/**
 * An optimistic copy of a message we are sending, shown until the server
 * echoes it. `replyTo`: the reply_to ({id, chatuser, snippet}) of a reply.
 */
export function pendingMessage({ clientId, author, text, replyTo = null }) {
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
    ...(replyTo ? { reply_to: replyTo } : {}),
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
    /**
     * Where the socket left the room (the highest id then), while it is not
     * in it: messages put in since (the user's own posts, sent over HTTP) may
     * skip others, so a join asks for everything after this instead.
     */
    this.resumeId = null;
    /**
     * The room's `last_seq` when the socket left it while the server had no
     * read marker for the user there (it had no message to mark): unread
     * counts from there on. Null otherwise.
     */
    this.seenSeq = null;
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

  /** The `since` of the next join: everything up to it is held. */
  get since() {
    return this.resumeId ?? this.maxId;
  }

  /** The socket left the room (or dropped): later joins replay from here. */
  markLeft() {
    if (this.resumeId === null) this.resumeId = this.maxId;
  }

  /** Joined with `since`: the replay and the live messages after it follow without a gap. */
  markJoined() {
    this.resumeId = null;
    /**
     * The room's `last_seq` when the socket left it while the server had no
     * read marker for the user there (it had no message to mark): unread
     * counts from there on. Null otherwise.
     */
    this.seenSeq = null;
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
