// Unit tests for message search (web/search.js, web/search-view.js): the
// request's path, the answer read defensively, where a result was written,
// its highlighted pieces (the matches in <mark>, every piece as text, never
// markup), the words for a refusal (429 with Retry-After) and the Mentions
// list's search. Also the rooms left remembered in the browser (web/left-rooms.js).
// Run: node --test tests/web/ (see model.test.mjs for why web/ has a package.json).

import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';

import { elements, installFakeDocument } from './fake-dom.mjs';
import {
  QUERY_MAX, highlightRuns, mentionsPath, queryProblem, readSearchPage, resultMessage, resultPlace, resultTarget,
  retryAfterSeconds, searchPath, searchProblem,
} from '../../web/search.js';
import { LEFT_KEPT, LeftRooms } from '../../web/left-rooms.js';

const ROOMS = [{ id: 1, name: 'General' }, { id: 2, name: 'Earnings' }];

const inRoom = {
  id: 42, chatroomId: 2, chatuser: 'bob', chatmessage: 'Watching $TSLA into the close', created_at: '2026-11-21T10:00:00Z',
  highlight: [{ text: 'Watching $', match: false }, { text: 'TSLA', match: true }, { text: ' into the close', match: false }],
};
const inDm = {
  id: 7, thread: 'carol', chatuser: 'carol', chatmessage: '<b>$TSLA</b>', created_at: '2026-11-21T10:00:00Z', highlight: [],
};

describe('searchPath', () => {
  it('asks for a page of the query, trimmed and encoded', () => {
    assert.equal(searchPath('  $TSLA earnings '), '/v1/search?q=%24TSLA+earnings&limit=20');
    assert.equal(searchPath('a&b=c'), '/v1/search?q=a%26b%3Dc&limit=20');
  });

  it('asks for the next page with the last one\'s `next` as `before`', () => {
    assert.equal(searchPath('x', { before: '10.4.20' }), '/v1/search?q=x&limit=20&before=10.4.20');
  });

  it('asks for the Mentions list as a search for @me, newest first', () => {
    assert.equal(mentionsPath('alice', 20), '/v1/search?q=%40alice&limit=20&order=newest');
  });
});

describe('reading an answer', () => {
  it('keeps the results it can show and the cursor', () => {
    const page = readSearchPage({ results: [inRoom, inDm, { id: 'x' }, null, { id: 3, chatmessage: 'no place' }], next: '1.2.3' });
    assert.deepEqual(page.results.map((r) => r.id), [42, 7]);
    assert.equal(page.next, '1.2.3');
    assert.deepEqual(readSearchPage(null), { results: [], next: null });
    assert.deepEqual(readSearchPage({ results: 'nope', next: '' }), { results: [], next: null });
  });

  it('says where each result was written', () => {
    assert.deepEqual(resultTarget(inRoom), { kind: 'room', id: 2 });
    assert.deepEqual(resultTarget(inDm), { kind: 'dm', name: 'carol' });
    assert.equal(resultPlace(inRoom, ROOMS), '#Earnings');
    assert.equal(resultPlace({ ...inRoom, chatroomId: 9 }, ROOMS), '#room 9');
    assert.equal(resultPlace(inDm, ROOMS), 'DM with carol');
  });

  it('turns a result into a message for the Mentions list', () => {
    assert.deepEqual(resultMessage(inRoom), { id: 42, author: 'bob', text: inRoom.chatmessage, created_at: inRoom.created_at, bot: false });
  });
});

describe('highlighted pieces', () => {
  let highlightNodes;
  before(async () => {
    installFakeDocument();
    ({ highlightNodes } = await import('../../web/search-view.js'));
  });

  it('are runs of text and matches, neighbours of one kind joined', () => {
    assert.deepEqual(highlightRuns({ highlight: [{ text: 'a', match: false }, { text: 'b', match: false }, { text: 'C', match: true }, { text: '', match: false }] }),
      [{ text: 'ab', match: false }, { text: 'C', match: true }]);
  });

  it('fall back to the start of the plain text when the server sent none', () => {
    assert.deepEqual(highlightRuns({ chatmessage: '**bold** move', highlight: [] }), [{ text: 'bold move', match: false }]);
  });

  it('put the matches in <mark> and every piece in as text: markup stays text', () => {
    const nodes = highlightNodes({ ...inRoom, highlight: [{ text: '<img src=x onerror=alert(1)> ', match: false }, { text: '<b>TSLA</b>', match: true }] });
    assert.equal(nodes.length, 2);
    assert.equal(nodes[0].nodeType, 3, 'plain text is a text node');
    assert.equal(nodes[0].textContent, '<img src=x onerror=alert(1)> ');
    assert.equal(nodes[1].tagName, 'MARK');
    assert.equal(nodes[1].textContent, '<b>TSLA</b>');
    assert.deepEqual([...elements(nodes)].map((e) => e.tagName), ['MARK'], 'no element but the mark');
  });
});

