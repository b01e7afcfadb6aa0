// The chat's hub: the signed-in screen's shared state and the conversation on
// screen. Holds the session's model (model.js) and each conversation's DOM
// view and timers, renders what several concerns share (sidebar lists, unread
// totals, typing line, top of the history), and hands every socket frame and
// page event to the controller of its concern:
//
//   chat-open.js        opening a conversation: its fragment, draft, scroll, divider, join
//   chat-connection.js  sockets that open and drop, rejoins, the outbox, posts on their way
//   chat-rooms.js       rooms and messages: the room list, room frames, history, read markers
//   chat-joins.js       which rooms the socket is in: the one looked at, joined with `since`
//   chat-room-info.js   one room's topic and name, its members, leaving it, rooms left
//   chat-messages.js    stored messages changing: edits, deletions, reactions, replies, going to one
//   chat-composer.js    the message box: sending, replying, editing, its keys, typing notices
//   chat-direct.js      direct messages: the inbox, threads, typing, who is online, "Message a user"
//   chat-search.js      message search and its results, a cashtag's discussion and past quotes
//   chat-stocks.js      the ticker strip (watched symbols, price alerts), cashtags, the bot's suggestions
//   chat-account.js     the signed-in user: a session's start and end, mentions, notifications
//
// Their rules without the DOM are in chat-api.js, navigation.js, delivery.js,
// joins.js, changes.js, jump.js, search.js, stocks.js and notices.js
// (unit-tested under node, like model.js).
//
// Must not decide message rules itself (order, de-duplication, unread: ask
// the model), build frames by hand (protocol.js) or handle sign-in and
// tokens (auth-view.js, api.js).

import { FRAME } from './protocol.js';
import {
  renderNoConversation, renderPresence, renderTyping, renderHistoryTop,
} from './render.js';
import { MessageListView } from './message-list-view.js';
import { renderUnreadTotals } from './sidebar-view.js';
import { $, show } from './util.js';
import { conversationHash, unreadForKey } from './navigation.js';
import { firstUnread, settledRule, unreadMentionsForKey } from './unread.js';
import { AccountController } from './chat-account.js';
import { ComposerController } from './chat-composer.js';
import { ConnectionController } from './chat-connection.js';
import { DirectController } from './chat-direct.js';
import { JoinsController } from './chat-joins.js';
import { MessagesController } from './chat-messages.js';
import { OpenController } from './chat-open.js';
import { RoomInfoController } from './chat-room-info.js';
import { RoomsController } from './chat-rooms.js';
import { SearchController } from './chat-search.js';
import { StocksController } from './chat-stocks.js';

/** What the controllers track about one conversation besides its messages. */
class ConversationUi {
  constructor(view) {
    this.view = view;
    /** The first page's request while it runs, shared by everyone who asks. */
    this.loading = null;
    /** The older page's request while it runs. */
    this.loadingOlder = null;
    /** Joined on the current socket (joins.js: the room looked at, at most). */
    this.joined = false;
    /** While a join's replay runs: {promise, resolve}, resolved by the presence list that ends it. */
    this.replaying = null;
    /** The room's `last_seq` when the socket left it (joins.js rejoinPlan). */
    this.leftAtSeq = null;
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
    this.opener = new OpenController(this);
    this.rooms = new RoomsController(this);
    this.joins = new JoinsController(this);
    this.roomInfo = new RoomInfoController(this);
    this.messages = new MessagesController(this);
    this.compose = new ComposerController(this);
    this.direct = new DirectController(this);
    this.search = new SearchController(this);
    this.stocks = new StocksController(this);
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
      case FRAME.TYPING: return typeof frame.chatroomId === 'number' ? this.rooms.onTyping(frame) : this.direct.onTyping(frame);
      case FRAME.ERROR: return this.connection.onError(frame);
      case FRAME.PRESENCE: return this.rooms.onPresence(frame);
      case FRAME.COMMAND_ACCEPTED: return this.rooms.onCommandAccepted(frame);
      case FRAME.ROOM_CREATED: return this.rooms.onRoomCreated(frame);
      case FRAME.ROOM_ACTIVITY: return this.rooms.onRoomActivity(frame);
      case FRAME.READ_MARKER: return this.rooms.onReadMarker(frame);
      case FRAME.MESSAGE_CHANGED:
      case FRAME.DIRECT_CHANGED: return this.messages.onChanged(frame);
      case FRAME.ROOM_UPDATED: return this.roomInfo.onRoomUpdated(frame);
      case FRAME.WATCHLIST: return this.stocks.onWatchlist(frame);
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
      ui = new ConversationUi(new MessageListView(conv.name, this.messages.viewHandlers(conv)));
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

  /** Opens a conversation (chat-open.js); resolves with the conversation opened. */
  openConversation(conv, options) {
    return this.opener.open(conv, options);
  }

  /** Opens the conversation a URL fragment names; false when it names none. */
  openFromHash(hash, options) {
    return this.opener.fromHash(hash, options);
  }

  // -------------------------------------------------------------------------
  // Rendering from the model
  // -------------------------------------------------------------------------

  /** What the sidebar lists ask about their entries; `open` opens one. */
  listHooks(open) {
    return {
      isActive: (key) => !!this.current && this.current.key === key,
      unreadOf: (key) => unreadForKey(this.model, key),
      mentionsOf: (key) => unreadMentionsForKey(this.model, key, this.account.mentions),
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
    this.stocks.render();
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
