// In Chromium: unread counts that survive a reload, a message typed while the server
// is down sent by itself (once) when it is back, the client served on another address with no
// configuration, and a refused page that says why.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { createRequire } from 'node:module';

import {
  SERVER_BIN, cleanupAll, freePort, launchBrowser, log, newPage, onCleanup, rand, screenshot, spawnLogged,
  startStack, stopProcess, tail, waitFor,
} from './harness.js';
import {
  countMessages, messages, send, signUp, waitForMessage, waitOnline,
} from './ui.js';

const AXE_SOURCE = fs.readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

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
      if (page) await screenshot(page, `sidebar-fail-${name}-${who}`).catch(() => {});
    }
    throw err;
  }
}

async function openRoom(page, name) {
  await page.getByTestId('tab-rooms').click().catch(() => {});
  await page.locator(`[data-testid="room-item"][data-room-name="${name}"]`).click();
  await page.waitForFunction((n) => document.querySelector('[data-testid="room-title"]')?.dataset.name === n, name);
}

/** The unread badge of a room in the sidebar ('' when there is none). */
async function roomBadge(page, name) {
  const badge = page.locator(`[data-testid="room-item"][data-room-name="${name}"] [data-testid="room-unread"]`);
  return (await badge.count()) ? (await badge.textContent()).trim() : '';
}

/** Another server instance on `host` (the same database and broker). */
async function startInstance(host) {
  const port = await freePort();
  const origin = `http://${host}:${port}`;
  const child = spawnLogged(`server-${host}`, SERVER_BIN, [], { ...stack.env, LISTEN_ADDR: `${host}:${port}` });
  onCleanup(() => stopProcess(child, 10_000));
  await waitFor(async () => {
    if (child.exitInfo) throw Object.assign(new Error(`server on ${host} exited:\n${tail(child.logFile)}`), { fatal: true });
    const res = await fetch(`${origin}/readyz`).catch(() => null);
    return res && res.status === 200;
  }, { timeout: 45_000, what: `GET ${origin}/readyz = 200` });
  return { origin, port, child };
}

/**
 * A reverse proxy that rewrites `Host` to its upstream's address, as a proxy left at its
 * defaults does (nginx's `proxy_pass` without `proxy_set_header Host`). The server then sees a
 * page origin that is not its own address and refuses the socket.
 */
