// Finding a conversation: the URL fragment that reopens one after a reload,
// the username typed in "Message a user", the room opened when nothing else
// is asked for, and a sidebar entry's key back to its unread count.
//
// Must not touch the DOM, location or storage: the controllers read those and
// hand the values over, so node can unit-test the rules
// (tests/web/navigation.test.mjs).

import { sameUser } from './model.js';

/** localStorage key of the last conversation opened (its fragment). */
export const LAST_CONV_KEY = 'tickertalk.last_conversation';
/** What the server accepts as a username. */
export const USERNAME = /^[A-Za-z][A-Za-z0-9_]{2,31}$/;

/** The URL fragment that reopens a conversation after a reload. */
export function conversationHash(conv) {
  return conv.kind === 'room' ? `#room/${conv.ref}` : `#dm/${encodeURIComponent(conv.ref)}`;
}

/**
 * The conversation a fragment names: {kind: 'room', id} or {kind: 'dm', name},
 * or null when it names none: an impossible username, or a badly encoded one
 * (a hand-edited or truncated link opens the default conversation instead of
 * breaking the page).
 */
export function parseConversationHash(hash) {
  let m = /^#room\/(\d+)$/.exec(hash || '');
  if (m) return { kind: 'room', id: Number(m[1]) };
  m = /^#dm\/(.+)$/.exec(hash || '');
  if (m) {
    let name;
    try {
      name = decodeURIComponent(m[1]);
    } catch {
      return null;
    }
    if (USERNAME.test(name)) return { kind: 'dm', name };
  }
  return null;
}

/** What is typed in "Message a user", without a leading @. */
export function typedUsername(value) {
  return value.trim().replace(/^@/, '');
}

/** Why a direct conversation with `name` cannot be opened, or '' when it can be tried. */
export function dmTargetProblem(name, me) {
  if (!USERNAME.test(name)) return 'Enter a valid username.';
  if (sameUser(name, me)) return 'That is you.';
  return '';
}

/** The room opened after sign-in when no fragment says otherwise: General, else the first. */
export function defaultRoom(rooms) {
  return rooms.find((r) => r.name.toLowerCase() === 'general') || rooms[0];
}

/** A sidebar entry's unread count, from its key (model.js conversationKey: `room:<id>`, `dm:<name>`). */
export function unreadForKey(model, key) {
  const at = key.indexOf(':');
  const [kind, ref] = [key.slice(0, at), key.slice(at + 1)];
  return kind === 'room' ? model.roomUnread(Number(ref)) : model.dmUnread(ref);
}
