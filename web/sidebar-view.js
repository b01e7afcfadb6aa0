// The sidebar's lists and totals: rooms and direct conversations with their
// unread counts (and, for rooms, a badge of its own when unread messages name
// the user), the Direct tab's total, the menu button's dot, the window title
// and who is signed in.
//
// Turns what it is given into DOM; the counts come from the model through
// the controller's hooks (chat.js listHooks), user actions go back through
// `onOpen`. User text reaches the page only through textContent (util.el).

import { plainText } from './markdown.js';
import { $, el, show, formatShortDate, avatar } from './util.js';


/**
 * A room that has unread messages naming the user gets a badge of its own,
 * besides the count: "@", in another colour, and in words for a screen reader.
 */
function mentionBadge(mentions) {
  return el('span', { className: 'badge badge-mention', testid: 'room-mention', dataset: { count: mentions } }, [
    el('span', { text: '@', attrs: { 'aria-hidden': 'true' } }),
    el('span', { className: 'sr-only', text: mentions === 1 ? '1 unread mention of you' : `${mentions} unread mentions of you` }),
  ]);
}

/** `isActive(key)`, `unreadOf(key)`, `mentionsOf(key)` and `onOpen(room)` come from the controller. */
export function renderRoomList(rooms, { isActive, unreadOf, mentionsOf, onOpen }) {
  const items = rooms.map((room) => {
    const key = `room:${room.id}`;
    const active = isActive(key);
    const unread = unreadOf(key);
    const mentions = unread ? mentionsOf(key) : 0;
    const btn = el('button', {
      className: `conv-item${active ? ' active' : ''}${unread ? ' has-unread' : ''}${mentions ? ' has-mention' : ''}`,
      testid: 'room-item',
      attrs: { type: 'button', 'aria-current': active ? 'page' : null },
      dataset: { roomId: room.id, roomName: room.name },
    }, [
      el('span', { className: 'conv-hash', text: '#', attrs: { 'aria-hidden': 'true' } }),
      el('span', { className: 'conv-name', text: room.name }),
      mentions ? mentionBadge(mentions) : null,
      unread ? el('span', { className: 'badge', testid: 'room-unread', text: unread > 99 ? '99+' : unread, attrs: { 'aria-label': `${unread} unread` } }) : null,
    ]);
    btn.addEventListener('click', () => onOpen(room));
    return el('li', {}, [btn]);
  });
  $('room-list').replaceChildren(...items);
  show($('room-list-empty'), rooms.length === 0);
}

export function renderDmList(entries, { isActive, unreadOf, onOpen }) {
  const items = entries.map((entry) => {
    const key = `dm:${String(entry.username).toLowerCase()}`;
    const active = isActive(key);
    const unread = unreadOf(key);
    const btn = el('button', {
      className: `conv-item dm-item${active ? ' active' : ''}${unread ? ' has-unread' : ''}`,
      testid: 'dm-item',
      attrs: { type: 'button', 'aria-current': active ? 'page' : null, title: entry.online ? `${entry.username} is online` : null },
      dataset: { username: entry.username, online: entry.online ? 'true' : 'false' },
    }, [
      el('span', { className: 'presence-avatar' }, [
        avatar(entry.username, 'avatar-small'),
        entry.online ? el('span', { className: 'online-dot', testid: 'dm-online', attrs: { 'aria-hidden': 'true' } }) : null,
      ]),
      entry.online ? el('span', { className: 'sr-only', text: 'online, ' }) : null,
      el('span', { className: 'dm-text' }, [
        el('span', { className: 'dm-top' }, [
          el('span', { className: 'conv-name', text: entry.username }),
          entry.created_at ? el('span', { className: 'dm-date', text: formatShortDate(entry.created_at) }) : null,
        ]),
        el('span', { className: 'dm-preview', text: plainText(entry.latest_message || '') || 'No messages yet' }),
      ]),
      unread ? el('span', { className: 'badge', testid: 'dm-unread', text: unread, attrs: { 'aria-label': `${unread} unread` } }) : null,
    ]);
    btn.addEventListener('click', () => onOpen(entry));
    return el('li', {}, [btn]);
  });
  $('dm-list').replaceChildren(...items);
  show($('dm-list-empty'), items.length === 0);
}

export function renderDmListError(text) {
  const p = $('dm-list-error');
  if (text) p.textContent = text;
  show(p, !!text);
}

/** The Direct tab's badge, the menu button's dot and the window title. */
export function renderUnreadTotals({ rooms, dms }) {
  const badge = $('dm-unread-total');
  badge.textContent = dms > 99 ? '99+' : String(dms);
  show(badge, dms > 0);
  show($('nav-unread-dot'), rooms + dms > 0);
  document.title = rooms + dms > 0 ? `(${rooms + dms}) tickertalk` : 'tickertalk';
}

export function renderCurrentUser(username) {
  $('current-user').textContent = username;
  const meAv = $('me-avatar');
  const av = avatar(username);
  meAv.className = av.className;
  meAv.textContent = av.textContent;
}
