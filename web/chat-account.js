// The signed-in user's side of the chat: a session's start (a fresh model,
// the user's outbox, the room list, the socket, the conversation to reopen)
// and end (everything of it forgotten), whether the user is looking at the
// page, and what reaches them personally: the Mentions list (kept by the
// server: read at start-up with a search for @me, newest first, then added to
// as mentions arrive) and, once they opted in, browser notifications.
//
// Must not handle sign-in, tokens or the account dialog (auth-view.js,
// api.js, account-view.js). The rules without the DOM are in notices.js and
// navigation.js.

import { ChatModel } from './model.js';
import { toast } from './render.js';
import { renderCurrentUser } from './sidebar-view.js';
import { $, el, show } from './util.js';
import { LAST_CONV_KEY, defaultRoom } from './navigation.js';
import { unreadRule } from './unread.js';
import {
  MENTIONS_KEPT, NOTIFY_KEY, addMention, isMention, mentionLines, notificationFor, notifyToggleLabel, wantsNotification,
} from './notices.js';
import { mentionsPath, readSearchPage, resultMessage } from './search.js';

export class AccountController {
  /** @param {import('./chat.js').Chat} chat */
  constructor(chat) {
    this.chat = chat;
    /** Recent messages that mention the user, newest first: [{conv, msg}]. */
    this.mentions = [];
    $('notify-toggle').addEventListener('click', () => this.toggleNotifications());
  }

  // -------------------------------------------------------------------------
  // A session's start and end
  // -------------------------------------------------------------------------

  /** The user is signed in and the app screen is showing: load and connect. */
  async start(username) {
    const { chat } = this;
    const model = new ChatModel(username);
    chat.model = model;
    chat.connection.openOutbox(username);
    chat.roomInfo.start(username);
    chat.joins.kept = null;
    chat.search.reset();
    chat.stocks.reset();
    chat.direct.start();
    this.mentions = [];
    this.renderMentions();
    this.renderNotifyToggle();
    model.setAttentive(document.visibilityState === 'visible');
    renderCurrentUser(username);
    chat.layout.setTab('rooms');
    chat.renderEmpty();
    // The socket and the room list load side by side; whichever comes first,
    // the outbox is sent only after restoreOutbox below (see flushOutbox).
    chat.socket.start();
    try {
      await chat.rooms.loadRooms();
    } catch (err) {
      toast(`Could not load rooms: ${err.friendly || err.message}`);
    }
    if (chat.model !== model) return; // signed out while the rooms loaded
    chat.connection.restoreOutbox();
    chat.direct.loadInbox().catch(() => {});
    this.loadMentions();
    let last = null;
    try {
      last = localStorage.getItem(LAST_CONV_KEY);
    } catch {
      /* ignore */
    }
    // A link may name a room the user left (opening it joins it again); the last room opened here
    // is opened again only while it is listed.
    if (chat.openFromHash(location.hash) || chat.openFromHash(last, { relist: false })) return;
    const general = defaultRoom(chat.model.rooms);
    if (general) chat.openConversation(chat.roomConv(general.id, general.name), { focus: !chat.layout.isNarrow });
  }

  /** Forget everything of the session (signed out or expired). */
  stop({ stopSocket = true } = {}) {
    const { chat } = this;
    if (stopSocket) chat.socket.stop();
    chat.direct.stop();
    chat.search.reset();
    chat.stocks.reset();
    chat.messages.menu.close({ returnFocus: false });
    chat.compose.endMode();
    if (chat.model) {
      for (const conv of chat.model.conversations.values()) chat.uis.get(conv)?.clearTimers();
    }
    chat.uis = new WeakMap();
    chat.model = null;
    $('messages-host').replaceChildren();
    $('room-list').replaceChildren();
    $('left-room-list').replaceChildren();
    show($('left-rooms'), false);
    $('member-list').replaceChildren();
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
    const { chat } = this;
    if (!chat.started) return;
    // Back to the page: what came in meanwhile gets its divider, as on opening the conversation.
    const rule = visible && chat.current ? unreadRule(chat.model, chat.current) : null;
    chat.model.setAttentive(visible);
    if (rule) {
      chat.ui(chat.current).unreadRule = rule;
      chat.placeUnreadDivider(chat.current);
    }
    if (visible && chat.current) {
      chat.renderUnread();
      chat.rooms.scheduleMarkRead(chat.current);
    }
  }

