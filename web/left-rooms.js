// The rooms a user left, remembered in this browser so they can be opened
// again: the server's room list leaves them out, and has no list of the rooms
// left. Kept per user in localStorage (newest first, a few dozen), dropped
// when the room comes back to the list (opened again, or joined elsewhere).
//
// Pure bookkeeping: no network, no DOM (chat-room-info.js shows and opens them).

const PREFIX = 'tickertalk.left_rooms.';
/** Rooms remembered at most. */
export const LEFT_KEPT = 30;

function valid(room) {
  return room && Number.isSafeInteger(room.id) && typeof room.name === 'string';
}

export class LeftRooms {
  /** @param {string} username  @param {Storage} [storage] */
  constructor(username, storage = globalThis.localStorage) {
    this.key = PREFIX + String(username).toLowerCase();
    this.storage = storage;
    this.rooms = this.load();
  }

  load() {
    try {
      const list = JSON.parse(this.storage.getItem(this.key) || '[]');
      return Array.isArray(list) ? list.filter(valid) : [];
    } catch {
      return [];
    }
  }

  save() {
    try {
      if (this.rooms.length) this.storage.setItem(this.key, JSON.stringify(this.rooms));
      else this.storage.removeItem(this.key);
    } catch {
      /* storage full or disabled: remembered for this page's life */
    }
  }

  /** A room just left: first in the list, once. */
  add({ id, name }) {
    this.rooms = [{ id, name }, ...this.rooms.filter((r) => r.id !== id)].slice(0, LEFT_KEPT);
    this.save();
  }

  /** A room that is in the user's list again. Returns whether it was remembered. */
  remove(id) {
    const before = this.rooms.length;
    this.rooms = this.rooms.filter((r) => r.id !== id);
    if (this.rooms.length === before) return false;
    this.save();
    return true;
  }

  /** The remembered rooms that the room list (`listed`: the server's) does not hold. */
  notIn(listed) {
    const ids = new Set((listed || []).map((r) => r.id));
    return this.rooms.filter((r) => !ids.has(r.id));
  }
}
