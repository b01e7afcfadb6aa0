// End-to-end: the real server + bot + a real Chromium driving the web client.
//
// Run with scripts/e2e.sh (or `npm test` in this folder with DATABASE_URL and
// AMQP_URL set and the binaries built). The steps share one stack and two
// signed-in browsers, so they run in order.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as delay } from 'node:timers/promises';

import {
  api, cleanupAll, launchBrowser, log, newPage, rand, screenshot, startStack, waitFor,
} from './harness.js';
import {
  assertNoDuplicateIds, countMessages, messages, send, signUp, waitForMessage, waitOnline,
} from './ui.js';

const RUN = rand(6);
const ALICE = { username: `alice_${RUN}`, email: `alice_${RUN}@example.com`, password: 'correct horse battery' };
const BOB = { username: `bob_${RUN}`, email: `bob_${RUN}@example.com`, password: 'staple battery horse' };
const XSS_IMG = '<img src=x onerror="window.__xss=1">';
const XSS_SCRIPT = '<script>window.__xss=1</script>';
const QUOTE = 'AAPL.US quote is $93.42 per share';
const HELLO_ALICE = `hello from alice ${RUN}`;
const HELLO_BOB = `hi alice, bob here ${RUN}`;
const MULTILINE = `line one ${RUN}\nline two`;
const DM_PSST = `psst alice ${RUN}`;
const DM_REPLY = `hi bob, got it ${RUN}`;

let stack;
let browser;
let alice;
let bob;
let bobSignedUpAt = 0;

// ---------------------------------------------------------------------------
// helpers
// ---------------------------------------------------------------------------

/** Run a step; on failure save screenshots of every page before rethrowing. */
async function step(name, fn) {
  try {
    await fn();
  } catch (err) {
    for (const [who, page] of [['alice', alice], ['bob', bob]]) {
      if (page && !page.isClosed()) {
        await screenshot(page, `FAILED-${name}-${who}`).catch(() => {});
      }
    }
    throw err;
  }
}

async function openRoom(page, name) {
  await page.locator(`[data-testid="room-item"][data-room-name="${name}"]`).click();
  await page.waitForFunction((n) => document.querySelector('[data-testid="room-title"]')?.dataset.name === n, name);
}

/** Back to the Rooms tab and room General (used to recover after a failed step). */
/**
 * The AAPL.US answer: who asked, and its card (price, change since the previous close, the
 * day's range; stocks.test.js tests the rest of it).
 */
async function assertQuoteCard(page) {
  const answer = page.locator('[data-testid="message"]', { has: page.getByText(QUOTE, { exact: true }) });
  const card = answer.getByTestId('quote-card');
  await card.waitFor({ timeout: 10_000 });
  assert.equal(await answer.getByTestId('message-asked').textContent(), `${ALICE.username} asked /stock=aapl.us`);
  assert.equal(await card.getByTestId('quote-symbol').textContent(), 'AAPL.US');
  assert.equal(await card.getByTestId('quote-price').textContent(), '$93.42');
  assert.equal(await card.getByTestId('quote-change').textContent(), '+1.62 (+1.76%)');
  assert.equal(await card.getByTestId('quote-basis').textContent(), 'vs prev close');
  assert.match(await card.getByTestId('quote-range').textContent(), /91\.50.*94\.10/);
  assert.ok(await answer.getAttribute('data-id'), 'the answer is a stored message with an id');
}

async function backToGeneral(page) {
  await page.getByTestId('tab-rooms').click().catch(() => {});
  await openRoom(page, 'General').catch(() => {});
}



// ---------------------------------------------------------------------------
// scenario
// ---------------------------------------------------------------------------

