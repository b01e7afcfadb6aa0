// Stocks around the messages: the ticker strip of the room on screen (its
// watched symbols and price alerts, read when the room opens and replaced by
// every type 15 frame), cancelling an alert from it (`/unalert=ID`, sent as if
// typed), a cashtag chosen in a message (its recent discussion and past quotes,
// in the sidebar's search) and a bot's "Did you mean …?" (the command in the
// message box).
//
// Must not compute figures (stocks.js) or draw (ticker-view.js,
// quote-card-view.js, search-view.js); the search itself is chat-search.js's
// and sending chat-composer.js's.

import { sameUser } from './model.js';
import { renderTicker } from './ticker-view.js';
import { readWatchlist, unalertCommand, watchlistPath } from './stocks.js';

/** How long an alert's ✕ waits for the frame that takes the alert off before it works again. */
const CANCEL_WAIT = 10_000;

export class StocksController {
  /** @param {import('./chat.js').Chat} chat */
  constructor(chat) {
    this.chat = chat;
    /** Room id -> its watchlist {symbols, alerts}, as last heard. */
    this.states = new Map();
    /** Room id -> how many frames came for it: an answer asked for before the last frame is older than it. */
    this.frames = new Map();
    /** Ids of alerts whose `/unalert` is on its way. */
    this.cancelling = new Set();
    /** Rooms whose watchlist is being read: one request at a time each. */
    this.loading = new Set();
  }

  /** A session ends (or starts): nothing of the last one's rooms stays. */
  reset() {
    this.states.clear();
    this.frames.clear();
    this.cancelling.clear();
    this.loading.clear();
    renderTicker(null);
  }

  /** A conversation is on screen: its strip as known now, then as the server has it. */
  onOpen(conv) {
    this.render();
    if (conv && conv.kind === 'room') this.load(conv.ref);
  }

  /** The room's socket is back (a join answered): frames may have been missed meanwhile. */
  onJoined(conv) {
    if (conv && conv.kind === 'room' && this.chat.isCurrent(conv)) this.load(conv.ref);
  }

  /** Reads a room's watchlist (GET /v1/chat/rooms/:id/watchlist); quietly nothing when it cannot. */
  async load(roomId) {
    const { chat } = this;
    const { model } = chat;
    if (this.loading.has(roomId)) return;
    this.loading.add(roomId);
    const framesBefore = this.frames.get(roomId) || 0;
    let data;
    try {
      data = await chat.session.request('GET', watchlistPath(roomId));
    } catch {
      // A server without watchlists, a room gone, the network: the strip stays as it was.
      return;
    } finally {
      if (chat.model === model) this.loading.delete(roomId);
    }
    if (chat.model !== model || (this.frames.get(roomId) || 0) !== framesBefore) return;
    this.set(roomId, readWatchlist(data));
  }

  /** Frame 15: the room's whole watchlist now; it replaces what was shown. */
  onWatchlist(frame) {
    if (!Number.isSafeInteger(frame.chatroomId)) return;
    this.frames.set(frame.chatroomId, (this.frames.get(frame.chatroomId) || 0) + 1);
    this.set(frame.chatroomId, readWatchlist(frame));
  }

  set(roomId, state) {
    this.states.set(roomId, state);
    const ids = new Set(state.alerts.map((a) => a.id));
    for (const id of this.cancelling) if (!ids.has(id)) this.cancelling.delete(id);
    const conv = this.chat.current;
    if (conv && conv.kind === 'room' && conv.ref === roomId) this.render();
  }

  /** The strip of the conversation on screen (hidden for a direct conversation). */
  render() {
    const { chat } = this;
    const conv = chat.current;
    const state = chat.started && conv && conv.kind === 'room' ? this.states.get(conv.ref) || null : null;
    const kept = renderTicker(state, {
      canCancel: (alert) => sameUser(alert.set_by, chat.me) || sameUser(chat.messages.creatorOf(conv), chat.me),
      cancelling: (alert) => this.cancelling.has(alert.id),
      onCancel: (alert) => this.cancel(conv, alert),
    });
    // The ✕ that had the focus went with its alert: the message box takes it.
    if (!kept) chat.compose.focusComposer();
  }

  /** An alert's ✕: `/unalert=ID` through the usual way of a post; the next frame takes it off. */
  cancel(conv, alert) {
    if (!conv || !this.chat.isCurrent(conv) || this.cancelling.has(alert.id)) return;
    this.cancelling.add(alert.id);
    this.chat.compose.sendCommand(conv, unalertCommand(alert.id));
    // Refused (not the user's to cancel) or lost: the ✕ works again after a while.
    setTimeout(() => {
      if (this.cancelling.delete(alert.id)) this.render();
    }, CANCEL_WAIT);
  }

  /** A cashtag chosen in a message: that symbol's recent discussion and past quotes. */
  openCashtag(text) {
    this.chat.search.runCashtag(text);
  }

  /** A bot's "Did you mean AAPL.US?": the command in the message box, to send or change. */
  suggest(command) {
    this.chat.compose.fill(command);
  }
}
