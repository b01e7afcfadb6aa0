// One room beyond its messages: its topic and name (set by its creator, live
// for everyone through type 14 frames), its members and who of them is
// online, leaving it, and the rooms the user left (remembered in this browser,
// each a button that opens and so rejoins it).
//
// Must not decide which rooms the socket is in (joins.js, chat-joins.js) or
// build requests by hand: paths are chat-api.js's, the panel's DOM
// room-info-view.js's.

import { sameUser } from './model.js';
import { renderHeader, toast } from './render.js';
import {
  renderLeftRooms, renderMembers, renderMembersError, renderRoomAbout, showRoomEditError, showRoomEditForm,
} from './room-info-view.js';
import { LeftRooms } from './left-rooms.js';
import { leavePath, membersPath, roomPath } from './chat-api.js';
import { defaultRoom } from './navigation.js';
import { $, describeFieldError, withBusy } from './util.js';

export class RoomInfoController {
  /** @param {import('./chat.js').Chat} chat */
  constructor(chat) {
    this.chat = chat;
    /** The members of the room on screen, as the server last listed them: [{username, online}]. */
    this.members = [];
    /** The rooms the user left (left-rooms.js); the signed-in user's. */
    this.left = null;
    this.bind();
  }

  /** A session starts: its user's rooms left. */
  start(username) {
    this.left = new LeftRooms(username);
    this.members = [];
  }

  // -------------------------------------------------------------------------
  // The room on screen
  // -------------------------------------------------------------------------

  /** A conversation opened: a room's panel (who made it, its members); nothing for a direct one. */
  onOpen(conv) {
    const { chat } = this;
    showRoomEditForm(null);
    this.members = [];
    renderMembersError('');
    if (conv.kind !== 'room') return;
    if (this.left && this.left.remove(conv.ref)) this.renderLeft();
    const entry = chat.rooms.entryOf(conv);
    renderRoomAbout(entry, chat.me);
    this.renderMembers(conv);
    this.loadMembers(conv);
    // Announced by a type 9 frame, which does not say who made it: ask once.
    if (!entry || entry.created_by === undefined) this.refreshRoom(conv.ref);
  }

  async loadMembers(conv) {
    const { chat } = this;
    let members;
    try {
      members = await chat.session.request('GET', membersPath(conv.ref));
    } catch (err) {
      if (chat.isCurrent(conv)) renderMembersError(`Could not list the members: ${err.friendly || err.message}`);
      return;
    }
    if (!chat.isCurrent(conv) || !Array.isArray(members)) return;
    this.members = members.filter((m) => m && typeof m.username === 'string');
    this.renderMembers(conv);
  }

  /** Online: in the room now. Live from presence while the socket is in it, else as the server listed. */
  renderMembers(conv) {
    const { chat } = this;
    const joined = !!chat.uis.get(conv)?.joined;
    const here = [...conv.presence];
    const online = (name) => (joined
      ? here.some((u) => sameUser(u, name))
      : this.members.some((m) => sameUser(m.username, name) && m.online === true));
    renderMembers(this.members, { me: chat.me, online });
  }

  /** Someone came or went: their online mark follows; a newcomer is a member from now on. */
  onPresence(conv) {
    for (const name of conv.presence) {
      if (!this.members.some((m) => sameUser(m.username, name))) this.members.push({ username: name, online: true });
    }
    this.renderMembers(conv);
  }

  /** The room as the server has it now (who made it, its topic), into the list's entry. */
  async refreshRoom(id) {
    const { chat } = this;
    try {
      const room = await chat.session.request('GET', roomPath(id));
      if (chat.started) this.applyRoom(room);
    } catch {
      /* the panel stays as it is */
    }
  }

  /** A room renamed or given a topic, by anyone on any instance (type 14). */
  onRoomUpdated(frame) {
    if (frame.room && typeof frame.room.id === 'number') this.applyRoom(frame.room);
  }

