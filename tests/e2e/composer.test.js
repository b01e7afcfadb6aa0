// In Chromium: the message box near and over the server's length limit (a counter, Send
// disabled, Enter refused, the text kept whole, a long paste never cut), and its keys.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';

import { cleanupAll, launchBrowser, newPage, rand, screenshot, startStack } from './harness.js';
import { messages, signUp, waitForConversation, waitForMessage, waitOnline } from './ui.js';

const RUN = rand(6);
const ANN = { username: `ann_${RUN}`, email: `ann_${RUN}@example.com`, password: 'correct horse battery' };

let stack;
let browser;
let ann;

async function step(name, fn) {
  try {
    await fn();
  } catch (err) {
    if (ann) await screenshot(ann, `composer-fail-${name}`).catch(() => {});
    throw err;
  }
}

/** What the length check shows: the counter (null while hidden), Send, the box. */
function lengthState(page) {
  return page.evaluate(() => {
    const counter = document.querySelector('[data-testid="char-count"]');
    const box = document.querySelector('[data-testid="composer-input"]');
    return {
      counter: counter.hidden ? null : counter.textContent,
      over: counter.classList.contains('over'),
      sendDisabled: document.querySelector('[data-testid="send-button"]').disabled,
      invalid: box.getAttribute('aria-invalid'),
      length: box.value.length,
    };
  });
}

