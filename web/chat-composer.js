// The message box: sending what is typed (as an optimistic message the
// connection controller delivers), a reply or an edit being written (the line
// above the box says which, Escape or Cancel ends it), its length against the
// server's limit, its keys (Enter, Escape, ArrowUp), typing notices, and its size.
//
// Must not decide the rules itself: what a key means, how long a message may
// be and when a typing notice is due are delivery.js's; the box's looks are
// composer-view.js's; posts on their way are chat-connection.js's.

import { pendingMessage } from './model.js';
import { MAX_MESSAGE, directTypingFrame, typingFrame } from './protocol.js';
import {
  renderCommandHint, renderComposer, renderComposerMode, showComposerError, tooLongText,
} from './composer-view.js';
import { $, newClientId } from './util.js';
import { DIRECT_TYPING_EVERY, TYPING_SEND_EVERY, composerKey, lengthCheck, typingDue } from './delivery.js';
import { lastEditable, replyRef } from './changes.js';

export class ComposerController {
  /** @param {import('./chat.js').Chat} chat */
  constructor(chat) {
    this.chat = chat;
    this.nativeAutosize = !!(window.CSS && CSS.supports && CSS.supports('field-sizing', 'content'));
    /**
     * A reply or an edit being written in the message box, or null for a new
     * message: {kind: 'reply'|'edit', conv, msg}, and for an edit the draft
     * the box held before, given back when the edit ends.
     */
    this.mode = null;
    /** Set while focusComposer moves the focus, so the box knows the focus is not the user's own. */
    this.focusingForUser = false;
    this.bind();
  }

  sendMessage() {
    const { chat } = this;
    const conv = chat.current;
    const text = chat.composer.value.trim();
    if (!conv || !text) return;
    const check = this.lengthCheck();
    if (check.over) {
      // Refused here, whole: the server would refuse it anyway, and the author keeps every word.
      showComposerError(tooLongText(check));
      return;
    }
    const mode = this.mode && this.mode.conv === conv ? this.mode : null;
    if (mode && mode.kind === 'edit') {
      this.saveEdit(mode, text);
      return;
    }
    const replyTo = mode ? replyRef(mode.msg) : null;
    if (mode) this.endMode();
    const msg = pendingMessage({ clientId: newClientId(), author: chat.me, text, replyTo });
    if (conv.addPending(msg)) chat.ui(conv).view.addPending(msg);
    chat.connection.post(conv, msg);
    chat.composer.value = '';
    chat.ui(conv).draft = '';
    this.renderComposer();
    showComposerError('');
    chat.scrollToBottom();
    chat.connection.sendPending(conv, msg);
  }

  /**
   * Sends `text` to `conv` as if it had been typed, leaving the box as it is: a
   * command from a control (an alert's ✕ sends `/unalert=ID`). It waits in the
   * outbox and shows as pending like any post until the server answers.
   */
  sendCommand(conv, text) {
    const { chat } = this;
    if (!conv || !chat.started) return;
    const msg = pendingMessage({ clientId: newClientId(), author: chat.me, text });
    if (conv.addPending(msg)) chat.ui(conv).view.addPending(msg);
    chat.connection.post(conv, msg);
    chat.connection.sendPending(conv, msg);
  }

  /** Puts `text` in the message box (a bot's suggestion), replacing a new message's draft, and focuses it. */
  fill(text) {
    const { chat } = this;
    if (!chat.current) return;
    if (this.mode && this.mode.kind === 'edit') this.endMode();
    chat.composer.value = text;
    this.renderComposer();
    this.autosize();
    this.focusComposer();
    chat.composer.setSelectionRange?.(text.length, text.length);
  }

  /** Sends an edit; the box keeps the text until the server has taken it. */
  async saveEdit(mode, text) {
    const { chat } = this;
    if (text === mode.msg.text.trim()) {
      this.endMode();
      return;
    }
    const saved = await chat.messages.saveEdit(mode.conv, mode.msg, text);
    if (saved && this.mode === mode) this.endMode();
  }

  // -------------------------------------------------------------------------
  // A reply or an edit in the box
  // -------------------------------------------------------------------------

  /** Reply to `msg`: the line above the box says to whom; the next message sent is the reply. */
  startReply(conv, msg) {
    if (!this.chat.isCurrent(conv)) return;
    this.endMode();
    this.mode = { kind: 'reply', conv, msg };
    this.renderMode();
    this.focusComposer();
  }

  /** Edit `msg`: its text in the box (what was typed is kept for after), Enter saves. */
  startEdit(conv, msg) {
    const { chat } = this;
    if (!chat.isCurrent(conv)) return;
    this.endMode();
    this.mode = { kind: 'edit', conv, msg, draft: chat.composer.value };
    chat.composer.value = msg.text;
    this.renderMode();
    this.renderComposer();
    this.autosize();
    this.focusComposer();
    const end = chat.composer.value.length;
    chat.composer.setSelectionRange?.(end, end);
  }

