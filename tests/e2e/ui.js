// Reading and driving the web client's screen in a Playwright page, by its
// data-testid hooks, shared by every browser test file.

import assert from 'node:assert/strict';

/** Every message bubble in the visible conversation, top to bottom. */
export function messages(page) {
  return page.$$eval('[data-testid="message-list"] [data-testid="message"]', (els) => els.map((e) => ({
    id: e.dataset.id ?? null,
    state: e.dataset.state,
    author: e.querySelector('[data-testid="message-author"]')?.textContent ?? null,
    text: e.querySelector('[data-testid="message-text"]')?.textContent ?? null,
    time: e.querySelector('[data-testid="message-time"]')?.textContent ?? null,
    bot: e.classList.contains('bot'),
  })));
}

/** Wait until a message with exactly this text is shown (optionally in a given state). */
export async function waitForMessage(page, text, { state = null, timeout = 15_000 } = {}) {
  await page.waitForFunction(([t, s]) => [...document.querySelectorAll('[data-testid="message-list"] [data-testid="message"]')]
    .some((e) => e.querySelector('[data-testid="message-text"]')?.textContent === t && (!s || e.dataset.state === s)),
  [text, state], { timeout });
}

export async function countMessages(page, text) {
  return (await messages(page)).filter((m) => m.text === text).length;
}

export async function send(page, text) {
  const box = page.getByTestId('composer-input');
  await box.fill(text);
  await box.press('Enter');
  assert.equal(await box.inputValue(), '', 'the message box clears after sending');
}

export function connectionState(page) {
  return page.evaluate(() => document.querySelector('[data-testid="connection-status"]')?.dataset.state);
}

export async function waitOnline(page, timeout = 20_000) {
  await page.waitForFunction(() => document.querySelector('[data-testid="connection-status"]')?.dataset.state === 'online', null, { timeout });
}

export async function waitOffline(page, timeout = 15_000) {
  await page.waitForFunction(() => document.querySelector('[data-testid="connection-status"]')?.dataset.state !== 'online', null, { timeout });
}

export async function waitForTitle(page, name) {
  await page.waitForFunction((n) => document.querySelector('[data-testid="room-title"]')?.dataset.name === n, name);
}

/**
 * Waits until the conversation `name` is on screen with its history loaded: by then the client
 * has also moved the focus to the message box, as it does once a conversation has opened, so
 * typing elsewhere is no longer at risk of landing there.
 */
export async function waitForConversation(page, name) {
  await waitForTitle(page, name);
  await page.waitForFunction(() => {
    const visible = (id) => !document.querySelector(`[data-testid="${id}"]`)?.hidden;
    return !visible('history-loading') && (visible('history-start') || visible('load-older'));
  });
}

export async function signUp(page, user) {
  await page.getByTestId('auth-tab-signup').click();
  await page.getByTestId('signup-username').fill(user.username);
  await page.getByTestId('signup-email').fill(user.email);
  await page.getByTestId('signup-password').fill(user.password);
  await page.getByTestId('signup-submit').click();
  await page.getByTestId('app-screen').waitFor({ state: 'visible' });
  assert.equal(await page.getByTestId('current-user').textContent(), user.username);
}

/** Opens the direct conversation with `username` from the Direct tab's form. */
export async function openDirect(page, username) {
  await page.getByTestId('tab-dms').click();
  await page.getByTestId('dm-start-input').fill(username);
  await page.getByTestId('dm-start-submit').click();
  await waitForConversation(page, username);
}

export function assertNoDuplicateIds(list, who) {
  const ids = list.filter((m) => m.id).map((m) => m.id);
  assert.equal(new Set(ids).size, ids.length, `${who}: message ids are unique (${ids.join(',')})`);
  const nums = ids.map(Number);
  assert.deepEqual(nums, [...nums].sort((a, b) => a - b), `${who}: stored messages are oldest-first`);
}

/**
 * The bubble of the message whose text is exactly `text` (not a reply quoting it; a
 * tombstone has no text: find it by id).
 */
export function bubble(page, text) {
  return page.locator('[data-testid="message-list"] [data-testid="message"]', {
    has: page.locator('[data-testid="message-text"]').getByText(text, { exact: true }),
  });
}

/** The bubble of the stored message `id`. */
export function bubbleById(page, id) {
  return page.locator(`[data-testid="message-list"] [data-testid="message"][data-id="${id}"]`);
}

/** Opens a message's menu (its "⋯" button) and waits for it. */
export async function openMessageMenu(page, message) {
  await message.hover();
  await message.getByTestId('message-menu-button').click();
  await page.getByTestId('message-menu').waitFor();
}

/** A message's reactions as {emoji: [count, pressed]}. */
export async function reactionsOf(message) {
  return message.locator('[data-testid="reaction"]').evaluateAll((els) => Object.fromEntries(els.map((e) => [
    e.dataset.emoji, [Number(e.dataset.count), e.getAttribute('aria-pressed') === 'true'],
  ])));
}

/** Opens a room from the sidebar's Rooms tab and waits until its history is there. */
export async function openRoom(page, name) {
  await page.getByTestId('tab-rooms').click();
  await page.locator(`[data-testid="room-item"][data-room-name="${name}"]`).click();
  await waitForConversation(page, name);
}

/** A user's access token, by logging in over HTTP (a session of its own). */
export async function tokenOf(origin, user) {
  const res = await fetch(`${origin}/v1/auth/login`, {
    method: 'POST', headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ username: user.username, password: user.password }),
  });
  assert.equal(res.status, 200, `log in ${user.username}`);
  return (await res.json()).token;
}

/**
 * Runs axe-core (WCAG 2.1 A and AA rules) on the page as it is and returns its serious and
 * critical violations. The page must have been opened with `bypassCSP: true` for the script.
 */
export async function axeSerious(page) {
  const { createRequire } = await import('node:module');
  const { readFileSync } = await import('node:fs');
  const source = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
  await page.addScriptTag({ content: source });
  const result = await page.evaluate(async () => {
    const r = await window.axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21aa'] } });
    return r.violations.map((v) => ({ id: v.id, impact: v.impact, nodes: v.nodes.slice(0, 3).map((n) => n.target.join(' ')) }));
  });
  return result.filter((v) => v.impact === 'serious' || v.impact === 'critical');
}