  /** The window regained focus: rooms may have been created meanwhile. */
  onFocus() {
    if (this.chat.started) this.chat.rooms.loadRoomsIfOlder(30_000);
  }

  // -------------------------------------------------------------------------
  // Mentions and notifications
  // -------------------------------------------------------------------------

  /**
   * A new message from someone else: listed when it mentions us, and shown as
   * a browser notification (when the user opted in) if it mentions us or is a
   * direct message, while the tab is hidden.
   */
  noticeMessage(conv, msg) {
    const mention = isMention(conv, msg, this.chat.me);
    if (mention) {
      this.mentions = addMention(this.mentions, { conv, msg });
      this.renderMentions();
    }
    if (!wantsNotification(conv, msg, mention) || document.visibilityState !== 'hidden' || !this.notifyOn()) return;
    try {
      const { title, options } = notificationFor(conv, msg);
      const n = new Notification(title, options);
      n.onclick = () => {
        window.focus();
        this.chat.openConversation(conv);
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
    const label = notifyToggleLabel(this.notifyOn());
    button.setAttribute('aria-pressed', label.pressed);
    button.textContent = label.text;
    button.title = label.title;
  }

  /**
   * The Mentions list as the server keeps it: the newest messages naming the
   * user, in the rooms they are in (a search for @me, newest first). Mentions
   * that arrived while it loaded stay in it.
   */
  async loadMentions() {
    const { chat } = this;
    const { model } = chat;
    let page;
    try {
      page = readSearchPage(await chat.session.request('GET', mentionsPath(chat.me, MENTIONS_KEPT)));
    } catch {
      return; // the list fills as mentions arrive
    }
    if (chat.model !== model) return;
    let list = [];
    for (const r of [...page.results].reverse()) {
      if (typeof r.chatroomId !== 'number') continue; // a direct message is for the user anyway
      const room = model.rooms.find((x) => x.id === r.chatroomId);
      list = addMention(list, { conv: chat.roomConv(r.chatroomId, room ? room.name : undefined), msg: resultMessage(r) });
    }
    for (const live of [...this.mentions].reverse()) list = addMention(list, live);
    this.mentions = list;
    this.renderMentions();
  }

  /** A message of `conv` changed: a deleted mention leaves the list, an edited one shows its new text. */
  onMessageChanged(conv, msg) {
    const i = this.mentions.findIndex((m) => m.msg === msg || (m.conv.key === conv.key && m.msg.id === msg.id));
    if (i < 0) return;
    if (msg.deleted) this.mentions = this.mentions.filter((_, j) => j !== i);
    else this.mentions[i] = { ...this.mentions[i], msg };
    this.renderMentions();
  }

  /** The sidebar's list of recent messages that mention us; a click opens the room at them. */
  renderMentions() {
    this.chat.rooms.renderRooms(); // a room's "@" badge counts the list's mentions too
    const list = $('mention-list');
    const items = this.mentions || [];
    $('mention-count').textContent = String(items.length);
    list.replaceChildren(...items.map(({ conv, msg }) => {
      const lines = mentionLines(conv, msg);
      const b = el('button', {
        className: 'conv-item mention-item', testid: 'mention-item',
        attrs: { type: 'button' }, dataset: { id: msg.id ?? undefined },
      }, [el('span', { className: 'conv-name', text: lines.name }),
        el('span', { className: 'conv-preview', text: lines.preview })]);
      b.addEventListener('click', () => (msg.id != null ? this.chat.messages.goTo(conv, msg.id) : this.chat.openConversation(conv)));
      return el('li', {}, [b]);
    }));
  }
}
