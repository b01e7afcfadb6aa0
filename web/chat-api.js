// The chat's HTTP calls as the controllers make them: their paths, the room
// list's paging, and their answers read for the page (user suggestions, the
// words for a refused room name).
//
// Must not touch the DOM or hold a session: a request goes through the
// function it is given (the Session's `request`), so node can unit-test all
// of it (tests/web/chat-api.test.mjs). api.js does the HTTP plumbing itself.

import { sameUser } from './model.js';
import { describeFieldError } from './util.js';

/** Messages per page of history, first page and older ones alike. */
export const PAGE_SIZE = 50;
/** Rooms per page of the room list, and the most pages read (`fetchRooms`). */
export const ROOM_PAGE = 200;
export const ROOM_PAGES_MAX = 50;
/** The shortest prefix `GET /v1/users` answers. */
export const USER_PREFIX_MIN = 3;
/** Names asked for per suggestion list. */
export const SUGGESTIONS_MAX = 8;

export const ROOMS_PATH = '/v1/chat/rooms';
export const INBOX_PATH = '/v1/chat/inbox';

/** A conversation's history: a room's messages or a direct thread. */
export function historyPath(conv) {
  return conv.kind === 'room'
    ? `/v1/chat/rooms/${encodeURIComponent(conv.ref)}/messages`
    : `/v1/chat/threads/${encodeURIComponent(conv.ref)}`;
}

/** One stored message: PATCH edits it, DELETE leaves its tombstone. */
export function messagePath(conv, id) {
  return conv.kind === 'room'
    ? `/v1/chat/rooms/${encodeURIComponent(conv.ref)}/messages/${id}`
    : `/v1/chat/threads/${encodeURIComponent(conv.ref)}/messages/${id}`;
}

/** One emoji of a message's reactions (PUT adds the user's, DELETE takes it back). */
export function reactionPath(conv, id, emoji) {
  return `${messagePath(conv, id)}/reactions/${encodeURIComponent(emoji)}`;
}

/** The body of an edit: rooms and direct messages name their text differently. */
export function editBody(conv, text) {
  return conv.kind === 'room' ? { chatmessage: text } : { message: text };
}

/** Why an edit, a deletion or a reaction was refused, in words. */
export function changeProblem(err, what) {
  if (err.status === 409) return `Could not ${what}: the message was deleted meanwhile.`;
  if (err.status === 403) return `Could not ${what}: only its author can.`;
  if (err.status === 404) return `Could not ${what}: the message is not there any more.`;
  return `Could not ${what}: ${err.friendly || err.message}`;
}

/** A room: GET it, PATCH its name or topic (its creator). */
export function roomPath(id) {
  return `${ROOMS_PATH}/${encodeURIComponent(id)}`;
}

/** Who joined a room (and is online in it). */
export function membersPath(id) {
  return `${roomPath(id)}/members?limit=500`;
}

/** Leaving a room (DELETE): it leaves the user's room list until they open it again. */
export function leavePath(id) {
  return `${roomPath(id)}/members/me`;
}

/** The latest page of a conversation's history. */
export function latestPagePath(conv) {
  return `${historyPath(conv)}?limit=${PAGE_SIZE}`;
}

/** The page before the oldest message held. */
export function olderPagePath(conv) {
  return `${historyPath(conv)}?before=${conv.oldestId}&limit=${PAGE_SIZE}`;
}

/** Where the user's read marker of a conversation is moved (PUT). */
export function readMarkerPath(conv) {
  return conv.kind === 'room'
    ? `/v1/chat/rooms/${conv.ref}/read`
    : `/v1/chat/threads/${encodeURIComponent(conv.ref)}/read`;
}

/** The next page of the room list, after the rooms already read. */
export function roomsPagePath(rooms) {
  const after = rooms.length ? `&after=${rooms[rooms.length - 1].id}` : '';
  return `${ROOMS_PATH}?limit=${ROOM_PAGE}${after}`;
}

/**
 * Every room, read a page at a time (at most ROOM_PAGE a page, by name) until
 * a short page, up to ROOM_PAGES_MAX pages: a deployment with more rooms shows
 * the first ones by name.
 * @param {(method: string, path: string) => Promise<any>} request
 */
export async function fetchRooms(request) {
  const rooms = [];
  for (let page = 0; page < ROOM_PAGES_MAX; page++) {
    const batch = await request('GET', roomsPagePath(rooms));
    rooms.push(...batch);
    if (batch.length < ROOM_PAGE) break;
  }
  return rooms;
}

/** People whose name starts with `prefix`. */
export function usersPath(prefix) {
  return `/v1/users?prefix=${encodeURIComponent(prefix)}&limit=${SUGGESTIONS_MAX}`;
}

/** Whether a prefix is long enough for the server to answer; shorter ones are not asked. */
export function canSuggest(prefix) {
  return !!prefix && prefix.length >= USER_PREFIX_MIN;
}

/** The names of a `GET /v1/users` answer worth suggesting: anyone but the user. */
export function suggestedNames(page, me) {
  return (page && Array.isArray(page.users) ? page.users : [])
    .map((u) => u.username)
    .filter((n) => typeof n === 'string' && !sameUser(n, me));
}

/** Why `POST /v1/chat/rooms` refused `name`, in words for the form. */
export function createRoomError(err, name) {
  if (err.status === 409) return err.errors?.name ? `A room called "${name}" already exists.` : err.friendly;
  if (err.status === 422) return describeFieldError('name', err.errors?.name || err.detail || 'invalid name');
  return err.friendly || 'Could not create the room.';
}
