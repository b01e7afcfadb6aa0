// Rooms and messages: the room list (loaded, paged, created, announced by
// other users), what happens in a room (presence, typing, commands and the
// bot), and the messages of every conversation: delivered live, paged in from
// history and marked read. Which rooms the socket is in is chat-joins.js's,
// the message box chat-composer.js's.
//
// Must not decide message rules itself (model.js) or build frames by hand
// (protocol.js). Posts on their way and the outbox are chat-connection.js's,
// the inbox and direct frames chat-direct.js's; paths and paging are in
// chat-api.js, the sending rules in delivery.js.

import { BOT_NAME, sameUser } from './model.js';
import { parseMessage, parseHistory } from './protocol.js';
import { renderHeader, renderPresence, toast } from './render.js';
import { renderRoomList } from './sidebar-view.js';
import { $, show, withBusy } from './util.js';
import {
  PAGE_SIZE, ROOMS_PATH, fetchRooms, latestPagePath, olderPagePath, readMarkerPath, createRoomError,
} from './chat-api.js';
import { BOT_TYPING_FOR, TYPING_SHOW_FOR } from './delivery.js';

/** How long after activity in rooms the socket is not in the room list is read again (mention counts). */
const ROOMS_AFTER_ACTIVITY = 1500;

export class RoomsController {
  /** @param {import('./chat.js').Chat} chat */
  constructor(chat) {
    this.chat = chat;
    this.lastRoomsFetch = 0;
    this.roomsSoon = null;
    this.bind();
  }

  // -------------------------------------------------------------------------
  // The room list
  // -------------------------------------------------------------------------

  async loadRooms() {
    const { chat } = this;
    const { model } = chat;
    this.lastRoomsFetch = Date.now();
    const rooms = await fetchRooms((method, path) => chat.session.request(method, path));
    if (!model || chat.model !== model) return; // signed out meanwhile
    // The room on screen stays listed: a join that lists it again may still be on its way.
    const shown = this.entryOf(chat.current);
    if (shown && !rooms.some((r) => r.id === shown.id)) rooms.push(shown);
    const mentionsBefore = new Map(model.rooms.map((r) => [r.id, r.unread_mentions || 0]));
    model.setRooms(rooms);
    model.sortRooms();
    if (mentionsBefore.size && rooms.some((r) => (r.unread_mentions || 0) > (mentionsBefore.get(r.id) || 0))) {
      chat.account.loadMentions(); // mentioned in a room the socket is not in
    }
    this.renderRooms();
    chat.roomInfo.onRoomsLoaded(rooms);
    if (chat.current && chat.current.kind === 'room') renderHeader(chat.current, this.entryOf(chat.current));
  }

  /** The room list's entry of a room conversation, or null (a room left, or not listed yet). */
  entryOf(conv) {
    return conv && conv.kind === 'room' && this.chat.started ? this.chat.model.rooms.find((r) => r.id === conv.ref) || null : null;
  }

  /** A room opened again after it was left (or from a link): back in the list. */
  relist(room) {
    const { chat } = this;
    chat.model.addRoom({ ...room, last_seq: room.last_seq ?? 0 });
    chat.roomInfo.left?.remove(room.id);
    this.renderRooms();
    chat.roomInfo.renderLeft();
  }

  /** Reads the room list again unless it was read less than `ms` ago. */
  loadRoomsIfOlder(ms) {
    if (Date.now() - this.lastRoomsFetch > ms) this.loadRooms().catch(() => {});
  }

  renderRooms() {
    const { chat } = this;
    if (!chat.started) return;
    renderRoomList(chat.model.rooms, chat.listHooks((room) => chat.openConversation(chat.roomConv(room.id, room.name))));
  }

