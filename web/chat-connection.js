// The connection's side of the chat: what a socket that opens or drops means
// for the page (rejoin every joined room asking for what was missed, catch up
// on direct messages, send the outbox), and every post on its way: sent, timed
// out, refused, queued for the next connection, or done.
//
// Owns the outbox (outbox.js), the posts' echo timers and the marks that say
// whether a fetch may move dm_since. The transport itself (one socket, its
// retries and backoff, its token) is socket.js; the rules without the DOM are
// in delivery.js.

import { pendingMessage } from './model.js';
import { postBody, postFrame, errorText, failureReason, parseMessage, socketParams } from './protocol.js';
import { toast } from './render.js';
import { Outbox } from './outbox.js';
import { historyPath } from './chat-api.js';
import { ECHO_TIMEOUT, FetchMarks, failureOutcome, inFlight } from './delivery.js';
import { postRoute } from './joins.js';

export class ConnectionController {
  /** @param {import('./chat.js').Chat} chat */
  constructor(chat) {
    this.chat = chat;
    /** The signed-in user's waiting messages; the last user's until the next sign-in. */
    this.outbox = null;
    this.marks = new FetchMarks();
  }

  /** A session starts: its user's outbox, as a reload or a closed tab left it. */
  openOutbox(username) {
    this.outbox = new Outbox(username);
  }

  // -------------------------------------------------------------------------
  // The socket opens and drops
  // -------------------------------------------------------------------------

  /** The query of the next socket: `dm_since` once a direct message is held. */
  socketParams() {
    return this.chat.started ? socketParams(this.chat.model.dmSince) : {};
  }

  /**
   * A (re)connected socket: rejoin the room we were in, asking for what we
   * missed. Direct messages missed come by themselves when the socket was
   * opened with `dm_since`; without one (none held yet), loaded threads are
   * fetched again and merged (deduplicated by id).
   */
  onSocketOpen({ params = {} } = {}) {
    const { chat } = this;
    this.marks.changed();
    if (!chat.started) return;
    for (const conv of chat.model.conversations.values()) {
      if (conv.kind === 'room' && chat.ui(conv).joined) chat.joins.joinRoom(conv);
    }
    if (params.dm_since === undefined) {
      for (const conv of chat.model.conversations.values()) {
        if (conv.kind === 'dm' && conv.loaded) chat.direct.refreshThread(conv).catch(() => {});
      }
    }
    chat.rooms.loadRoomsIfOlder(5_000);
    chat.direct.loadInbox().catch(() => {});
    this.flushOutbox();
  }

  /** The socket went away: what was in flight may or may not have been stored. */
  onSocketDrop() {
    const { chat } = this;
    this.marks.changed();
    if (!chat.started) return;
    const kept = chat.joins.kept;
    for (const conv of chat.model.conversations.values()) {
      for (const msg of inFlight(conv)) {
        if (!msg.overHttp) this.failPending(conv, msg, 'connection lost', { dropped: true });
      }
      const ui = chat.uis.get(conv);
      if (!ui) continue;
      for (const user of [...ui.typing.keys()]) chat.rooms.clearTyping(conv, user);
      // The server forgot the socket's rooms: only the one looked at is joined again.
      if (conv.kind === 'room' && ui.joined) {
        chat.joins.forgetJoin(conv);
        if (conv === kept) ui.joined = true;
      }
    }
  }

  /** Marks the start of a fetch (see FetchMarks): the current connection when the socket is up. */
  socketMark() {
    return this.marks.mark(this.chat.socket.isOpen);
  }

  /** A thread's page arrived: while the socket stayed up, its direct messages count as held. */
  noteFetched(conv, items, mark) {
    if (conv.kind !== 'dm' || !this.marks.holds(mark, this.chat.socket.isOpen)) return;
    this.chat.model.noteDirect(items);
  }

  /** An error frame: it names the post it refused, or says something to the user. */
  onError(frame) {
    const err = frame.error || {};
    const text = errorText(err);
    const found = this.chat.model.findPending(frame.client_id);
    if (found) this.failPending(found.conv, found.msg, failureReason(err));
    // A typing notice racing a (re)join is harmless: not worth a popup.
    if (!found && err.code === 'not_in_room') return;
    toast(text, { code: err.code || 'error' });
  }

  // -------------------------------------------------------------------------
  // The outbox
  // -------------------------------------------------------------------------

  /**
   * Messages typed before a reload (or in a tab that closed) and never
   * acknowledged: shown again as waiting, then sent if the socket is open.
   * Runs once the room list has loaded (or failed to): until then a socket
   * that opens leaves the outbox alone (see flushOutbox).
   */
  restoreOutbox() {
    for (const item of this.outbox.all()) this.showWaiting(item);
    this.outbox.markReady();
    if (this.chat.socket.isOpen) this.flushOutbox();
  }

  /**
   * An outbox entry's bubble, put on the page (queued) when it is not there.
   * Returns it, or null when its conversation already holds the stored
   * message (history brought it before the echo): the server has it, so the
   * entry and its bubble are done.
   */
  showWaiting(item) {
    const { chat } = this;
    const conv = item.kind === 'room' ? chat.roomConv(item.ref) : chat.dmConv(item.ref);
    if (conv.byClientId.has(item.client_id)) {
      this.dropPending(conv, item.client_id);
      this.outbox.remove(item.client_id);
      return null;
    }
    const shown = conv.pending.get(item.client_id);
    if (shown) return { conv, msg: shown };
    const msg = conv.queuePending(pendingMessage({ clientId: item.client_id, author: chat.me, text: item.text, replyTo: item.reply_to }));
    conv.addPending(msg);
    chat.ui(conv).view.addPending(msg);
    return { conv, msg };
  }

