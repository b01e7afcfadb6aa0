// The chat's hub: the signed-in screen's shared state and the conversation on
// screen. Holds the session's model (model.js) and each conversation's DOM
// view and timers, opens conversations (their URL fragment, scroll position
// and draft), renders what several concerns share (sidebar lists, unread
// totals, typing line, top of the history), and hands every socket frame and
// page event to the controller of its concern:
//
//   chat-connection.js  sockets that open and drop, rejoins, the outbox, posts on their way
//   chat-rooms.js       rooms and messages: the room list, room frames, history, read markers
//   chat-composer.js    the message box: sending, its keys, typing notices
//   chat-direct.js      direct messages: the inbox, threads, "Message a user"
//   chat-account.js     the signed-in user: a session's start and end, mentions, notifications
//
// Their rules without the DOM are in chat-api.js, navigation.js, delivery.js
// and notices.js (unit-tested under node, like model.js).
//
// Must not decide message rules itself (order, de-duplication, unread: ask
// the model), build frames by hand (protocol.js) or handle sign-in and
// tokens (auth-view.js, api.js).

import { FRAME } from './protocol.js';
import {
  renderHeader, renderNoConversation, renderConversation, renderPresence, renderTyping, renderHistoryTop, toast,
} from './render.js';
import { MessageListView } from './message-list-view.js';
import { renderUnreadTotals } from './sidebar-view.js';
import { $, show } from './util.js';
import { LAST_CONV_KEY, conversationHash, parseConversationHash, unreadForKey } from './navigation.js';
import { firstUnread, settledRule, unreadMentionsForKey, unreadRule } from './unread.js';
import { AccountController } from './chat-account.js';
import { ComposerController } from './chat-composer.js';
import { ConnectionController } from './chat-connection.js';
import { DirectController } from './chat-direct.js';
import { RoomsController } from './chat-rooms.js';