  /** Back to a new message (Escape, Cancel, sent, or the conversation changed). */
  endMode() {
    const { mode } = this;
    if (!mode) return;
    this.mode = null;
    if (mode.kind === 'edit') {
      this.chat.composer.value = mode.draft || '';
      this.renderComposer();
      this.autosize();
    }
    this.renderMode();
  }

  renderMode() {
    renderComposerMode(this.mode);
  }

  /** A message changed: an edit or a reply of it can no longer go on once it is deleted. */
  onMessageChanged(conv, msg) {
    const { mode } = this;
    if (!mode || mode.msg !== msg) return;
    if (msg.deleted) {
      this.endMode();
      showComposerError(mode.kind === 'edit' ? 'The message you were editing was deleted.' : 'The message you were replying to was deleted.');
    } else this.renderMode();
  }

  lengthCheck() {
    return lengthCheck(this.chat.composer.value, MAX_MESSAGE);
  }

  /** The box and Send as the conversation and the text's length allow; the commands a `/` may start. */
  renderComposer() {
    const conv = this.chat.current;
    renderComposer({ enabled: !!conv, check: this.lengthCheck() });
    renderCommandHint(conv && conv.kind === 'room' && !(this.mode && this.mode.kind === 'edit') ? this.chat.composer.value : '');
  }

  /**
   * Focus the message box for the user (on opening a conversation, after
   * sending): quietly, without the ring their own focus gets (see bind).
   */
  focusComposer(options) {
    this.focusingForUser = true;
    try {
      this.chat.composer.focus(options);
    } finally {
      this.focusingForUser = false;
    }
  }

  /** A key in the message box (delivery.js composerKey says what it means). */
  onComposerKey(ev) {
    const { composer } = this.chat;
    $('composer-form').classList.add('engaged');
    const action = composerKey(ev, { over: this.lengthCheck().over, mode: this.mode, empty: composer.value === '' });
    if (action === 'send') {
      ev.preventDefault();
      this.sendMessage();
    } else if (action === 'refuse') {
      ev.preventDefault();
      showComposerError(tooLongText(this.lengthCheck()));
    } else if (action === 'cancel' || action === 'leave') {
      // One Escape, one thing: not also closing a panel behind the box.
      ev.preventDefault();
      ev.stopPropagation();
      if (action === 'cancel') this.endMode();
      else composer.blur();
    } else if (action === 'edit-last' && this.editLastMessage()) {
      ev.preventDefault();
    }
  }

  /**
   * ArrowUp in an empty message box: edit the user's last message in this
   * conversation (Escape cancels). Returns whether it took the key: with no
   * message to edit, the key keeps its usual meaning.
   */
  editLastMessage() {
    const conv = this.chat.current;
    const msg = conv && lastEditable(conv, this.chat.me);
    if (!msg) return false;
    this.startEdit(conv, msg);
    return true;
  }

  /** Tells the room (or the other person of a direct conversation) that the user is typing. */
  maybeSendTyping() {
    const { chat } = this;
    const conv = chat.current;
    if (!conv || (this.mode && this.mode.kind === 'edit')) return;
    if (conv.kind === 'room' && !chat.ui(conv).joined) return;
    const ui = chat.ui(conv);
    const now = Date.now();
    const every = conv.kind === 'room' ? TYPING_SEND_EVERY : DIRECT_TYPING_EVERY;
    if (!typingDue(chat.composer.value, now, ui.lastTypingSent, every)) return;
    const frame = conv.kind === 'room' ? typingFrame(conv.ref) : directTypingFrame(conv.ref);
    if (chat.socket.send(frame)) ui.lastTypingSent = now;
  }

  /** Grow the message box with its content (CSS field-sizing does it where supported). */
  autosize() {
    if (this.nativeAutosize) return;
    const { composer } = this.chat;
    composer.style.height = 'auto';
    composer.style.height = `${Math.min(composer.scrollHeight, 200)}px`;
  }

  bind() {
    const { composer } = this.chat;
    composer.addEventListener('keydown', (ev) => this.onComposerKey(ev));
    // Whose focus it is: the user's own (a click, a tap, Tab, the skip link) or ours (focusComposer).
    const form = $('composer-form');
    composer.addEventListener('pointerdown', () => form.classList.add('engaged'));
    composer.addEventListener('focus', () => form.classList.toggle('engaged', !this.focusingForUser));
    composer.addEventListener('blur', () => form.classList.remove('engaged'));
    composer.addEventListener('input', () => {
      this.renderComposer();
      this.maybeSendTyping();
      this.autosize();
    });
    $('composer-form').addEventListener('submit', (ev) => {
      ev.preventDefault();
      this.sendMessage();
      this.focusComposer();
    });
    $('composer-mode-cancel').addEventListener('click', () => {
      this.endMode();
      this.focusComposer();
    });
  }
}
