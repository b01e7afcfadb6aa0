// The account menu in Chromium: one user signed in on two "devices" (two
// browser contexts, so two sessions). Device A changes the password from the account dialog:
// device B is signed out at once (its socket closed with 4001, the sign-in screen shown, its old
// tokens refused) while A goes on (same socket, can post, survives a reload). The old password
// no longer signs in, the new one does. Then "Log out everywhere" from A: A and B are on the
// sign-in screen and every token of the user, A's included, is refused over HTTP.
//
// No sleeps: every step waits for what it expects (a screen, a socket close, a message's state).

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { createRequire } from 'node:module';

import {
  api, cleanupAll, launchBrowser, log, newPage, rand, screenshot, startStack,
} from './harness.js';
import { send, signUp, waitForMessage, waitOnline } from './ui.js';

const AXE_SOURCE = fs.readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

const RUN = rand(6);
const OLD_PASSWORD = 'correct horse battery';
const NEW_PASSWORD = 'staple gun battery horse';
const DANA = { username: `dana_${RUN}`, email: `dana_${RUN}@example.com`, password: OLD_PASSWORD };

let stack;
let browser;
/** Dana's two devices: separate browser contexts, so separate sessions. */
let devA;
let devB;

async function step(name, fn) {
  try {
    await fn();
  } catch (err) {
    for (const [who, page] of [['A', devA], ['B', devB]]) {
      if (page && !page.isClosed()) await screenshot(page, `FAILED-account-${name}-${who}`).catch(() => {});
    }
    throw err;
  }
}

/**
 * A page that records how each of its WebSockets closed (window.__wsCloses: close codes, in
 * order) and the last bearer token its HTTP requests carried (page.lastBearer).
 */
async function device(name) {
  const page = await newPage(browser, name);
  await page.addInitScript(() => {
    window.__wsCloses = [];
    const Native = window.WebSocket;
    // A subclass keeps the real class's constants (WebSocket.OPEN, ...), which socket.js reads.
    window.WebSocket = class Recorded extends Native {
      constructor(...args) {
        super(...args);
        this.addEventListener('close', (ev) => window.__wsCloses.push(ev.code));
      }
    };
  });
  page.lastBearer = null;
  page.on('request', (req) => {
    const auth = req.headers().authorization;
    if (auth && auth.startsWith('Bearer ')) page.lastBearer = auth.slice(7);
  });
  return page;
}

const wsCloses = (page) => page.evaluate(() => window.__wsCloses.slice());
const storedRefreshToken = (page) => page.evaluate(() => localStorage.getItem('tickertalk.refresh_token'));

async function signIn(page, identifier, password) {
  await page.getByTestId('login-identifier').fill(identifier);
  await page.getByTestId('login-password').fill(password);
  await page.getByTestId('login-submit').click();
}

async function openAccount(page) {
  await page.getByTestId('account-button').click();
  await page.getByTestId('account-dialog').waitFor({ state: 'visible' });
}

async function fillPasswordForm(page, { current, next, confirm = next }) {
  await page.getByTestId('password-current').fill(current);
  await page.getByTestId('password-new').fill(next);
  await page.getByTestId('password-confirm').fill(confirm);
  await page.getByTestId('password-submit').click();
}

/** Waits until the page shows the sign-in screen, and returns its notice. */
async function waitSignedOut(page) {
  await page.getByTestId('auth-screen').waitFor({ state: 'visible' });
  assert.equal(await page.getByTestId('app-screen').isVisible(), false);
  return (await page.getByTestId('auth-notice').textContent()).trim();
}

async function meStatus(token) {
  return (await api(stack.origin, 'GET', '/v1/auth/me', { token })).status;
}

async function refreshStatus(refreshToken) {
  return (await api(stack.origin, 'POST', '/v1/auth/refresh', { body: { refresh_token: refreshToken } })).status;
}

