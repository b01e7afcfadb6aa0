// Which messages of a conversation are new to the user: where the "New
// messages" divider goes when they open it, and how many of a room's unread
// messages mention them (the sidebar's mention badge).
//
// Must not touch the DOM: the controllers ask, the views draw, and node
// unit-tests the rules (tests/web/unread.test.mjs). The counts themselves are
// the model's (model.js: the server's read markers, plus what arrived here).

import { sameUser } from './model.js';
import { mentionsUser } from './markdown.js';

/**
 * Which messages of `conv` are unread right now, or null when none are:
 * {afterId} when the server's read marker names the last message read (a
 * room or a conversation read before: the room list's or the inbox's
 * `last_read_id`), else {count}: the newest `count` messages of others (a
 * conversation or a room never read).
 * Ask before the model opens the conversation: an open one counts as read.
 */
export function unreadRule(model, conv) {
  const unread = conv.kind === 'room' ? model.roomUnread(conv.ref) : model.dmUnread(conv.ref);
  if (!unread) return null;
  const entry = conv.kind === 'room'
    ? model.rooms.find((r) => r.id === conv.ref)
    : model.inbox.find((e) => sameUser(e.username, conv.ref));
  return entry && typeof entry.last_read_id === 'number' ? { afterId: entry.last_read_id } : { count: unread };
}

/** The unread messages of `conv` by `rule`, oldest first. The user's own never count. */
export function unreadMessages(conv, rule, me) {
  if (!rule) return [];
  const others = conv.messages.filter((m) => m.bot || !sameUser(m.author, me));
  if (rule.afterId !== undefined) return others.filter((m) => m.id != null && m.id > rule.afterId);
  return rule.count > 0 ? others.slice(-rule.count) : [];
}

/**
 * The message the "New messages" divider goes above, or null. With more
 * unread than are loaded, the oldest loaded one: paging further back may move
 * it up (ask again after each page).
 */
export function firstUnread(conv, rule, me) {
  return unreadMessages(conv, rule, me)[0] || null;
}

/**
 * The rule to keep for the rest of a visit once its divider was placed: a
 * count is only right until the next message arrives, so a count that found
 * its message becomes "after the message before it".
 */
export function settledRule(rule, first, conv, me) {
  if (!rule || rule.afterId !== undefined || !first || first.id == null) return rule;
  const all = unreadMessages(conv, { count: Number.MAX_SAFE_INTEGER }, me);
  return all.length > rule.count ? { afterId: first.id - 1 } : rule;
}

// Parsing a message for mentions is the costly part of counting: kept per
// message until its text changes (an edit, a deletion).
const mentionsMe = new WeakMap();

function mentions(msg, me) {
  let known = mentionsMe.get(msg);
  if (!known || known.me !== me || known.text !== msg.text) {
    known = { me, text: msg.text, yes: !msg.bot && !msg.deleted && mentionsUser(msg.text, me) };
    mentionsMe.set(msg, known);
  }
  return known.yes;
}

/** How many of a room's unread messages (the ones this page holds) mention the user. */
export function unreadMentions(model, conv) {
  if (!conv || conv.kind !== 'room') return 0;
  return unreadMessages(conv, unreadRule(model, conv), model.me).filter((m) => mentions(m, model.me)).length;
}

/**
 * A room's unread mentions for its sidebar badge, the most of three counts:
 * the server's (the room list's `unread_mentions`: it survives a reload and
 * covers rooms the socket is not in), the messages this page holds, and the
 * Mentions list's (`mentions`, [{conv, msg}]: the server's newest mentions)
 * after where the user read, which also covers a room the server has no read
 * marker of (read while it had no message; `seenSeq`, `resumeId`).
 */
export function roomMentions(model, id, mentions = []) {
  const entry = model.rooms.find((r) => r.id === id);
  const conv = model.find('room', id);
  const server = entry && typeof entry.unread_mentions === 'number' ? entry.unread_mentions : 0;
  let after = entry && typeof entry.last_read_id === 'number' ? entry.last_read_id : null;
  if (after === null && conv && typeof conv.seenSeq === 'number') after = conv.resumeId;
  const listed = typeof after === 'number'
    ? mentions.filter((m) => m.conv.kind === 'room' && m.conv.ref === id && !m.msg.deleted && m.msg.id > after).length
    : 0;
  return Math.max(server, listed, unreadMentions(model, conv));
}

/** roomMentions for a sidebar entry's key (model.js conversationKey). */
export function unreadMentionsForKey(model, key, mentions = []) {
  const at = key.indexOf(':');
  if (key.slice(0, at) !== 'room') return 0;
  return roomMentions(model, Number(key.slice(at + 1)), mentions);
}
