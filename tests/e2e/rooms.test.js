// In Chromium, two users on two server instances: "here" lists exactly the people looking at
// a room (switching rooms leaves the old one), the members panel with who is online, the
// creator's topic and new name appearing live for the other user, and leaving a room: out of
// the sidebar and its counts, kept under "Rooms you left", back in the list once opened again.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';

import {
  cleanupAll, launchBrowser, newPage, rand, screenshot, startStack,
} from './harness.js';
import {
  openDirect, openRoom, send, signUp, waitForConversation, waitForMessage, waitOnline,
} from './ui.js';

const RUN = rand(6);
const ANN = { username: `ann_${RUN}`, email: `ann_${RUN}@example.com`, password: 'correct horse battery' };
const BEN = { username: `ben_${RUN}`, email: `ben_${RUN}@example.com`, password: 'staple battery horse' };
const ROOM = `Ops ${RUN}`;
const RENAMED = `Ops desk ${RUN}`;

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
      if (page) await screenshot(page, `rooms-fail-${name}-${who}`).catch(() => {});
    }
    throw err;
  }
}

const here = (page, user) => page.locator(`[data-testid="presence-user"][data-username="${user.username}"]`);
const member = (page, user) => page.locator(`[data-testid="member"][data-username="${user.username}"]`);
const roomItem = (page, name) => page.locator(`[data-testid="room-item"][data-room-name="${name}"]`);

