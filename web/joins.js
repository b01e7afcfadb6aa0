// Which rooms this page's socket is in, so that a room's "here" lists exactly
// the people looking at it: the room on screen is joined and the one left
// behind is left (a type 3 frame), and coming back joins again with `since`,
// replaying what was missed meanwhile (new messages, and changes to older
// ones). Unread counts of rooms not joined still arrive (type 10 activity).
//
// Must not touch the DOM, the socket or timers: the rooms controller
// (chat-rooms.js) asks and sends, so node can unit-test the rules
// (tests/web/joins.test.mjs).

/**
 * A room left behind this far (in messages, by the room's `last_seq`) is read
 * afresh on coming back instead of replayed: a replay holds at most 500 items
 * (messages and changes), and one cut short would leave a hole in the list.
 */
export const REPLAY_MESSAGES = 400;

/**
 * The room the socket stays in: the one on screen; while a direct
 * conversation is on screen, the last room shown. The server counts someone
 * online while they have a socket in a room (the inbox's `online`), so a user
 * reading their direct messages stays online, listed where they last were.
 */
export function keptRoom(current, kept) {
  return current && current.kind === 'room' ? current : kept || null;
}

/**
 * The rooms to leave now: joined, not the kept one, and with no post on its
 * way over the socket (its echo comes only to sockets in the room, so the
 * leave waits for it). `rooms`: [{conv, joined, inFlight}].
 */
export function roomsToLeave(rooms, kept) {
  return rooms.filter((r) => r.joined && r.conv !== kept && r.inFlight === 0).map((r) => r.conv);
}

/**
 * How to come back to a room left when its `last_seq` was `leftAtSeq`, now
 * that it is `lastSeq`: 'since' (join replaying what was missed) or 'reload'
 * (forget what is held and read the latest page: too much was missed).
 */
export function rejoinPlan(leftAtSeq, lastSeq) {
  if (typeof leftAtSeq !== 'number' || typeof lastSeq !== 'number') return 'since';
  return lastSeq - leftAtSeq > REPLAY_MESSAGES ? 'reload' : 'since';
}

/**
 * Where a post goes: over the socket to the room on screen (or any joined
 * room, and always for a direct message), over HTTP to a room the socket is
 * not in, since posting on the socket would put the user in that room's
 * "here". Both store once per client_id.
 */
export function postRoute(conv, joined, current) {
  if (conv.kind !== 'room' || joined || conv === current) return 'socket';
  return 'http';
}