describe('tickertalk web client in Chromium', { timeout: 300_000 }, () => {
  before(async () => {
    stack = await startStack();
    browser = await launchBrowser();
    alice = await newPage(browser, 'alice');
    bob = await newPage(browser, 'bob');
  }, { timeout: 120_000 });

  after(async () => {
    await cleanupAll();
  }, { timeout: 60_000 });

  it('serves the client with a strict CSP and shows the sign-in screen', { timeout: 60_000 }, () => step('login', async () => {
    const res = await alice.goto(stack.origin);
    assert.equal(res.status(), 200);
    const csp = res.headers()['content-security-policy'] || '';
    assert.match(csp, /script-src 'self'/, 'CSP header restricts scripts');
    await alice.getByTestId('auth-screen').waitFor({ state: 'visible' });
    await alice.getByTestId('login-identifier').waitFor({ state: 'visible' });
    assert.equal(await alice.getByTestId('app-screen').isVisible(), false);
    await screenshot(alice, 'login');
  }));

  it('shows per-field errors from the server (422) and signs alice up', { timeout: 60_000 }, () => step('signup', async () => {
    await alice.getByTestId('auth-tab-signup').click();
    await alice.getByTestId('signup-username').fill('1x');
    await alice.getByTestId('signup-email').fill('not-an-email');
    await alice.getByTestId('signup-password').fill('short');
    await alice.getByTestId('signup-submit').click();
    await alice.getByTestId('signup-password-error').waitFor({ state: 'visible' });
    await alice.getByTestId('signup-username-error').waitFor({ state: 'visible' });
    await alice.getByTestId('signup-email-error').waitFor({ state: 'visible' });
    assert.notEqual((await alice.getByTestId('signup-password-error').textContent()).trim(), '');
    assert.equal(await alice.getByTestId('signup-password').getAttribute('aria-invalid'), 'true');
    await screenshot(alice, 'signup-errors');
    await signUp(alice, ALICE);
  }));

  it('shows bad credentials (401) and a taken username (409), then signs bob up', { timeout: 60_000 }, () => step('bob-signup', async () => {
    await bob.goto(stack.origin);
    await bob.getByTestId('login-identifier').fill(ALICE.username);
    await bob.getByTestId('login-password').fill('definitely wrong');
    await bob.getByTestId('login-submit').click();
    await bob.getByTestId('login-error').waitFor({ state: 'visible' });
    assert.notEqual((await bob.getByTestId('login-error').textContent()).trim(), '');

    await bob.getByTestId('auth-tab-signup').click();
    await bob.getByTestId('signup-username').fill(ALICE.username.toUpperCase());
    await bob.getByTestId('signup-email').fill(BOB.email);
    await bob.getByTestId('signup-password').fill(BOB.password);
    await bob.getByTestId('signup-submit').click();
    await bob.getByTestId('signup-username-error').waitFor({ state: 'visible' });
    assert.equal(await bob.getByTestId('app-screen').isVisible(), false);

    await bob.getByTestId('signup-username').fill('');
    await signUp(bob, BOB);
    bobSignedUpAt = Date.now();
  }));

  it('both open General, see presence and typing, and each other\'s messages live', { timeout: 90_000 }, () => step('live', async () => {
    for (const page of [alice, bob]) {
      await page.waitForFunction(() => document.querySelector('[data-testid="room-title"]')?.dataset.name === 'General');
      await waitOnline(page);
    }
    // Presence: each sees the other.
    await alice.locator(`[data-testid="presence-user"][data-username="${BOB.username}"]`).waitFor();
    await bob.locator(`[data-testid="presence-user"][data-username="${ALICE.username}"]`).waitFor();

    // Typing indicator (typed key by key so input events fire).
    const box = alice.getByTestId('composer-input');
    await box.pressSequentially(HELLO_ALICE, { delay: 5 });
    await bob.waitForFunction((name) => (document.querySelector('[data-testid="typing-indicator"]')?.textContent || '').includes(`${name} is typing`), ALICE.username, { timeout: 5_000 });
    await box.press('Enter');
    assert.equal(await box.inputValue(), '');

    await waitForMessage(bob, HELLO_ALICE, { state: 'sent' });
    await waitForMessage(alice, HELLO_ALICE, { state: 'sent' });
    assert.equal(await countMessages(alice, HELLO_ALICE), 1, 'own message shown exactly once');
    const seenByBob = (await messages(bob)).find((m) => m.text === HELLO_ALICE);
    assert.equal(seenByBob.author, ALICE.username);
    assert.ok(seenByBob.time && seenByBob.time.trim(), 'message shows a time');

    await send(bob, HELLO_BOB);
    await waitForMessage(alice, HELLO_BOB, { state: 'sent' });
    assert.equal(await countMessages(bob, HELLO_BOB), 1);

    // Shift+Enter makes a new line; Enter sends.
    const bbox = bob.getByTestId('composer-input');
    await bbox.fill(`line one ${RUN}`);
    await bbox.press('Shift+Enter');
    await bbox.pressSequentially('line two');
    await bbox.press('Enter');
    await waitForMessage(alice, MULTILINE, { state: 'sent' });

    // The typing notice goes away by itself.
    await bob.waitForFunction(() => !(document.querySelector('[data-testid="typing-indicator"]')?.textContent || '').includes('is typing'), null, { timeout: 6_000 });
  }));

  it('answers /stock=aapl.us through the bot in both browsers', { timeout: 60_000 }, () => step('stock', async () => {
    await send(alice, '/stock=aapl.us');
    for (const page of [alice, bob]) {
      await waitForMessage(page, QUOTE, { state: 'bot', timeout: 30_000 });
      const botMsg = (await messages(page)).find((m) => m.text === QUOTE);
      assert.equal(botMsg.author, 'stockbot');
      assert.ok(botMsg.bot, 'bot message is styled as bot');
    }
    assert.ok(stack.quotes.requests.includes('aapl.us'), 'the bot asked the quote service');
    // Stored and attributed: it says who asked, and shows the quote as a card.
    for (const page of [alice, bob]) await assertQuoteCard(page);
    // An unknown symbol (all N/D in the CSV) gets "not available", from the other browser.
    await send(bob, '/stock=zzzz.us');
    await waitForMessage(alice, 'ZZZZ.US quote is not available', { state: 'bot', timeout: 30_000 });
    // The command is acknowledged, not stored: its pending bubble goes away.
    await alice.waitForFunction(() => ![...document.querySelectorAll('[data-testid="message-text"]')].some((e) => e.textContent === '/stock=aapl.us'), null, { timeout: 10_000 });
    assert.equal(await countMessages(bob, '/stock=aapl.us'), 0);
  }));

  it('renders HTML in messages as literal text', { timeout: 60_000 }, () => step('xss', async () => {
    await send(bob, XSS_IMG);
    await send(bob, XSS_SCRIPT);
    for (const page of [alice, bob]) {
      await waitForMessage(page, XSS_IMG, { state: 'sent' });
      await waitForMessage(page, XSS_SCRIPT, { state: 'sent' });
      const injected = await page.evaluate(() => document.querySelectorAll('[data-testid="message-list"] img, [data-testid="message-list"] script').length);
      assert.equal(injected, 0, 'no element was created from message text');
    }
    await delay(500); // give a broken image's onerror a chance to fire
    for (const page of [alice, bob]) {
      assert.equal(await page.evaluate(() => typeof window.__xss), 'undefined');
    }
    await screenshot(alice, 'room-desktop');
  }));

  it('creates rooms and shows the 409 for a duplicate name', { timeout: 60_000 }, () => step('rooms', async () => {
    const name = `Room ${RUN}`;
    await alice.getByTestId('create-room-input').fill(name);
    await alice.getByTestId('create-room-submit').click();
    await alice.waitForFunction((n) => document.querySelector('[data-testid="room-title"]')?.dataset.name === n, name);
    await alice.locator(`[data-testid="room-item"][data-room-name="${name}"]`).waitFor();
    assert.equal((await messages(alice)).length, 0, 'a new room is empty');
    // Bob's sidebar gets it at once, without a reload (a room-created frame).
    await bob.locator(`[data-testid="room-item"][data-room-name="${name}"]`).waitFor({ timeout: 5_000 });

    await alice.getByTestId('create-room-input').fill('general');
    await alice.getByTestId('create-room-submit').click();
    await alice.getByTestId('create-room-error').waitFor({ state: 'visible' });
    await alice.getByTestId('create-room-input').fill('');

    await openRoom(alice, 'General');
    await waitForMessage(alice, HELLO_BOB, { state: 'sent' });
    assert.equal(await countMessages(alice, HELLO_ALICE), 1, 'switching back shows each message once');
  }));

  it('after a reload: still signed in, history shown oldest first, the command not stored', { timeout: 60_000 }, () => step('reload', async () => {
    await alice.reload();
    await alice.getByTestId('app-screen').waitFor({ state: 'visible' });
    assert.equal(await alice.getByTestId('auth-screen').isVisible(), false);
    assert.equal(await alice.getByTestId('current-user').textContent(), ALICE.username);
    await alice.waitForFunction(() => document.querySelector('[data-testid="room-title"]')?.dataset.name === 'General');
    for (const text of [HELLO_ALICE, HELLO_BOB, MULTILINE, XSS_IMG, XSS_SCRIPT]) {
      await waitForMessage(alice, text, { state: 'sent' });
    }
    const list = await messages(alice);
    assert.equal(list.filter((m) => m.text === '/stock=aapl.us').length, 0, 'commands are not in the history');
    // The bot's answer is: after the reload, with its card.
    await waitForMessage(alice, QUOTE, { state: 'bot' });
    await assertQuoteCard(alice);
    await alice.locator('[data-testid="quote-card"]').first().scrollIntoViewIfNeeded();
    await screenshot(alice, 'quote-card');
    assertNoDuplicateIds(list, 'alice after reload');
    const order = [HELLO_ALICE, HELLO_BOB, MULTILINE, XSS_IMG, XSS_SCRIPT].map((t) => list.findIndex((m) => m.text === t));
    assert.deepEqual(order, [...order].sort((a, b) => a - b), 'history is oldest at the top');
    assert.equal(await alice.evaluate(() => typeof window.__xss), 'undefined');
    await waitOnline(alice);
  }));

  it('loads older messages when scrolling up', { timeout: 90_000 }, () => step('history', async () => {
    // 60 messages from 4 helper users (15 each stays under the per-user rate limit).
    const tokens = [];
    for (let i = 0; i < 4; i += 1) {
      const u = `hist${i}_${RUN}`;
      const r = await api(stack.origin, 'POST', '/v1/auth/signup', { body: { username: u, email: `${u}@example.com`, password: 'history password' } });
      assert.equal(r.status, 201, `signup ${u}: ${JSON.stringify(r.data)}`);
      tokens.push(r.data.token);
    }
    const room = await api(stack.origin, 'POST', '/v1/chat/rooms', { token: tokens[0], body: { name: `History ${RUN}` } });
    assert.equal(room.status, 201, JSON.stringify(room.data));
    const texts = [];
    for (let n = 1; n <= 60; n += 1) {
      const text = `hist ${String(n).padStart(2, '0')}`;
      texts.push(text);
      const r = await api(stack.origin, 'POST', `/v1/chat/rooms/${room.data.id}/messages`, { token: tokens[Math.floor((n - 1) / 15)], body: { chatmessage: text } });
      assert.equal(r.status, 201, `post ${text}: ${r.status} ${JSON.stringify(r.data)}`);
    }

    await alice.goto(`${stack.origin}/#room/${room.data.id}`);
    await alice.reload();
    await alice.waitForFunction((n) => document.querySelector('[data-testid="room-title"]')?.dataset.name === n, `History ${RUN}`);
    await waitForMessage(alice, 'hist 60', { state: 'sent' });
    let list = (await messages(alice)).filter((m) => m.text.startsWith('hist '));
    // At first the latest 50 (more may already be on their way if the screen is tall).
    assert.ok(list.length >= 50, `at least the latest 50 are shown (got ${list.length})`);
    assert.equal(list.at(-1).text, 'hist 60');

    await alice.getByTestId('message-list').evaluate((el) => { el.scrollTop = 0; el.dispatchEvent(new Event('scroll')); });
    await waitForMessage(alice, 'hist 01', { state: 'sent' });
    list = (await messages(alice)).filter((m) => m.text.startsWith('hist '));
    assert.deepEqual(list.map((m) => m.text), texts, 'all 60, in order, none twice');
    await alice.getByTestId('history-start').waitFor({ state: 'visible' });
    assertNoDuplicateIds(await messages(alice), 'history room');
  }));

  it('reconnects by itself after a server restart, without missing or repeating messages', { timeout: 120_000 }, () => step('restart', async () => {
    await openRoom(alice, 'General');
    await waitForMessage(alice, HELLO_ALICE, { state: 'sent' });
    for (const page of [alice, bob]) {
      await waitOnline(page);
      await page.evaluate(() => { window.__noReload = 'still here'; });
    }
    const before = await messages(alice);

    const info = await stack.stopServer();
    log(`server exit after SIGTERM: ${JSON.stringify(info)}`);
    for (const page of [alice, bob]) {
      await page.waitForFunction(() => document.querySelector('[data-testid="connection-status"]')?.dataset.state !== 'online', null, { timeout: 15_000 });
    }
    await screenshot(alice, 'reconnecting');

    await stack.startServer();
    for (const page of [alice, bob]) {
      await waitOnline(page, 45_000);
      assert.equal(await page.evaluate(() => window.__noReload), 'still here', 'the page was not reloaded');
    }

    const AFTER = `after restart ${RUN}`;
    await send(bob, AFTER);
    await waitForMessage(alice, AFTER, { state: 'sent', timeout: 20_000 });
    const REPLY = `welcome back ${RUN}`;
    await send(alice, REPLY);
    await waitForMessage(bob, REPLY, { state: 'sent', timeout: 20_000 });

    await delay(500);
    const afterList = await messages(alice);
    assertNoDuplicateIds(afterList, 'alice after restart');
    for (const m of before.filter((x) => x.id)) {
      assert.equal(afterList.filter((x) => x.id === m.id).length, 1, `message ${m.id} (${m.text}) shown once`);
    }
    for (const text of [HELLO_ALICE, HELLO_BOB, XSS_IMG, AFTER, REPLY]) {
      assert.equal(afterList.filter((m) => m.text === text).length, 1, `"${text}" shown once`);
    }
    assertNoDuplicateIds(await messages(bob), 'bob after restart');
    assert.equal(await countMessages(bob, HELLO_BOB), 1);
    assert.equal((await messages(alice)).filter((m) => m.state === 'failed' || m.state === 'pending').length, 0, 'no stuck bubbles');
  }));

  it('direct messages: start a conversation, receive it live, reply', { timeout: 60_000 }, () => step('dm', async () => {
    try {
      await bob.getByTestId('tab-dms').click();
      await bob.getByTestId('dm-start-input').fill(ALICE.username);
      await bob.getByTestId('dm-start-submit').click();
      await bob.waitForFunction((n) => document.querySelector('[data-testid="room-title"]')?.dataset.name === n, ALICE.username);
      await send(bob, DM_PSST);
      await waitForMessage(bob, DM_PSST, { state: 'sent' });

      // Alice is in a room: the conversation shows up with an unread badge.
      await alice.getByTestId('dm-unread-total').waitFor({ state: 'visible' });
      await alice.getByTestId('tab-dms').click();
      await alice.locator(`[data-testid="dm-item"][data-username="${BOB.username}"]`).click();
      await waitForMessage(alice, DM_PSST, { state: 'sent' });
      await send(alice, DM_REPLY);
      await waitForMessage(bob, DM_REPLY, { state: 'sent' });
      assert.equal(await countMessages(alice, DM_REPLY), 1);
      await screenshot(alice, 'direct-desktop');
    } finally {
      await backToGeneral(alice);
      await backToGeneral(bob);
    }
  }));

  it('lists direct conversations from GET /v1/chat/inbox after a reload', { timeout: 60_000 }, () => step('inbox', async () => {
    try {
      await alice.reload();
      await alice.getByTestId('app-screen').waitFor({ state: 'visible' });
      await alice.waitForFunction(() => document.querySelector('[data-testid="room-title"]')?.dataset.name === 'General');
      await alice.getByTestId('tab-dms').click();
      const entry = alice.locator(`[data-testid="dm-item"][data-username="${BOB.username}"]`);
      await entry.waitFor();
      assert.match(await entry.textContent(), new RegExp(DM_REPLY), 'latest message shown as preview');
    } finally {
      await backToGeneral(alice);
    }
  }));

  it('refuses a message too long before sending it; shows the server\'s rate limit', { timeout: 60_000 }, () => step('errors', async () => {
    // Over the server's 2,000 characters: not sent (composer.test.js has the details), text kept.
    const box = alice.getByTestId('composer-input');
    await box.fill('x'.repeat(2001));
    await box.press('Enter');
    await alice.getByTestId('composer-error').waitFor({ state: 'visible' });
    assert.match(await alice.getByTestId('composer-error').textContent(), /too long/);
    assert.equal(await box.inputValue(), 'x'.repeat(2001));
    assert.equal(await alice.locator('[data-testid="message"][data-state="failed"], [data-testid="message"][data-state="pending"]').count(), 0);
    await box.fill('');

    // A third user floods a room until the server says rate_limited.
    const carol = await newPage(browser, 'carol');
    try {
      await carol.goto(stack.origin);
      await signUp(carol, { username: `carol_${RUN}`, email: `carol_${RUN}@example.com`, password: 'carol password' });
      await carol.waitForFunction(() => document.querySelector('[data-testid="room-title"]')?.dataset.name === 'General');
      await openRoom(carol, 'Random');
      await waitOnline(carol);
      for (let i = 1; i <= 30; i += 1) await send(carol, `flood ${i}`);
      await carol.locator('[data-testid="toast"][data-code="rate_limited"]').first().waitFor();
      await carol.locator('[data-testid="message"][data-state="failed"]').first().waitFor();
      await screenshot(carol, 'rate-limited');
    } finally {
      await carol.context().close();
    }
  }));

  it('is usable at phone width', { timeout: 60_000 }, () => step('phone', async () => {
    // Dismiss leftover notifications from the previous step (with their close buttons).
    while (await alice.locator('[data-testid="toast"] .toast-close').count()) {
      await alice.locator('[data-testid="toast"] .toast-close').first().click();
    }
    await alice.setViewportSize({ width: 375, height: 740 });
    await delay(300);
    const overflow = await alice.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 0, `no horizontal scrolling at 375px (overflow ${overflow}px)`);
    assert.ok(await alice.getByTestId('nav-toggle').isVisible(), 'menu button shown');
    assert.ok(!(await alice.getByTestId('sidebar').isVisible()), 'sidebar tucked away');
    assert.ok(await alice.getByTestId('composer-input').isVisible());
    const box = await alice.getByTestId('composer-input').boundingBox();
    assert.ok(box.x >= 0 && box.x + box.width <= 375, 'message box fits');
    const widest = await alice.$$eval('[data-testid="message"]', (els) => Math.max(0, ...els.map((e) => e.getBoundingClientRect().right)));
    assert.ok(widest <= 375.5, `messages fit the screen (${widest})`);
    await screenshot(alice, 'room-phone');

    await alice.getByTestId('nav-toggle').click();
    await alice.getByTestId('room-list').waitFor({ state: 'visible' });
    await delay(400); // let the drawer finish sliding in
    await screenshot(alice, 'drawer-phone');
    await alice.locator('[data-testid="room-item"][data-room-name="General"]').click();
    await alice.getByTestId('sidebar').waitFor({ state: 'hidden' });

    const PHONE = `sent from a phone ${RUN}`;
    await send(alice, PHONE);
    await waitForMessage(bob, PHONE, { state: 'sent' });
    await alice.setViewportSize({ width: 1280, height: 800 });
  }));

  it('works with the keyboard: labelled controls and visible focus', { timeout: 30_000 }, () => step('keyboard', async () => {
    const unlabelled = await alice.evaluate(() => [...document.querySelectorAll('input, textarea, button')]
      .filter((e) => e.offsetParent !== null)
      .filter((e) => !(e.labels && e.labels.length) && !e.getAttribute('aria-label') && !(e.textContent || '').trim())
      .map((e) => e.outerHTML.slice(0, 80)));
    assert.deepEqual(unlabelled, [], 'every visible control has a label');

    await alice.getByTestId('create-room-input').focus();
    await alice.keyboard.press('Tab');
    const focused = await alice.evaluate(() => ({
      id: document.activeElement?.dataset.testid,
      outline: getComputedStyle(document.activeElement).outlineStyle,
    }));
    assert.equal(focused.id, 'create-room-submit');
    assert.notEqual(focused.outline, 'none', 'keyboard focus is visible');

    // Open a room from the keyboard and send with Enter.
    await alice.locator('[data-testid="room-item"][data-room-name="Random"]').focus();
    await alice.keyboard.press('Enter');
    await alice.waitForFunction(() => document.querySelector('[data-testid="room-title"]')?.dataset.name === 'Random');
    await alice.getByTestId('composer-input').focus();
    await alice.keyboard.type(`keyboard ${RUN}`);
    await alice.keyboard.press('Enter');
    await waitForMessage(alice, `keyboard ${RUN}`, { state: 'sent' });
  }));

  it('signs out and stays signed out after a reload', { timeout: 60_000 }, () => step('logout', async () => {
    const refresh = await alice.evaluate(() => localStorage.getItem('tickertalk.refresh_token'));
    assert.ok(refresh, 'refresh token kept in localStorage while signed in');
    // "Here" lists the people looking at the room: alice comes back to bob's General first.
    await openRoom(alice, 'General');
    await bob.locator(`[data-testid="presence-user"][data-username="${ALICE.username}"]`).waitFor();
    await alice.getByTestId('logout-button').click();
    await alice.getByTestId('auth-screen').waitFor({ state: 'visible' });
    // Bob sees alice leave the room.
    await bob.locator(`[data-testid="presence-user"][data-username="${ALICE.username}"]`).waitFor({ state: 'detached' });
    assert.equal(await alice.evaluate(() => localStorage.getItem('tickertalk.refresh_token')), null);
    await alice.reload();
    await alice.getByTestId('auth-screen').waitFor({ state: 'visible' });
    const r = await api(stack.origin, 'POST', '/v1/auth/refresh', { body: { refresh_token: refresh } });
    assert.equal(r.status, 401, 'the revoked refresh token no longer works');

    // Sign back in with the username.
    await alice.getByTestId('login-identifier').fill(ALICE.username);
    await alice.getByTestId('login-password').fill(ALICE.password);
    await alice.getByTestId('login-submit').click();
    await alice.getByTestId('app-screen').waitFor({ state: 'visible' });
    await waitOnline(alice);
    await openRoom(alice, 'General');
    await bob.locator(`[data-testid="presence-user"][data-username="${ALICE.username}"]`).waitFor();

    const phone = await newPage(browser, 'phone', { viewport: { width: 375, height: 740 }, isMobile: true, hasTouch: true });
    await phone.goto(stack.origin);
    await phone.getByTestId('auth-screen').waitFor({ state: 'visible' });
    await screenshot(phone, 'login-phone');
    await phone.context().close();
  }));

  it('refreshes the short-lived access token by itself and keeps working', { timeout: 60_000 }, () => step('refresh', async () => {
    // ACCESS_TOKEN_TTL_SECS is 20 s here, so bob's first token (from signup) expired long ago
    // unless the client renewed it; bob never reloaded, so his refreshes are the client's own.
    const before = bob.refreshes;
    await waitFor(() => bob.refreshes > before, { timeout: 25_000, what: 'a timer-driven token refresh in bob\'s idle page' });
    const ttl = Number(stack.env.ACCESS_TOKEN_TTL_SECS) * 1000;
    await waitFor(() => Date.now() > bobSignedUpAt + ttl + 2_000, { timeout: ttl + 5_000, what: 'the signup token to expire' });
    const LATE = `still here after the token expired ${RUN}`;
    await send(bob, LATE);
    await waitForMessage(alice, LATE, { state: 'sent' });
    await bob.getByTestId('create-room-input').fill(`Late ${RUN}`);
    await bob.getByTestId('create-room-submit').click();
    await bob.waitForFunction((n) => document.querySelector('[data-testid="room-title"]')?.dataset.name === n, `Late ${RUN}`);
    assert.equal(await bob.getByTestId('auth-screen').isVisible(), false, 'still signed in');
  }));

  it('logged no CSP violations or script errors', () => {
    for (const [who, page] of [['alice', alice], ['bob', bob]]) {
      const problems = (page?.problems || []).filter((p) => !/status of 40[19]|status of 422|status of 404/.test(p));
      assert.deepEqual(problems, [], `${who}: console/page errors`);
    }
  });
});
