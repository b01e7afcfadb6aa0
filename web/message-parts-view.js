// The parts of a message's bubble that come with changing it: "(edited)", the
// tombstone of a deleted message, the quote of the message a reply answers,
// the reactions under it (toggle buttons), and the button that opens its menu.
//
// Turns what it is given into DOM; user actions go back out through the
// handlers (chat-messages.js). User text only ever through textContent (util.el).

import { REACTIONS, quoteText } from './changes.js';
import { el, formatFullTime } from './util.js';

const NAMES = new Map(REACTIONS);

/** An emoji as a screen reader should say it: its name when the picker has one. */
export function emojiName(emoji) {
  return NAMES.get(emoji) || emoji;
}

/** "(edited)", with when on hover. */
export function editedMark(msg) {
  if (!msg.edited_at || msg.deleted) return null;
  return el('span', {
    className: 'msg-edited', testid: 'message-edited', text: '(edited)',
    attrs: { title: `Edited ${formatFullTime(msg.edited_at)}` },
  });
}

/** What is left of a deleted message: its place, and that it was deleted. */
export function tombstone() {
  return el('p', { className: 'msg-tombstone', testid: 'message-tombstone', text: 'message deleted' });
}

/**
 * The message a reply answers, quoted above it: who and the start of what
 * they wrote (or that it was deleted). A button: it goes to the original.
 */
export function replyQuote(ref, onJump) {
  if (!ref) return null;
  const words = quoteText(ref);
  const button = el('button', {
    className: `msg-reply${ref.deleted ? ' deleted' : ''}`,
    testid: 'reply-quote',
    dataset: { replyTo: ref.id },
    attrs: { type: 'button', title: 'Go to the message this replies to' },
  }, [
    el('span', { className: 'msg-reply-icon', text: '↩', attrs: { 'aria-hidden': 'true' } }),
    el('span', { className: 'sr-only', text: 'Reply to ' }),
    el('span', { className: 'msg-reply-author', text: ref.chatuser }),
    el('span', { className: 'msg-reply-text', testid: 'reply-snippet', text: words }),
  ]);
  button.addEventListener('click', () => onJump(ref.id));
  return button;
}

/** The words of a reaction's button: which, how many, and whether the reader is one of them. */
export function reactionLabel({ emoji, count, me }) {
  const people = count === 1 ? '1 person' : `${count} people`;
  return `${emojiName(emoji)}: ${people}${me ? ', you included' : ''}. ${me ? 'Take yours back' : 'Add yours'}`;
}

/** The reactions under a message, each a toggle (aria-pressed: the reader's own). */
export function reactionBar(msg, onReact) {
  const list = msg.deleted ? [] : msg.reactions || [];
  if (!list.length) return null;
  return el('div', { className: 'reactions', testid: 'reactions', attrs: { role: 'group', 'aria-label': 'Reactions' } },
    list.map((r) => {
      const b = el('button', {
        className: 'reaction',
        testid: 'reaction',
        dataset: { emoji: r.emoji, count: r.count },
        attrs: { type: 'button', 'aria-pressed': r.me ? 'true' : 'false', 'aria-label': reactionLabel(r), title: reactionLabel(r) },
      }, [
        el('span', { className: 'reaction-emoji', text: r.emoji, attrs: { 'aria-hidden': 'true' } }),
        el('span', { className: 'reaction-count', testid: 'reaction-count', text: r.count, attrs: { 'aria-hidden': 'true' } }),
      ]);
      b.addEventListener('click', () => onReact(msg, r.emoji, !r.me));
      return b;
    }));
}

/** The button that opens a message's menu (Reply, React, Edit, Delete). */
export function menuButton(msg, onMenu) {
  const b = el('button', {
    className: 'msg-menu-btn',
    testid: 'message-menu-button',
    text: '⋯',
    attrs: { type: 'button', 'aria-label': `Actions for ${msg.author}'s message`, 'aria-haspopup': 'menu', 'aria-expanded': 'false' },
  });
  b.addEventListener('click', () => onMenu(msg, b));
  return b;
}