describe('rooms: who is here, members, topics, leaving, in Chromium', { timeout: 300_000 }, () => {
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
  }, { timeout: 120_000 });

  after(async () => {
    await cleanupAll();
  }, { timeout: 60_000 });

  it('lists only the people looking at a room: moving to another room leaves the first', { timeout: 60_000 }, () => step('presence', async () => {
    await here(ann, BEN).waitFor();
    await here(ben, ANN).waitFor();
    await openRoom(ben, 'Random');
    await here(ann, BEN).waitFor({ state: 'detached' });
    await here(ben, BEN).waitFor();
    assert.equal(await here(ben, ANN).count(), 0, 'ann is not in Random');
    assert.equal(await ann.getByTestId('presence-count').textContent(), '1');
    // Back again: listed again, and what was said meanwhile is there (joined with `since`).
    await send(ann, `while you were away ${RUN}`);
    await openRoom(ben, 'General');
    await here(ann, BEN).waitFor();
    await waitForMessage(ben, `while you were away ${RUN}`);
    // Reading direct messages keeps the last room (the server counts a user online while in a room).
    await openDirect(ben, ANN.username);
    await ann.waitForTimeout(500);
    assert.equal(await here(ann, BEN).count(), 1, 'still listed in General while in a direct conversation');
    await openRoom(ben, 'General');
  }));

  it('shows the members of a room, online ones marked', { timeout: 60_000 }, () => step('members', async () => {
    await ann.getByTestId('create-room-input').fill(ROOM);
    await ann.getByTestId('create-room-submit').click();
    await waitForConversation(ann, ROOM);
    await roomItem(ben, ROOM).waitFor();
    await openRoom(ben, ROOM);
    await member(ann, BEN).waitFor();
    await ann.waitForFunction((n) => document.querySelector(`[data-testid="member"][data-username="${n}"]`)?.dataset.online === 'true', BEN.username);
    assert.equal(await member(ann, ANN).getAttribute('data-online'), 'true');
    assert.equal(await member(ann, BEN).getByTestId('member-state').textContent(), 'online');
    assert.equal(await ann.getByTestId('member-count').textContent(), '2');
    assert.equal(await ann.getByTestId('room-creator').textContent(), 'Created by you');
    assert.equal(await ben.getByTestId('room-creator').textContent(), `Created by ${ANN.username}`);
    // Ben looks elsewhere: still a member, no longer online here.
    await openRoom(ben, 'General');
    await ann.waitForFunction((n) => document.querySelector(`[data-testid="member"][data-username="${n}"]`)?.dataset.online === 'false', BEN.username);
    assert.equal(await member(ann, BEN).getByTestId('member-state').textContent(), 'away');
    await screenshot(ann, 'room-members');
  }));

  it('shows the topic its creator sets, and a new name, live for the other user', { timeout: 60_000 }, () => step('topic', async () => {
    await openRoom(ben, ROOM);
    assert.equal(await ben.getByTestId('room-edit').isHidden(), true, 'only the creator can edit the room');
    await ann.getByTestId('room-edit').click();
    await ann.getByTestId('room-edit-topic').fill('Earnings calls and $TSLA only');
    await ann.getByTestId('room-edit-save').click();
    await ann.getByTestId('room-edit-form').waitFor({ state: 'hidden' });
    await ben.waitForFunction(() => document.querySelector('[data-testid="room-topic"]')?.textContent === 'Earnings calls and $TSLA only');
    assert.equal(await ben.getByTestId('room-topic').isVisible(), true, 'under the room\'s name');
    // A name taken by another room is refused in the form.
    await ann.getByTestId('room-edit').click();
    await ann.getByTestId('room-edit-name').fill('General');
    await ann.getByTestId('room-edit-save').click();
    await ann.getByTestId('room-edit-error').waitFor();
    assert.match(await ann.getByTestId('room-edit-error').textContent(), /already exists/);
    await ann.getByTestId('room-edit-name').fill(RENAMED);
    await ann.getByTestId('room-edit-save').click();
    await waitForConversation(ben, RENAMED);
    await roomItem(ben, RENAMED).waitFor();
    assert.equal(await roomItem(ben, ROOM).count(), 0);
    assert.equal(await ben.getByTestId('composer-input').getAttribute('placeholder'), `Message #${RENAMED}`);
    await ben.reload();
    await waitForConversation(ben, RENAMED);
    assert.equal(await ben.getByTestId('room-topic').textContent(), 'Earnings calls and $TSLA only', 'after a reload too');
  }));

  it('leaves a room: out of the sidebar and its counts until it is opened again', { timeout: 90_000 }, () => step('leave', async () => {
    await waitOnline(ben);
    await ben.getByTestId('room-leave').click();
    await waitForConversation(ben, 'General');
    await roomItem(ben, RENAMED).waitFor({ state: 'detached' });
    await ann.waitForFunction((n) => !document.querySelector(`[data-testid="member"][data-username="${n}"]`)
      || document.querySelector(`[data-testid="member"][data-username="${n}"]`).dataset.online === 'false', BEN.username);
    // Messages there no longer count for ben, live or after a reload.
    await send(ann, `nobody reads this ${RUN}`);
    await ben.waitForTimeout(2_500);
    assert.equal(await roomItem(ben, RENAMED).count(), 0);
    assert.equal(await ben.evaluate(() => document.title), 'tickertalk', 'no unread count for it');
    await ben.reload();
    await waitForConversation(ben, 'General');
    assert.equal(await roomItem(ben, RENAMED).count(), 0, 'not listed after a reload');
    // Ann opens the room again: ben is no longer a member.
    await openRoom(ann, 'General');
    await openRoom(ann, RENAMED);
    await member(ann, ANN).waitFor();
    assert.equal(await member(ann, BEN).count(), 0, 'a member who left is not listed');
    // Ben finds it under "Rooms you left" and opens it: joined and listed again.
    await ben.getByTestId('left-rooms-toggle').click();
    await ben.locator(`[data-testid="left-room"][data-room-name="${RENAMED}"]`).click();
    await waitForConversation(ben, RENAMED);
    await waitForMessage(ben, `nobody reads this ${RUN}`);
    await roomItem(ben, RENAMED).waitFor();
    await member(ann, BEN).waitFor();
    assert.equal(await ben.locator('[data-testid="left-room"]').count(), 0, 'no longer under "Rooms you left"');
    await ben.reload();
    await waitForConversation(ben, RENAMED);
    await roomItem(ben, RENAMED).waitFor();
  }));

  it('logged no CSP violations or script errors', () => {
    for (const [who, page] of [['ann', ann], ['ben', ben]]) {
      assert.deepEqual(page.problems.filter((p) => !/status of 40[19]/.test(p)), [], `${who}: console/page errors`);
    }
  });
});
