// A message's menu (Reply, Add reaction, Edit, Delete), its reaction picker
// and its "Delete this message?" question: one at a time, opened from a
// message's "⋯" button, and usable with the keyboard alone (the arrows, Home
// and End move, Escape and Tab close it and give the focus back to the
// button).
//
// Only the popup: what each choice does is the controller's (chat-messages.js).
// Built with util.el, text through textContent.

import { REACTIONS } from './changes.js';
import { el } from './util.js';

const LABELS = { reply: 'Reply', react: 'Add reaction…', edit: 'Edit', delete: 'Delete…' };

export class MessageMenu {
  constructor() {
    /** The open popup, or null; the message it is for and the button that opened it. */
    this.box = null;
    this.msg = null;
    this.button = null;
    this.onOutside = (ev) => {
      if (this.box && !this.box.contains(ev.target) && ev.target !== this.button) this.close({ returnFocus: false });
    };
  }

  get isOpen() {
    return this.box !== null;
  }

  /**
   * Opens the menu of `msg` under `button`. `actions`: what it offers
   * (changes.js messageActions); `mine`: the emoji the user already added;
   * `onAction(action)` for reply and edit, `onReact(emoji, on)`, `onDelete()`.
   */
  open(msg, button, { actions, mine = new Set(), onAction, onReact, onDelete }) {
    const reopen = this.msg === msg;
    this.close({ returnFocus: false });
    if (reopen) return; // the same button again: it toggles
    this.msg = msg;
    this.button = button;
    this.hooks = { actions, mine, onAction, onReact, onDelete };
    this.box = el('div', { className: 'msg-menu', testid: 'message-menu' });
    this.box.addEventListener('keydown', (ev) => this.onKey(ev));
    button.setAttribute('aria-expanded', 'true');
    (button.closest('.msg') || button.parentNode).append(this.box);
    document.addEventListener('pointerdown', this.onOutside, true);
    this.showMain();
  }

  close({ returnFocus = true } = {}) {
    if (!this.box) return;
    document.removeEventListener('pointerdown', this.onOutside, true);
    this.box.remove();
    this.box = null;
    const { button } = this;
    this.msg = null;
    this.button = null;
    if (button) {
      button.setAttribute('aria-expanded', 'false');
      if (returnFocus && button.isConnected) button.focus();
    }
  }

  /** The first screen: one item per action. */
  showMain() {
    const { actions, onAction } = this.hooks;
    const items = actions.map((action) => this.item(LABELS[action], `menu-${action}`, () => {
      if (action === 'react') this.showPicker();
      else if (action === 'delete') this.showConfirm();
      else {
        this.close({ returnFocus: false });
        onAction(action);
      }
    }));
    this.fill('Message actions', items);
  }

  /** The reaction picker: the user's own are pressed; choosing one toggles it. */
  showPicker() {
    const { mine, onReact } = this.hooks;
    const items = REACTIONS.map(([emoji, name]) => {
      const b = this.item(emoji, 'menu-reaction', () => {
        this.close();
        onReact(emoji, !mine.has(emoji));
      }, 'menuitemcheckbox');
      b.classList.add('picker-emoji');
      b.dataset.emoji = emoji;
      b.setAttribute('aria-checked', mine.has(emoji) ? 'true' : 'false');
      b.setAttribute('aria-label', name);
      b.title = name;
      return b;
    });
    this.fill('Add a reaction', items, 'msg-picker');
  }

  /** Deleting asks once; Cancel goes back to the menu. */
  showConfirm() {
    const { onDelete } = this.hooks;
    const yes = this.item('Delete', 'menu-delete-confirm', () => {
      this.close();
      onDelete();
    });
    yes.classList.add('danger');
    const no = this.item('Cancel', 'menu-delete-cancel', () => this.showMain());
    const question = el('p', { className: 'msg-menu-question', text: 'Delete this message for everyone?' });
    this.fill('Delete this message?', [yes, no], '', question);
  }

  item(text, testid, onChoose, role = 'menuitem') {
    const b = el('button', { className: 'msg-menu-item', testid, text, attrs: { type: 'button', role, tabindex: '-1' } });
    b.addEventListener('click', onChoose);
    return b;
  }

  fill(label, items, extraClass = '', lead = null) {
    const menu = el('div', { className: `msg-menu-list ${extraClass}`.trim(), attrs: { role: 'menu', 'aria-label': label } }, items);
    this.box.replaceChildren(...(lead ? [lead, menu] : [menu]));
    this.items = items;
    this.place();
    items[0]?.focus();
  }

  /** Below the button, or above it when the list would cut it off at the bottom. */
  place() {
    const list = this.box.closest?.('.message-list');
    if (!list || typeof this.box.getBoundingClientRect !== 'function') return;
    this.box.classList.remove('above');
    if (this.box.getBoundingClientRect().bottom > list.getBoundingClientRect().bottom) this.box.classList.add('above');
  }

  onKey(ev) {
    const items = this.items || [];
    const at = items.indexOf(document.activeElement);
    const move = { ArrowDown: 1, ArrowRight: 1, ArrowUp: -1, ArrowLeft: -1 }[ev.key];
    if (move) {
      ev.preventDefault();
      items[(at + move + items.length) % items.length]?.focus();
    } else if (ev.key === 'Home' || ev.key === 'End') {
      ev.preventDefault();
      items[ev.key === 'Home' ? 0 : items.length - 1]?.focus();
    } else if (ev.key === 'Escape') {
      ev.preventDefault();
      ev.stopPropagation();
      this.close();
    } else if (ev.key === 'Tab') {
      // Out of the menu, back where it was opened: the next Tab goes on from there.
      ev.preventDefault();
      this.close();
    }
  }
}