  /** A room's name and topic (from a type 14 frame, a GET or a PATCH) wherever they show. */
  applyRoom(room) {
    const { chat } = this;
    if (!room || typeof room.id !== 'number' || typeof room.name !== 'string') return;
    chat.model.updateRoom(room);
    const conv = chat.model.find('room', room.id);
    if (conv) conv.name = room.name;
    chat.rooms.renderRooms();
    if (conv && chat.isCurrent(conv)) {
      const entry = chat.rooms.entryOf(conv);
      renderHeader(conv, entry);
      renderRoomAbout(entry, chat.me);
      chat.composer.placeholder = `Message #${conv.name}`;
    }
  }

  // -------------------------------------------------------------------------
  // Leaving, and the rooms left
  // -------------------------------------------------------------------------

  /** Leave the room on screen: out of the list and its counts, remembered under "Rooms you left". */
  async leave() {
    const { chat } = this;
    const conv = chat.current;
    if (!conv || conv.kind !== 'room') return;
    try {
      await chat.session.request('DELETE', leavePath(conv.ref));
    } catch (err) {
      toast(`Could not leave the room: ${err.friendly || err.message}`);
      return;
    }
    if (!chat.started) return;
    this.left.add({ id: conv.ref, name: conv.name });
    chat.model.removeRoom(conv.ref);
    chat.joins.leaveRoom(conv);
    this.renderLeft();
    toast(`You left #${conv.name}. It is under "Rooms you left" if you want it back.`, { code: 'left', kind: 'info' });
    const next = defaultRoom(chat.model.rooms);
    if (next) chat.openConversation(chat.roomConv(next.id, next.name));
    else {
      chat.model.active = null;
      chat.renderEmpty();
      chat.rooms.renderRooms();
    }
  }

  /** The room list was read again: rooms back in it are no longer "left". */
  onRoomsLoaded(rooms) {
    if (!this.left) return;
    for (const r of rooms) this.left.remove(r.id);
    this.renderLeft();
  }

  renderLeft() {
    const { chat } = this;
    if (!chat.started || !this.left) return;
    renderLeftRooms(this.left.notIn(chat.model.rooms), (room) => chat.opener.openRoomById(room.id));
  }

  // -------------------------------------------------------------------------
  // The creator's form: name and topic
  // -------------------------------------------------------------------------

  async submitEdit(form) {
    const { chat } = this;
    const conv = chat.current;
    const entry = conv && chat.rooms.entryOf(conv);
    if (!entry) return;
    const name = $('room-edit-name').value.trim();
    const topic = $('room-edit-topic').value.trim();
    const body = {};
    if (name !== entry.name) body.name = name;
    if (topic !== (entry.topic || '')) body.topic = topic;
    if (!Object.keys(body).length) {
      showRoomEditForm(null);
      return;
    }
    if (!name) {
      showRoomEditError('Enter a room name.');
      return;
    }
    await withBusy(form, async () => {
      try {
        const room = await chat.session.request('PATCH', roomPath(conv.ref), body);
        if (!chat.started) return;
        this.applyRoom(room);
        showRoomEditForm(null);
        $('room-edit').focus();
      } catch (err) {
        showRoomEditError(roomEditProblem(err, name));
      }
    });
  }

  bind() {
    $('room-leave').addEventListener('click', () => this.leave());
    $('room-edit').addEventListener('click', () => {
      const conv = this.chat.current;
      const open = $('room-edit').getAttribute('aria-expanded') === 'true';
      showRoomEditForm(open || !conv ? null : this.chat.rooms.entryOf(conv));
    });
    $('room-edit-cancel').addEventListener('click', () => {
      showRoomEditForm(null);
      $('room-edit').focus();
    });
    $('room-edit-form').addEventListener('submit', (ev) => {
      ev.preventDefault();
      this.submitEdit(ev.currentTarget);
    });
  }
}

/** Why a rename or a topic was refused, in words for the form. */
export function roomEditProblem(err, name) {
  if (err.status === 409) return `A room called "${name}" already exists.`;
  if (err.status === 403) return 'Only the room\'s creator can change its name and topic.';
  if (err.status === 422) {
    const [field, why] = Object.entries(err.errors || {})[0] || [];
    return field ? describeFieldError(field === 'topic' ? 'topic' : 'name', `${field}: ${why}`) : err.friendly;
  }
  return err.friendly || 'Could not save the room.';
}
