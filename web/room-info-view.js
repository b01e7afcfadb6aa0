// The room panel beside the messages, besides who is here (render.js): who
// made the room, its members with who of them is online, Leave, and for its
// creator the form that renames it and sets its topic. Also the sidebar's
// "Rooms you left" list.
//
// Turns what it is given into DOM; actions go back through the handlers the
// controller (chat-room-info.js) binds. User text only through textContent.

import { sameUser } from './model.js';
import { $, el, show, avatar } from './util.js';

/** Who made the room, and which controls the user gets (`entry`: the room list's). */
export function renderRoomAbout(entry, me) {
  const creator = entry && entry.created_by;
  $('room-creator').textContent = creator
    ? `Created by ${sameUser(creator, me) ? 'you' : creator}`
    : 'One of the rooms every server starts with';
  show($('room-edit'), !!creator && sameUser(creator, me));
}

/**
 * Everyone who joined the room, online ones first and marked (a dot, and the
 * word for a screen reader). `online(name)`: whether they are in the room now.
 */
export function renderMembers(members, { me, online }) {
  const list = (members || []).map((m) => ({ name: m.username, on: online(m.username) }));
  list.sort((a, b) => (a.on === b.on ? a.name.localeCompare(b.name, undefined, { sensitivity: 'base' }) : a.on ? -1 : 1));
  $('member-list').replaceChildren(...list.map(({ name, on }) => el('li', {
    className: `presence-user member${on ? ' online' : ''}`,
    testid: 'member',
    dataset: { username: name, online: on ? 'true' : 'false' },
  }, [
    el('span', { className: 'presence-avatar' }, [
      avatar(name, 'avatar-small'),
      on ? el('span', { className: 'online-dot', attrs: { 'aria-hidden': 'true' } }) : null,
    ]),
    el('span', { className: 'presence-name', text: name }),
    sameUser(name, me) ? el('span', { className: 'muted small', text: '(you)' }) : null,
    el('span', { className: on ? 'member-state small' : 'member-state muted small', testid: 'member-state', text: on ? 'online' : 'away' }),
  ])));
  $('member-count').textContent = String(list.length);
  show($('member-empty'), list.length === 0);
}

/** The members could not be read: say so in the list's place. */
export function renderMembersError(text) {
  const p = $('member-error');
  p.textContent = text || '';
  show(p, !!text);
}

/** The creator's form, filled with the room as it is (or hidden). */
export function showRoomEditForm(entry) {
  const form = $('room-edit-form');
  show(form, !!entry);
  show($('room-edit-error'), false);
  $('room-edit').setAttribute('aria-expanded', entry ? 'true' : 'false');
  if (!entry) return;
  $('room-edit-name').value = entry.name || '';
  $('room-edit-topic').value = entry.topic || '';
  $('room-edit-name').focus();
}

export function showRoomEditError(text) {
  const p = $('room-edit-error');
  p.textContent = text;
  show(p, !!text);
}

/** The sidebar's rooms the user left, each a button that opens (and so rejoins) it. */
export function renderLeftRooms(rooms, onOpen) {
  show($('left-rooms'), rooms.length > 0);
  $('left-room-list').replaceChildren(...rooms.map((room) => {
    const b = el('button', {
      className: 'conv-item left-room',
      testid: 'left-room',
      dataset: { roomId: room.id, roomName: room.name },
      attrs: { type: 'button', title: `Open #${room.name} again` },
    }, [
      el('span', { className: 'conv-hash', text: '#', attrs: { 'aria-hidden': 'true' } }),
      el('span', { className: 'conv-name', text: room.name }),
      el('span', { className: 'left-room-action small', text: 'Rejoin' }),
    ]);
    b.addEventListener('click', () => onOpen(room));
    return el('li', {}, [b]);
  }));
}
