// End-to-end: a client of the original direct-message server's API (/api/*,
// classic-client.js) and a browser user of the web client chat with each
// other through the real server; then the server restarts while a direct
// message is stored, and the browser shows it after reconnecting by itself.
//
// Run with scripts/e2e.sh (every *.test.js here). The steps share one stack,
// one browser page and one classic client, so they run in order.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';

import {
  SERVER_BIN, api, cleanupAll, freePort, launchBrowser, log, newPage, onCleanup, rand, screenshot,
  spawnLogged, startStack, stopProcess, tail, waitFor,
} from './harness.js';
import { ClassicClient, ClassicError, signJwt } from './classic-client.js';
import {
  assertNoDuplicateIds, connectionState, countMessages, messages, openDirect, send, signUp,
  waitForConversation, waitForMessage, waitOffline, waitOnline,
} from './ui.js';

const RUN = rand(6);
const CLASSIC = {
  first_name: 'Ada',
  last_name: 'Lovelace',
  username: `classic_${RUN}`,
  password: 'analytical engine',
  email: `classic_${RUN}@example.com`,
  phone: '+44 20 7946 0000',
};
const WEB = { username: `web_${RUN}`, email: `web_${RUN}@example.com`, password: 'browser password' };
const OTHER = { username: `other_${RUN}`, email: `other_${RUN}@example.com`, password: 'other password' };

const FROM_WEB = `hello from the browser ${RUN}`;
const FROM_CLASSIC = `hello from the classic client ${RUN}`;
const WHILE_DOWN = `sent while your socket was down ${RUN}`;
const OTHER_WHILE_DOWN = `another thread, also while down ${RUN}`;
const AFTER_RESTART = `live again ${RUN}`;

let stack;
let browser;
let web;
let classic;
let classicWs;
/** The web page's WebSockets, in the order it opened them: {url, frames: [parsed frames]}. */
const webSockets = [];

async function step(name, fn) {
  try {
    await fn();
  } catch (err) {
    if (web && !web.isClosed()) await screenshot(web, `FAILED-classic-${name}`).catch(() => {});
    throw err;
  }
}

/** A second server instance on the stack's database and broker, on its own port. */
async function startPeerServer(port) {
  assert.notEqual(port, stack.port);
  const origin = `http://127.0.0.1:${port}`;
  const child = spawnLogged('server-peer', SERVER_BIN, [], { ...stack.env, LISTEN_ADDR: `127.0.0.1:${port}` });
  onCleanup(() => stopProcess(child, 10_000));
  await waitFor(async () => {
    if (child.exitInfo) {
      throw Object.assign(new Error(`peer server exited early:\n${tail(child.logFile)}`), { fatal: true });
    }
    const res = await fetch(`${origin}/readyz`).catch(() => null);
    return res && res.status === 200;
  }, { timeout: 45_000, what: 'the peer server\'s GET /readyz = 200' });
  log(`peer server ready on ${origin} (pid ${child.pid})`);
  return { origin, child };
}

