// In Chromium, two users on two server instances, in a direct conversation: "… is typing"
// while the other types (gone a few seconds after they stop), an online dot from the inbox
// (gone once they are offline), an edit, a deletion and a reaction seen live by the other
// (type 13 frames), and "New messages" above the first unread one from the inbox's
// `last_read_id`, after a reload too.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';

import {
  cleanupAll, launchBrowser, newPage, rand, screenshot, startStack,
} from './harness.js';
import {
  bubble, openDirect, openMessageMenu, openRoom, reactionsOf, send, signUp, waitForConversation, waitForMessage, waitOnline,
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
      if (page && !page.isClosed()) await screenshot(page, `direct-fail-${name}-${who}`).catch(() => {});
    }
    throw err;
  }
}

const dmItem = (page, user) => page.locator(`[data-testid="dm-item"][data-username="${user.username}"]`);

/** The texts of the messages on screen, with '--new--' where the divider is. */
function timeline(page) {
  return page.$$eval('[data-testid="message-list"] [data-testid="message"]', (els) => els.flatMap((e) => {
    const text = e.querySelector('[data-testid="message-text"]')?.textContent ?? '';
    return e.querySelector('[data-testid="unread-divider"]') ? ['--new--', text] : [text];
  }));
}

describe('direct conversations as good as rooms, on two instances, in Chromium', { timeout: 300_000 }, () => {
  before(async () => {
    stack = await startStack();
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
    await openDirect(ann, BEN.username);
    await send(ann, `hi ben ${RUN}`);
    await ben.getByTestId('tab-dms').click();
    await dmItem(ben, ANN).click();
    await waitForConversation(ben, ANN.username);
    await waitForMessage(ben, `hi ben ${RUN}`);
  }, { timeout: 120_000 });

  after(async () => {
    await cleanupAll();
  }, { timeout: 60_000 });

  it('says "… is typing" while the other types, and stops a few seconds after', { timeout: 60_000 }, () => step('typing', async () => {
    await ben.getByTestId('composer-input').pressSequentially('hello th', { delay: 30 });
    await ann.waitForFunction((n) => document.querySelector('[data-testid="typing-indicator"]')?.textContent === `${n} is typing…`, BEN.username);
    await ann.waitForFunction(() => document.querySelector('[data-testid="typing-indicator"]')?.textContent === '', null, { timeout: 6_000 });
    // Only in that conversation.
    await openRoom(ann, 'General');
    await ben.getByTestId('composer-input').pressSequentially('ere', { delay: 30 });
    await ann.waitForTimeout(1_000);
    assert.equal(await ann.getByTestId('typing-indicator').textContent(), '');
    await ben.getByTestId('composer-input').fill('');
  }));

  it('shows who is online beside each conversation, and not once they are gone', { timeout: 90_000 }, () => step('online', async () => {
    await ann.getByTestId('tab-dms').click();
    await dmItem(ann, BEN).waitFor();
    await ann.waitForFunction((n) => document.querySelector(`[data-testid="dm-item"][data-username="${n}"]`)?.dataset.online === 'true', BEN.username);
    assert.equal(await dmItem(ann, BEN).getByTestId('dm-online').count(), 1, 'a dot');
    await dmItem(ann, BEN).click();
    await waitForConversation(ann, BEN.username);
    assert.equal(await ann.getByTestId('room-subtitle').textContent(), 'Direct message · online');
    await screenshot(ann, 'direct-online');
    // Ben signs out: the next look at the inbox (here, coming back to the Direct tab) says so.
    const page = await newPage(browser, 'ben2');
    await ben.getByTestId('logout-button').click();
    await ben.getByTestId('auth-screen').waitFor();
    await ann.getByTestId('tab-rooms').click();
    await ann.getByTestId('tab-dms').click();
    await ann.waitForFunction((n) => document.querySelector(`[data-testid="dm-item"][data-username="${n}"]`)?.dataset.online === 'false', BEN.username);
    assert.equal(await dmItem(ann, BEN).getByTestId('dm-online').count(), 0);
    // Back on another page: online again within the inbox's next read.
    await page.goto(second.origin);
    await page.getByTestId('login-identifier').fill(BEN.username);
    await page.getByTestId('login-password').fill(BEN.password);
    await page.getByTestId('login-submit').click();
    await waitForConversation(page, 'General');
    await ben.close();
    ben = page;
    await waitOnline(ben);
    await ann.getByTestId('tab-rooms').click();
    await ann.getByTestId('tab-dms').click();
    await ann.waitForFunction((n) => document.querySelector(`[data-testid="dm-item"][data-username="${n}"]`)?.dataset.online === 'true', BEN.username);
  }));

  it('edits, deletes and reacts to direct messages, live for the other', { timeout: 60_000 }, () => step('changes', async () => {
    await openDirect(ben, ANN.username);
    await waitForMessage(ben, `hi ben ${RUN}`);
    await dmItem(ann, BEN).click();
    await waitForConversation(ann, BEN.username);
    // Ann fixes her message with ArrowUp.
    const box = ann.getByTestId('composer-input');
    await box.press('ArrowUp');
    await box.fill(`hi ben, edited ${RUN}`);
    await box.press('Enter');
    await waitForMessage(ben, `hi ben, edited ${RUN}`);
    assert.equal(await bubble(ben, `hi ben, edited ${RUN}`).getByTestId('message-edited').count(), 1);
    // Ben reacts; no Reply in a direct conversation.
    const theirs = bubble(ben, `hi ben, edited ${RUN}`);
    await openMessageMenu(ben, theirs);
    assert.deepEqual(await ben.getByTestId('message-menu').locator('[role="menuitem"]').allTextContents(), ['Add reaction…']);
    await ben.getByTestId('menu-react').click();
    await ben.locator('[data-testid="menu-reaction"][data-emoji="🎉"]').click();
    await ann.waitForFunction(() => document.querySelector('[data-testid="reaction"][data-emoji="🎉"]')?.dataset.count === '1');
    assert.deepEqual(await reactionsOf(bubble(ann, `hi ben, edited ${RUN}`)), { '🎉': [1, false] });
    assert.deepEqual(await reactionsOf(theirs), { '🎉': [1, true] });
    // Ann deletes it.
    await openMessageMenu(ann, bubble(ann, `hi ben, edited ${RUN}`));
    await ann.getByTestId('menu-delete').click();
    await ann.getByTestId('menu-delete-confirm').click();
    await ben.locator('[data-testid="message-tombstone"]').waitFor();
    assert.equal(await ben.getByText(`hi ben, edited ${RUN}`, { exact: true }).count(), 0);
  }));

  it('puts "New messages" above the first unread direct message, after a reload too', { timeout: 60_000 }, () => step('divider', async () => {
    await send(ann, `read this first ${RUN}`);
    await waitForMessage(ben, `read this first ${RUN}`);
    await ben.waitForTimeout(1_000); // ben has read it: the marker goes out within half a second
    await openRoom(ben, 'General');
    for (const text of [`unread one ${RUN}`, `unread two ${RUN}`]) await send(ann, text);
    await waitForMessage(ann, `unread two ${RUN}`, { state: 'sent' });
    await ben.reload();
    await waitForConversation(ben, 'General');
    await ben.getByTestId('tab-dms').click();
    await ben.waitForFunction((n) => document.querySelector(`[data-testid="dm-item"][data-username="${n}"] [data-testid="dm-unread"]`)?.textContent === '2', ANN.username);
    await dmItem(ben, ANN).click();
    await waitForConversation(ben, ANN.username);
    await ben.getByTestId('unread-divider').waitFor();
    const list = await timeline(ben);
    assert.deepEqual(list.slice(list.indexOf('--new--')), ['--new--', `unread one ${RUN}`, `unread two ${RUN}`]);
  }));

  it('logged no CSP violations or script errors', () => {
    for (const [who, page] of [['ann', ann], ['ben', ben]]) {
      assert.deepEqual(page.problems.filter((p) => !/status of 40[19]/.test(p)), [], `${who}: console/page errors`);
    }
  });
});
