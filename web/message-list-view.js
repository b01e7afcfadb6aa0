// The DOM of one conversation's messages: the stored ones in the model's
// order, with the "New messages" divider, then the ones being sent.
//
// Must not decide anything about messages: the model says where each one goes.
// Bubbles are message-view.js's.

import { renderMessage, restyle } from './message-view.js';
import { el } from './util.js';

/**
 * The DOM of one conversation: stored messages, then the ones being sent.
 * Mirrors the model's list: the model says where a message goes ({msg, next}),
 * this only puts the bubble there. Kept while the conversation is off screen,
 * so switching back is instant and keeps the scroll position.
 */
export class MessageListView {
  /** `handlers`: what renderMessage (message-view.js) calls back, and `me`. */
  constructor(name, handlers) {
    this.handlers = handlers;
    this.nodes = new WeakMap(); // message -> its <li>
    /** The <li> that carries the "New messages" divider, or null. */
    this.firstUnread = null;
    this.list = el('ol', { className: 'messages', testid: 'messages', attrs: { 'aria-label': `Messages in ${name}` } });
    this.pendingList = el('ol', { className: 'messages messages-pending', testid: 'pending-messages', attrs: { 'aria-label': 'Messages being sent' } });
  }

  get elements() {
    return [this.list, this.pendingList];
  }

  /** Insert a stored message before `next` (or last). */
  place({ msg, next }) {
    const node = renderMessage(msg, this.handlers);
    this.nodes.set(msg, node);
    this.list.insertBefore(node, next ? this.nodes.get(next) || null : null);
    restyle(node);
    restyle(node.nextElementSibling);
  }

  placeAll(insertions) {
    for (const at of insertions) this.place(at);
  }

  /** The bubble of a message, or null when it is not shown. */
  nodeOf(msg) {
    return (msg && this.nodes.get(msg)) || null;
  }

  /**
   * Draw a stored message again where it is, after it changed (edited,
   * deleted, reacted to). Its divider stays with it, and so does the focus,
   * on the same control, when it was inside (a reaction toggled by keyboard).
   */
  update(msg) {
    const old = this.nodes.get(msg);
    if (!old) return null;
    const focused = focusedControl(old);
    const fresh = renderMessage(msg, this.handlers);
    const divider = old === this.firstUnread ? old.querySelector('.unread-divider') : null;
    if (divider) {
      fresh.classList.add('first-unread');
      fresh.prepend(divider);
      this.firstUnread = fresh;
    }
    old.replaceWith(fresh);
    this.nodes.set(msg, fresh);
    restyle(fresh);
    restyle(fresh.nextElementSibling);
    if (focused) (fresh.querySelector(focused) || fresh.querySelector('[data-testid="message-menu-button"]'))?.focus();
    return fresh;
  }

  /**
   * The "New messages" divider above `msg` (a stored message on the list), or
   * nowhere for null. Part of the message's <li>, so messages placed before
   * or after it later never land between the divider and its message.
   * Returns the divider, or null.
   */
  setFirstUnread(msg) {
    const node = (msg && this.nodes.get(msg)) || null;
    if (node !== this.firstUnread) {
      const old = this.firstUnread;
      if (old) {
        old.classList.remove('first-unread');
        old.querySelector('.unread-divider')?.remove();
        restyle(old);
      }
      this.firstUnread = node;
      if (node) {
        node.classList.add('first-unread');
        node.prepend(el('div', { className: 'unread-divider', testid: 'unread-divider', text: 'New messages' }));
        restyle(node);
      }
    }
    return this.firstUnread ? this.firstUnread.firstChild : null;
  }

  addPending(msg) {
    const node = renderMessage(msg, this.handlers);
    this.nodes.set(msg, node);
    this.pendingList.append(node);
  }

  /** Redraw a pending bubble after its state changed (sending → failed → sending). */
  updatePending(msg) {
    const old = this.nodes.get(msg);
    if (!old) return;
    const fresh = renderMessage(msg, this.handlers);
    old.replaceWith(fresh);
    this.nodes.set(msg, fresh);
  }

  removePending(msg) {
    const node = this.nodes.get(msg);
    if (node) node.remove();
    this.nodes.delete(msg);
  }
}

/** A selector for the control inside `node` that has the focus, to find its twin in a redrawn node. */
function focusedControl(node) {
  const active = typeof document !== 'undefined' ? document.activeElement : null;
  if (!active || active === node || typeof node.contains !== 'function' || !node.contains(active)) return null;
  const id = active.dataset && active.dataset.testid;
  if (!id) return null;
  const emoji = active.dataset.emoji;
  return emoji ? `[data-testid="reaction"][data-emoji="${emoji}"]` : `[data-testid="${id}"]`;
}
