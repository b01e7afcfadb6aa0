// What reaches the signed-in user personally: which messages mention them
// (the sidebar's Mentions list), which ones are worth a browser notification,
// and the words of both and of the "Notify me" button.
//
// Must not touch the DOM, storage or the Notification API: the account
// controller (chat-account.js) asks these rules and does the rest, so node can
// unit-test them (tests/web/notices.test.mjs).

import { mentionsUser, plainText } from './markdown.js';

/** localStorage key: '1' when the user turned notifications on in this browser. */
export const NOTIFY_KEY = 'tickertalk.notify';
/** Mentions kept in the sidebar list, newest first. */
export const MENTIONS_KEPT = 20;

/** Someone's room message that names the user (the bot's never count). */
export function isMention(conv, msg, me) {
  return !msg.bot && conv.kind === 'room' && mentionsUser(msg.text, me);
}

/**
 * The Mentions list with `entry` ({conv, msg}) first, once (the same message,
 * or one with the same id: the server's list and a live copy), and at most
 * MENTIONS_KEPT long.
 */
export function addMention(mentions, entry) {
  const same = (m) => m.msg === entry.msg
    || (entry.msg.id != null && m.msg.id === entry.msg.id && m.conv.key === entry.conv.key);
  return [entry, ...(mentions || []).filter((m) => !same(m))].slice(0, MENTIONS_KEPT);
}

/** A mention, or a direct message from a person: worth a notification while the tab is hidden. */
export function wantsNotification(conv, msg, mention) {
  return mention || (conv.kind === 'dm' && !msg.bot);
}

/** The browser notification for a message: its title and options. */
export function notificationFor(conv, msg) {
  const title = conv.kind === 'dm' ? `${msg.author} (direct message)` : `${msg.author} in #${conv.name}`;
  return { title, options: { body: plainText(msg.text).slice(0, 140), tag: conv.key } };
}

/** A Mentions list entry's two lines. */
export function mentionLines(conv, msg) {
  return { name: `${msg.author} in #${conv.name}`, preview: plainText(msg.text).slice(0, 80) };
}

/** The "Notify me" button, off or on. */
export function notifyToggleLabel(on) {
  return {
    pressed: on ? 'true' : 'false',
    text: on ? 'Notifications on' : 'Notify me',
    title: 'Browser notifications for mentions and direct messages while this tab is hidden',
  };
}