async function startHostRewritingProxy(upstreamPort) {
  const upstreamHost = `127.0.0.1:${upstreamPort}`;
  const server = http.createServer((req, res) => {
    const up = http.request({
      host: '127.0.0.1', port: upstreamPort, method: req.method, path: req.url,
      headers: { ...req.headers, host: upstreamHost },
    }, (r) => {
      res.writeHead(r.statusCode, r.headers);
      r.pipe(res);
    });
    up.on('error', () => res.destroy());
    req.pipe(up);
  });
  server.on('upgrade', (req, socket, head) => {
    const up = net.connect(upstreamPort, '127.0.0.1', () => {
      const lines = [`${req.method} ${req.url} HTTP/1.1`];
      for (const [k, v] of Object.entries({ ...req.headers, host: upstreamHost })) lines.push(`${k}: ${v}`);
      up.write(`${lines.join('\r\n')}\r\n\r\n`);
      if (head.length) up.write(head);
      up.pipe(socket);
      socket.pipe(up);
    });
    up.on('error', () => socket.destroy());
    socket.on('error', () => up.destroy());
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.2', resolve));
  onCleanup(() => new Promise((resolve) => {
    server.closeAllConnections?.();
    server.close(() => resolve());
  }));
  return `http://127.0.0.2:${server.address().port}`;
}

describe('sidebar, resend and any host in Chromium', { timeout: 300_000 }, () => {
  before(async () => {
    stack = await startStack();
    browser = await launchBrowser();
    ann = await newPage(browser, 'ann');
    ben = await newPage(browser, 'ben');
    for (const [page, user] of [[ann, ANN], [ben, BEN]]) {
      await page.goto(stack.origin);
      await signUp(page, user);
      await page.waitForFunction(() => document.querySelector('[data-testid="room-title"]')?.dataset.name === 'General');
      await waitOnline(page);
    }
  }, { timeout: 120_000 });

  after(async () => {
    await cleanupAll();
  }, { timeout: 60_000 });

  it('counts unread messages live and keeps the counts over a reload', { timeout: 90_000 }, () => step('unread', async () => {
    // Ann has read Random up to its first message (a marker on the server), then looks at General.
    await openRoom(ben, 'Random');
    await waitOnline(ben);
    await send(ben, `first ${RUN}`);
    await openRoom(ann, 'Random');
    await waitForMessage(ann, `first ${RUN}`, { state: 'sent' });
    await ann.waitForTimeout(1_000); // the marker request goes out within half a second
    await openRoom(ann, 'General');
    for (let i = 1; i <= 3; i += 1) await send(ben, `unread ${i} ${RUN}`);
    await waitForMessage(ben, `unread 3 ${RUN}`, { state: 'sent' });
    // Live, while ann is elsewhere.
    await ann.waitForFunction(() => document.querySelector('[data-testid="room-item"][data-room-name="Random"] [data-testid="room-unread"]')?.textContent.trim() === '3', null, { timeout: 10_000 });
    await screenshot(ann, 'sidebar-unread');
    // The count is the server's: a reload (or another device) shows the same.
    await ann.reload();
    await ann.getByTestId('app-screen').waitFor({ state: 'visible' });
    await ann.waitForFunction(() => document.querySelector('[data-testid="room-item"][data-room-name="Random"] [data-testid="room-unread"]')?.textContent.trim() === '3', null, { timeout: 10_000 });
    // Reading clears it, here and after another reload.
    await openRoom(ann, 'Random');
    await waitForMessage(ann, `unread 3 ${RUN}`, { state: 'sent' });
    await ann.waitForTimeout(1_000);
    await openRoom(ann, 'General');
    assert.equal(await roomBadge(ann, 'Random'), '');
    await ann.reload();
    await ann.getByTestId('app-screen').waitFor({ state: 'visible' });
    await ann.locator('[data-testid="room-item"][data-room-name="Random"]').waitFor();
    await waitOnline(ann);
    assert.equal(await roomBadge(ann, 'Random'), '', 'read stays read');
  }));

  it('sends a message typed while the server is down by itself, once, when it is back', { timeout: 120_000 }, () => step('resend', async () => {
    await openRoom(ann, 'General');
    await openRoom(ben, 'General');
    await waitOnline(ann);
    await stack.stopServer();
    await ann.waitForFunction(() => document.querySelector('[data-testid="connection-status"]')?.dataset.state !== 'online', null, { timeout: 15_000 });
    const OFFLINE = `typed offline ${RUN}`;
    await send(ann, OFFLINE);
    await ann.locator('[data-testid="message"][data-state="queued"]').waitFor();
    assert.match(await ann.getByTestId('message-queued').textContent(), /sent by itself/);
    await screenshot(ann, 'resend-queued');
    await stack.startServer();
    // No click: it goes out when the socket is back.
    await waitForMessage(ann, OFFLINE, { state: 'sent', timeout: 45_000 });
    await waitForMessage(ben, OFFLINE, { state: 'sent', timeout: 20_000 });
    await ann.waitForTimeout(1_000);
    assert.equal(await countMessages(ann, OFFLINE), 1);
    assert.equal(await countMessages(ben, OFFLINE), 1);
    assert.equal((await messages(ann)).filter((m) => m.state !== 'sent' && m.state !== 'bot').length, 0, 'nothing left waiting');
    assert.equal(await ann.evaluate(() => Object.keys(localStorage).filter((k) => k.startsWith('tickertalk.outbox.')).length), 0, 'the outbox is empty');
  }));

  it('links, mentions, grouping, day separators, user search, no /stock hint in DMs', { timeout: 90_000 }, () => step('everyday', async () => {
    await openRoom(ann, 'General');
    await openRoom(ben, 'General');
    const LINKY = `see https://example.com/x?y=1. and javascript:alert(1) @${ANN.username} ${RUN}`;
    await send(ben, LINKY);
    await send(ben, `and one more ${RUN}`);
    await waitForMessage(ann, LINKY, { state: 'sent' });
    await waitForMessage(ann, `and one more ${RUN}`, { state: 'sent' });
    const bubble = ann.locator('[data-testid="message"]', { has: ann.getByText(LINKY, { exact: true }) });
    const links = bubble.getByTestId('message-link');
    assert.equal(await links.count(), 1, 'one link, and no javascript: link');
    assert.equal(await links.getAttribute('href'), 'https://example.com/x?y=1');
    assert.equal(await links.getAttribute('rel'), 'noopener noreferrer nofollow');
    assert.equal(await links.getAttribute('target'), '_blank');
    assert.equal(await bubble.locator('[data-testid="mention"].mention-me').count(), 1, 'my mention highlighted');
    assert.match(await bubble.getAttribute('class'), /mentions-me/);
    await ann.locator('[data-testid="mention-item"]').first().waitFor();
    assert.equal(await ann.getByTestId('mention-count').textContent(), '1');
    // The next message of the same author within minutes is grouped under it; today has a separator.
    const next = ann.locator('[data-testid="message"]', { has: ann.getByText(`and one more ${RUN}`, { exact: true }) });
    assert.match(await next.getAttribute('class'), /grouped/);
    assert.equal(await ann.locator('[data-testid="message"].new-day').first().getAttribute('data-day-label'), 'Today');
    await screenshot(ann, 'everyday-chat');

    // Finding someone to write to.
    await ann.getByTestId('tab-dms').click();
    await ann.getByTestId('dm-start-input').pressSequentially(BEN.username.slice(0, 4), { delay: 20 });
    const suggestion = ann.locator(`[data-testid="dm-suggestion"][data-username="${BEN.username}"]`);
    await suggestion.waitFor();
    await suggestion.click();
    await ann.waitForFunction((n) => document.querySelector('[data-testid="room-title"]')?.dataset.name === n, BEN.username);
    assert.equal(await ann.locator('#composer-stock-hint').isVisible(), false, 'no /stock= hint in a direct conversation');
    await openRoom(ann, 'General');
    assert.equal(await ann.locator('#composer-stock-hint').isVisible(), true);
  }));

  it('notifies of mentions and direct messages while hidden, once allowed', { timeout: 60_000 }, () => step('notify', async () => {
    // The permission flow runs against a stand-in Notification (headless Chromium shows none):
    // the page asks, the browser says yes, and a hidden tab then gets a notification.
    const eve = await newPage(browser, 'eve');
    try {
      await eve.addInitScript(() => {
        window.__notes = [];
        window.__asked = 0;
        class FakeNotification {
          static permission = 'default';
          static async requestPermission() {
            window.__asked += 1;
            FakeNotification.permission = 'granted';
            return 'granted';
          }
          constructor(title, options) { window.__notes.push({ title, body: options.body }); }
          close() {}
        }
        window.Notification = FakeNotification;
        Object.defineProperty(document, 'visibilityState', { get: () => (window.__hidden ? 'hidden' : 'visible') });
      });
      const EVE = { username: `eve_${RUN}`, email: `eve_${RUN}@example.com`, password: 'eve password here' };
      await eve.goto(stack.origin);
      await signUp(eve, EVE);
      await waitOnline(eve);
      await eve.getByTestId('notify-toggle').click();
      await eve.waitForFunction(() => document.querySelector('[data-testid="notify-toggle"]').getAttribute('aria-pressed') === 'true');
      assert.equal(await eve.evaluate(() => window.__asked), 1, 'the browser was asked once');
      await eve.evaluate(() => { window.__hidden = true; });
      await openRoom(ben, 'General');
      await send(ben, `hey @${EVE.username}, look ${RUN}`);
      await eve.waitForFunction(() => window.__notes.length >= 1, null, { timeout: 10_000 });
      const notes = await eve.evaluate(() => window.__notes);
      assert.match(notes[0].title, new RegExp(`${BEN.username} in #General`));
    } finally {
      await eve.context().close();
    }
  }));

  it('has no serious accessibility violations in either theme (axe-core)', { timeout: 90_000 }, () => step('axe', async () => {
    for (const scheme of ['light', 'dark']) {
      const page = await newPage(browser, `axe-${scheme}`, { bypassCSP: true, colorScheme: scheme });
      try {
        await page.goto(stack.origin);
        await signUp(page, { username: `axe${scheme}_${RUN}`, email: `axe${scheme}_${RUN}@example.com`, password: 'axe password here' });
        await page.waitForFunction(() => document.querySelector('[data-testid="room-title"]')?.dataset.name === 'General');
        await waitOnline(page);
        await waitForMessage(page, `and one more ${RUN}`, { state: 'sent' }); // real messages on screen
        await page.addScriptTag({ content: AXE_SOURCE });
        const result = await page.evaluate(async () => {
          const r = await window.axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21aa'] } });
          return r.violations.map((v) => ({ id: v.id, impact: v.impact, nodes: v.nodes.slice(0, 3).map((n) => n.target.join(' ')) }));
        });
        const serious = result.filter((v) => v.impact === 'serious' || v.impact === 'critical');
        log(`axe ${scheme}: ${JSON.stringify(result)}`);
        assert.deepEqual(serious, [], `axe (${scheme}): ${JSON.stringify(serious)}`);
        await screenshot(page, `axe-${scheme}`);
      } finally {
        await page.context().close();
      }
    }
  }));

  it('works on another address of the machine with no configuration', { timeout: 90_000 }, () => step('host', async () => {
    const other = await startInstance('127.0.0.2');
    const cy = await newPage(browser, 'cy');
    try {
      await cy.goto(other.origin);
      await signUp(cy, { username: `cy_${RUN}`, email: `cy_${RUN}@example.com`, password: 'cy password here' });
      await cy.waitForFunction(() => document.querySelector('[data-testid="room-title"]')?.dataset.name === 'General');
      await waitOnline(cy);
      assert.equal(await cy.getByTestId('connection-refused').isVisible(), false);
      const FROM_CY = `hello from 127.0.0.2 ${RUN}`;
      await send(cy, FROM_CY);
      await waitForMessage(cy, FROM_CY, { state: 'sent' });
      await waitForMessage(ben, FROM_CY, { state: 'sent', timeout: 20_000 }); // ben is on the first instance
    } finally {
      await cy.context().close();
      await stopProcess(other.child, 10_000);
    }
  }));

  it('says why when the server refuses the page\'s address', { timeout: 90_000 }, () => step('refused', async () => {
    const proxied = await startHostRewritingProxy(stack.port);
    log(`host-rewriting proxy at ${proxied}`);
    const dee = await newPage(browser, 'dee');
    try {
      await dee.goto(proxied);
      await signUp(dee, { username: `dee_${RUN}`, email: `dee_${RUN}@example.com`, password: 'dee password here' });
      const box = dee.getByTestId('connection-refused');
      await box.waitFor({ state: 'visible', timeout: 30_000 });
      const text = await box.textContent();
      assert.match(text, new RegExp(proxied.replace(/[.]/g, '\\.')));
      assert.match(text, /ALLOWED_ORIGINS/);
      assert.match(text, /TRUSTED_PROXIES/);
      await screenshot(dee, 'connection-refused');
    } finally {
      await dee.context().close();
    }
  }));
});