  /**
   * Sends every waiting message, in the order they were typed (a resend is
   * safe: see Outbox). Nothing before restoreOutbox has run: a socket that
   * opens while the room list is still loading finds no bubbles to match the
   * entries with, and must not take that for an answer. An entry is never
   * dropped here: one whose bubble is gone is shown again and sent; only the
   * server's stored copy (or its refusal, in onError) ends it.
   */
  flushOutbox() {
    if (!this.outbox || !this.outbox.ready) return;
    for (const item of this.outbox.all()) {
      const found = this.showWaiting(item);
      if (!found) continue;
      const { conv, msg } = found;
      if (msg.state === 'pending') continue; // already on its way on this socket
      conv.retryPending(msg);
      this.chat.ui(conv).view.updatePending(msg);
      this.sendPending(conv, msg);
    }
  }

  /** Signing out on purpose: what was never sent is dropped, not sent by the next login. */
  discardOutbox() {
    this.outbox?.clear();
  }

  // -------------------------------------------------------------------------
  // Posts on their way
  // -------------------------------------------------------------------------

  /** A new post from the composer: kept in the outbox until the server answers for it. */
  post(conv, msg) {
    this.outbox.add({ kind: conv.kind, ref: conv.ref, client_id: msg.client_id, text: msg.text, reply_to: msg.reply_to });
  }

  sendPending(conv, msg) {
    const ui = this.chat.ui(conv);
    const replyTo = msg.reply_to ? msg.reply_to.id : null;
    msg.overHttp = postRoute(conv, ui.joined, this.chat.current) === 'http';
    if (msg.overHttp) this.postOverHttp(conv, msg, replyTo);
    else if (!this.chat.socket.send(postFrame(conv.kind, conv.ref, msg.text, msg.client_id, replyTo))) {
      this.failPending(conv, msg, 'you are offline', { dropped: true });
      return;
    }
    clearTimeout(ui.echoTimers.get(msg.client_id));
    ui.echoTimers.set(msg.client_id, setTimeout(() => {
      ui.echoTimers.delete(msg.client_id);
      if (msg.state === 'pending' && conv.pending.has(msg.client_id)) {
        this.failPending(conv, msg, 'no reply from the server', { unanswered: true });
      }
    }, ECHO_TIMEOUT));
  }

  /**
   * A post to a room the socket is not in (joins.js postRoute): its answer is
   * the stored message, as the echo would be, or the command's acceptance.
   * No answer (no network, the server down) keeps it for the next try; a slow
   * one fails after ECHO_TIMEOUT like a post on the socket (sendPending).
   */
  async postOverHttp(conv, msg, replyTo) {
    const { chat } = this;
    const { model } = chat;
    let answer;
    try {
      answer = await chat.session.request('POST', historyPath(conv), postBody(msg.text, msg.client_id, replyTo));
    } catch (err) {
      if (chat.model !== model || !conv.pending.has(msg.client_id)) return;
      if (err.status === 0 || err.status >= 500) this.failPending(conv, msg, err.friendly, { unanswered: true });
      else this.failPending(conv, msg, err.status === 429 ? failureReason({ code: 'rate_limited' }) : err.friendly);
      return;
    }
    if (chat.model !== model) return;
    if (answer && answer.status === 'accepted') this.dropPending(conv, msg.client_id); // the bot answers in the room
    else if (answer && typeof answer.id === 'number') chat.rooms.deliver(conv, parseMessage({ ...answer, client_id: answer.client_id ?? msg.client_id }));
  }

  retry(conv, msg) {
    this.post(conv, msg);
    conv.retryPending(msg);
    this.chat.ui(conv).view.updatePending(msg);
    this.sendPending(conv, msg);
  }

  /** A post did not get through: queued, failed or refused (see failureOutcome). */
  failPending(conv, msg, reason, { dropped = false, unanswered = false } = {}) {
    const ui = this.chat.ui(conv);
    clearTimeout(ui.echoTimers.get(msg.client_id));
    ui.echoTimers.delete(msg.client_id);
    const outcome = failureOutcome({ dropped, unanswered, waiting: dropped && this.outbox.has(msg.client_id) });
    if (outcome === 'queued') conv.queuePending(msg);
    else {
      conv.failPending(msg, reason, outcome === 'failed');
      if (outcome === 'refused') this.outbox.remove(msg.client_id);
    }
    ui.view.updatePending(msg);
    this.chat.joins.settleJoins();
  }

  dropPending(conv, clientId) {
    const msg = conv.dropPending(clientId);
    if (msg) this.forgetPending(conv, msg);
  }

  /** The model has let go of a pending message: remove its bubble and timer. */
  forgetPending(conv, msg) {
    this.outbox?.remove(msg.client_id);
    const ui = this.chat.ui(conv);
    clearTimeout(ui.echoTimers.get(msg.client_id));
    ui.echoTimers.delete(msg.client_id);
    ui.view.removePending(msg);
    this.chat.joins.settleJoins();
  }
}
