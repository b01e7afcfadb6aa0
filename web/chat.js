// The chat controller: the signed-in screen's behaviour. It reacts to socket
// frames and user actions, asks the server for history, rooms and the inbox,
// keeps the model (model.js) up to date and has the views (render.js) show it.
//
// Owns what is per session but not message data: the DOM view of each
// conversation, requests in flight, typing timers, drafts and scroll
// positions. Must not decide message rules itself (order, de-duplication,
// unread: ask the model), build frames by hand (protocol.js) or handle
// sign-in and tokens (auth-view.js, api.js).

import { ChatModel, BOT_NAME, sameUser, pendingMessage } from './model.js';
import {
  FRAME, postFrame, joinFrame, typingFrame, parseMessage, parseHistory, directPeer,
  errorText, failureReason, socketParams,
} from './protocol.js';
import {
  MessageListView, renderRoomList, renderDmList, renderDmListError, renderUnreadTotals, renderCurrentUser,
  renderHeader, renderNoConversation, renderConversation, renderPresence, renderTyping, renderHistoryTop,
  setComposerEnabled, renderCharCount, toast,
} from './render.js';
import { $, el, show, newClientId, withBusy, describeFieldError } from './util.js';
import { Outbox } from './outbox.js';
import { mentionsUser } from './text.js';

/** Rooms per page of the room list, and the most pages read (`loadRooms`). */
const ROOM_PAGE = 200;
const ROOM_PAGES_MAX = 50;
/** The shortest prefix `GET /v1/users` answers. */
const USER_PREFIX_MIN = 3;
const NOTIFY_KEY = 'tickertalk.notify';
/** Mentions kept in the sidebar list, newest first. */
const MENTIONS_KEPT = 20;

const PAGE_SIZE = 50;
const TYPING_SEND_EVERY = 2000;
const TYPING_SHOW_FOR = 3000;
// How long "stockbot is fetching a quote…" may show before the answer comes.
const BOT_TYPING_FOR = 10_000;
// A message with no echo by then is marked failed, so it never spins forever.
const ECHO_TIMEOUT = 15_000;
const LAST_CONV_KEY = 'tickertalk.last_conversation';
const USERNAME = /^[A-Za-z][A-Za-z0-9_]{2,31}$/;

/** What is typed in "Message a user", without a leading @. */
function typedUsername() {
  return $('dm-start-input').value.trim().replace(/^@/, '');
}

function historyPath(conv) {
  return conv.kind === 'room'
    ? `/v1/chat/rooms/${encodeURIComponent(conv.ref)}/messages`
    : `/v1/chat/threads/${encodeURIComponent(conv.ref)}`;
}

/** The URL fragment that reopens a conversation after a reload. */
function conversationHash(conv) {
  return conv.kind === 'room' ? `#room/${conv.ref}` : `#dm/${encodeURIComponent(conv.ref)}`;
}

/** What the controller tracks about one conversation besides its messages. */
class ConversationUi {
  constructor(view) {
    this.view = view;
    /** The first page's request while it runs, shared by everyone who asks. */
    this.loading = null;
    this.loadingOlder = false;
    /** Joined on the current socket; a new socket rejoins every joined room with `since`. */
    this.joined = false;
    this.typing = new Map(); // username -> timeout that clears them
    this.echoTimers = new Map(); // client_id -> timeout that fails the pending message
    this.lastTypingSent = 0;
    /** Saved scroll position; null = stick to the bottom. */
    this.scroll = null;
    this.draft = '';
    /** The newest message id the server was told this user has read; the pending tell. */
    this.markedId = 0;
    this.markTimer = null;
  }

  clearTimers() {
    for (const t of this.typing.values()) clearTimeout(t);
    for (const t of this.echoTimers.values()) clearTimeout(t);
    clearTimeout(this.markTimer);
    this.markTimer = null;
  }
}

export class Chat {
  /**
   * @param {{session: import('./api.js').Session, socket: import('./socket.js').ChatSocket,
   *          layout: import('./layout.js').Layout}} deps
   */
  constructor({ session, socket, layout }) {
    this.session = session;
    this.socket = socket;
    this.layout = layout;
    /** The signed-in user's conversations; null while signed out. */
    this.model = null;
    // Keyed by the Conversation object, not its key: a conversation forgotten
    // and opened again must not inherit the old one's view and callbacks.
    this.uis = new WeakMap(); // Conversation -> ConversationUi
    this.lastRoomsFetch = 0;
    /** Counts the socket's opens and drops: a fetch that saw one connection throughout sees one value. */
    this.socketEpoch = 0;
    this.listEl = $('message-list');
    this.composer = $('composer-input');
    this.nativeAutosize = !!(window.CSS && CSS.supports && CSS.supports('field-sizing', 'content'));
    this.bindControls();
  }

  get started() {
    return this.model !== null;
  }

  get me() {
    return this.model ? this.model.me : '';
  }

  get current() {
    return this.model ? this.model.active : null;
  }

  // -------------------------------------------------------------------------
  // Session lifecycle
  // -------------------------------------------------------------------------