  submitCreateRoom(form) {
    const { chat } = this;
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
        const room = await chat.session.request('POST', ROOMS_PATH, { name });
        if (!chat.started) return;
        input.value = '';
        chat.model.addRoom(room);
        this.renderRooms();
        chat.openConversation(chat.roomConv(room.id, room.name));
      } catch (err) {
        fail(createRoomError(err, name));
      }
    });
  }

  /** A room created by anyone, on any server instance: into the list at once. */
  onRoomCreated(frame) {
    const room = frame.room;
    if (!room || typeof room.id !== 'number' || typeof room.name !== 'string') return;
    if (this.chat.model.hasRoom(room.id)) return;
    // Just made: no message yet (room activity counts the ones to come).
    this.chat.model.addRoom({ id: room.id, name: room.name, created_at: room.created_at, last_seq: 0 });
    this.renderRooms();
  }

  /**
   * Rooms that got messages (joined or not): their unread counts move. The
   * socket is in one room only, so the messages of the others are not seen
   * here: whether they mention the user, the room list says (unread_mentions),
   * read again shortly after.
   */
  onRoomActivity(frame) {
    const { chat } = this;
    if (chat.model.noteActivity(frame.rooms)) chat.renderUnread();
    if (chat.current) this.scheduleMarkRead(chat.current);
    const unseen = (Array.isArray(frame.rooms) ? frame.rooms : []).filter((r) => chat.model.hasRoom(r.id))
      .map((r) => chat.model.find('room', r.id)).filter((conv) => !(conv && chat.uis.get(conv)?.joined));
    if (!unseen.length) return;
    // A room the server keeps no read marker of counts no mentions: the Mentions list does.
    this.loadRoomsSoon({ mentions: unseen.some((conv) => conv && typeof conv.seenSeq === 'number') });
  }

  /** Reads the room list (and the Mentions list) again in a moment, once for any number of calls meanwhile. */
  loadRoomsSoon({ mentions = false } = {}) {
    this.mentionsDue ||= mentions;
    if (this.roomsSoon) return;
    this.roomsSoon = setTimeout(() => {
      this.roomsSoon = null;
      if (!this.chat.started) return;
      this.loadRooms().catch(() => {});
      if (this.mentionsDue) this.chat.account.loadMentions();
      this.mentionsDue = false;
    }, ROOMS_AFTER_ACTIVITY);
  }

  // -------------------------------------------------------------------------
  // In a room
  // -------------------------------------------------------------------------

  onRoomMessage(frame) {
    if (typeof frame.chatroomId !== 'number') return;
    if (!this.chat.model.hasRoom(frame.chatroomId)) this.loadRooms().catch(() => {});
    this.deliver(this.chat.roomConv(frame.chatroomId), parseMessage(frame));
  }

  /** Who is here: the whole list answers a join (after its replay), then one join or leave at a time. */
  onPresence(frame) {
    const { chat } = this;
    if (typeof frame.chatroomId !== 'number') return;
    const conv = chat.model.find('room', frame.chatroomId);
    if (!conv || !chat.uis.get(conv)?.joined) return; // a late frame of a room just left
    conv.applyPresence(frame);
    if (frame.left) this.clearTyping(conv, frame.left);
    if (Array.isArray(frame.users)) {
      chat.joins.replayed(conv);
      chat.stocks.onJoined(conv); // a join answered: a watchlist frame may have been missed
    }
    if (chat.isCurrent(conv)) {
      renderPresence(conv, chat.me);
      chat.roomInfo.onPresence(conv);
    }
  }

  onTyping(frame) {
    if (typeof frame.chatroomId !== 'number' || !frame.chatuser || sameUser(frame.chatuser, this.chat.me)) return;
    const conv = this.chat.model.find('room', frame.chatroomId);
    if (conv && this.chat.uis.get(conv)?.joined) this.setTyping(conv, frame.chatuser, TYPING_SHOW_FOR);
  }

  onCommandAccepted(frame) {
    const { model } = this.chat;
    const found = model.findPending(frame.client_id);
    const conv = found ? found.conv : model.find('room', frame.chatroomId);
    if (found) this.chat.connection.dropPending(found.conv, found.msg.client_id);
    // The bot answers shortly; show that it is working on it.
    if (conv) this.setTyping(conv, BOT_NAME, BOT_TYPING_FOR);
  }

  setTyping(conv, user, ms) {
    const { typing } = this.chat.ui(conv);
    clearTimeout(typing.get(user));
    typing.set(user, setTimeout(() => this.clearTyping(conv, user), ms));
    if (this.chat.isCurrent(conv)) this.chat.renderTyping();
  }

  clearTyping(conv, user) {
    const ui = this.chat.uis.get(conv);
    if (!ui) return;
    clearTimeout(ui.typing.get(user));
    ui.typing.delete(user);
    if (this.chat.isCurrent(conv)) this.chat.renderTyping();
  }

  // -------------------------------------------------------------------------
  // Messages of every conversation
  // -------------------------------------------------------------------------

  /** A message from the server into a conversation, on screen or not; returns its insertion or null. */
  deliver(conv, msg) {
    const { chat } = this;
    const ui = chat.ui(conv);
    const isCurrent = chat.isCurrent(conv);
    const stick = isCurrent && chat.nearBottom();
    const { added, replaced, own, counted } = chat.model.receive(conv, msg);
    if (replaced) chat.connection.forgetPending(conv, replaced);
    if (!added) return null;
    if (!own) chat.account.noticeMessage(conv, msg);
    ui.view.place(added);
    if (msg.author && ui.typing.has(msg.author)) this.clearTyping(conv, msg.author);
    if (msg.bot && ui.typing.has(BOT_NAME)) this.clearTyping(conv, BOT_NAME);
    if (isCurrent && document.visibilityState === 'visible') {
      if (stick || own) chat.scrollToBottom();
      else show($('jump-latest'), true);
      this.scheduleMarkRead(conv);
    } else if (counted) {
      chat.renderUnread();
    }
    return added;
  }

  /** First page of history for a conversation; concurrent callers share one request. */
  loadInitial(conv) {
    const { chat } = this;
    const ui = chat.ui(conv);
    if (conv.loaded) return Promise.resolve();
    if (ui.loading) return ui.loading;
    const { model } = chat;
    ui.loading = (async () => {
      const mark = chat.connection.socketMark();
      const items = parseHistory(await chat.session.request('GET', latestPagePath(conv)));
      ui.view.placeAll(conv.addLatestPage(items, PAGE_SIZE));
      if (chat.model === model) chat.connection.noteFetched(conv, items, mark);
      this.scheduleMarkRead(conv);
    })().finally(() => {
      ui.loading = null;
    });
    return ui.loading;
  }

  /** The page before the oldest message held; a call while one loads waits for that one. */
  loadOlder(conv) {
    const ui = this.chat.ui(conv);
    if (ui.loadingOlder) return ui.loadingOlder;
    if (!conv.canLoadOlder) return Promise.resolve();
    ui.loadingOlder = this.fetchOlder(conv, ui).finally(() => {
      ui.loadingOlder = null;
      if (this.chat.isCurrent(conv)) this.chat.renderHistoryTop();
    });
    this.chat.renderHistoryTop();
    return ui.loadingOlder;
  }

  async fetchOlder(conv, ui) {
    const { chat } = this;
    try {
      const list = await chat.session.request('GET', olderPagePath(conv));
      const isCurrent = chat.isCurrent(conv);
      const fromBottom = chat.listEl.scrollHeight - chat.listEl.scrollTop;
      ui.view.placeAll(conv.addOlderPage(parseHistory(list), PAGE_SIZE));
      // More unread than the first page held: the divider moves up to the first of them.
      if (ui.unreadRule) chat.placeUnreadDivider(conv);
      if (isCurrent) chat.listEl.scrollTop = chat.listEl.scrollHeight - fromBottom; // keep the view still
    } catch (err) {
      toast(`Could not load older messages: ${err.friendly || err.message}`);
    }
  }

  /** A read marker of ours moved, here or in another tab or device. */
  onReadMarker(frame) {
    this.chat.model.applyMarker(frame);
    this.chat.renderUnread();
  }

  /**
   * The user sees the latest message of the conversation on screen: tell the
   * server (at most every 500 ms), so unread counts follow them to reloads,
   * other tabs and other devices.
   */
  scheduleMarkRead(conv) {
    const { chat } = this;
    if (!chat.started || !chat.isCurrent(conv) || document.visibilityState !== 'visible') return;
    const ui = chat.ui(conv);
    if (!conv.maxId || conv.maxId <= (ui.markedId || 0) || ui.markTimer) return;
    ui.markTimer = setTimeout(() => {
      ui.markTimer = null;
      this.markRead(conv).catch(() => {});
    }, 500);
  }

  async markRead(conv) {
    const { chat } = this;
    const ui = chat.ui(conv);
    const last = conv.maxId;
    if (!last || last <= (ui.markedId || 0)) return;
    ui.markedId = last;
    try {
      const marker = await chat.session.request('PUT', readMarkerPath(conv), { last_read_id: last });
      if (!chat.started) return;
      chat.model.applyMarker(marker);
      chat.renderUnread();
    } catch {
      ui.markedId = 0; // tried again with the next message or visit
    }
  }

  bind() {
    $('create-room-form').addEventListener('submit', (ev) => {
      ev.preventDefault();
      this.submitCreateRoom(ev.currentTarget);
    });
  }
}
