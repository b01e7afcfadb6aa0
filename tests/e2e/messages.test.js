// In Chromium, two users on two server instances (they meet only through RabbitMQ and
// PostgreSQL): a message edited and deleted, seen live by the other and after a reload; a
// reaction toggled and counted for both; a reply whose original is not loaded yet, gone to by
// loading older history; the room's creator deleting someone else's message; a bot answer
// that cannot be edited. Everything through the message menu, by mouse and by keyboard.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';

import {
  api, cleanupAll, launchBrowser, newPage, rand, screenshot, startStack,
} from './harness.js';
import {
  axeSerious, bubble, openMessageMenu, openRoom, reactionsOf, send, signUp, tokenOf, waitForConversation, waitForMessage,
  waitOnline,
} from './ui.js';

const RUN = rand(6);
const ANN = { username: `ann_${RUN}`, email: `ann_${RUN}@example.com`, password: 'correct horse battery' };
const BEN = { username: `ben_${RUN}`, email: `ben_${RUN}@example.com`, password: 'staple battery horse' };

let stack;
let second;
let browser;
let ann; // on the first instance
let ben; // on the second

async function step(name, fn) {
  try {
    await fn();
  } catch (err) {
    for (const [who, page] of [['ann', ann], ['ben', ben]]) {
      if (page) await screenshot(page, `messages-fail-${name}-${who}`).catch(() => {});
    }
    throw err;
  }
}

/** The id of the message with exactly this text, as the page shows it. */
async function idOf(page, text) {
  const id = await bubble(page, text).getAttribute('data-id');
  assert.ok(id, `"${text}" is stored`);
  return Number(id);
}

async function reload(page, room = 'General') {
  await page.reload();
  await waitForConversation(page, room);
  await waitOnline(page);
}

