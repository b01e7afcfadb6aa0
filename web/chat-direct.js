// Direct messages: the inbox (the Direct tab's list with who is online, its
// errors, a message that moves a conversation to the top; read again every
// 30 s while the page is shown and after direct messages), direct frames live
// or replayed after a reconnect, "… is typing", threads fetched again when no
// `dm_since` could be asked for, and "Message a user" with its suggestions.
//
// Must not decide message rules itself (model.js); delivering a message and
// paging history are chat-rooms.js's, whatever the conversation. Paths are in
// chat-api.js, usernames and their checks in navigation.js.

import { directPeer, parseMessage, parseHistory } from './protocol.js';
import { renderHeader } from './render.js';
import { renderDmList, renderDmListError } from './sidebar-view.js';
import { sameUser } from './model.js';
import { TYPING_SHOW_FOR } from './delivery.js';
import { $, el, show, withBusy } from './util.js';
import { INBOX_PATH, canSuggest, latestPagePath, suggestedNames, usersPath } from './chat-api.js';
import { dmTargetProblem, typedUsername } from './navigation.js';

/** How long the typing in "Message a user" must pause before names are asked for. */
const SUGGEST_AFTER = 200;
/** The inbox (who is online, unread counts) is read again this often while the page is shown. */
export const INBOX_EVERY = 30_000;
/** After a direct message, the inbox is read again this much later (several arriving: once). */
const INBOX_AFTER_MESSAGE = 1_000;

export class DirectController {
  /** @param {import('./chat.js').Chat} chat */
  constructor(chat) {
    this.chat = chat;
    this.suggestTimer = null;
    this.inboxTimer = null;
    this.inboxSoon = null;
    this.bind();
  }

  /** A session starts: the inbox is kept fresh while the page is shown. */
  start() {
    this.stop();
    this.inboxTimer = setInterval(() => {
      if (this.chat.started && document.visibilityState === 'visible') this.loadInbox().catch(() => {});
    }, INBOX_EVERY);
  }

  stop() {
    clearInterval(this.inboxTimer);
    clearTimeout(this.inboxSoon);
    this.inboxTimer = null;
    this.inboxSoon = null;
  }

  /** Reads the inbox again shortly (after direct messages: who is online, the server's counts). */
  refreshSoon() {
    if (this.inboxSoon) return;
    this.inboxSoon = setTimeout(() => {
      this.inboxSoon = null;
      if (this.chat.started) this.loadInbox().catch(() => {});
    }, INBOX_AFTER_MESSAGE);
  }

  /** The inbox's entry of a direct conversation (its `online`, `last_read_id`), or null. */
  entryOf(conv) {
    if (!conv || conv.kind !== 'dm' || !this.chat.started) return null;
    return this.chat.model.inbox.find((e) => sameUser(e.username, conv.ref)) || null;
  }

  /** `{"type":5,"username":X}`: X is typing to the user; shown for their conversation, a few seconds. */
  onTyping(frame) {
    const { chat } = this;
    if (typeof frame.username !== 'string' || sameUser(frame.username, chat.me)) return;
    const conv = chat.model.find('dm', frame.username);
    if (conv) chat.rooms.setTyping(conv, conv.ref, TYPING_SHOW_FOR);
  }

  /** A direct message from the socket: live, or replayed after a reconnect (`dm_since`). */
  onDirectMessage(frame) {
    const { chat } = this;
    const other = directPeer(frame, chat.me);
    if (!other) return;
    const msg = parseMessage(frame);
    // Everything the socket sends is held from now on, whichever thread it is in.
    chat.model.noteDirect([msg]);
    // A thread never opened keeps the message too, so opening it shows it. A
    // duplicate (a replay of something already here) leaves the inbox alone.
    if (!chat.rooms.deliver(chat.dmConv(other), msg)) return;
    chat.model.bumpInbox(other, msg.text, msg.created_at);
    this.renderInbox();
    this.refreshSoon();
  }

