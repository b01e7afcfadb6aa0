// Opening a conversation: what was new in it (for its "New messages"
// divider), its URL fragment, its draft and scroll position, the room the
// socket is in (joins.js: the one left behind is left, this one joined with
// `since`), its first page of history, and where the view starts. Also the
// conversation a URL fragment names, a room left before included.
//
// Must not decide message rules (model.js, unread.js) or which rooms to be in
// (joins.js); chat-joins.js joins and leaves.

import {
  renderHeader, renderConversation, renderPresence, toast,
} from './render.js';
import { $, show } from './util.js';
import { LAST_CONV_KEY, conversationHash, defaultRoom, parseConversationHash } from './navigation.js';
import { unreadRule } from './unread.js';
import { roomPath } from './chat-api.js';

export class OpenController {
  /** @param {import('./chat.js').Chat} chat */
  constructor(chat) {
    this.chat = chat;
  }

  /** Resolves with the conversation opened: `requested`, or a fresh copy of it (comingBack). */
  async open(asked, { focus = true } = {}) {
    const { chat } = this;
    // A conversation held elsewhere (a mention, a search result) may have been replaced since.
    const requested = chat.model.conversations.get(asked.key)
      || (asked.kind === 'room' ? chat.roomConv(asked.ref, asked.name) : chat.dmConv(asked.ref));
    const prev = chat.current;
    if (prev && prev !== requested) {
      const prevUi = chat.uis.get(prev);
      if (prevUi) {
        prevUi.scroll = chat.nearBottom() ? null : chat.listEl.scrollTop;
        prevUi.draft = chat.compose.mode && chat.compose.mode.kind === 'edit' ? chat.compose.mode.draft : chat.composer.value;
      }
      chat.compose.endMode();
    }
    // Too much missed since the room was left: a fresh conversation reads the latest page.
    const conv = prev === requested ? requested : chat.joins.comingBack(requested);
    // What is new is decided before opening: an open conversation counts as read.
    const rule = prev === conv ? undefined : unreadRule(chat.model, conv);
    chat.model.open(conv);
    chat.joins.settleJoins();
    const ui = chat.ui(conv);
    if (rule !== undefined) ui.unreadRule = rule;
    if (rule === null) ui.view.setFirstUnread(null); // read since the last visit
    chat.rooms.scheduleMarkRead(conv);
    const hash = conversationHash(conv);
    try {
      localStorage.setItem(LAST_CONV_KEY, hash);
    } catch {
      /* ignore */
    }
    if (location.hash !== hash) history.replaceState(null, '', hash);
    if (conv.kind === 'dm' && chat.layout.tab !== 'dms') chat.layout.setTab('dms');
    if (conv.kind === 'room' && chat.layout.tab !== 'rooms') chat.layout.setTab('rooms');

    renderConversation(ui.view);
    const input = chat.composer;
    input.value = ui.draft || '';
    input.placeholder = conv.kind === 'room' ? `Message #${conv.name}` : `Message @${conv.name}`;
    // Commands work in rooms only: no /stock= hint in a direct conversation.
    show($('composer-stock-hint'), conv.kind === 'room');
    renderHeader(conv, conv.kind === 'room' ? chat.rooms.entryOf(conv) : chat.direct.entryOf(conv));
    chat.rooms.renderRooms();
    chat.direct.renderInbox();
    chat.renderUnread();
    renderPresence(conv, chat.me);
    chat.roomInfo.onOpen(conv);
    chat.stocks.onOpen(conv);
    chat.renderTyping();
    chat.renderHistoryTop();
    chat.updateComposerState();
    chat.layout.closeDrawer(false);
    chat.scrollToBottom();

    try {
      await chat.rooms.loadInitial(conv);
    } catch (err) {
      if (chat.isCurrent(conv)) {
        if (conv.kind === 'dm' && err.status === 404) {
          toast(`There is no user named ${conv.name}.`);
          chat.forget(conv);
          return conv;
        }
        toast(`Could not load messages: ${err.friendly || err.message}`);
      }
      return conv;
    }
    if (!chat.started) return conv;
    // Joined unless another room was opened meanwhile (a direct conversation keeps this one).
    if (conv.kind === 'room' && !ui.joined && chat.joins.kept === conv) chat.joins.joinRoom(conv);
    if (!chat.isCurrent(conv)) return conv;
    chat.renderHistoryTop();
    const divider = rule ? chat.placeUnreadDivider(conv) : null;
    if (divider) chat.scrollToDivider(divider);
    else if (ui.scroll == null) chat.scrollToBottom();
    else chat.listEl.scrollTop = ui.scroll;
    // Short history that does not fill the screen: fetch more right away.
    if (conv.hasMore && chat.listEl.scrollHeight <= chat.listEl.clientHeight) chat.rooms.loadOlder(conv);
    if (focus && !chat.layout.isNarrow) chat.compose.focusComposer({ preventScroll: true });
    return conv;
  }

  /**
   * Opens the conversation a URL fragment names; false when it names none. A
   * room not in the list (one the user left) is asked for (with `relist`), and
   * opening it joins it again; when there is no such room, the default room opens.
   */
  fromHash(hash, { relist = true } = {}) {
    const { chat } = this;
    const target = parseConversationHash(hash);
    if (target && target.kind === 'room') {
      const room = chat.model.rooms.find((r) => r.id === target.id);
      if (room) chat.openConversation(chat.roomConv(room.id, room.name));
      else if (relist) this.openRoomById(target.id);
      else return false;
      return true;
    }
    if (target && target.kind === 'dm') {
      chat.openConversation(chat.dmConv(target.name));
      return true;
    }
    return false;
  }

  /** A room by id, listed or not (a room left, a link): read, listed again, and opened. */
  async openRoomById(id) {
    const { chat } = this;
    const { model } = chat;
    let room;
    try {
      room = await chat.session.request('GET', roomPath(id));
    } catch (err) {
      if (chat.model !== model) return;
      toast(err.status === 404 ? 'That room does not exist any more.' : `Could not open the room: ${err.friendly}`);
      const fallback = defaultRoom(model.rooms);
      if (fallback && !chat.current) chat.openConversation(chat.roomConv(fallback.id, fallback.name));
      return;
    }
    if (chat.model !== model || !room || typeof room.id !== 'number') return;
    chat.rooms.relist(room);
    await chat.openConversation(chat.roomConv(room.id, room.name));
  }
}