  /** The user is signed in and the app screen is showing: load and connect. */
  async start(username) {
    const model = new ChatModel(username);
    this.model = model;
    this.outbox = new Outbox(username);
    this.mentions = [];
    this.renderMentions();
    this.renderNotifyToggle();
    model.setAttentive(document.visibilityState === 'visible');
    renderCurrentUser(username);
    this.layout.setTab('rooms');
    this.renderEmpty();
    // The socket and the room list load side by side; whichever comes first,
    // the outbox is sent only after restoreOutbox below (see flushOutbox).
    this.socket.start();
    try {
      await this.loadRooms();
    } catch (err) {
      toast(`Could not load rooms: ${err.friendly || err.message}`);
    }
    if (this.model !== model) return; // signed out while the rooms loaded
    this.restoreOutbox();
    this.loadInbox().catch(() => {});
    let last = null;
    try {
      last = localStorage.getItem(LAST_CONV_KEY);
    } catch {
      /* ignore */
    }
    if (this.openFromHash(location.hash) || this.openFromHash(last)) return;
    const rooms = this.model.rooms;
    const general = rooms.find((r) => r.name.toLowerCase() === 'general') || rooms[0];
    if (general) this.openConversation(this.roomConv(general.id, general.name), { focus: !this.layout.isNarrow });
  }

  /**
   * Messages typed before a reload (or in a tab that closed) and never
   * acknowledged: shown again as waiting, then sent if the socket is open.
   * Runs once the room list has loaded (or failed to): until then a socket
   * that opens leaves the outbox alone (see flushOutbox).
   */
  restoreOutbox() {
    for (const item of this.outbox.all()) this.showWaiting(item);
    this.outbox.markReady();
    if (this.socket.isOpen) this.flushOutbox();
  }

