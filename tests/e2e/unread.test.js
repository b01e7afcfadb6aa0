// In Chromium: opening a room with unread messages shows "New messages" above the first of
// them, live and after a reload (the server's read marker); a message naming the user looks
// unlike an ordinary unread one, and so does the sidebar entry of a room that has one.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';

import { cleanupAll, launchBrowser, newPage, rand, screenshot, startStack } from './harness.js';
import { send, signUp, waitForConversation, waitForMessage, waitOnline } from './ui.js';

const RUN = rand(6);
const ANN = { username: `ann_${RUN}`, email: `ann_${RUN}@example.com`, password: 'correct horse battery' };
const BEN = { username: `ben_${RUN}`, email: `ben_${RUN}@example.com`, password: 'staple battery horse' };

let stack;
let browser;
let ann;
let ben;

async function step(name, fn) {
  try {
    await fn();
  } catch (err) {
    for (const [who, page] of [['ann', ann], ['ben', ben]]) {
      if (page) await screenshot(page, `unread-fail-${name}-${who}`).catch(() => {});
    }
    throw err;
  }
}

async function openRoom(page, name) {
  await page.getByTestId('tab-rooms').click();
  await page.locator(`[data-testid="room-item"][data-room-name="${name}"]`).click();
  await waitForConversation(page, name);
}

/** The texts of the messages on screen, with '--new--' where the divider is. */
function timeline(page) {
  return page.$$eval('[data-testid="message-list"] [data-testid="message"]', (els) => els.flatMap((e) => {
    const text = e.querySelector('[data-testid="message-text"]').textContent;
    return e.querySelector('[data-testid="unread-divider"]') ? ['--new--', text] : [text];
  }));
}