describe('editing, deleting, reacting and replying, on two instances, in Chromium', { timeout: 300_000 }, () => {
  before(async () => {
    // Enough posts per user for the reply test's filler in one go.
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
  }, { timeout: 120_000 });

  after(async () => {
    await cleanupAll();
  }, { timeout: 60_000 });

  it('edits a message from its menu: live for the other user, and after a reload', { timeout: 60_000 }, () => step('edit', async () => {
    await send(ann, `typo heer ${RUN}`);
    await waitForMessage(ben, `typo heer ${RUN}`);
    const mine = bubble(ann, `typo heer ${RUN}`);
    await openMessageMenu(ann, mine);
    const items = await ann.getByTestId('message-menu').locator('[role="menuitem"]').allTextContents();
    assert.deepEqual(items, ['Reply', 'Add reaction…', 'Edit', 'Delete…'], 'the author gets every action');
    await ann.getByTestId('menu-edit').click();
    const box = ann.getByTestId('composer-input');
    assert.equal(await box.inputValue(), `typo heer ${RUN}`, 'the text to edit is in the box');
    assert.match(await ann.getByTestId('composer-mode-text').textContent(), /Editing your message/);
    await box.fill(`typo here ${RUN}`);
    await box.press('Enter');
    await waitForMessage(ben, `typo here ${RUN}`);
    await waitForMessage(ann, `typo here ${RUN}`);
    assert.equal(await bubble(ben, `typo here ${RUN}`).getByTestId('message-edited').textContent(), '(edited)');
    assert.equal(await box.inputValue(), '', 'the box is back to a new message');
    assert.equal(await ann.getByTestId('composer-mode').isHidden(), true);
    // Someone else's message offers no Edit.
    await openMessageMenu(ben, bubble(ben, `typo here ${RUN}`));
    assert.deepEqual(await ben.getByTestId('message-menu').locator('[role="menuitem"]').allTextContents(), ['Reply', 'Add reaction…']);
    await ben.keyboard.press('Escape');
    await ben.getByTestId('message-menu').waitFor({ state: 'detached' });
    await reload(ben);
    await waitForMessage(ben, `typo here ${RUN}`);
    assert.equal(await bubble(ben, `typo here ${RUN}`).getByTestId('message-edited').count(), 1, '(edited) after a reload too');
  }));

  it('edits the last message with ArrowUp; Escape cancels and gives the draft back', { timeout: 60_000 }, () => step('arrow-up', async () => {
    const box = ann.getByTestId('composer-input');
    await box.fill('');
    await box.press('ArrowUp');
    assert.equal(await box.inputValue(), `typo here ${RUN}`, 'ArrowUp in an empty box edits the last message');
    await box.press('Escape');
    assert.equal(await box.inputValue(), '', 'Escape cancels the edit');
    assert.equal(await ann.getByTestId('composer-mode').isHidden(), true);
    await box.press('ArrowUp');
    await box.fill(`arrow edit ${RUN}`);
    await box.press('Enter');
    await waitForMessage(ben, `arrow edit ${RUN}`);
  }));

  it('counts a reaction for both users, each with their own "me", and toggles it', { timeout: 60_000 }, () => step('react', async () => {
    // Ben reacts with the keyboard: Tab to the message's menu button, Enter, the picker, Enter.
    const target = bubble(ben, `arrow edit ${RUN}`);
    await target.getByTestId('message-menu-button').focus();
    await ben.keyboard.press('Enter');
    await ben.getByTestId('message-menu').waitFor();
    await ben.keyboard.press('ArrowDown'); // Reply → Add reaction…
    await ben.keyboard.press('Enter');
    await ben.locator('[data-testid="menu-reaction"][data-emoji="👍"]').waitFor();
    assert.equal(await ben.evaluate(() => document.activeElement?.dataset.emoji), '👍', 'the picker has the focus');
    await ben.keyboard.press('Enter');
    await ben.getByTestId('message-menu').waitFor({ state: 'detached' });
    assert.equal(await ben.evaluate(() => document.activeElement?.dataset.testid), 'message-menu-button', 'the focus is back on the button');
    const annSide = bubble(ann, `arrow edit ${RUN}`);
    await ann.waitForFunction(() => document.querySelector('[data-testid="reaction"][data-emoji="👍"]')?.dataset.count === '1');
    assert.deepEqual(await reactionsOf(annSide), { '👍': [1, false] }, 'ann sees ben\'s 👍, not pressed for her');
    assert.deepEqual(await reactionsOf(target), { '👍': [1, true] }, 'pressed for ben');
    // Ann adds hers by clicking the count.
    await annSide.locator('[data-testid="reaction"][data-emoji="👍"]').click();
    await ben.waitForFunction(() => document.querySelector('[data-testid="reaction"][data-emoji="👍"]')?.dataset.count === '2');
    assert.deepEqual(await reactionsOf(annSide), { '👍': [2, true] });
    assert.deepEqual(await reactionsOf(target), { '👍': [2, true] }, 'ben\'s own stays pressed through ann\'s change');
    // Ben takes his back.
    await target.locator('[data-testid="reaction"][data-emoji="👍"]').click();
    await ann.waitForFunction(() => document.querySelector('[data-testid="reaction"][data-emoji="👍"]')?.dataset.count === '1');
    assert.deepEqual(await reactionsOf(annSide), { '👍': [1, true] });
    assert.deepEqual(await reactionsOf(target), { '👍': [1, false] });
    // After a reload the server says whose they are.
    await reload(ann);
    await waitForMessage(ann, `arrow edit ${RUN}`);
    assert.deepEqual(await reactionsOf(bubble(ann, `arrow edit ${RUN}`)), { '👍': [1, true] });
  }));

  it('goes to the original of a reply, loading older messages until it is there', { timeout: 90_000 }, () => step('reply', async () => {
    const ORIGINAL = `the original question ${RUN}`;
    await send(ann, ORIGINAL);
    await waitForMessage(ben, ORIGINAL);
    // Ben replies from the menu.
    await openMessageMenu(ben, bubble(ben, ORIGINAL));
    await ben.getByTestId('menu-reply').click();
    assert.equal(await ben.getByTestId('composer-mode-text').textContent(), `Replying to ${ANN.username}: ${ORIGINAL}`);
    // Escape cancels a reply; Reply again and send.
    await ben.getByTestId('composer-input').press('Escape');
    assert.equal(await ben.getByTestId('composer-mode').isHidden(), true);
    await openMessageMenu(ben, bubble(ben, ORIGINAL));
    await ben.getByTestId('menu-reply').click();
    await send(ben, `the answer ${RUN}`);
    await waitForMessage(ann, `the answer ${RUN}`);
    const quote = bubble(ann, `the answer ${RUN}`).getByTestId('reply-quote');
    assert.match(await quote.textContent(), new RegExp(`${ANN.username}.*${ORIGINAL}`));
    // Sixty more messages, then a reply to the original: after a reload ann has the latest 50.
    const token = await tokenOf(second.origin, BEN);
    const general = 1;
    for (let i = 1; i <= 60; i += 1) {
      const r = await api(second.origin, 'POST', `/v1/chat/rooms/${general}/messages`, { token, body: { chatmessage: `filler ${i} ${RUN}` } });
      assert.equal(r.status, 201);
    }
    const originalId = await idOf(ann, ORIGINAL);
    const r = await api(second.origin, 'POST', `/v1/chat/rooms/${general}/messages`, { token, body: { chatmessage: `late reply ${RUN}`, reply_to: originalId } });
    assert.equal(r.status, 201);
    await reload(ann);
    await waitForMessage(ann, `late reply ${RUN}`);
    assert.equal(await bubble(ann, ORIGINAL).count(), 0, 'the original is not loaded');
    await bubble(ann, `late reply ${RUN}`).getByTestId('reply-quote').click();
    const original = ann.locator(`[data-testid="message"][data-id="${originalId}"]`);
    await original.waitFor();
    await ann.waitForFunction((id) => document.querySelector(`[data-testid="message"][data-id="${id}"]`)?.classList.contains('jump-target'), originalId);
    assert.ok(await original.evaluate((node) => {
      const list = document.querySelector('[data-testid="message-list"]').getBoundingClientRect();
      const box = node.getBoundingClientRect();
      return box.top >= list.top && box.bottom <= list.bottom;
    }), 'the original is scrolled into view');
    assert.equal(await ann.evaluate(() => document.activeElement?.dataset.testid), 'message', 'and has the focus');
  }));

  it('shows a deleted message as a tombstone, live and after a reload, and in its replies', { timeout: 60_000 }, () => step('delete', async () => {
    const ORIGINAL = `the original question ${RUN}`;
    const id = await idOf(ann, ORIGINAL);
    await openMessageMenu(ann, bubble(ann, ORIGINAL));
    await ann.getByTestId('menu-delete').click();
    await ann.getByTestId('menu-delete-cancel').click(); // back to the menu: nothing deleted
    await ann.getByTestId('menu-delete').click();
    await ann.getByTestId('menu-delete-confirm').click();
    const tombstone = (page) => page.locator(`[data-testid="message"][data-id="${id}"] [data-testid="message-tombstone"]`);
    await tombstone(ann).waitFor();
    await tombstone(ben).waitFor();
    assert.equal(await tombstone(ben).textContent(), 'message deleted');
    assert.equal(await ben.locator(`[data-testid="message"][data-id="${id}"] [data-testid="message-text"]`).count(), 0, 'no text left');
    assert.equal(await ben.locator(`[data-testid="message"][data-id="${id}"] [data-testid="message-menu-button"]`).count(), 0, 'nothing to do to it');
    // The replies that quote it say so.
    await ben.waitForFunction(() => [...document.querySelectorAll('[data-testid="reply-snippet"]')].some((e) => e.textContent === 'message deleted'));
    // After a reload it is further back than the latest page (the filler): a reply goes there.
    await reload(ben);
    const late = bubble(ben, `late reply ${RUN}`);
    assert.equal(await late.getByTestId('reply-snippet').textContent(), 'message deleted');
    await late.getByTestId('reply-quote').click();
    await tombstone(ben).waitFor();
    assert.equal(await ben.getByText(ORIGINAL, { exact: true }).count(), 0, 'the text is gone after a reload too');
  }));

  it('lets a room\'s creator delete anyone\'s message there, and nobody edit the bot\'s', { timeout: 60_000 }, () => step('creator', async () => {
    const ROOM = `Desk ${RUN}`;
    await ann.getByTestId('create-room-input').fill(ROOM);
    await ann.getByTestId('create-room-submit').click();
    await waitForConversation(ann, ROOM);
    await ben.locator(`[data-testid="room-item"][data-room-name="${ROOM}"]`).waitFor();
    await openRoom(ben, ROOM);
    await send(ben, `spam from ben ${RUN}`);
    await waitForMessage(ann, `spam from ben ${RUN}`);
    await openMessageMenu(ann, bubble(ann, `spam from ben ${RUN}`));
    assert.deepEqual(await ann.getByTestId('message-menu').locator('[role="menuitem"]').allTextContents(), ['Reply', 'Add reaction…', 'Delete…'], 'the creator may delete, not edit');
    await ann.getByTestId('menu-delete').click();
    await ann.getByTestId('menu-delete-confirm').click();
    await ben.locator('[data-testid="message-tombstone"]').waitFor();

    await send(ben, '/stock=aapl.us');
    const answer = (page) => page.locator('[data-testid="message"].bot');
    await answer(ben).waitFor({ timeout: 20_000 });
    await openMessageMenu(ben, answer(ben));
    assert.deepEqual(await ben.getByTestId('message-menu').locator('[role="menuitem"]').allTextContents(), ['Reply', 'Add reaction…'], 'a bot answer is never edited');
    await ben.keyboard.press('Escape');
  }));

  it('shows the menu, reactions and a reply together (the README\'s screenshot)', { timeout: 60_000 }, () => step('readme', async () => {
    await openRoom(ann, 'Random');
    await openRoom(ben, 'Random');
    await send(ann, 'Anyone watching **$TSLA** into the close?');
    await waitForMessage(ben, 'Anyone watching $TSLA into the close?');
    await openMessageMenu(ben, bubble(ben, 'Anyone watching $TSLA into the close?'));
    await ben.getByTestId('menu-reply').click();
    await send(ben, 'Yes: holding above the open so far');
    await waitForMessage(ann, 'Yes: holding above the open so far');
    for (const emoji of ['🚀', '👀']) {
      await openMessageMenu(ben, bubble(ben, 'Anyone watching $TSLA into the close?'));
      await ben.getByTestId('menu-react').click();
      await ben.locator(`[data-testid="menu-reaction"][data-emoji="${emoji}"]`).click();
    }
    const theirs = bubble(ann, 'Anyone watching $TSLA into the close?');
    await ann.waitForFunction(() => document.querySelectorAll('[data-testid="reaction"]').length === 2);
    await theirs.locator('[data-testid="reaction"][data-emoji="🚀"]').click();
    await ann.waitForFunction(() => document.querySelector('[data-testid="reaction"][data-emoji="🚀"]')?.getAttribute('aria-pressed') === 'true');
    await openMessageMenu(ann, bubble(ann, 'Yes: holding above the open so far'));
    await ann.getByTestId('menu-react').click();
    await screenshot(ann, 'message-actions');
    await ann.keyboard.press('Escape');
  }));

  it('has no serious accessibility violations: menu, picker, reactions, replies, tombstones, search (axe-core, both themes)', { timeout: 90_000 }, () => step('axe', async () => {
    for (const scheme of ['light', 'dark']) {
      const page = await newPage(browser, `axe-${scheme}`, { bypassCSP: true, colorScheme: scheme });
      try {
        await page.goto(stack.origin);
        await signUp(page, { username: `axe${scheme}_${RUN}`, email: `axe${scheme}_${RUN}@example.com`, password: 'axe password here' });
        await waitForConversation(page, 'General');
        await openRoom(page, 'Random');
        await waitForMessage(page, 'Yes: holding above the open so far');
        await page.getByTestId('search-input').fill('TSLA');
        await page.getByTestId('search-submit').click();
        await page.locator('[data-testid="search-match"]').first().waitFor();
        await openMessageMenu(page, bubble(page, 'Anyone watching $TSLA into the close?'));
        assert.deepEqual(await axeSerious(page), [], `axe (${scheme}), the menu open`);
        await page.getByTestId('menu-react').click();
        await openMessageMenu(page, bubble(page, 'Yes: holding above the open so far'));
        await page.getByTestId('menu-reply').click();
        assert.deepEqual(await axeSerious(page), [], `axe (${scheme}), replying`);
        await openRoom(page, 'General');
        await page.locator('[data-testid="message-tombstone"]').first().waitFor().catch(() => {});
        assert.deepEqual(await axeSerious(page), [], `axe (${scheme}), General`);
      } finally {
        await page.context().close();
      }
    }
  }));

  it('logged no CSP violations or script errors', () => {
    for (const [who, page] of [['ann', ann], ['ben', ben]]) {
      assert.deepEqual(page.problems.filter((p) => !/status of 40[19]/.test(p)), [], `${who}: console/page errors`);
    }
  });
});
