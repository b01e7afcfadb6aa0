// Stored messages that change after they were shown: edited, deleted (a
// tombstone keeps the id and the place), reacted to, and the replies that quote
// them. Who may do what to a message, what the message menu offers, and how a
// change from the server (a type 12 or 13 frame, an HTTP answer) or from the
// user's own request is applied to a conversation, in place, by id.
//
// Must not touch the DOM, the network or timers: the controller
// (chat-messages.js) asks and acts, so node can unit-test every rule
// (tests/web/changes.test.mjs).

import { sameUser, tsMicros } from './conversation.js';
import { plainText } from './markdown.js';

/** The reactions the picker offers, with the names a screen reader says. */
export const REACTIONS = Object.freeze([
  ['👍', 'thumbs up'], ['❤️', 'heart'], ['😂', 'laughing'], ['🎉', 'party'],
  ['😮', 'surprised'], ['😢', 'sad'], ['🚀', 'rocket'], ['👀', 'eyes'],
]);

/** The server keeps this many characters of the original in a reply's `reply_to`. */
export const SNIPPET_CHARS = 140;

/** A stored message that is not a tombstone. */
function live(msg) {
  return !!msg && msg.id != null && !msg.deleted && !msg.state;
}

/** Only the author edits, and never a bot answer (its text comes with a quote). */
export function canEdit(msg, me) {
  return live(msg) && !msg.bot && sameUser(msg.author, me);
}

/** The author deletes; so does the room's creator (`creator`: the room's `created_by`). */
export function canDelete(msg, me, creator = null) {
  if (!live(msg)) return false;
  return (!msg.bot && sameUser(msg.author, me)) || (!!creator && sameUser(creator, me));
}

/** What the message menu offers for `msg` of `conv`, in the menu's order. */
export function messageActions(conv, msg, me, creator = null) {
  if (!live(msg)) return [];
  const actions = [];
  // Replies are room messages only: a direct message has no reply_to.
  if (conv.kind === 'room') actions.push('reply');
  actions.push('react');
  if (canEdit(msg, me)) actions.push('edit');
  if (canDelete(msg, me, conv.kind === 'room' ? creator : null)) actions.push('delete');
  return actions;
}

/** The user's newest message they may still edit in `conv` (ArrowUp in an empty box), or null. */
export function lastEditable(conv, me) {
  for (let i = conv.messages.length - 1; i >= 0; i -= 1) {
    if (canEdit(conv.messages[i], me)) return conv.messages[i];
  }
  return null;
}

/** The start of a message's text as a reply quotes it: as the server keeps it (characters, as typed). */
export function snippetOf(msg) {
  return [...(msg.text || '')].slice(0, SNIPPET_CHARS).join('');
}

/** A reply's quote as the page shows it: the snippet's words without markdown's marks. */
export function quoteText(ref) {
  if (!ref || ref.deleted) return 'message deleted';
  return plainText(ref.snippet || '');
}

/** A reply's `reply_to` before the server has stored it (the optimistic bubble shows it). */
export function replyRef(msg) {
  return { id: msg.id, chatuser: msg.author, snippet: snippetOf(msg), deleted: !!msg.deleted };
}

/**
 * Reactions from the server with the reader's own `me` kept. History and the
 * `since` replay say `me`; live frames go to everyone and say instead who
 * toggled which emoji (`reaction`): the reader's `me` changes only when that
 * was the reader, and stays what it was otherwise.
 */
export function mergeReactions(previous, incoming, reaction, me) {
  const before = new Map((previous || []).map((r) => [r.emoji, r.me === true]));
  const mine = reaction && sameUser(reaction.chatuser, me) ? reaction : null;
  return (Array.isArray(incoming) ? incoming : [])
    .filter((r) => r && typeof r.emoji === 'string' && Number.isSafeInteger(r.count) && r.count > 0)
    .map((r) => {
      let on = typeof r.me === 'boolean' ? r.me : before.get(r.emoji) === true;
      if (mine && mine.emoji === r.emoji) on = mine.on === true;
      return { emoji: r.emoji, count: r.count, me: on };
    });
}