  async loadInbox() {
    const { chat } = this;
    const { model } = chat;
    let inbox;
    try {
      inbox = await chat.session.request('GET', INBOX_PATH);
    } catch (err) {
      if (chat.started) renderDmListError(`Could not load your conversations. ${err.friendly || ''}`.trim());
      throw err;
    }
    if (!model || chat.model !== model) return;
    renderDmListError('');
    model.setInbox(inbox);
    this.renderInbox();
    if (chat.current && chat.current.kind === 'dm') renderHeader(chat.current, this.entryOf(chat.current));
  }

  renderInbox() {
    const { chat } = this;
    if (!chat.started) return;
    renderDmList(chat.model.inboxEntries(), chat.listHooks((entry) => chat.openConversation(chat.dmConv(entry.username))));
  }

  /** A loaded thread's latest page again, merged (after a reconnect without `dm_since`). */
  async refreshThread(conv) {
    const { chat } = this;
    const { model } = chat;
    const mark = chat.connection.socketMark();
    const items = parseHistory(await chat.session.request('GET', latestPagePath(conv)));
    if (chat.model !== model || model.find(conv.kind, conv.ref) !== conv) return; // signed out or forgotten meanwhile
    const stick = chat.isCurrent(conv) && chat.nearBottom();
    chat.ui(conv).view.placeAll(conv.merge(items));
    chat.connection.noteFetched(conv, items, mark);
    if (stick) chat.scrollToBottom();
  }

  /** The Direct tab was chosen: the inbox may have changed since it was last fetched. */
  onTabChange(which) {
    if (which === 'dms' && this.chat.started) this.loadInbox().catch(() => {});
  }

  // -------------------------------------------------------------------------
  // "Message a user"
  // -------------------------------------------------------------------------

  submitStartDm(form) {
    const { chat } = this;
    const input = $('dm-start-input');
    const name = typedUsername(input.value);
    const error = $('dm-start-error');
    show(error, false);
    const fail = (text) => {
      error.textContent = text;
      show(error, true);
      input.setAttribute('aria-invalid', 'true');
      input.focus();
    };
    const problem = dmTargetProblem(name, chat.me);
    if (problem) {
      fail(problem);
      return;
    }
    withBusy(form, async () => {
      const conv = chat.dmConv(name);
      try {
        await chat.rooms.loadInitial(conv);
      } catch (err) {
        if (chat.started) chat.forget(conv);
        fail(err.status === 404 ? `There is no user named ${name}.` : err.friendly);
        return;
      }
      if (!chat.started) return;
      input.value = '';
      input.setAttribute('aria-invalid', 'false');
      chat.openConversation(conv);
    });
  }

  /**
   * People whose name starts with what is typed in "Message a user" (the
   * server's `GET /v1/users`), as buttons that open the conversation.
   */
  suggestUsers() {
    const { chat } = this;
    clearTimeout(this.suggestTimer);
    const list = $('dm-suggestions');
    const prefix = typedUsername($('dm-start-input').value);
    // The server answers only prefixes of a few characters (every username has
    // that many), so the directory cannot be listed a letter at a time.
    if (!canSuggest(prefix)) {
      list.replaceChildren();
      show(list, false);
      return;
    }
    this.suggestTimer = setTimeout(async () => {
      let page;
      try {
        page = await chat.session.request('GET', usersPath(prefix));
      } catch {
        return;
      }
      if (!chat.started || typedUsername($('dm-start-input').value) !== prefix) return;
      const names = suggestedNames(page, chat.me);
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
    }, SUGGEST_AFTER);
  }

  bind() {
    $('dm-start-input').addEventListener('input', () => this.suggestUsers());
    $('dm-start-form').addEventListener('submit', (ev) => {
      ev.preventDefault();
      this.submitStartDm(ev.currentTarget);
    });
  }
}