describe('the message box in Chromium', { timeout: 180_000 }, () => {
  before(async () => {
    stack = await startStack();
    browser = await launchBrowser();
    ann = await newPage(browser, 'ann');
    await ann.goto(stack.origin);
    await signUp(ann, ANN);
    await waitForConversation(ann, 'General');
    await waitOnline(ann);
  }, { timeout: 120_000 });

  after(async () => {
    await cleanupAll();
  }, { timeout: 60_000 });

  it('counts near the limit, disables Send over it, and Enter keeps the text', { timeout: 60_000 }, () => step('limit', async () => {
    const box = ann.getByTestId('composer-input');
    await box.fill('x'.repeat(1799));
    assert.deepEqual(await lengthState(ann), { counter: null, over: false, sendDisabled: false, invalid: 'false', length: 1799 });
    await box.fill('x'.repeat(1850));
    assert.deepEqual(await lengthState(ann), { counter: '1,850 / 2,000', over: false, sendDisabled: false, invalid: 'false', length: 1850 });

    const tooLong = `${'y'.repeat(2013)}`;
    await box.fill(tooLong);
    assert.deepEqual(await lengthState(ann), { counter: '2,013 / 2,000 · 13 too many', over: true, sendDisabled: true, invalid: 'true', length: 2013 });
    assert.match(await ann.getByTestId('composer-limit-status').textContent(), /13 characters over the limit of 2,000/);
    const before = (await messages(ann)).length;
    await box.press('Enter');
    await ann.getByTestId('composer-error').waitFor({ state: 'visible' });
    assert.match(await ann.getByTestId('composer-error').textContent(), /13 characters too long/);
    await screenshot(ann, 'composer-too-long');
    await ann.waitForTimeout(500);
    assert.equal((await messages(ann)).length, before, 'nothing was sent, not even as a failed bubble');
    assert.equal(await box.inputValue(), tooLong, 'the text stays, whole');
    assert.equal(await ann.getByTestId('send-button').isDisabled(), true);

    // Back under the limit: Send works again and the error goes; exactly the limit is sent.
    await box.press('End');
    for (let i = 0; i < 13; i += 1) await box.press('Backspace');
    assert.equal((await lengthState(ann)).sendDisabled, false);
    assert.equal(await ann.getByTestId('composer-error').isVisible(), false);
    assert.match(await ann.getByTestId('composer-limit-status').textContent(), /fits again/);
    await box.press('Enter');
    await waitForMessage(ann, 'y'.repeat(2000), { state: 'sent' });
    assert.equal(await box.inputValue(), '');
    assert.deepEqual(await lengthState(ann), { counter: null, over: false, sendDisabled: false, invalid: 'false', length: 0 });
  }));

  it('keeps a long paste whole and counts characters as the server does', { timeout: 60_000 }, () => step('paste', async () => {
    await ann.context().grantPermissions(['clipboard-read', 'clipboard-write'], { origin: stack.origin });
    const box = ann.getByTestId('composer-input');
    const pasted = `${'p'.repeat(4999)}!`;
    await ann.evaluate((t) => navigator.clipboard.writeText(t), pasted);
    await box.fill('');
    await box.focus();
    await ann.keyboard.press('Control+V');
    await ann.waitForFunction(() => document.querySelector('[data-testid="composer-input"]').value.length > 0);
    assert.equal(await box.inputValue(), pasted, 'all 5,000 characters are in the box');
    assert.deepEqual(await lengthState(ann), { counter: '5,000 / 2,000 · 3,000 too many', over: true, sendDisabled: true, invalid: 'true', length: 5000 });

    // 2,001 characters in 4,002 UTF-16 units: over by one, as the server counts.
    await box.fill(`${'😀'.repeat(2000)}!`);
    assert.equal((await lengthState(ann)).counter, '2,001 / 2,000 · 1 too many');
    await box.fill('😀'.repeat(2000));
    assert.equal((await lengthState(ann)).sendDisabled, false, '2,000 emoji fit');
    await box.fill('');
  }));

  it('Escape leaves the message box and keeps what is in it', { timeout: 30_000 }, () => step('escape', async () => {
    const box = ann.getByTestId('composer-input');
    await box.click();
    await ann.keyboard.type('a draft');
    await ann.keyboard.press('Escape');
    assert.notEqual(await ann.evaluate(() => document.activeElement?.id), 'composer-input', 'the focus left the box');
    assert.equal(await box.inputValue(), 'a draft');
    // ArrowUp in an empty box edits the last message; Escape cancels that, and gives back the
    // empty box (a second Escape leaves it).
    await box.fill('');
    await box.press('ArrowUp');
    assert.notEqual(await box.inputValue(), '', 'the last message, to edit');
    assert.equal(await ann.getByTestId('composer-mode').isVisible(), true);
    await box.press('Escape');
    assert.equal(await box.inputValue(), '');
    assert.equal(await ann.getByTestId('composer-mode').isVisible(), false);
    assert.equal(await ann.evaluate(() => document.activeElement?.id), 'composer-input', 'the first Escape cancels only the edit');
    assert.equal(await ann.getByTestId('composer-error').isVisible(), false);
  }));

  it('looks focused only when it is, and rings only for the user\'s own focus', { timeout: 30_000 }, () => step('focus', async () => {
    const look = () => ann.evaluate(() => {
      const form = document.querySelector('[data-testid="composer-form"]');
      const style = getComputedStyle(form);
      return { active: document.activeElement?.id, border: style.borderTopColor, ring: style.boxShadow.includes('0px 0px 0px 3px') };
    });
    await ann.emulateMedia({ reducedMotion: 'reduce' }); // no transitions: styles are final at once
    // Focus elsewhere: the box looks like any other.
    await ann.locator('[data-testid="room-item"][data-room-name="Random"]').focus();
    const idle = await look();
    assert.equal(idle.ring, false);
    // Opening a conversation focuses the box for the user: its border says so, no ring.
    await ann.locator('[data-testid="room-item"][data-room-name="Random"]').click();
    await waitForConversation(ann, 'Random');
    const opened = await look();
    assert.equal(opened.active, 'composer-input');
    assert.notEqual(opened.border, idle.border, 'the border shows where the focus is');
    assert.equal(opened.ring, false, 'no ring for a focus the user did not make');
    // The Send button focused: the box is not.
    await ann.getByTestId('composer-input').fill('x');
    await ann.getByTestId('send-button').focus();
    assert.deepEqual(await look(), { ...idle, active: '' });
    // Back into the box with the keyboard: the ring.
    await ann.keyboard.press('Shift+Tab');
    const keyed = await look();
    assert.equal(keyed.active, 'composer-input');
    assert.equal(keyed.ring, true);
    await ann.getByTestId('composer-input').fill('');
  }));

  it('logged no CSP violations or script errors', () => {
    assert.deepEqual(ann.problems.filter((p) => !/status of 40[19]/.test(p)), []);
  });
});
