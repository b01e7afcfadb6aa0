// Unit tests for the chat's HTTP calls (web/chat-api.js): the paths the
// controllers ask for, the room list read a page at a time, and the answers
// turned into what the page shows.
// Run: node --test tests/web/ (see model.test.mjs for why web/ has a package.json).

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';

import {
  PAGE_SIZE, ROOM_PAGE, ROOM_PAGES_MAX, canSuggest, createRoomError, fetchRooms, historyPath, latestPagePath,
  olderPagePath, readMarkerPath, roomsPagePath, suggestedNames, usersPath,
} from '../../web/chat-api.js';
import { ApiError } from '../../web/api.js';
import { Conversation } from '../../web/model.js';

const room = new Conversation('room', 7, 'General');
const thread = new Conversation('dm', 'Bob_2', 'Bob_2');

describe('history and read marker paths', () => {
  it('names a room by id and a thread by the other user', () => {
    assert.equal(historyPath(room), '/v1/chat/rooms/7/messages');
    assert.equal(historyPath(thread), '/v1/chat/threads/Bob_2');
    assert.equal(historyPath(new Conversation('dm', 'a b/c', 'a b/c')), '/v1/chat/threads/a%20b%2Fc', 'the name is encoded');
  });

  it('asks for the latest page, then for the page before the oldest message held', () => {
    assert.equal(PAGE_SIZE, 50);
    assert.equal(latestPagePath(room), '/v1/chat/rooms/7/messages?limit=50');
    assert.equal(latestPagePath(thread), '/v1/chat/threads/Bob_2?limit=50');
    const older = new Conversation('room', 7, 'General');
    older.insert({ id: 120, author: 'bob', text: 'x', created_at: '2026-11-21T10:00:00Z', bot: false });
    older.insert({ id: 101, author: 'bob', text: 'y', created_at: '2026-11-21T09:00:00Z', bot: false });
    assert.equal(olderPagePath(older), '/v1/chat/rooms/7/messages?before=101&limit=50');
  });

  it('moves the read marker of a room or of a thread', () => {
    assert.equal(readMarkerPath(room), '/v1/chat/rooms/7/read');
    assert.equal(readMarkerPath(thread), '/v1/chat/threads/Bob_2/read');
  });
});

describe('the room list, a page at a time', () => {
  /** A server with `total` rooms, ids 1..total, answering pages as GET /v1/chat/rooms does. */
  function server(total) {
    const paths = [];
    const request = async (method, path) => {
      assert.equal(method, 'GET');
      paths.push(path);
      const url = new URL(path, 'http://chat.test');
      const limit = Number(url.searchParams.get('limit'));
      const after = Number(url.searchParams.get('after') || 0);
      const rooms = [];
      for (let id = after + 1; id <= total && rooms.length < limit; id += 1) rooms.push({ id, name: `r${id}` });
      return rooms;
    };
    return { paths, request };
  }

  it('pages after the last room read', () => {
    assert.equal(roomsPagePath([]), `/v1/chat/rooms?limit=${ROOM_PAGE}`);
    assert.equal(roomsPagePath([{ id: 3 }, { id: 9 }]), `/v1/chat/rooms?limit=${ROOM_PAGE}&after=9`);
  });

  it('reads one page when it is short', async () => {
    const s = server(3);
    assert.deepEqual((await fetchRooms(s.request)).map((r) => r.id), [1, 2, 3]);
    assert.deepEqual(s.paths, ['/v1/chat/rooms?limit=200']);
  });

  it('reads full pages until a short one (an empty one when the count is a multiple of the page)', async () => {
    const s = server(2 * ROOM_PAGE);
    const rooms = await fetchRooms(s.request);
    assert.equal(rooms.length, 2 * ROOM_PAGE);
    assert.deepEqual(s.paths, ['/v1/chat/rooms?limit=200', '/v1/chat/rooms?limit=200&after=200', '/v1/chat/rooms?limit=200&after=400']);
  });

  it('stops after ROOM_PAGES_MAX pages', async () => {
    const s = server(ROOM_PAGES_MAX * ROOM_PAGE + 5);
    const rooms = await fetchRooms(s.request);
    assert.equal(s.paths.length, ROOM_PAGES_MAX);
    assert.equal(rooms.length, ROOM_PAGES_MAX * ROOM_PAGE, 'the first rooms by name only');
  });

  it('lets a failed page fail the whole read', async () => {
    const refused = new ApiError(503, { title: 'Service Unavailable' });
    await assert.rejects(fetchRooms(async () => { throw refused; }), (err) => err === refused);
  });
});

describe('user suggestions', () => {
  it('asks only for prefixes the server answers', () => {
    assert.equal(canSuggest(''), false);
    assert.equal(canSuggest('al'), false);
    assert.equal(canSuggest('ali'), true);
  });

  it('encodes the prefix and asks for a few names', () => {
    assert.equal(usersPath('al_i'), '/v1/users?prefix=al_i&limit=8');
    assert.equal(usersPath('a&b'), '/v1/users?prefix=a%26b&limit=8');
  });

  it('suggests everyone but the user, whatever the case', () => {
    const page = { users: [{ username: 'alice' }, { username: 'Alicia' }, { username: 'ALICE' }, { username: 7 }, {}] };
    assert.deepEqual(suggestedNames(page, 'alice'), ['Alicia']);
  });

  it('suggests nobody when the answer is not a list of users', () => {
    assert.deepEqual(suggestedNames(null, 'alice'), []);
    assert.deepEqual(suggestedNames({ users: 'nope' }, 'alice'), []);
    assert.deepEqual(suggestedNames([], 'alice'), []);
  });
});

describe('createRoomError', () => {
  it('says the name is taken when the 409 names the field', () => {
    const err = new ApiError(409, { detail: 'a room with this name exists', errors: { name: 'taken' } });
    assert.equal(createRoomError(err, 'General'), 'A room called "General" already exists.');
  });

  it('uses the server\'s words for another 409 (such as too many rooms)', () => {
    const err = new ApiError(409, { detail: 'you have created too many rooms' });
    assert.equal(createRoomError(err, 'Lobby'), 'You have created too many rooms');
  });

  it('words a 422 like the other forms\' field errors', () => {
    assert.equal(createRoomError(new ApiError(422, { errors: { name: 'must not be blank' } }), ' '), 'Must not be blank.');
    assert.equal(createRoomError(new ApiError(422, { detail: 'invalid characters' }), 'x'), 'Invalid characters.');
    assert.equal(createRoomError(new ApiError(422, {}), 'x'), 'Invalid name.');
    assert.equal(createRoomError(new ApiError(422, { errors: { name: 'required' } }), ''), 'Name is required.');
  });

  it('says what went wrong otherwise', () => {
    assert.equal(createRoomError(new ApiError(0), 'x'), 'Cannot reach the server. Check your connection and try again.');
    assert.equal(createRoomError({ status: 500 }, 'x'), 'Could not create the room.', 'an error with no words of its own');
  });
});
