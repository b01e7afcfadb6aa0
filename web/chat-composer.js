// The message box: sending what is typed (as an optimistic message the
// connection controller delivers), its length against the server's limit, its
// keys (Enter, Escape, ArrowUp), typing notices, and its size.
//
// Must not decide the rules itself: what a key means, how long a message may
// be and when a typing notice is due are delivery.js's; the box's looks are
// composer-view.js's; posts on their way are chat-connection.js's.

import { pendingMessage } from './model.js';
import { MAX_MESSAGE, typingFrame } from './protocol.js';
import { renderComposer, showComposerError, tooLongText } from './composer-view.js';
import { $, newClientId } from './util.js';
import { composerKey, lengthCheck, typingDue } from './delivery.js';

export class ComposerController {
  /** @param {import('./chat.js').Chat} chat */
  constructor(chat) {
    this.chat = chat;
    this.nativeAutosize = !!(window.CSS && CSS.supports && CSS.supports('field-sizing', 'content'));
    /**
     * A reply or an edit being written in the message box, or null for a new
     * message. The client starts neither yet; Escape clears one, and
     * editLastMessage is where an edit will begin.
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
    const msg = pendingMessage({ clientId: newClientId(), author: chat.me, text });
    if (conv.addPending(msg)) chat.ui(conv).view.addPending(msg);
    chat.connection.post(conv, msg);
    chat.composer.value = '';
    chat.ui(conv).draft = '';
    this.renderComposer();
    showComposerError('');
    chat.scrollToBottom();
    chat.connection.sendPending(conv, msg);
  }

  lengthCheck() {
    return lengthCheck(this.chat.composer.value, MAX_MESSAGE);
  }

  /** The box and Send as the conversation and the text's length allow. */
  renderComposer() {
    renderComposer({ enabled: !!this.chat.current, check: this.lengthCheck() });
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
      if (action === 'cancel') this.mode = null;
      else composer.blur();
    } else if (action === 'edit-last' && this.editLastMessage()) {
      ev.preventDefault();
    }
  }

  /**
   * ArrowUp in an empty message box: where editing the user's last message
   * in this conversation starts (setting `mode` to the edit, so Escape
   * cancels it) once the client edits messages. It does not yet, so this
   * takes nothing and the key keeps its usual meaning. Returns whether it
   * took the key.
   */
  editLastMessage() {
    return false;
  }

  maybeSendTyping() {
    const { chat } = this;
    const conv = chat.current;
    if (!conv || conv.kind !== 'room' || !chat.ui(conv).joined) return;
    const ui = chat.ui(conv);
    const now = Date.now();
    if (!typingDue(chat.composer.value, now, ui.lastTypingSent)) return;
    if (chat.socket.send(typingFrame(conv.ref))) ui.lastTypingSent = now;
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
  }
}
