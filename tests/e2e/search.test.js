// In Chromium, two users on two server instances: a search finds a cashtag in a room and in a
// direct conversation, shows the found words marked (as text), opens the message even when it
// is further back than the history loaded, pages with "More results", and says when to try
// again after searching too often (the server's 429 and Retry-After). The Mentions list and
// the "@" badge of a room come from the server, so they are there after a reload.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';

import {
  api, cleanupAll, launchBrowser, newPage, rand, screenshot, startStack,
} from './harness.js';
import {
  openRoom, send, signUp, tokenOf, waitForConversation, waitForMessage, waitOnline,
} from './ui.js';

const RUN = rand(6);
const ANN = { username: `ann_${RUN}`, email: `ann_${RUN}@example.com`, password: 'correct horse battery' };
const BEN = { username: `ben_${RUN}`, email: `ben_${RUN}@example.com`, password: 'staple battery horse' };
const CASHTAG = `Watching $TSLA break out ${RUN}`;

let stack;
let second;
let browser;
let ann; // on the first instance
let ben; // on the second
let benToken;

async function step(name, fn) {
  try {
    await fn();
  } catch (err) {
    for (const [who, page] of [['ann', ann], ['ben', ben]]) {
      if (page) await screenshot(page, `search-fail-${name}-${who}`).catch(() => {});
    }
    throw err;
  }
}

/** The search results shown: [{place, text, marks}]. */
function results(page) {
  return page.$$eval('[data-testid="search-result"]', (els) => els.map((e) => ({
    id: Number(e.dataset.id),
    place: e.querySelector('[data-testid="search-place"]').textContent,
    text: e.querySelector('[data-testid="search-text"]').textContent,
    marks: [...e.querySelectorAll('mark')].map((m) => m.textContent),
  })));
}

async function search(page, q) {
  await page.getByTestId('search-input').fill(q);
  await page.getByTestId('search-submit').click();
  await page.waitForFunction(() => !/^(Searching|Loading more)/.test(document.querySelector('[data-testid="search-status"]')?.textContent || 'x'));
}

