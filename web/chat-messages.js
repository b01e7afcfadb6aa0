// Stored messages after they were sent: changes from the server (type 12 for a
// room message, 13 for a direct one, applied by id, in place), the message
// menu and what it starts (a reply, an edit, a reaction, a deletion), the
// HTTP requests that make those changes, and going to one message (a reply's
// quote, a search result, a mention), loading older history until it is there.
//
// Must not decide the rules itself: who may do what and how a change applies
// are changes.js's, how far back to look jump.js's, paths chat-api.js's. The
// message box's side of a reply or an edit is chat-composer.js's.

import { directPeer, parseMessage } from './protocol.js';
import { toast } from './render.js';
import { MessageMenu } from './message-menu.js';
import {
  applyChange, applyOwnDelete, applyOwnEdit, applyOwnReaction, messageActions, refreshReplies,
} from './changes.js';
import { changeProblem, editBody, messagePath, reactionPath } from './chat-api.js';
import { jumpNotice, loadUntilHeld } from './jump.js';
import { sleep } from './util.js';

/** How long a message gone to stays marked. */
const HIGHLIGHT_FOR = 2500;
/** How long going to a message waits for a rejoined room's replay. */
const REPLAY_WAIT = 5000;

export class MessagesController {
  /** @param {import('./chat.js').Chat} chat */
  constructor(chat) {
    this.chat = chat;
    this.menu = new MessageMenu();
  }

  /** What a conversation's bubbles call back (message-view.js renderMessage). */
  viewHandlers(conv) {
    const { chat } = this;
    return {
      me: chat.me,
      onRetry: (msg) => chat.connection.retry(conv, msg),
      onDismiss: (msg) => chat.connection.dropPending(conv, msg.client_id),
      actionsOf: (msg) => messageActions(conv, msg, chat.me, this.creatorOf(conv)),
      onMenu: (msg, button) => this.openMenu(conv, msg, button),
      onReact: (msg, emoji, on) => this.react(conv, msg, emoji, on),
      onJump: (id) => this.goTo(conv, id),
      onCashtag: (tag) => chat.stocks.openCashtag(tag),
      onSuggest: (command) => chat.stocks.suggest(command),
    };
  }

  /** Who made a room (they may delete anyone's message in it); null for a direct conversation. */
  creatorOf(conv) {
    if (conv.kind !== 'room' || !this.chat.started) return null;
    const entry = this.chat.model.rooms.find((r) => r.id === conv.ref);
    return entry ? entry.created_by || null : null;
  }

  // -------------------------------------------------------------------------
  // Changes from the server
  // -------------------------------------------------------------------------

  /** A type 12 (room) or 13 (direct) frame: the message as it is now. */
  onChanged(frame) {
    const { chat } = this;
    const conv = typeof frame.chatroomId === 'number'
      ? chat.model.find('room', frame.chatroomId)
      : chat.model.find('dm', directPeer(frame, chat.me) || '');
    if (!conv) return; // never opened here: it is read as it is when it is
    this.show(conv, applyChange(conv, parseMessage(frame), chat.me));
  }

  /** Puts a change on the page: the bubble redrawn (or put in), the replies that quote it too. */
  show(conv, result) {
    if (!result) return;
    const { chat } = this;
    const ui = chat.ui(conv);
    if (result.inserted) {
      ui.view.place(result.inserted);
      return;
    }
    const msg = result.updated;
    if (this.menu.msg === msg) this.menu.close({ returnFocus: false });
    ui.view.update(msg);
    for (const reply of refreshReplies(conv, msg)) ui.view.update(reply);
    chat.compose.onMessageChanged(conv, msg);
    chat.account.onMessageChanged(conv, msg);
  }

  // -------------------------------------------------------------------------
  // The menu and what it starts
  // -------------------------------------------------------------------------

  openMenu(conv, msg, button) {
    const { chat } = this;
    const actions = messageActions(conv, msg, chat.me, this.creatorOf(conv));
    if (!actions.length) return;
    const mine = new Set((msg.reactions || []).filter((r) => r.me).map((r) => r.emoji));
    this.menu.open(msg, button, {
      actions,
      mine,
      onAction: (action) => (action === 'reply' ? chat.compose.startReply(conv, msg) : chat.compose.startEdit(conv, msg)),
      onReact: (emoji, on) => this.react(conv, msg, emoji, on),
      onDelete: () => this.remove(conv, msg),
    });
  }

  /** Adds or takes back the user's reaction; counted here as soon as the server agrees. */
  async react(conv, msg, emoji, on) {
    const { chat } = this;
    try {
      await chat.session.request(on ? 'PUT' : 'DELETE', reactionPath(conv, msg.id, emoji));
    } catch (err) {
      if (chat.started) toast(changeProblem(err, on ? 'add the reaction' : 'take the reaction back'));
      return;
    }
    if (chat.started && applyOwnReaction(msg, emoji, on)) chat.ui(conv).view.update(msg);
  }

  async remove(conv, msg) {
    const { chat } = this;
    try {
      await chat.session.request('DELETE', messagePath(conv, msg.id));
    } catch (err) {
      if (chat.started) toast(changeProblem(err, 'delete the message'));
      return;
    }
    if (!chat.started) return;
    const held = applyOwnDelete(conv, msg.id);
    if (held) this.show(conv, { updated: held });
  }

  /** Saves an edit from the message box. Resolves true when the server took it. */
  async saveEdit(conv, msg, text) {
    const { chat } = this;
    let answer;
    try {
      answer = await chat.session.request('PATCH', messagePath(conv, msg.id), editBody(conv, text));
    } catch (err) {
      if (chat.started) toast(changeProblem(err, 'save the edit'));
      return false;
    }
    if (!chat.started) return false;
    const held = applyOwnEdit(conv, parseMessage(answer || {}));
    if (held) this.show(conv, { updated: held });
    return true;
  }

  // -------------------------------------------------------------------------
  // Going to one message
  // -------------------------------------------------------------------------

  /**
   * Opens `conv` (when it is not on screen) and shows message `id` in it,
   * marked for a moment, loading older pages until it is there (a few at most).
   */
  async goTo(target, id) {
    const { chat } = this;
    const conv = chat.isCurrent(target) ? target : await chat.openConversation(target, { focus: false });
    if (!conv || !chat.isCurrent(conv)) return;
    const ui = chat.ui(conv);
    // A room joined again replays what it missed: the message may be on its way.
    if (ui.replaying) await Promise.race([ui.replaying.promise, sleep(REPLAY_WAIT)]);
    let result;
    try {
      result = await loadUntilHeld(conv, id, () => chat.rooms.loadOlder(conv));
    } catch (err) {
      toast(`Could not load older messages: ${err.friendly || err.message}`);
      return;
    }
    if (!chat.isCurrent(conv)) return;
    const notice = jumpNotice(result);
    if (notice) {
      toast(notice, { code: 'jump', kind: 'info' });
      return;
    }
    const node = ui.view.nodeOf(conv.byId.get(id));
    if (!node) return;
    node.scrollIntoView({ block: 'center' });
    node.classList.add('jump-target');
    node.setAttribute('tabindex', '-1');
    node.focus({ preventScroll: true });
    setTimeout(() => node.classList.remove('jump-target'), HIGHLIGHT_FOR);
  }
}