describe('new messages and mentions in Chromium', { timeout: 180_000 }, () => {
  before(async () => {
    stack = await startStack();
    browser = await launchBrowser();
    ann = await newPage(browser, 'ann');
    ben = await newPage(browser, 'ben');
    for (const [page, user] of [[ann, ANN], [ben, BEN]]) {
      await page.goto(stack.origin);
      await signUp(page, user);
      await waitForConversation(page, 'General');
      await waitOnline(page);
    }
  }, { timeout: 120_000 });

  after(async () => {
    await cleanupAll();
  }, { timeout: 60_000 });

  it('shows "New messages" above the first unread one, and a mention apart from the others', { timeout: 60_000 }, () => step('live', async () => {
    // Ann has read Random up to ben's first message (a marker on the server), then looks at General.
    await openRoom(ben, 'Random');
    await send(ben, `read ${RUN}`);
    await openRoom(ann, 'Random');
    await waitForMessage(ann, `read ${RUN}`, { state: 'sent' });
    await ann.waitForTimeout(1_000); // the marker request goes out within half a second
    assert.equal(await ann.getByTestId('unread-divider').count(), 0, 'nothing new on a first visit');
    await openRoom(ann, 'General');

    const MENTION = `look @${ANN.username} ${RUN}`;
    for (const text of [`new 1 ${RUN}`, MENTION, `new 3 ${RUN}`]) await send(ben, text);
    await waitForMessage(ben, `new 3 ${RUN}`, { state: 'sent' });
    const random = ann.locator('[data-testid="room-item"][data-room-name="Random"]');
    await random.getByTestId('room-mention').waitFor({ timeout: 10_000 });
    await ann.waitForFunction(() => document.querySelector('[data-testid="room-item"][data-room-name="Random"] [data-testid="room-unread"]')?.textContent === '3');
    assert.match(await random.getAttribute('class'), /has-mention/);
    assert.match(await random.getByTestId('room-mention').textContent(), /1 unread mention of you/);
    assert.equal(await ann.locator('[data-testid="room-item"][data-room-name="General"] [data-testid="room-mention"]').count(), 0);
    await screenshot(ann, 'unread-sidebar');

    await openRoom(ann, 'Random');
    assert.deepEqual(await timeline(ann), [`read ${RUN}`, '--new--', `new 1 ${RUN}`, MENTION, `new 3 ${RUN}`]);
    const first = ann.locator('[data-testid="message"].first-unread');
    assert.equal(await first.getByTestId('message-text').textContent(), `new 1 ${RUN}`);
    assert.equal(await ann.getByTestId('unread-divider').textContent(), 'New messages');
    assert.doesNotMatch(await first.getAttribute('class'), /grouped/, 'the first new message shows its author');
    // The mention is marked in colour and in words; an ordinary new message is not.
    const mention = ann.locator('[data-testid="message"]', { has: ann.getByText(MENTION, { exact: true }) });
    assert.match(await mention.getAttribute('class'), /mentions-me/);
    assert.equal(await mention.getByTestId('mention-tag').textContent(), 'Mentions you');
    assert.equal(await first.getByTestId('mention-tag').count(), 0);
    assert.doesNotMatch(await first.getAttribute('class'), /mentions-me/);
    await screenshot(ann, 'unread-divider');
    // Reading clears the badges; the divider stays for this visit.
    await ann.waitForTimeout(1_000);
    assert.equal(await random.getByTestId('room-mention').count(), 0);
    assert.equal(await ann.getByTestId('unread-divider').count(), 1);
    // The sender never sees a divider for their own messages.
    assert.equal(await ben.getByTestId('unread-divider').count(), 0);
  }));

  it('on the next visit with nothing new, no divider', { timeout: 60_000 }, () => step('read', async () => {
    await openRoom(ann, 'General');
    await openRoom(ann, 'Random');
    assert.equal(await ann.getByTestId('unread-divider').count(), 0);
  }));

  it('after a reload, the divider comes from the server\'s read marker', { timeout: 60_000 }, () => step('reload', async () => {
    await openRoom(ann, 'General');
    for (const text of [`later 1 ${RUN}`, `later 2 ${RUN}`]) await send(ben, text);
    await waitForMessage(ben, `later 2 ${RUN}`, { state: 'sent' });
    await ann.reload();
    await waitForConversation(ann, 'General');
    await ann.waitForFunction(() => document.querySelector('[data-testid="room-item"][data-room-name="Random"] [data-testid="room-unread"]')?.textContent === '2');
    await openRoom(ann, 'Random');
    const list = await timeline(ann);
    assert.deepEqual(list.slice(list.indexOf('--new--')), ['--new--', `later 1 ${RUN}`, `later 2 ${RUN}`]);
    assert.equal(list.filter((t) => t === '--new--').length, 1);
  }));

  it('shows it all together (the README\'s screenshot)', { timeout: 60_000 }, () => step('readme', async () => {
    for (const room of ['Trading', 'Earnings']) {
      await ben.getByTestId('create-room-input').fill(room);
      await ben.getByTestId('create-room-submit').click();
      await waitForConversation(ben, room);
    }
    await send(ben, 'Morning all: earnings day.');
    for (const room of ['Trading', 'Earnings', 'General']) {
      await openRoom(ann, room);
      await ann.waitForTimeout(700); // read: the marker goes out within half a second
    }
    await openRoom(ben, 'Trading');
    await send(ben, `@${ANN.username} heads-up: **MSFT** reports at 4pm`);
    await openRoom(ben, 'Earnings');
    await send(ben, 'Notes from the call so far:\n> **Revenue** up 8%, guidance _unchanged_');
    await send(ben, `@${ANN.username} can you check the close? Try \`/stock=aapl.us\` or [the filing](https://example.com/10-q)`);
    await send(ben, '```\nAAPL.US   93.42  +1.42%\nMSFT.US  334.27  +0.90%\n```');
    for (const room of ['Trading', 'Earnings']) {
      await ann.locator(`[data-testid="room-item"][data-room-name="${room}"] [data-testid="room-mention"]`).waitFor();
    }
    await openRoom(ann, 'Earnings');
    await ann.getByTestId('unread-divider').waitFor();
    assert.equal(await ann.locator('[data-testid="message"].first-unread [data-testid="md-quote"]').count(), 1);
    await screenshot(ann, 'unread-markdown');
  }));

  it('logged no CSP violations or script errors', () => {
    for (const [who, page] of [['ann', ann], ['ben', ben]]) {
      assert.deepEqual(page.problems.filter((p) => !/status of 40[19]/.test(p)), [], `${who}: console/page errors`);
    }
  });
});