describe('search and mentions, on two instances, in Chromium', { timeout: 300_000 }, () => {
  before(async () => {
    stack = await startStack({ env: { RATE_LIMIT_MESSAGES: '500' } });
    second = await stack.startInstance();
    browser = await launchBrowser();
    ann = await newPage(browser, 'ann');
    ben = await newPage(browser, 'ben');
    for (const [page, user, origin] of [[ann, ANN, stack.origin], [ben, BEN, second.origin]]) {
      await page.goto(origin);
      await signUp(page, user);
      await waitForConversation(page, 'General');
      await waitOnline(page);
    }
    benToken = await tokenOf(second.origin, BEN);
  }, { timeout: 120_000 });

  after(async () => {
    await cleanupAll();
  }, { timeout: 60_000 });

  it('finds a cashtag in a room and in a direct conversation, the matches marked', { timeout: 90_000 }, () => step('find', async () => {
    // Ann has been in Random, so it is one of her rooms (search looks in the rooms one is in).
    await openRoom(ann, 'Random');
    await openRoom(ann, 'General');
    await openRoom(ben, 'Random');
    await send(ben, CASHTAG);
    // Then sixty more, so that the message is further back than the page a room opens with.
    for (let i = 1; i <= 60; i += 1) {
      const r = await api(second.origin, 'POST', '/v1/chat/rooms/2/messages', { token: benToken, body: { chatmessage: `filler ${i} ${RUN}` } });
      assert.equal(r.status, 201);
    }
    const dm = await api(second.origin, 'POST', `/v1/chat/threads/${ANN.username}`, { token: benToken, body: { message: `<b>$TSLA</b> in private ${RUN}` } });
    assert.equal(dm.status, 201);
    await search(ann, '$TSLA');
    const found = await results(ann);
    const inRoom = found.find((r) => r.place === '#Random');
    const inDm = found.find((r) => r.place === `DM with ${BEN.username}`);
    assert.ok(inRoom, `a result in #Random: ${JSON.stringify(found)}`);
    assert.ok(inDm, `a result in the direct conversation: ${JSON.stringify(found)}`);
    assert.deepEqual(inRoom.marks, ['TSLA'].map((t) => inRoom.marks.find((m) => m.includes(t))), 'the cashtag is marked');
    assert.ok(inRoom.marks.length >= 1);
    // The server's pieces leave out what looks like a tag; whatever they hold is shown as text.
    assert.match(inDm.text, /TSLA.*in private/);
    assert.equal(await ann.locator('[data-testid="search-text"] b').count(), 0, 'no element from the text');
    assert.match(await ann.getByTestId('search-status').textContent(), /found for "\$TSLA"/);
    await screenshot(ann, 'search-results');
  }));

  it('opens a result at its message, loading older messages until it is there', { timeout: 60_000 }, () => step('open', async () => {
    const [room] = (await results(ann)).filter((r) => r.place === '#Random');
    await ann.locator(`[data-testid="search-result"][data-id="${room.id}"][data-place="#Random"]`).click();
    await waitForConversation(ann, 'Random');
    const target = ann.locator(`[data-testid="message"][data-id="${room.id}"]`);
    await target.waitFor();
    await ann.waitForFunction((id) => document.querySelector(`[data-testid="message"][data-id="${id}"]`)?.classList.contains('jump-target'), room.id);
    assert.equal(await target.getByTestId('message-text').textContent(), CASHTAG);
    // The direct message's result opens the conversation.
    const [dm] = (await results(ann)).filter((r) => r.place.startsWith('DM with'));
    await ann.locator(`[data-testid="search-result"][data-id="${dm.id}"][data-place^="DM with"]`).click();
    await waitForConversation(ann, BEN.username);
    await ann.locator(`[data-testid="message"][data-id="${dm.id}"]`).waitFor();
  }));

  it('shows more results with "More results"', { timeout: 60_000 }, () => step('more', async () => {
    await search(ann, `filler ${RUN}`);
    assert.equal((await results(ann)).length, 20, 'a page of 20');
    await ann.getByTestId('search-more').click();
    await ann.waitForFunction(() => document.querySelectorAll('[data-testid="search-result"]').length > 20);
    const all = await results(ann);
    assert.equal(all.length, 40);
    assert.equal(new Set(all.map((r) => r.id)).size, 40, 'no result twice');
    await ann.getByTestId('search-close').click();
    assert.equal(await ann.getByTestId('search-panel').isHidden(), true);
  }));

  it('says when to try again after searching too often', { timeout: 60_000 }, () => step('throttled', async () => {
    const token = await tokenOf(stack.origin, ANN);
    // Spend ann's search budget on this instance until the server refuses; the page's own
    // search right after is refused too (the budget refills as time goes: try a few times).
    let status = '';
    for (let attempt = 0; attempt < 5 && !/searched a lot/.test(status); attempt += 1) {
      let refused = null;
      for (let i = 0; i < 60 && !refused; i += 1) {
        const r = await api(stack.origin, 'GET', `/v1/search?q=${encodeURIComponent(`x${i}`)}`, { token });
        if (r.status === 429) refused = r;
      }
      assert.ok(refused, 'the server refuses a search past its budget');
      assert.ok(refused.headers.get('retry-after'), 'with Retry-After');
      await search(ann, '$TSLA');
      status = await ann.getByTestId('search-status').textContent();
    }
    assert.match(status, /searched a lot in a short time\. Please try again in \d+ seconds?\./);
  }));

  it('keeps the Mentions list and a room\'s "@" badge over a reload (both from the server)', { timeout: 90_000 }, () => step('mentions', async () => {
    await openRoom(ann, 'Random');
    await ann.waitForTimeout(1_000); // read: the marker goes out within half a second
    await openRoom(ann, 'General');
    await send(ben, `@${ANN.username} did you see the close? ${RUN}`);
    const badge = ann.locator('[data-testid="room-item"][data-room-name="Random"] [data-testid="room-mention"]');
    await badge.waitFor({ timeout: 15_000 }); // live, though ann's socket is not in Random
    await ann.locator('[data-testid="mention-item"]').first().waitFor();
    await ann.reload();
    await waitForConversation(ann, 'General');
    await badge.waitFor();
    const item = ann.locator('[data-testid="mention-item"]').first();
    await item.waitFor();
    assert.match(await item.textContent(), new RegExp(`${BEN.username} in #Random.*did you see the close`));
    assert.equal(await ann.getByTestId('mention-count').textContent(), '1');
    await item.click();
    await waitForConversation(ann, 'Random');
    const id = await item.getAttribute('data-id');
    await ann.waitForFunction((mid) => document.querySelector(`[data-testid="message"][data-id="${mid}"]`)?.classList.contains('jump-target'), id);
    await ann.waitForTimeout(1_000);
    assert.equal(await badge.count(), 0, 'read: no badge');
  }));

  it('logged no CSP violations or script errors', () => {
    for (const [who, page] of [['ann', ann], ['ben', ben]]) {
      assert.deepEqual(page.problems.filter((p) => !/status of (40[19]|429)/.test(p)), [], `${who}: console/page errors`);
    }
  });
});
