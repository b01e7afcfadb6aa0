// Unit tests for going to one message (web/jump.js): older pages are loaded
// until the conversation holds it, a bounded number of pages, and what the
// page says when it cannot get there.
// Run: node --test tests/web/ (see model.test.mjs for why web/ has a package.json).

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';

import { JUMP_PAGES, jumpNotice, loadUntilHeld } from '../../web/jump.js';
import { Conversation } from '../../web/model.js';

const PAGE = 50;

function msg(id) {
  return { id, author: 'bob', text: `m${id}`, created_at: new Date(Date.UTC(2026, 10, 21, 10, 0, 0) + id * 1000).toISOString(), bot: false };
}

/**
 * A room whose server holds messages 1..`total` (`gone`: ids the server does
 * not have), with the latest page loaded; `loadOlder` adds the page before the
 * oldest held, as the rooms controller does, and counts its calls.
 */
function room(total, { gone = [] } = {}) {
  const all = [];
  for (let id = 1; id <= total; id += 1) if (!gone.includes(id)) all.push(msg(id));
  const conv = new Conversation('room', 1, 'General');
  conv.addLatestPage(all.slice(-PAGE), PAGE);
  const calls = { n: 0 };
  const loadOlder = async () => {
    calls.n += 1;
    const older = all.filter((m) => m.id < conv.oldestId).slice(-PAGE);
    conv.addOlderPage(older, PAGE);
  };
  return { conv, loadOlder, calls };
}

describe('loadUntilHeld', () => {
  it('finds a message already held without loading anything', async () => {
    const { conv, loadOlder, calls } = room(120);
    assert.equal(await loadUntilHeld(conv, 100, loadOlder), 'found');
    assert.equal(calls.n, 0);
  });

  it('loads older pages until the message is there', async () => {
    const { conv, loadOlder, calls } = room(300);
    assert.equal(await loadUntilHeld(conv, 120, loadOlder), 'found');
    assert.equal(calls.n, 3, '251-300 held; 201-250, 151-200, 101-150 loaded');
    assert.ok(conv.byId.has(120));
  });

  it(`gives up after ${JUMP_PAGES} pages`, async () => {
    const { conv, loadOlder, calls } = room(1000);
    assert.equal(await loadUntilHeld(conv, 10, loadOlder), 'gave-up');
    assert.equal(calls.n, JUMP_PAGES);
    assert.equal(conv.byId.has(10), false);
  });

  it('says "missing" once older history goes back past it without it', async () => {
    const { conv, loadOlder, calls } = room(120, { gone: [30] });
    assert.equal(await loadUntilHeld(conv, 30, loadOlder), 'missing');
    assert.equal(calls.n, 1);
  });

  it('says "missing" when the whole history is loaded and it is older than all of it', async () => {
    const { conv, loadOlder } = room(120, { gone: [1, 2] });
    assert.equal(await loadUntilHeld(conv, 1, loadOlder), 'missing');
    assert.equal(conv.hasMore, false, 'it looked back to the first message');
  });

  it('says "missing" for an id inside what is loaded that is not held (another room\'s)', async () => {
    const { conv, loadOlder, calls } = room(120, { gone: [110] });
    assert.equal(await loadUntilHeld(conv, 110, loadOlder), 'missing');
    assert.equal(calls.n, 0);
  });

  it('stops when a page brings nothing (a failed load) instead of asking again and again', async () => {
    const { conv } = room(300);
    let calls = 0;
    const failing = async () => { calls += 1; };
    assert.equal(await loadUntilHeld(conv, 10, failing), 'gave-up');
    assert.equal(calls, 1);
  });
});

describe('jumpNotice', () => {
  it('says nothing when the message was found, and why otherwise', () => {
    assert.equal(jumpNotice('found'), null);
    assert.match(jumpNotice('missing'), /no longer in this conversation/);
    assert.match(jumpNotice('gave-up'), new RegExp(`further back than ${JUMP_PAGES} pages`));
  });
});