/** What the controllers track about one conversation besides its messages. */
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
    /** Which messages were new when the conversation was opened (unread.js), for its divider; null: none. */
    this.unreadRule = null;
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
    this.listEl = $('message-list');
    this.composer = $('composer-input');
    this.connection = new ConnectionController(this);
    this.rooms = new RoomsController(this);
    this.compose = new ComposerController(this);
    this.direct = new DirectController(this);
    this.account = new AccountController(this);
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
  // What the entry module (app.js) calls: each goes to its concern's controller
  // -------------------------------------------------------------------------

  /** The user is signed in and the app screen is showing: load and connect. */
  start(username) {
    return this.account.start(username);
  }

  /** Forget everything of the session (signed out or expired). */
  stop(options) {
    this.account.stop(options);
  }

  /** Signing out on purpose: what was never sent is dropped, not sent by the next login. */
  discardOutbox() {
    this.connection.discardOutbox();
  }

  /** Page shown or hidden: unread counting depends on it. */
  setVisible(visible) {
    this.account.setVisible(visible);
  }

  /** The window regained focus: rooms may have been created meanwhile. */
  onFocus() {
    this.account.onFocus();
  }

  /** The query of the next socket: `dm_since` once a direct message is held. */
  socketParams() {
    return this.connection.socketParams();
  }

  onSocketOpen(detail) {
    this.connection.onSocketOpen(detail);
  }

  onSocketDrop() {
    this.connection.onSocketDrop();
  }

  /** The sidebar's Rooms or Direct tab was chosen. */
  onTabChange(which) {
    this.direct.onTabChange(which);
  }

  onHashChange() {
    if (!this.started) return;
    if (this.current && location.hash === conversationHash(this.current)) return;
    this.openFromHash(location.hash);
  }

  /** Every socket frame, to the controller of its concern. */
  onFrame(frame) {
    if (!this.started) return undefined;
    switch (frame.type) {
      case FRAME.MESSAGE: return this.rooms.onRoomMessage(frame);
      case FRAME.LEAVE: return undefined; // leave confirmed
      case FRAME.DIRECT: return this.direct.onDirectMessage(frame);
      case FRAME.TYPING: return this.rooms.onTyping(frame);
      case FRAME.ERROR: return this.connection.onError(frame);
      case FRAME.PRESENCE: return this.rooms.onPresence(frame);
      case FRAME.COMMAND_ACCEPTED: return this.rooms.onCommandAccepted(frame);
      case FRAME.ROOM_CREATED: return this.rooms.onRoomCreated(frame);
      case FRAME.ROOM_ACTIVITY: return this.rooms.onRoomActivity(frame);
      case FRAME.READ_MARKER: return this.rooms.onReadMarker(frame);
      default: return undefined;
    }
  }

  // -------------------------------------------------------------------------
  // Conversations and their views
  // -------------------------------------------------------------------------

  /**
   * The controllers' side of a conversation. Created together with the
   * conversation (roomConv, dmConv) so that no message reaches the model
   * before there is a view to show it.
   */
  ui(conv) {
    let ui = this.uis.get(conv);
    if (!ui) {
      ui = new ConversationUi(new MessageListView(conv.name, {
        me: this.me,
        onRetry: (msg) => this.connection.retry(conv, msg),
        onDismiss: (msg) => this.connection.dropPending(conv, msg.client_id),
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

  /** The newest messages if they fit below the "New messages" divider, else the divider at the top. */
  scrollToDivider(divider) {
    this.scrollToBottom();
    const above = divider.getBoundingClientRect().top - this.listEl.getBoundingClientRect().top;
    if (above < 0) this.listEl.scrollTop += above - 8;
  }

  /**
   * The "New messages" divider of a conversation, where its rule (set when it
   * was opened) puts it among the messages loaded now. Returns the divider or null.
   */
  placeUnreadDivider(conv) {
    const ui = this.ui(conv);
    const first = firstUnread(conv, ui.unreadRule, this.me);
    ui.unreadRule = settledRule(ui.unreadRule, first, conv, this.me);
    return ui.view.setFirstUnread(first);
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
    // What is new is decided before opening: an open conversation counts as read.
    const rule = prev === conv ? undefined : unreadRule(this.model, conv);
    this.model.open(conv);
    const ui = this.ui(conv);
    if (rule !== undefined) ui.unreadRule = rule;
    if (rule === null) ui.view.setFirstUnread(null); // read since the last visit
    this.rooms.scheduleMarkRead(conv);
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
    this.rooms.renderRooms();
    this.direct.renderInbox();
    this.renderUnread();
    renderPresence(conv, this.me);
    this.renderTyping();
    this.renderHistoryTop();
    this.updateComposerState();
    this.layout.closeDrawer(false);
    this.scrollToBottom();

    try {
      await this.rooms.loadInitial(conv);
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
    if (conv.kind === 'room' && !ui.joined) this.rooms.joinRoom(conv);
    if (!this.isCurrent(conv)) return;
    this.renderHistoryTop();
    const divider = rule ? this.placeUnreadDivider(conv) : null;
    if (divider) this.scrollToDivider(divider);
    else if (ui.scroll == null) this.scrollToBottom();
    else this.listEl.scrollTop = ui.scroll;
    // Short history that does not fill the screen: fetch more right away.
    if (conv.hasMore && this.listEl.scrollHeight <= this.listEl.clientHeight) this.rooms.loadOlder(conv);
    if (focus && !this.layout.isNarrow) this.compose.focusComposer({ preventScroll: true });
  }

  /** Opens the conversation a URL fragment names; false when it names none known. */
  openFromHash(hash) {
    const target = parseConversationHash(hash);
    if (target && target.kind === 'room') {
      const room = this.model.rooms.find((r) => r.id === target.id);
      if (!room) return false;
      this.openConversation(this.roomConv(room.id, room.name));
      return true;
    }
    if (target && target.kind === 'dm') {
      this.openConversation(this.dmConv(target.name));
      return true;
    }
    return false;
  }

  // -------------------------------------------------------------------------
  // Rendering from the model
  // -------------------------------------------------------------------------

  /** What the sidebar lists ask about their entries; `open` opens one. */
  listHooks(open) {
    return {
      isActive: (key) => !!this.current && this.current.key === key,
      unreadOf: (key) => unreadForKey(this.model, key),
      mentionsOf: (key) => unreadMentionsForKey(this.model, key),
      onOpen: open,
    };
  }

  renderUnread() {
    if (!this.started) return;
    renderUnreadTotals(this.model.unreadTotals());
    this.rooms.renderRooms();
    this.direct.renderInbox();
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
    this.compose.renderComposer();
  }

  // -------------------------------------------------------------------------
  // Controls of the conversation on screen (the message box's are in chat-composer.js)
  // -------------------------------------------------------------------------

  bindControls() {
    const { composer } = this;
    this.listEl.addEventListener('scroll', () => {
      const conv = this.current;
      if (!conv) return;
      if (this.nearBottom()) show($('jump-latest'), false);
      if (this.listEl.scrollTop < 120 && conv.hasMore) this.rooms.loadOlder(conv);
    }, { passive: true });
    $('load-older').addEventListener('click', () => {
      if (this.current) this.rooms.loadOlder(this.current);
    });
    document.querySelector('.skip-link').addEventListener('click', (ev) => {
      ev.preventDefault();
      if (!composer.disabled) composer.focus();
    });
    $('jump-latest').addEventListener('click', () => {
      this.scrollToBottom();
      this.compose.focusComposer();
    });
  }
}