  /**
   * An outbox entry's bubble, put on the page (queued) when it is not there.
   * Returns it, or null when its conversation already holds the stored
   * message (history brought it before the echo): the server has it, so the
   * entry and its bubble are done.
   */
  showWaiting(item) {
    const conv = item.kind === 'room' ? this.roomConv(item.ref) : this.dmConv(item.ref);
    if (conv.byClientId.has(item.client_id)) {
      this.dropPending(conv, item.client_id);
      this.outbox.remove(item.client_id);
      return null;
    }
    const shown = conv.pending.get(item.client_id);
    if (shown) return { conv, msg: shown };
    const msg = conv.queuePending(pendingMessage({ clientId: item.client_id, author: this.me, text: item.text }));
    conv.addPending(msg);
    this.ui(conv).view.addPending(msg);
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
      this.ui(conv).view.updatePending(msg);
      this.sendPending(conv, msg);
    }
  }

  /** Signing out on purpose: what was never sent is dropped, not sent by the next login. */
  discardOutbox() {
    this.outbox?.clear();
  }

  /** Forget everything of the session (signed out or expired). */
  stop({ stopSocket = true } = {}) {
    if (stopSocket) this.socket.stop();
    if (this.model) {
      for (const conv of this.model.conversations.values()) this.uis.get(conv)?.clearTimers();
    }
    this.uis = new WeakMap();
    this.model = null;
    $('messages-host').replaceChildren();
    $('room-list').replaceChildren();
    $('dm-list').replaceChildren();
    $('mention-list').replaceChildren();
    this.mentions = [];
    $('presence-list').replaceChildren();
    $('typing-indicator').textContent = '';
    $('toasts').replaceChildren();
    show($('dm-list-error'), false);
    show($('jump-latest'), false);
    document.title = 'tickertalk';
  }

  /** Page shown or hidden: unread counting depends on it. */
  setVisible(visible) {
    if (!this.started) return;
    this.model.setAttentive(visible);
    if (visible && this.current) {
      this.renderUnread();
      this.scheduleMarkRead(this.current);
    }
  }

  /** The window regained focus: rooms may have been created meanwhile. */
  onFocus() {
    if (this.started && Date.now() - this.lastRoomsFetch > 30_000) this.loadRooms().catch(() => {});
  }

  onHashChange() {
    if (!this.started) return;
    if (this.current && location.hash === conversationHash(this.current)) return;
    this.openFromHash(location.hash);
  }

  // -------------------------------------------------------------------------
  // Conversations and their views
  // -------------------------------------------------------------------------

  /**
   * The controller's side of a conversation. Created together with the
   * conversation (roomConv, dmConv) so that no message reaches the model
   * before there is a view to show it.
   */
  ui(conv) {
    let ui = this.uis.get(conv);
    if (!ui) {
      ui = new ConversationUi(new MessageListView(conv.name, {
        me: this.me,
        onRetry: (msg) => this.retry(conv, msg),
        onDismiss: (msg) => this.dropPending(conv, msg.client_id),
      }));
      this.uis.set(conv, ui);
    }
    return ui;
  }

  roomConv(id, name) {
    const conv = this.model.room(id, name);
    this.ui(conv);
    return conv;
  }

  dmConv(username) {
    const conv = this.model.dm(username);
    this.ui(conv);
    return conv;
  }

  /** Drop a conversation that turned out not to exist (an unknown user's thread). */
  forget(conv) {
    const wasCurrent = this.isCurrent(conv);
    this.uis.get(conv)?.clearTimers();
    this.uis.delete(conv);
    this.model.forget(conv);
    if (wasCurrent) this.renderEmpty();
  }

  isCurrent(conv) {
    return this.started && this.model.active === conv;
  }

  // -------------------------------------------------------------------------
  // Scrolling
  // -------------------------------------------------------------------------

  nearBottom() {
    const l = this.listEl;
    return l.scrollHeight - l.scrollTop - l.clientHeight < 80;
  }

  scrollToBottom() {
    this.listEl.scrollTop = this.listEl.scrollHeight;
    show($('jump-latest'), false);
  }

  // -------------------------------------------------------------------------
  // Incoming frames
  // -------------------------------------------------------------------------

  onFrame(frame) {
    if (!this.started) return undefined;
    switch (frame.type) {
      case FRAME.MESSAGE: return this.onRoomMessage(frame);
      case FRAME.LEAVE: return undefined; // leave confirmed
      case FRAME.DIRECT: return this.onDirectMessage(frame);
      case FRAME.TYPING: return this.onTyping(frame);
      case FRAME.ERROR: return this.onError(frame);
      case FRAME.PRESENCE: return this.onPresence(frame);
      case FRAME.COMMAND_ACCEPTED: return this.onCommandAccepted(frame);
      case FRAME.ROOM_CREATED: return this.onRoomCreated(frame);
      case FRAME.ROOM_ACTIVITY: return this.onRoomActivity(frame);
      case FRAME.READ_MARKER: return this.onReadMarker(frame);
      default: return undefined;
    }
  }

  /** A message from the server into a conversation, on screen or not. */
  deliver(conv, msg) {
    const ui = this.ui(conv);
    const isCurrent = this.isCurrent(conv);
    const stick = isCurrent && this.nearBottom();
    const { added, replaced, own, counted } = this.model.receive(conv, msg);
    if (replaced) this.forgetPending(conv, replaced);
    if (!added) return null;
    if (!own) this.noticeMessage(conv, msg);
    ui.view.place(added);
    if (msg.author && ui.typing.has(msg.author)) this.clearTyping(conv, msg.author);
    if (msg.bot && ui.typing.has(BOT_NAME)) this.clearTyping(conv, BOT_NAME);
    if (isCurrent && document.visibilityState === 'visible') {
      if (stick || own) this.scrollToBottom();
      else show($('jump-latest'), true);
      this.scheduleMarkRead(conv);
    } else if (counted) {
      this.renderUnread();
    }
    return added;
  }

  onRoomMessage(frame) {
    if (typeof frame.chatroomId !== 'number') return;
    if (!this.model.hasRoom(frame.chatroomId)) this.loadRooms().catch(() => {});
    this.deliver(this.roomConv(frame.chatroomId), parseMessage(frame));
  }

  /** A direct message from the socket: live, or replayed after a reconnect (`dm_since`). */
  onDirectMessage(frame) {
    const other = directPeer(frame, this.me);
    if (!other) return;
    const msg = parseMessage(frame);
    // Everything the socket sends is held from now on, whichever thread it is in.
    this.model.noteDirect([msg]);
    // A thread never opened keeps the message too, so opening it shows it. A
    // duplicate (a replay of something already here) leaves the inbox alone.
    if (!this.deliver(this.dmConv(other), msg)) return;
    this.model.bumpInbox(other, msg.text, msg.created_at);
    this.renderInbox();
  }

  onTyping(frame) {
    if (typeof frame.chatroomId !== 'number' || !frame.chatuser || sameUser(frame.chatuser, this.me)) return;
    const conv = this.model.find('room', frame.chatroomId);
    if (conv) this.setTyping(conv, frame.chatuser, TYPING_SHOW_FOR);
  }

  onError(frame) {
    const err = frame.error || {};
    const text = errorText(err);
    const found = this.model.findPending(frame.client_id);
    if (found) this.failPending(found.conv, found.msg, failureReason(err));
    // A typing notice racing a (re)join is harmless: not worth a popup.
    if (!found && err.code === 'not_in_room') return;
    toast(text, { code: err.code || 'error' });
  }

  onPresence(frame) {
    if (typeof frame.chatroomId !== 'number') return;
    const conv = this.model.find('room', frame.chatroomId);
    if (!conv) return;
    conv.applyPresence(frame);
    if (frame.left) this.clearTyping(conv, frame.left);
    if (this.isCurrent(conv)) renderPresence(conv, this.me);
  }

  /**
   * A new message from someone else: listed when it mentions us, and shown as
   * a browser notification (when the user opted in) if it mentions us or is a
   * direct message, while the tab is hidden.
   */
  noticeMessage(conv, msg) {
    const mention = !msg.bot && conv.kind === 'room' && mentionsUser(msg.text, this.me);
    if (mention) {
      this.mentions = [{ conv, msg }, ...(this.mentions || []).filter((m) => m.msg !== msg)].slice(0, MENTIONS_KEPT);
      this.renderMentions();
    }
    const wanted = mention || (conv.kind === 'dm' && !msg.bot);
    if (!wanted || document.visibilityState !== 'hidden' || !this.notifyOn()) return;
    try {
      const title = conv.kind === 'dm' ? `${msg.author} (direct message)` : `${msg.author} in #${conv.name}`;
      const n = new Notification(title, { body: msg.text.slice(0, 140), tag: conv.key });
      n.onclick = () => {
        window.focus();
        this.openConversation(conv);
        n.close();
      };
    } catch {
      /* notifications unavailable here */
    }
  }

  notifyOn() {
    try {
      return typeof Notification !== 'undefined' && Notification.permission === 'granted'
        && localStorage.getItem(NOTIFY_KEY) === '1';
    } catch {
      return false;
    }
  }

  /** The "Notify me" button: asks the browser's permission the first time, then toggles. */
  async toggleNotifications() {
    const button = $('notify-toggle');
    if (typeof Notification === 'undefined') {
      toast('This browser cannot show notifications.', { code: 'notify', kind: 'info' });
      return;
    }
    let on = !this.notifyOn();
    if (on && Notification.permission !== 'granted') {
      on = (await Notification.requestPermission()) === 'granted';
      if (!on) toast('Notifications are blocked for this site in the browser\'s settings.', { code: 'notify', kind: 'info' });
    }
    try {
      if (on) localStorage.setItem(NOTIFY_KEY, '1');
      else localStorage.removeItem(NOTIFY_KEY);
    } catch {
      /* ignore */
    }
    this.renderNotifyToggle(button);
  }

  renderNotifyToggle(button = $('notify-toggle')) {
    const on = this.notifyOn();
    button.setAttribute('aria-pressed', on ? 'true' : 'false');
    button.textContent = on ? 'Notifications on' : 'Notify me';
    button.title = 'Browser notifications for mentions and direct messages while this tab is hidden';
  }

  /** The sidebar's list of recent messages that mention us; a click opens the room at them. */
  renderMentions() {
    const list = $('mention-list');
    const items = this.mentions || [];
    $('mention-count').textContent = String(items.length);
    list.replaceChildren(...items.map(({ conv, msg }) => {
      const b = el('button', {
        className: 'conv-item mention-item', testid: 'mention-item',
        attrs: { type: 'button' }, dataset: { id: msg.id ?? undefined },
      }, [el('span', { className: 'conv-name', text: `${msg.author} in #${conv.name}` }),
        el('span', { className: 'conv-preview', text: msg.text.slice(0, 80) })]);
      b.addEventListener('click', () => this.openConversation(conv));
      return el('li', {}, [b]);
    }));
  }

  /** Rooms that got messages (joined or not): their unread counts move. */
  onRoomActivity(frame) {
    if (this.model.noteActivity(frame.rooms)) this.renderUnread();
    if (this.current) this.scheduleMarkRead(this.current);
  }

  /** A read marker of ours moved, here or in another tab or device. */
  onReadMarker(frame) {
    this.model.applyMarker(frame);
    this.renderUnread();
  }

  /**
   * The user sees the latest message of the conversation on screen: tell the
   * server (at most every 500 ms), so unread counts follow them to reloads,
   * other tabs and other devices.
   */
  scheduleMarkRead(conv) {
    if (!this.started || !this.isCurrent(conv) || document.visibilityState !== 'visible') return;
    const ui = this.ui(conv);
    if (!conv.maxId || conv.maxId <= (ui.markedId || 0) || ui.markTimer) return;
    ui.markTimer = setTimeout(() => {
      ui.markTimer = null;
      this.markRead(conv).catch(() => {});
    }, 500);
  }

  async markRead(conv) {
    const ui = this.ui(conv);
    const last = conv.maxId;
    if (!last || last <= (ui.markedId || 0)) return;
    ui.markedId = last;
    const path = conv.kind === 'room'
      ? `/v1/chat/rooms/${conv.ref}/read`
      : `/v1/chat/threads/${encodeURIComponent(conv.ref)}/read`;
    try {
      const marker = await this.session.request('PUT', path, { last_read_id: last });
      if (!this.started) return;
      this.model.applyMarker(marker);
      this.renderUnread();
    } catch {
      ui.markedId = 0; // tried again with the next message or visit
    }
  }

  /** A room created by anyone, on any server instance: into the list at once. */
  onRoomCreated(frame) {
    const room = frame.room;
    if (!room || typeof room.id !== 'number' || typeof room.name !== 'string') return;
    if (this.model.hasRoom(room.id)) return;
    this.model.addRoom({ id: room.id, name: room.name, created_at: room.created_at });
    this.renderRooms();
  }

  onCommandAccepted(frame) {
    const found = this.model.findPending(frame.client_id);
    const conv = found ? found.conv : this.model.find('room', frame.chatroomId);
    if (found) this.dropPending(found.conv, found.msg.client_id);
    // The bot answers shortly; show that it is working on it.
    if (conv) this.setTyping(conv, BOT_NAME, BOT_TYPING_FOR);
  }

  setTyping(conv, user, ms) {
    const { typing } = this.ui(conv);
    clearTimeout(typing.get(user));
    typing.set(user, setTimeout(() => this.clearTyping(conv, user), ms));
    if (this.isCurrent(conv)) this.renderTyping();
  }

  clearTyping(conv, user) {
    const ui = this.uis.get(conv);
    if (!ui) return;
    clearTimeout(ui.typing.get(user));
    ui.typing.delete(user);
    if (this.isCurrent(conv)) this.renderTyping();
  }

  // -------------------------------------------------------------------------
  // Socket lifecycle
  // -------------------------------------------------------------------------

  joinRoom(conv) {
    this.ui(conv).joined = true;
    if (!this.socket.send(joinFrame(conv.ref, conv.maxId))) return;
    // A post still on its way may already be stored with an id up to `since`:
    // history fetched meanwhile shows it (without its client_id), and the
    // server skips its echo to this socket, taking it for replayed. Posting it
    // again is safe and brings the stored copy back to this socket alone, with
    // its client_id, so its bubble and outbox entry can go. (Commands are not
    // stored, and their acceptance is never skipped: they are not sent again.)
    for (const msg of conv.pending.values()) {
      if (msg.state === 'pending' && !msg.command) this.sendPending(conv, msg);
    }
  }

  /** The query of the next socket: `dm_since` once a direct message is held. */
  socketParams() {
    return this.started ? socketParams(this.model.dmSince) : {};
  }

  /**
   * A (re)connected socket: rejoin every room we were in, asking for what we
   * missed. Direct messages missed come by themselves when the socket was
   * opened with `dm_since`; without one (none held yet), loaded threads are
   * fetched again and merged (deduplicated by id).
   */
  onSocketOpen({ params = {} } = {}) {
    this.socketEpoch += 1;
    if (!this.started) return;
    for (const conv of this.model.conversations.values()) {
      if (conv.kind === 'room' && this.ui(conv).joined) this.joinRoom(conv);
    }
    if (params.dm_since === undefined) {
      for (const conv of this.model.conversations.values()) {
        if (conv.kind === 'dm' && conv.loaded) this.refreshThread(conv).catch(() => {});
      }
    }
    if (Date.now() - this.lastRoomsFetch > 5_000) this.loadRooms().catch(() => {});
    this.loadInbox().catch(() => {});
    this.flushOutbox();
  }

  /**
   * Marks the start of a fetch: the current connection when the socket is up.
   * Its result may advance `dm_since` only if the same connection stayed up
   * throughout (see noteFetched); a page fetched while the socket was down
   * proves nothing about the other threads' messages missed meanwhile.
   */
  socketMark() {
    return this.socket.isOpen ? this.socketEpoch : null;
  }

  /** A thread's page arrived: while the socket stayed up, its direct messages count as held. */
  noteFetched(conv, items, mark) {
    if (conv.kind !== 'dm' || mark === null || mark !== this.socketEpoch || !this.socket.isOpen) return;
    this.model.noteDirect(items);
  }

  /** The socket went away: what was in flight may or may not have been stored. */
  onSocketDrop() {
    this.socketEpoch += 1;
    if (!this.started) return;
    for (const conv of this.model.conversations.values()) {
      for (const msg of conv.pending.values()) {
        if (msg.state === 'pending') this.failPending(conv, msg, 'connection lost', { dropped: true });
      }
      const ui = this.uis.get(conv);
      if (ui) for (const user of [...ui.typing.keys()]) this.clearTyping(conv, user);
    }
  }

  // -------------------------------------------------------------------------
  // Loading data
  // -------------------------------------------------------------------------

  async loadRooms() {
    const { model } = this;
    this.lastRoomsFetch = Date.now();
    // The list is paged (at most 200 a page, by name): read pages until a short one, up to
    // ROOM_PAGES_MAX pages (a deployment with more rooms shows the first ones by name).
    const rooms = [];
    for (let page = 0; page < ROOM_PAGES_MAX; page++) {
      const after = rooms.length ? `&after=${rooms[rooms.length - 1].id}` : '';
      const batch = await this.session.request('GET', `/v1/chat/rooms?limit=${ROOM_PAGE}${after}`);
      rooms.push(...batch);
      if (batch.length < ROOM_PAGE) break;
    }
    if (!model || this.model !== model) return; // signed out meanwhile
    model.setRooms(rooms);
    this.renderRooms();
    if (this.current && this.current.kind === 'room') renderHeader(this.current);
  }

  async loadInbox() {
    const { model } = this;
    let inbox;
    try {
      inbox = await this.session.request('GET', '/v1/chat/inbox');
    } catch (err) {
      if (this.started) renderDmListError(`Could not load your conversations. ${err.friendly || ''}`.trim());
      throw err;
    }
    if (!model || this.model !== model) return;
    renderDmListError('');
    model.setInbox(inbox);
    this.renderInbox();
  }

  /** First page of history for a conversation; concurrent callers share one request. */
  loadInitial(conv) {
    const ui = this.ui(conv);
    if (conv.loaded) return Promise.resolve();
    if (ui.loading) return ui.loading;
    const { model } = this;
    ui.loading = (async () => {
      const mark = this.socketMark();
      const items = parseHistory(await this.session.request('GET', `${historyPath(conv)}?limit=${PAGE_SIZE}`));
      ui.view.placeAll(conv.addLatestPage(items, PAGE_SIZE));
      if (this.model === model) this.noteFetched(conv, items, mark);
      this.scheduleMarkRead(conv);
    })().finally(() => {
      ui.loading = null;
    });
    return ui.loading;
  }

  async refreshThread(conv) {
    const { model } = this;
    const mark = this.socketMark();
    const items = parseHistory(await this.session.request('GET', `${historyPath(conv)}?limit=${PAGE_SIZE}`));
    if (this.model !== model || model.find(conv.kind, conv.ref) !== conv) return; // signed out or forgotten meanwhile
    const stick = this.isCurrent(conv) && this.nearBottom();
    this.ui(conv).view.placeAll(conv.merge(items));
    this.noteFetched(conv, items, mark);
    if (stick) this.scrollToBottom();
  }

  async loadOlder(conv) {
    const ui = this.ui(conv);
    if (ui.loadingOlder || !conv.canLoadOlder) return;
    ui.loadingOlder = true;
    this.renderHistoryTop();
    try {
      const list = await this.session.request('GET', `${historyPath(conv)}?before=${conv.oldestId}&limit=${PAGE_SIZE}`);
      const isCurrent = this.isCurrent(conv);
      const fromBottom = this.listEl.scrollHeight - this.listEl.scrollTop;
      ui.view.placeAll(conv.addOlderPage(parseHistory(list), PAGE_SIZE));
      if (isCurrent) this.listEl.scrollTop = this.listEl.scrollHeight - fromBottom; // keep the view still
    } catch (err) {
      toast(`Could not load older messages: ${err.friendly || err.message}`);
    } finally {
      ui.loadingOlder = false;
      if (this.isCurrent(conv)) this.renderHistoryTop();
    }
  }

  // -------------------------------------------------------------------------
  // Opening a conversation
  // -------------------------------------------------------------------------

  async openConversation(conv, { focus = true } = {}) {
    const prev = this.current;
    if (prev && prev !== conv) {
      const prevUi = this.uis.get(prev);
      if (prevUi) {
        prevUi.scroll = this.nearBottom() ? null : this.listEl.scrollTop;
        prevUi.draft = this.composer.value;
      }
    }
    this.model.open(conv);
    const ui = this.ui(conv);
    this.scheduleMarkRead(conv);
    const hash = conversationHash(conv);
    try {
      localStorage.setItem(LAST_CONV_KEY, hash);
    } catch {
      /* ignore */
    }
    if (location.hash !== hash) history.replaceState(null, '', hash);
    if (conv.kind === 'dm' && this.layout.tab !== 'dms') this.layout.setTab('dms');
    if (conv.kind === 'room' && this.layout.tab !== 'rooms') this.layout.setTab('rooms');

    renderConversation(ui.view);
    const input = this.composer;
    input.value = ui.draft || '';
    input.placeholder = conv.kind === 'room' ? `Message #${conv.name}` : `Message @${conv.name}`;
    // Commands work in rooms only: no /stock= hint in a direct conversation.
    show($('composer-stock-hint'), conv.kind === 'room');
    renderHeader(conv);
    this.renderRooms();
    this.renderInbox();
    this.renderUnread();
    renderPresence(conv, this.me);
    this.renderTyping();
    this.renderHistoryTop();
    this.updateComposerState();
    this.layout.closeDrawer(false);
    this.scrollToBottom();

    try {
      await this.loadInitial(conv);
    } catch (err) {
      if (this.isCurrent(conv)) {
        if (conv.kind === 'dm' && err.status === 404) {
          toast(`There is no user named ${conv.name}.`);
          this.forget(conv);
          return;
        }
        toast(`Could not load messages: ${err.friendly || err.message}`);
      }
      return;
    }
    if (!this.started) return;
    if (conv.kind === 'room' && !ui.joined) this.joinRoom(conv);
    if (!this.isCurrent(conv)) return;
    this.renderHistoryTop();
    if (ui.scroll == null) this.scrollToBottom();
    else this.listEl.scrollTop = ui.scroll;
    // Short history that does not fill the screen: fetch more right away.
    if (conv.hasMore && this.listEl.scrollHeight <= this.listEl.clientHeight) this.loadOlder(conv);
    if (focus && !this.layout.isNarrow) input.focus({ preventScroll: true });
  }

  openFromHash(hash) {
    let m = /^#room\/(\d+)$/.exec(hash || '');
    if (m) {
      const id = Number(m[1]);
      const room = this.model.rooms.find((r) => r.id === id);
      if (room) {
        this.openConversation(this.roomConv(room.id, room.name));
        return true;
      }
      return false;
    }
    m = /^#dm\/(.+)$/.exec(hash || '');
    if (m) {
      const name = decodeURIComponent(m[1]);
      if (USERNAME.test(name)) {
        this.openConversation(this.dmConv(name));
        return true;
      }
    }
    return false;
  }

  // -------------------------------------------------------------------------
  // Rendering from the model
  // -------------------------------------------------------------------------

  listHooks(open) {
    return {
      isActive: (key) => !!this.current && this.current.key === key,
      unreadOf: (key) => {
        const [kind, ref] = [key.slice(0, key.indexOf(':')), key.slice(key.indexOf(':') + 1)];
        return kind === 'room' ? this.model.roomUnread(Number(ref)) : this.model.dmUnread(ref);
      },
      onOpen: open,
    };
  }

  renderRooms() {
    if (!this.started) return;
    renderRoomList(this.model.rooms, this.listHooks((room) => this.openConversation(this.roomConv(room.id, room.name))));
  }

  renderInbox() {
    if (!this.started) return;
    renderDmList(this.model.inboxEntries(), this.listHooks((entry) => this.openConversation(this.dmConv(entry.username))));
  }

  renderUnread() {
    if (!this.started) return;
    renderUnreadTotals(this.model.unreadTotals());
    this.renderRooms();
    this.renderInbox();
  }

  renderTyping() {
    const ui = this.current && this.uis.get(this.current);
    renderTyping(ui ? [...ui.typing.keys()] : []);
  }

  renderHistoryTop() {
    const conv = this.current;
    const ui = conv && this.uis.get(conv);
    renderHistoryTop(conv, { loading: !!(ui && ui.loading), loadingOlder: !!(ui && ui.loadingOlder) });
  }

  renderEmpty() {
    renderNoConversation();
    renderPresence(null, this.me);
    this.renderTyping();
    this.renderHistoryTop();
    this.updateComposerState();
  }

  updateComposerState() {
    setComposerEnabled(!!this.current);
  }

  // -------------------------------------------------------------------------
  // Sending
  // -------------------------------------------------------------------------

  sendPending(conv, msg) {
    const ui = this.ui(conv);
    if (!this.socket.send(postFrame(conv.kind, conv.ref, msg.text, msg.client_id))) {
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

  sendMessage() {
    const conv = this.current;
    const text = this.composer.value.trim();
    if (!conv || !text) return;
    const msg = pendingMessage({ clientId: newClientId(), author: this.me, text });
    if (conv.addPending(msg)) this.ui(conv).view.addPending(msg);
    this.outbox.add({ kind: conv.kind, ref: conv.ref, client_id: msg.client_id, text });
    this.composer.value = '';
    this.ui(conv).draft = '';
    this.updateCharCount();
    show($('composer-error'), false);
    this.scrollToBottom();
    this.sendPending(conv, msg);
  }

  retry(conv, msg) {
    this.outbox.add({ kind: conv.kind, ref: conv.ref, client_id: msg.client_id, text: msg.text });
    conv.retryPending(msg);
    this.ui(conv).view.updatePending(msg);
    this.sendPending(conv, msg);
  }

  /**
   * A message did not get through.
   * `dropped`: for want of a connection, so it waits in the outbox and goes
   * out by itself when one opens (the server may have it already; it stores
   * it once).
   * `unanswered`: sent, but the server never answered: it may or may not have
   * stored it. Shown as failed with Retry, and kept in the outbox, so the next
   * connection (or a reload) sends it again.
   * Otherwise the server refused it (an error frame naming it): it stays on
   * screen with Retry, and leaves the outbox.
   */
  failPending(conv, msg, reason, { dropped = false, unanswered = false } = {}) {
    const ui = this.ui(conv);
    clearTimeout(ui.echoTimers.get(msg.client_id));
    ui.echoTimers.delete(msg.client_id);
    if (dropped && this.outbox.has(msg.client_id)) conv.queuePending(msg);
    else {
      conv.failPending(msg, reason, dropped || unanswered);
      if (!dropped && !unanswered) this.outbox.remove(msg.client_id);
    }
    ui.view.updatePending(msg);
  }

  dropPending(conv, clientId) {
    const msg = conv.dropPending(clientId);
    if (msg) this.forgetPending(conv, msg);
  }

  /** The model has let go of a pending message: remove its bubble and timer. */
  forgetPending(conv, msg) {
    this.outbox?.remove(msg.client_id);
    const ui = this.ui(conv);
    clearTimeout(ui.echoTimers.get(msg.client_id));
    ui.echoTimers.delete(msg.client_id);
    ui.view.removePending(msg);
  }

  updateCharCount() {
    renderCharCount(this.composer.value.trim().length);
  }

  maybeSendTyping() {
    const conv = this.current;
    if (!conv || conv.kind !== 'room' || !this.ui(conv).joined) return;
    const value = this.composer.value;
    if (!value.trim() || value.trimStart().startsWith('/')) return;
    const ui = this.ui(conv);
    const now = Date.now();
    if (now - ui.lastTypingSent < TYPING_SEND_EVERY) return;
    if (this.socket.send(typingFrame(conv.ref))) ui.lastTypingSent = now;
  }

  /** Grow the message box with its content (CSS field-sizing does it where supported). */
  autosize() {
    if (this.nativeAutosize) return;
    this.composer.style.height = 'auto';
    this.composer.style.height = `${Math.min(this.composer.scrollHeight, 200)}px`;
  }

  // -------------------------------------------------------------------------
  // Controls of the chat screen
  // -------------------------------------------------------------------------

  bindControls() {
    const { composer } = this;
    composer.addEventListener('keydown', (ev) => {
      if (ev.key === 'Enter' && !ev.shiftKey && !ev.isComposing && !ev.altKey && !ev.ctrlKey && !ev.metaKey) {
        ev.preventDefault();
        this.sendMessage();
      }
    });
    composer.addEventListener('input', () => {
      this.updateCharCount();
      this.maybeSendTyping();
      this.autosize();
    });
    $('composer-form').addEventListener('submit', (ev) => {
      ev.preventDefault();
      this.sendMessage();
      composer.focus();
    });

    this.listEl.addEventListener('scroll', () => {
      const conv = this.current;
      if (!conv) return;
      if (this.nearBottom()) show($('jump-latest'), false);
      if (this.listEl.scrollTop < 120 && conv.hasMore) this.loadOlder(conv);
    }, { passive: true });
    $('load-older').addEventListener('click', () => {
      if (this.current) this.loadOlder(this.current);
    });
    document.querySelector('.skip-link').addEventListener('click', (ev) => {
      ev.preventDefault();
      if (!composer.disabled) composer.focus();
    });
    $('jump-latest').addEventListener('click', () => {
      this.scrollToBottom();
      composer.focus();
    });

    $('create-room-form').addEventListener('submit', (ev) => {
      ev.preventDefault();
      this.submitCreateRoom(ev.currentTarget);
    });
    $('dm-start-input').addEventListener('input', () => this.suggestUsers());
    $('notify-toggle').addEventListener('click', () => this.toggleNotifications());
    $('dm-start-form').addEventListener('submit', (ev) => {
      ev.preventDefault();
      this.submitStartDm(ev.currentTarget);
    });
  }

  submitCreateRoom(form) {
    const input = $('create-room-input');
    const name = input.value.trim();
    const error = $('create-room-error');
    show(error, false);
    input.setAttribute('aria-invalid', 'false');
    const fail = (text) => {
      error.textContent = text;
      show(error, true);
      input.setAttribute('aria-invalid', 'true');
      input.focus();
    };
    if (!name) {
      fail('Enter a room name.');
      return;
    }
    withBusy(form, async () => {
      try {
        const room = await this.session.request('POST', '/v1/chat/rooms', { name });
        if (!this.started) return;
        input.value = '';
        this.model.addRoom(room);
        this.renderRooms();
        this.openConversation(this.roomConv(room.id, room.name));
      } catch (err) {
        if (err.status === 409) fail(err.errors?.name ? `A room called "${name}" already exists.` : err.friendly);
        else if (err.status === 422) fail(describeFieldError('name', err.errors?.name || err.detail || 'invalid name'));
        else fail(err.friendly || 'Could not create the room.');
      }
    });
  }

  submitStartDm(form) {
    const input = $('dm-start-input');
    const name = typedUsername();
    const error = $('dm-start-error');
    show(error, false);
    const fail = (text) => {
      error.textContent = text;
      show(error, true);
      input.setAttribute('aria-invalid', 'true');
      input.focus();
    };
    if (!USERNAME.test(name)) {
      fail('Enter a valid username.');
      return;
    }
    if (sameUser(name, this.me)) {
      fail('That is you.');
      return;
    }
    withBusy(form, async () => {
      const conv = this.dmConv(name);
      try {
        await this.loadInitial(conv);
      } catch (err) {
        if (this.started) this.forget(conv);
        fail(err.status === 404 ? `There is no user named ${name}.` : err.friendly);
        return;
      }
      if (!this.started) return;
      input.value = '';
      input.setAttribute('aria-invalid', 'false');
      this.openConversation(conv);
    });
  }

  /**
   * People whose name starts with what is typed in "Message a user" (the
   * server's `GET /v1/users`), as buttons that open the conversation.
   */
  suggestUsers() {
    clearTimeout(this.suggestTimer);
    const list = $('dm-suggestions');
    const prefix = typedUsername();
    // The server answers only prefixes of at least USER_PREFIX_MIN characters (every username
    // has that many), so the directory cannot be listed a letter at a time.
    if (!prefix || prefix.length < USER_PREFIX_MIN) {
      list.replaceChildren();
      show(list, false);
      return;
    }
    this.suggestTimer = setTimeout(async () => {
      let page;
      try {
        page = await this.session.request('GET', `/v1/users?prefix=${encodeURIComponent(prefix)}&limit=8`);
      } catch {
        return;
      }
      if (!this.started || typedUsername() !== prefix) return;
      const names = (page && Array.isArray(page.users) ? page.users : [])
        .map((u) => u.username)
        .filter((n) => typeof n === 'string' && !sameUser(n, this.me));
      list.replaceChildren(...names.map((name) => {
        const b = el('button', { text: name, testid: 'dm-suggestion', attrs: { type: 'button' }, dataset: { username: name } });
        b.addEventListener('click', () => {
          $('dm-start-input').value = name;
          list.replaceChildren();
          show(list, false);
          this.submitStartDm($('dm-start-form'));
        });
        return el('li', {}, [b]);
      }));
      show(list, names.length > 0);
    }, 200);
  }

  /** The Direct tab was chosen: the inbox may have changed since it was last fetched. */
  onTabChange(which) {
    if (which === 'dms' && this.started) this.loadInbox().catch(() => {});
  }
}