describe('a client of the original /api and the web client', { timeout: 300_000 }, () => {
  before(async () => {
    stack = await startStack();
    browser = await launchBrowser();
    web = await newPage(browser, 'web');
    web.on('websocket', (ws) => {
      const entry = { url: ws.url(), frames: [] };
      webSockets.push(entry);
      ws.on('framereceived', ({ payload }) => {
        try {
          entry.frames.push(JSON.parse(String(payload)));
        } catch {
          /* not JSON: not ours */
        }
      });
    });
    classic = new ClassicClient(stack.origin);
  }, { timeout: 120_000 });

  after(async () => {
    await classicWs?.close().catch(() => {});
    await cleanupAll();
  }, { timeout: 60_000 });

  it('registers with a form, logs in at /api/auth_token and signs its own tokens', { timeout: 30_000 }, () => step('register', async () => {
    const { status, envelope } = await classic.register(CLASSIC);
    assert.equal(status, 200, "the original server answered every success 200");
    assert.equal(envelope.status, 'success');
    assert.deepEqual([envelope.page, envelope.per_page, envelope.current_page], [1, 10, 1]);
    const user = envelope.data[0];
    assert.deepEqual(
      [user.username, user.email, user.first_name, user.last_name, user.phone_number],
      [CLASSIC.username, CLASSIC.email, CLASSIC.first_name, CLASSIC.last_name, CLASSIC.phone],
    );
    for (const field of ['access_key_id', 'secret_access_key', 'refresh_token', 'created_at', 'modified_at', 'expires_at']) {
      assert.equal(typeof user.token[field], 'string', `token.${field}`);
    }
    assert.equal(user.token.is_refreshable, true);

    const key = await classic.logIn(CLASSIC.username, CLASSIC.password);
    assert.notEqual(key.access_key_id, user.token.access_key_id, 'each login hands out a new key');

    // The client's own JWT, in the header and in the query.
    for (const auth of ['header', 'query']) {
      const inbox = await classic.inbox({ auth });
      assert.equal(inbox.status, 'success');
      assert.deepEqual(inbox.data, [], `${auth}: nobody has written yet`);
    }
    // Signed with anything but the secret, it is refused.
    const forged = signJwt({ access_key_id: key.access_key_id, secret_access_key: 'not the secret' });
    await assert.rejects(classic.request('GET', '/api/inbox', { token: forged }), (err) => {
      assert.ok(err instanceof ClassicError);
      assert.equal(err.status, 401);
      assert.equal(err.envelope.status, 'fail');
      assert.equal(err.envelope.error.message, 'Authentication error');
      return true;
    });
  }));

  it('chats live both ways with a browser user of the web client', { timeout: 60_000 }, () => step('live', async () => {
    // Connected well before anyone writes, so the server has long registered it.
    classicWs = await classic.connect();
    await web.goto(stack.origin);
    await signUp(web, WEB);
    // The client opens General by itself after signing in; let it finish first.
    await waitForConversation(web, 'General');
    await waitOnline(web);

    await openDirect(web, CLASSIC.username);
    await send(web, FROM_WEB);
    await waitForMessage(web, FROM_WEB, { state: 'sent' });
    const got = await classicWs.next((f) => f.message === FROM_WEB);
    assert.deepEqual(Object.keys(got).sort(), ['author', 'created_at', 'message', 'message_type', 'recipient'], 'the original frame shape');
    assert.deepEqual([got.author, got.recipient, got.message_type], [WEB.username, CLASSIC.username, 0]);
    assert.ok(!Number.isNaN(Date.parse(got.created_at)), `created_at is a time: ${got.created_at}`);

    // The author field is the original clients' habit; the server takes the token's user anyway.
    classicWs.send({ author: CLASSIC.username, recipient: WEB.username, message: FROM_CLASSIC });
    const echo = await classicWs.next((f) => f.message === FROM_CLASSIC);
    assert.deepEqual([echo.author, echo.recipient, echo.message_type], [CLASSIC.username, WEB.username, 0], 'the sender gets its copy');
    await waitForMessage(web, FROM_CLASSIC, { state: 'sent' });

    const list = await messages(web);
    assert.deepEqual(list.map((m) => [m.author, m.text]), [[WEB.username, FROM_WEB], [CLASSIC.username, FROM_CLASSIC]]);
    assertNoDuplicateIds(list, 'web');
    await screenshot(web, 'classic-direct');
  }));

  it('reads its inbox and the thread, newest first, a page at a time', { timeout: 30_000 }, () => step('thread', async () => {
    const thread = await classic.thread(WEB.username, { page: 1, perPage: 10 });
    assert.equal(thread.status, 'success');
    assert.deepEqual([thread.page, thread.per_page, thread.current_page], [1, 10, 1]);
    assert.deepEqual(
      thread.data.map((m) => [m.author, m.recipient, m.message, m.message_type]),
      [[CLASSIC.username, WEB.username, FROM_CLASSIC, 0], [WEB.username, CLASSIC.username, FROM_WEB, 0]],
      'newest first',
    );
    assert.ok(Date.parse(thread.data[0].created_at) >= Date.parse(thread.data[1].created_at));

    const second = await classic.thread(WEB.username, { page: 2, perPage: 1, auth: 'query' });
    assert.deepEqual([second.page, second.per_page, second.current_page], [2, 1, 2]);
    assert.deepEqual(second.data.map((m) => m.message), [FROM_WEB], 'page 2 of 1 per page is the older one');

    const inbox = await classic.inbox();
    assert.equal(inbox.data.length, 1, JSON.stringify(inbox.data));
    assert.equal(inbox.data[0].author_username, WEB.username);
    assert.equal(inbox.data[0].latest_message, FROM_CLASSIC);
  }));

  it('shows a direct message stored while its socket was down once it reconnects, without a reload', { timeout: 150_000 }, () => step('restart', async () => {
    // Someone else to write to the browser user while it is away, in another thread.
    const other = await api(stack.origin, 'POST', '/v1/auth/signup', { body: OTHER });
    assert.equal(other.status, 201, JSON.stringify(other.data));

    await waitOnline(web);
    const shown = await messages(web);
    const since = Math.max(...shown.filter((m) => m.id).map((m) => Number(m.id)));
    assert.ok(since > 0, 'the browser holds direct messages');
    assert.equal(new URL(webSockets[0].url).searchParams.has('dm_since'), false, 'the first socket knew no direct message: no dm_since');
    await web.evaluate(() => { window.__noReload = 'still here'; });
    const socketsBefore = webSockets.length;
    // Chosen while the server still holds its own port, so the two cannot be the same.
    const peerPort = await freePort();

    // The server goes away; the browser's socket drops and keeps retrying on the same port.
    await stack.stopServer();
    await waitOffline(web);
    await classicWs.close();

    // Meanwhile another instance (same database and broker, another port) stores two direct
    // messages. The browser cannot reconnect before the first server is back, so it surely
    // misses them live.
    const peer = await startPeerServer(peerPort);
    const classicAtPeer = classic.at(peer.origin);
    const peerWs = await classicAtPeer.connect();
    peerWs.send({ recipient: WEB.username, message: WHILE_DOWN });
    const stored = await peerWs.next((f) => f.message === WHILE_DOWN); // sent back only once stored
    assert.equal(stored.author, CLASSIC.username);
    await peerWs.close();
    const otherDm = await api(peer.origin, 'POST', `/v1/chat/threads/${WEB.username}`, {
      token: other.data.token, body: { message: OTHER_WHILE_DOWN },
    });
    assert.equal(otherDm.status, 201, JSON.stringify(otherDm.data));
    assert.deepEqual((await classicAtPeer.thread(WEB.username, { perPage: 1 })).data.map((m) => m.message), [WHILE_DOWN]);
    assert.notEqual(await connectionState(web), 'online', 'still disconnected when the messages were stored');
    assert.equal(await countMessages(web, WHILE_DOWN), 0);

    await stack.startServer();
    await stopProcess(peer.child);
    await waitOnline(web, 45_000);
    await waitForMessage(web, WHILE_DOWN, { state: 'sent', timeout: 15_000 });
    assert.equal(await web.evaluate(() => window.__noReload), 'still here', 'the page was not reloaded');

    // The message in the thread not on screen counts as unread, as a live one would (a
    // refetched inbox alone would list it, but not as unread).
    const otherItem = web.locator(`[data-testid="dm-item"][data-username="${OTHER.username}"]`);
    await otherItem.locator('[data-testid="dm-unread"]').waitFor();
    assert.equal((await otherItem.locator('[data-testid="dm-unread"]').textContent()).trim(), '1');
    assert.match(await otherItem.textContent(), new RegExp(OTHER_WHILE_DOWN));

    const list = await messages(web);
    assert.deepEqual(list.map((m) => m.text), [FROM_WEB, FROM_CLASSIC, WHILE_DOWN], 'once each, in order');
    assertNoDuplicateIds(list, 'web after the restart');

    // Both came with the reconnect: the new socket asked for everything after the last id held,
    // and the server replayed them on it, and nothing older. (Playwright reports frames
    // asynchronously, so its record may lag the page by a moment.)
    const directs = (socket) => socket.frames.filter((f) => f.type === 4).map((f) => f.message);
    const reconnect = await waitFor(() => webSockets.slice(socketsBefore).find((ws) => directs(ws).includes(WHILE_DOWN)), {
      timeout: 5_000, interval: 50, what: 'a new socket of the browser carrying the missed message',
    });
    assert.equal(new URL(reconnect.url).searchParams.get('dm_since'), String(since), `reconnected with dm_since=${since}`);
    await waitFor(() => directs(reconnect).includes(OTHER_WHILE_DOWN), {
      timeout: 5_000, interval: 50, what: 'the other thread\'s message on the same socket',
    }).catch((err) => { throw new Error(`${err.message}; got ${JSON.stringify(directs(reconnect))}`); });
    assert.deepEqual(directs(reconnect).slice(0, 2), [WHILE_DOWN, OTHER_WHILE_DOWN], 'replayed first, oldest first');
    assert.ok(!directs(reconnect).includes(FROM_WEB) && !directs(reconnect).includes(FROM_CLASSIC), 'nothing held was sent again');

    // And live messages flow again, each shown once.
    classicWs = await classic.connect();
    classicWs.send({ recipient: WEB.username, message: AFTER_RESTART });
    await waitForMessage(web, AFTER_RESTART, { state: 'sent' });
    const FROM_WEB_AGAIN = `and back from the browser ${RUN}`;
    await send(web, FROM_WEB_AGAIN);
    await classicWs.next((f) => f.message === FROM_WEB_AGAIN && f.author === WEB.username);
    const final = await messages(web);
    assert.deepEqual(final.map((m) => m.text), [FROM_WEB, FROM_CLASSIC, WHILE_DOWN, AFTER_RESTART, FROM_WEB_AGAIN]);
    assertNoDuplicateIds(final, 'web at the end');

    const thread = await classic.thread(WEB.username);
    assert.deepEqual(thread.data.map((m) => m.message), [FROM_WEB_AGAIN, AFTER_RESTART, WHILE_DOWN, FROM_CLASSIC, FROM_WEB]);
    await screenshot(web, 'classic-after-restart');
  }));

  it('logged no script errors', () => {
    const problems = (web?.problems || []).filter((p) => !/status of 40[19]|status of 422|status of 404/.test(p));
    assert.deepEqual(problems, []);
  });
});