describe('the account menu: change password, log out everywhere in Chromium', { timeout: 300_000 }, () => {
  before(async () => {
    // Access tokens of 15 minutes: a token taken from a page must still be valid when the test
    // checks that the server refuses it, so a 401 means revoked, not expired.
    stack = await startStack({ env: { ACCESS_TOKEN_TTL_SECS: '900' } });
    browser = await launchBrowser();
    devA = await device('A');
    devB = await device('B');
    await devA.goto(stack.origin);
    await signUp(devA, DANA);
    await devB.goto(stack.origin);
    await signIn(devB, DANA.username, OLD_PASSWORD);
    await devB.getByTestId('app-screen').waitFor({ state: 'visible' });
    for (const page of [devA, devB]) {
      await page.waitForFunction(() => document.querySelector('[data-testid="room-title"]')?.dataset.name === 'General');
      await waitOnline(page);
    }
  }, { timeout: 120_000 });

  after(async () => {
    await cleanupAll();
  }, { timeout: 60_000 });

  it('opens from the account button and works with the keyboard', { timeout: 30_000 }, () => step('keyboard', async () => {
    const button = devA.getByTestId('account-button');
    assert.equal(await button.getAttribute('aria-expanded'), 'false');
    await button.focus();
    await devA.keyboard.press('Enter');
    await devA.getByTestId('account-dialog').waitFor({ state: 'visible' });
    assert.equal(await button.getAttribute('aria-expanded'), 'true');
    assert.equal(await devA.getByTestId('account-username').textContent(), DANA.username);
    // The focus starts in the first box; Escape closes and gives it back to the button.
    await devA.waitForFunction(() => document.activeElement?.dataset.testid === 'password-current');
    await devA.keyboard.press('Escape');
    await devA.getByTestId('account-dialog').waitFor({ state: 'hidden' });
    await devA.waitForFunction(() => document.activeElement?.dataset.testid === 'account-button');
    assert.equal(await button.getAttribute('aria-expanded'), 'false');
    // The close button too.
    await openAccount(devA);
    await devA.getByTestId('account-close').click();
    await devA.getByTestId('account-dialog').waitFor({ state: 'hidden' });
  }));

  it('shows the server\'s field errors and changes nothing while they stand', { timeout: 60_000 }, () => step('errors', async () => {
    await openAccount(devA);
    // Only the form itself: a repeat that differs never reaches the server.
    await fillPasswordForm(devA, { current: OLD_PASSWORD, next: NEW_PASSWORD, confirm: `${NEW_PASSWORD}!` });
    await devA.getByTestId('password-confirm-error').waitFor({ state: 'visible' });
    assert.match(await devA.getByTestId('password-confirm-error').textContent(), /differ/);
    assert.equal(await devA.getByTestId('password-confirm').getAttribute('aria-invalid'), 'true');

    // The server: a wrong current password (422 errors.current_password)...
    const wrong = devA.waitForResponse((r) => new URL(r.url()).pathname === '/v1/auth/password');
    await fillPasswordForm(devA, { current: 'not my password', next: NEW_PASSWORD });
    assert.equal((await wrong).status(), 422);
    await devA.getByTestId('password-current-error').waitFor({ state: 'visible' });
    assert.match(await devA.getByTestId('password-current-error').textContent(), /not your current password/);
    assert.equal(await devA.getByTestId('password-confirm-error').isVisible(), false, 'the old error is gone');
    await devA.waitForFunction(() => document.activeElement?.dataset.testid === 'password-current');

    // ... and a new password that is too short (422 errors.new_password, the server's words).
    const short = devA.waitForResponse((r) => new URL(r.url()).pathname === '/v1/auth/password');
    await fillPasswordForm(devA, { current: OLD_PASSWORD, next: 'short' });
    const res = await short;
    assert.equal(res.status(), 422);
    const problem = await res.json();
    await devA.getByTestId('password-new-error').waitFor({ state: 'visible' });
    assert.equal(await devA.getByTestId('password-new-error').textContent(),
      `${problem.errors.new_password[0].toUpperCase()}${problem.errors.new_password.slice(1)}.`);
    assert.equal(await devA.getByTestId('password-current-error').isVisible(), false);
    await screenshot(devA, 'account-dialog-errors');

    // Nothing changed: B is still signed in and online, and the old password still works.
    assert.equal(await devB.getByTestId('app-screen').isVisible(), true);
    assert.deepEqual(await wsCloses(devB), []);
    const login = await api(stack.origin, 'POST', '/v1/auth/login', { body: { username: DANA.username, password: OLD_PASSWORD } });
    assert.equal(login.status, 200, 'the old password is still the password');
    await api(stack.origin, 'DELETE', '/v1/auth/token', { token: login.data.token });
  }));

  it('changes the password: the other device is signed out, this one goes on', { timeout: 90_000 }, () => step('change', async () => {
    const bRefresh = await storedRefreshToken(devB);
    const bBearer = devB.lastBearer;
    assert.ok(bRefresh && bBearer, 'B holds a session');
    const aClosesBefore = await wsCloses(devA);

    const changed = devA.waitForResponse((r) => new URL(r.url()).pathname === '/v1/auth/password');
    await fillPasswordForm(devA, { current: OLD_PASSWORD, next: NEW_PASSWORD });
    assert.equal((await changed).status(), 204);
    await devA.getByTestId('password-done').waitFor({ state: 'visible' });
    assert.match(await devA.getByTestId('password-done').textContent(), /password was changed/);
    assert.equal(await devA.getByTestId('password-current').inputValue(), '', 'the form is emptied');
    await screenshot(devA, 'account-dialog-changed');

    // B: its socket was closed by the server with 4001, and it is on the sign-in screen.
    await devB.waitForFunction(() => window.__wsCloses.includes(4001), null, { timeout: 15_000 });
    const notice = await waitSignedOut(devB);
    assert.match(notice, /signed out/i);
    assert.equal(await storedRefreshToken(devB), null, 'B forgot its refresh token');
    await screenshot(devB, 'account-signed-out-elsewhere');
    // B's tokens are refused.
    assert.equal(await meStatus(bBearer), 401, 'B\'s access token is refused');
    assert.equal(await refreshStatus(bRefresh), 401, 'B\'s refresh token is refused');

    // A: the same socket, still online; it can post, and the message is stored.
    await devA.getByTestId('account-close').click();
    await devA.getByTestId('account-dialog').waitFor({ state: 'hidden' });
    assert.deepEqual(await wsCloses(devA), aClosesBefore, 'A\'s socket was not closed');
    assert.equal(await devA.getByTestId('connection-status').getAttribute('data-state'), 'online');
    const text = `still here after the change ${RUN}`;
    await send(devA, text);
    await waitForMessage(devA, text, { state: 'sent' });
    // A's session (refresh token) survives a reload.
    await devA.reload();
    await devA.getByTestId('app-screen').waitFor({ state: 'visible' });
    await waitOnline(devA);
    await waitForMessage(devA, text, { state: 'sent' });
  }));

  it('signs in with the new password only', { timeout: 60_000 }, () => step('login', async () => {
    // Over HTTP.
    const old = await api(stack.origin, 'POST', '/v1/auth/login', { body: { username: DANA.username, password: OLD_PASSWORD } });
    assert.equal(old.status, 401, 'the old password is refused');
    const fresh = await api(stack.origin, 'POST', '/v1/auth/login', { body: { email: DANA.email, password: NEW_PASSWORD } });
    assert.equal(fresh.status, 200, 'the new password signs in');
    await api(stack.origin, 'DELETE', '/v1/auth/token', { token: fresh.data.token });

    // On device B's sign-in screen.
    await signIn(devB, DANA.username, OLD_PASSWORD);
    await devB.getByTestId('login-error').waitFor({ state: 'visible' });
    assert.match(await devB.getByTestId('login-error').textContent(), /Wrong/);
    await signIn(devB, DANA.username, NEW_PASSWORD);
    await devB.getByTestId('app-screen').waitFor({ state: 'visible' });
    await waitOnline(devB);
  }));

  it('logs out everywhere: every device on the sign-in screen, every token refused', { timeout: 90_000 }, () => step('everywhere', async () => {
    // A third session, made over HTTP, must end too.
    const other = await api(stack.origin, 'POST', '/v1/auth/login', { body: { username: DANA.username, password: NEW_PASSWORD } });
    assert.equal(other.status, 200);
    const aRefresh = await storedRefreshToken(devA);
    const bRefresh = await storedRefreshToken(devB);
    const tokens = { A: devA.lastBearer, B: devB.lastBearer, C: other.data.token };
    for (const [who, token] of Object.entries(tokens)) assert.equal(await meStatus(token), 200, `${who}'s token works before`);

    await openAccount(devA);
    await devA.getByTestId('everywhere-start').click();
    await devA.getByTestId('everywhere-confirm').waitFor({ state: 'visible' });
    // Cancel first: nothing happens.
    await devA.getByTestId('everywhere-cancel').click();
    await devA.getByTestId('everywhere-confirm').waitFor({ state: 'hidden' });
    assert.equal(await devA.getByTestId('app-screen').isVisible(), true);
    assert.equal(await meStatus(tokens.A), 200);

    await devA.getByTestId('everywhere-start').click();
    await devA.getByTestId('everywhere-confirm').waitFor({ state: 'visible' });
    await screenshot(devA, 'account-dialog-everywhere');
    const ended = devA.waitForResponse((r) => new URL(r.url()).pathname === '/v1/auth/sessions');
    await devA.getByTestId('everywhere-submit').click();
    assert.equal((await ended).status(), 204);

    const noticeA = await waitSignedOut(devA);
    assert.match(noticeA, /every device/);
    assert.equal(await devA.getByTestId('account-dialog').isVisible(), false, 'the dialog closed');
    assert.equal(await storedRefreshToken(devA), null);
    await devB.waitForFunction(() => window.__wsCloses.includes(4001), null, { timeout: 15_000 });
    await waitSignedOut(devB);
    assert.equal(await storedRefreshToken(devB), null);

    for (const [who, token] of Object.entries(tokens)) assert.equal(await meStatus(token), 401, `${who}'s access token is refused`);
    assert.equal(await refreshStatus(aRefresh), 401, 'A\'s refresh token is refused');
    assert.equal(await refreshStatus(bRefresh), 401, 'B\'s refresh token is refused');
    assert.equal(await refreshStatus(other.data.refresh_token), 401, 'the HTTP session\'s refresh token is refused');

    // A reload stays signed out; signing in again works.
    await devA.reload();
    await devA.getByTestId('auth-screen').waitFor({ state: 'visible' });
    await signIn(devA, DANA.username, NEW_PASSWORD);
    await devA.getByTestId('app-screen').waitFor({ state: 'visible' });
    await waitOnline(devA);
  }));

  it('says when password attempts are throttled like logins (429 with Retry-After)', { timeout: 60_000 }, () => step('throttle', async () => {
    const page = await device('T');
    try {
      const tess = { username: `tess_${RUN}`, email: `tess_${RUN}@example.com`, password: 'tess password here' };
      await page.goto(stack.origin);
      await signUp(page, tess);
      await waitOnline(page);
      // Spend the account's budget over HTTP with the page's own token (LOGIN_FREE_FAILURES, 10).
      const body = { current_password: 'not it at all', new_password: 'whatever it is' };
      let status = 0;
      for (let i = 0; i < 20 && status !== 429; i += 1) {
        status = (await api(stack.origin, 'POST', '/v1/auth/password', { token: page.lastBearer, body })).status;
        if (status !== 429) assert.equal(status, 422);
      }
      assert.equal(status, 429, 'the budget ran out');
      await openAccount(page);
      const throttled = page.waitForResponse((r) => new URL(r.url()).pathname === '/v1/auth/password');
      await fillPasswordForm(page, { current: tess.password, next: 'a brand new password' });
      const res = await throttled;
      assert.equal(res.status(), 429);
      assert.ok(Number(res.headers()['retry-after']) > 0, 'Retry-After says how long');
      await page.getByTestId('password-error').waitFor({ state: 'visible' });
      assert.match(await page.getByTestId('password-error').textContent(), /^Too many password attempts\. Try again in \d+ (s|min)\.$/);
      assert.equal(await page.getByTestId('app-screen').isVisible(), true, 'still signed in');
    } finally {
      await page.context().close();
    }
  }));

  it('has no serious accessibility violations in the account dialog (axe-core, both themes)', { timeout: 90_000 }, () => step('axe', async () => {
    for (const scheme of ['light', 'dark']) {
      const page = await newPage(browser, `account-axe-${scheme}`, { bypassCSP: true, colorScheme: scheme });
      try {
        await page.goto(stack.origin);
        await signUp(page, { username: `acc${scheme}_${RUN}`, email: `acc${scheme}_${RUN}@example.com`, password: 'axe password here' });
        await openAccount(page);
        // Errors and the confirm step on screen too.
        await fillPasswordForm(page, { current: '', next: 'x', confirm: 'y' });
        await page.getByTestId('password-current-error').waitFor({ state: 'visible' });
        await page.getByTestId('everywhere-start').click();
        await page.getByTestId('everywhere-confirm').waitFor({ state: 'visible' });
        await page.addScriptTag({ content: AXE_SOURCE });
        const result = await page.evaluate(async () => {
          const r = await window.axe.run(document.getElementById('account-dialog'), { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21aa'] } });
          return r.violations.map((v) => ({ id: v.id, impact: v.impact, nodes: v.nodes.slice(0, 3).map((n) => n.target.join(' ')) }));
        });
        log(`account axe ${scheme}: ${JSON.stringify(result)}`);
        const serious = result.filter((v) => v.impact === 'serious' || v.impact === 'critical');
        assert.deepEqual(serious, [], `axe (${scheme}): ${JSON.stringify(serious)}`);
        await screenshot(page, `account-dialog-${scheme}`);
      } finally {
        await page.context().close();
      }
    }
  }));

  it('left no page errors, console errors or CSP violations', () => {
    for (const [who, page] of [['A', devA], ['B', devB]]) {
      // The refused login and the 422s are answers the page asked for, not faults.
      const problems = (page?.problems || []).filter((p) => !/status of 40[19]|status of 422/.test(p));
      assert.deepEqual(problems, [], `${who}: console/page errors`);
    }
  });
});
