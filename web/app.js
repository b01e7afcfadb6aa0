// Start-up: the entry module index.html loads. Creates the session, the
// socket, the views and the chat controller once, wires their events to each
// other, and decides which screen shows (splash, sign-in, chat).
//
// Must not hold behaviour of its own beyond that wiring: chat behaviour is in
// chat.js and its controllers (chat-*.js), the sign-in screen in auth-view.js,
// message rules in model.js. Nothing here is module-level state: everything
// lives in main()'s closure.
//
// Rule for every module: user-supplied text (messages, names) only ever
// reaches the page through textContent / attribute setters, never innerHTML.

import { Session } from './api.js';
import { AccountView } from './account-view.js';
import { AuthView } from './auth-view.js';
import { Chat } from './chat.js';
import { Layout } from './layout.js';
import { ConnectionStatus } from './render.js';
import { ChatSocket } from './socket.js';
import { $, show, sleep } from './util.js';

function main() {
  const session = new Session();
  const socket = new ChatSocket(async (forceRefresh) => {
    if (forceRefresh || session.needsRefresh(30_000)) await session.refresh();
    return session.token;
  }, () => chat.socketParams());
  const layout = new Layout({ onTabChange: (tab) => chat.onTabChange(tab) });
  const chat = new Chat({ session, socket, layout });
  const auth = new AuthView(session, { onSignedIn: () => startApp() });
  const account = new AccountView(session, { onLogOutEverywhere: () => logOutEverywhere() });
  /** Set while "Log out everywhere" waits for the server, which closes this tab's socket too. */
  let leaving = null;
  const connection = new ConnectionStatus();

  /** Signed in (or restored): fetch who we are if needed, then show the chat. */
  async function startApp() {
    if (!session.user || !session.user.username) {
      try {
        session.user = await session.request('GET', '/v1/auth/me');
      } catch (err) {
        auth.show(err.friendly);
        return;
      }
    }
    show($('splash'), false);
    show($('auth-screen'), false);
    show($('app-screen'), true);
    await chat.start(session.username);
  }

  function endSession(notice, stopSocket = true) {
    account.close();
    chat.stop({ stopSocket });
    session.clear();
    history.replaceState(null, '', location.pathname);
    auth.show(notice);
  }

  /** A stored refresh token means a session to restore; retry while the server is unreachable. */
  async function boot() {
    if (!Session.storedRefreshToken()) {
      auth.show();
      return;
    }
    let delay = 1000;
    for (;;) {
      try {
        await session.refresh();
        break;
      } catch (err) {
        if (err.status === 401 || err.status === 400 || err.status === 422) {
          auth.show('Your session has ended. Please sign in again.');
          return;
        }
        $('splash-text').textContent = `Cannot reach the server. Retrying in ${Math.round(delay / 1000)}s…`;
        await sleep(delay);
        delay = Math.min(delay * 2, 15_000);
        $('splash-text').textContent = 'Reconnecting…';
      }
    }
    startApp();
  }

  socket.addEventListener('frame', (ev) => chat.onFrame(ev.detail.frame));
  socket.addEventListener('open', (ev) => chat.onSocketOpen(ev.detail));
  socket.addEventListener('drop', () => chat.onSocketDrop());
  // The server closed this tab's socket with 4001: this session ended elsewhere (signed out
  // there, "Log out everywhere" or a password change on another device, the account deleted).
  socket.addEventListener('revoked', () => {
    if (leaving) {
      leaving.revoked = true; // our own "Log out everywhere": its answer decides (see below)
      return;
    }
    endSession('You were signed out from another tab or device. Sign in again to continue.');
  });
  socket.addEventListener('status', (ev) => {
    connection.show(ev.detail);
    chat.updateComposerState();
  });

  session.addEventListener('expired', () => {
    if (chat.started) endSession('Your session has ended. Please sign in again.');
  });

  $('logout-button').addEventListener('click', async () => {
    // Stop the socket first, so the server's close for the revoked session is not taken for a drop.
    socket.stop();
    await session.logout();
    chat.discardOutbox();
    endSession('You have signed out.', false);
  });

  /**
   * "Log out everywhere": every session of the user ends, this one included. The socket stays
   * up until the server closes it (4001), so a refused request leaves the chat as it was; once
   * the server has answered 204 (or has closed our socket, which means it ended the sessions),
   * this tab signs out like a normal sign-out. Rejects when the sessions were not ended.
   */
  async function logOutEverywhere() {
    const attempt = { revoked: false };
    leaving = attempt;
    try {
      await session.request('DELETE', '/v1/auth/sessions');
    } catch (err) {
      if (!attempt.revoked) throw err;
    } finally {
      leaving = null;
    }
    if (!chat.started) return; // the session already ended meanwhile
    socket.stop();
    chat.discardOutbox();
    endSession('You have signed out on every device.', false);
  }

  document.addEventListener('visibilitychange', () => {
    const visible = document.visibilityState === 'visible';
    chat.setVisible(visible);
    if (!visible || !chat.started) return;
    if (session.needsRefresh(60_000)) session.refresh().catch(() => {});
    if (socket.state === 'waiting') socket.connectNow();
  });
  window.addEventListener('focus', () => chat.onFocus());
  window.addEventListener('hashchange', () => chat.onHashChange());

  boot();
}

main();