/** The fields a change may bring; who wrote it, when and with which client_id never change. */
const CONTENT = ['text', 'edited_at', 'deleted', 'reply_to', 'quote', 'asked_by', 'command'];

function takeContent(held, incoming) {
  for (const key of CONTENT) {
    if (incoming[key] === undefined) delete held[key];
    else held[key] = incoming[key];
  }
}

/** Whether `id` falls among the messages `conv` holds, so a missing one there can be put in. */
function withinLoaded(conv, id) {
  return conv.loaded && conv.oldestId != null && id >= conv.oldestId && id <= conv.maxId;
}

/**
 * A message as it is now (a type 12 or 13 frame, parsed), applied to `conv` by
 * id: the held message is updated in place (the view keeps its node by the
 * object), so applying the same state twice shows the same thing. A message
 * not held is put in when it falls within the loaded range (it was missed), and
 * ignored otherwise (an older page brings it as it is when it is loaded).
 * Returns {updated: msg} or {inserted: {msg, next}}, or null.
 */
export function applyChange(conv, incoming, me) {
  if (!incoming || incoming.id == null) return null;
  const held = conv.byId.get(incoming.id);
  if (!held) {
    if (!withinLoaded(conv, incoming.id)) return null;
    const msg = { ...incoming, reactions: mergeReactions([], incoming.reactions, incoming.reaction, me) };
    delete msg.reaction;
    delete msg.change;
    const at = conv.insert(msg);
    return at ? { inserted: at } : null;
  }
  takeContent(held, incoming);
  held.reactions = mergeReactions(held.reactions, incoming.reactions, incoming.reaction, me);
  return { updated: held };
}

/**
 * The answer to the user's own edit (HTTP): its text, unless a change the
 * socket brought meanwhile is newer. Reactions are left to the socket, which
 * may already have newer ones. Returns the message, or null when not held.
 */
export function applyOwnEdit(conv, answer) {
  const held = answer && conv.byId.get(answer.id);
  if (!held || held.deleted) return null;
  if (held.edited_at && answer.edited_at && tsMicros(held.edited_at) > tsMicros(answer.edited_at)) return held;
  held.text = answer.text;
  held.edited_at = answer.edited_at;
  return held;
}

/** The user's own deletion, answered 204: the tombstone, before (or whether or not) the socket says so. */
export function applyOwnDelete(conv, id) {
  const held = conv.byId.get(id);
  if (!held) return null;
  held.deleted = true;
  held.text = '';
  held.reactions = [];
  for (const key of ['quote', 'edited_at']) delete held[key];
  return held;
}

/**
 * The user's own reaction, answered 204: counted and marked as theirs at
 * once. Applying it after the socket's frame (which already counts it)
 * changes nothing, since `me` already says so; the socket's frame after it
 * sets the server's counts.
 */
export function applyOwnReaction(msg, emoji, on) {
  const list = msg.reactions ? [...msg.reactions] : [];
  const i = list.findIndex((r) => r.emoji === emoji);
  const r = i >= 0 ? list[i] : null;
  if (on && !(r && r.me)) {
    if (r) list[i] = { ...r, count: r.count + 1, me: true };
    else list.push({ emoji, count: 1, me: true });
  } else if (!on && r && r.me) {
    if (r.count > 1) list[i] = { ...r, count: r.count - 1, me: false };
    else list.splice(i, 1);
  } else return false;
  msg.reactions = list;
  return true;
}

/**
 * Replies held in `conv` that quote `msg`: their quote follows its text now
 * (edited, or "message deleted"). Returns the replies whose quote changed.
 */
export function refreshReplies(conv, msg) {
  const changed = [];
  const snippet = msg.deleted ? '' : snippetOf(msg);
  for (const m of conv.messages) {
    const ref = m.reply_to;
    if (!ref || ref.id !== msg.id) continue;
    if (ref.snippet === snippet && !!ref.deleted === !!msg.deleted) continue;
    m.reply_to = { ...ref, snippet, deleted: !!msg.deleted };
    changed.push(m);
  }
  return changed;
}