describe('refusals in words', () => {
  const now = Date.parse('2026-11-21T10:00:00Z');

  it('say when to try again after a 429, from Retry-After in seconds or as a date', () => {
    assert.equal(searchProblem({ status: 429, retryAfter: 7 }, now), 'You have searched a lot in a short time. Please try again in 7 seconds.');
    assert.equal(searchProblem({ status: 429, retryAfter: 1 }, now), 'You have searched a lot in a short time. Please try again in 1 second.');
    assert.equal(searchProblem({ status: 429, retryAfter: 'Sat, 21 Nov 2026 10:00:03 GMT' }, now), 'You have searched a lot in a short time. Please try again in 3 seconds.');
    assert.equal(searchProblem({ status: 429, retryAfter: null }, now), 'You have searched a lot in a short time. Please try again in a few seconds.');
  });

  it('read Retry-After as at least a second', () => {
    assert.equal(retryAfterSeconds('0'), 1);
    assert.equal(retryAfterSeconds('2.2'), 3);
    assert.equal(retryAfterSeconds('soon'), null);
    assert.equal(retryAfterSeconds(''), null);
  });

  it('say why a query was refused, or what the server said', () => {
    assert.equal(searchProblem({ status: 422, errors: { q: 'must be at most 200 characters' } }), 'This search cannot be run: must be at most 200 characters.');
    assert.equal(searchProblem({ status: 0, friendly: 'Cannot reach the server.' }), 'Cannot reach the server.');
  });

  it('check what is typed before asking', () => {
    assert.equal(queryProblem('   '), 'Type something to search for.');
    assert.equal(queryProblem('é'.repeat(QUERY_MAX)), '', 'characters, not UTF-16 units');
    assert.match(queryProblem('x'.repeat(QUERY_MAX + 1)), /at most 200 characters/);
  });
});

class MemoryStorage {
  constructor() { this.map = new Map(); }
  getItem(k) { return this.map.has(k) ? this.map.get(k) : null; }
  setItem(k, v) { this.map.set(k, String(v)); }
  removeItem(k) { this.map.delete(k); }
}

describe('rooms left, remembered in the browser', () => {
  it('keeps the newest first, once each, per user, across a reload', () => {
    const storage = new MemoryStorage();
    const left = new LeftRooms('Alice', storage);
    left.add({ id: 3, name: 'Ops' });
    left.add({ id: 4, name: 'Desk' });
    left.add({ id: 3, name: 'Ops' });
    assert.deepEqual(new LeftRooms('alice', storage).rooms, [{ id: 3, name: 'Ops' }, { id: 4, name: 'Desk' }]);
    assert.deepEqual(new LeftRooms('bob', storage).rooms, []);
  });

  it('forgets a room that is back in the list, and lists only those that are not', () => {
    const left = new LeftRooms('alice', new MemoryStorage());
    left.add({ id: 3, name: 'Ops' });
    left.add({ id: 4, name: 'Desk' });
    assert.deepEqual(left.notIn([{ id: 4, name: 'Desk' }]), [{ id: 3, name: 'Ops' }]);
    assert.equal(left.remove(3), true);
    assert.equal(left.remove(3), false);
    assert.deepEqual(left.rooms, [{ id: 4, name: 'Desk' }]);
  });

  it(`keeps at most ${LEFT_KEPT} and survives broken storage`, () => {
    const storage = new MemoryStorage();
    const left = new LeftRooms('alice', storage);
    for (let id = 1; id <= LEFT_KEPT + 5; id += 1) left.add({ id, name: `r${id}` });
    assert.equal(left.rooms.length, LEFT_KEPT);
    storage.setItem('tickertalk.left_rooms.alice', '{not json');
    assert.deepEqual(new LeftRooms('alice', storage).rooms, []);
  });
});
