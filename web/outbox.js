// Messages typed and not yet acknowledged by the server, kept per user in
// localStorage so that a reload, a closed tab or a lost connection does not
// lose them. The chat sends them again, in order, whenever a socket opens:
// the server stores a message once per author and client_id, so a resend of
// something it already has only brings back the stored copy.
//
// An entry leaves the outbox only when the server has answered for it: its
// stored copy came back (the echo, or history, with its client_id), or the
// server refused it (an error frame naming its client_id; it then stays on
// screen as failed, with Retry), or the user dismissed it. Anything else
// (no socket, no reply, a page that has not yet shown it) leaves it here.
//
// Pure bookkeeping: no network, no DOM (chat-connection.js decides when to send).

const PREFIX = 'tickertalk.outbox.';

function valid(item) {
  return item && (item.kind === 'room' || item.kind === 'dm')
    && (typeof item.ref === 'number' || typeof item.ref === 'string')
    && typeof item.client_id === 'string' && typeof item.text === 'string';
}

export class Outbox {
  /** @param {string} username  @param {Storage} [storage] */
  constructor(username, storage = globalThis.localStorage) {
    this.key = PREFIX + String(username).toLowerCase();
    this.storage = storage;
    this.items = this.load();
    /**
     * False until the page has shown every waiting message again
     * (chat-connection.js does once the room list has loaded). A socket may
     * open before that: a flush then must wait, for there is nothing on the
     * page yet to match the entries with, and an entry with no match is never
     * a reason to drop it.
     */
    this.ready = false;
  }

  /** The waiting messages are on the page: from now on a flush may send them. */
  markReady() {
    this.ready = true;
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
      if (this.items.length) this.storage.setItem(this.key, JSON.stringify(this.items));
      else this.storage.removeItem(this.key);
    } catch {
      /* storage full or disabled: the messages are still kept for this page's life */
    }
  }

  /** Keeps a message until `remove`; the order of adding is the order of sending. */
  add({ kind, ref, client_id: clientId, text, reply_to: replyTo }) {
    if (this.has(clientId)) return;
    const item = { kind, ref, client_id: clientId, text };
    if (replyTo && Number.isSafeInteger(replyTo.id)) item.reply_to = replyTo; // a reply stays one after a reload
    this.items.push(item);
    this.save();
  }

  has(clientId) {
    return this.items.some((i) => i.client_id === clientId);
  }

  /** Stored or refused by the server, or dismissed by the user: no longer sent. */
  remove(clientId) {
    const before = this.items.length;
    this.items = this.items.filter((i) => i.client_id !== clientId);
    if (this.items.length !== before) this.save();
  }

  all() {
    return [...this.items];
  }

  clear() {
    this.items = [];
    this.save();
  }
}
