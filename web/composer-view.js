// The message box's state on screen: enabled or not, the length counter near
// and over the limit, Send disabled while the text is too long, and what a
// screen reader hears when the text goes over the limit or back under it,
// and the commands a `/` at its start may be.
//
// Turns what it is given into DOM; the rules (how long a message is, what a
// key does) are delivery.js's and the decisions the rooms controller's
// (chat-rooms.js). The text in the box is never changed here: a message too
// long stays whole until its author shortens it.

import { quoteText, replyRef } from './changes.js';
import { commandHints } from './stocks.js';
import { $, el, show } from './util.js';

const number = new Intl.NumberFormat();

/**
 * `enabled`: a conversation is open. `check`: delivery.js lengthCheck of the
 * box's text.
 */
export function renderComposer({ enabled, check }) {
  const input = $('composer-input');
  const form = $('composer-form');
  // Said once when the text goes over the limit or back under, not at every keystroke.
  const crossed = form.classList.contains('over') !== check.over;
  input.disabled = !enabled;
  input.setAttribute('aria-invalid', String(check.over));
  form.classList.toggle('over', check.over);
  document.querySelector('[data-testid="send-button"]').disabled = !enabled || check.over;

  const counter = $('char-count');
  counter.textContent = check.shown ? counterText(check) : '';
  counter.classList.toggle('over', check.over);
  show(counter, check.shown);
  if (!check.over) showComposerError('');

  if (crossed) {
    $('composer-limit-status').textContent = check.over
      ? `Too long to send: ${number.format(check.excess)} characters over the limit of ${number.format(check.max)}.`
      : 'The message fits again.';
  }
}

function counterText({ count, max, over, excess }) {
  const base = `${number.format(count)} / ${number.format(max)}`;
  return over ? `${base} · ${number.format(excess)} too many` : base;
}

/**
 * The line above the box while a reply or an edit is being written ({kind,
 * msg} or null): to whom, or which message, and how to stop.
 */
export function renderComposerMode(mode) {
  const box = $('composer-mode');
  show(box, !!mode);
  $('composer-form').classList.toggle('editing', !!mode && mode.kind === 'edit');
  if (!mode) return;
  box.dataset.kind = mode.kind;
  $('composer-mode-text').textContent = mode.kind === 'edit'
    ? 'Editing your message · Enter saves, Escape cancels'
    : `Replying to ${mode.msg.author}: ${quoteText(replyRef(mode.msg))}`;
}

/** Why the message was not sent (Enter on a message too long); '' hides it. */
export function showComposerError(text) {
  const box = $('composer-error');
  if (text) box.textContent = text;
  show(box, !!text);
}

/** The sentence for a message refused because it is too long. */
export function tooLongText({ excess, max }) {
  return `This message is ${number.format(excess)} characters too long to send (at most ${number.format(max)}). `
    + 'Shorten it or split it in two; the text stays in the box.';
}

/** Under the box while a command is being typed: the commands it may be (stocks.js commandHints). */
export function renderCommandHint(text) {
  const hints = commandHints(text);
  const box = $('composer-commands');
  box.replaceChildren(...hints.flatMap(([form, what], i) => [
    i ? document.createTextNode(' · ') : null,
    el('code', { text: form }),
    document.createTextNode(` ${what}`),
  ].filter(Boolean)));
  show(box, hints.length > 0);
}
