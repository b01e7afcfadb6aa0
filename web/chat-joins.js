// Which rooms this page's socket is in: the room on screen (or, while a direct
// conversation is, the last room shown), joined with `since` so the replay
// brings what was missed, and every other room left (a type 3 frame), so a
// room's "here" lists exactly the people looking at it. A room left behind
// too far is read afresh on coming back.
//
// Must not decide the rules itself (joins.js) or build frames by hand
// (protocol.js). Posts that wait for their echo before a leave are
// chat-connection.js's.

import { joinFrame, leaveFrame } from './protocol.js';
import { inFlight, resendAfterJoin } from './delivery.js';
import { keptRoom, rejoinPlan, roomsToLeave } from './joins.js';

export class JoinsController {
  /** @param {import('./chat.js').Chat} chat */
  constructor(chat) {
    this.chat = chat;
    /** The room the socket stays in while a direct conversation is on screen (joins.js keptRoom). */
    this.kept = null;
  }

  /**
   * Joins on the current socket, asking for what came after what is held (the
   * newest message, or where the room was left). The presence list that
   * answers the join ends the replay (`ui.replaying`).
   */
  joinRoom(conv) {
    const ui = this.chat.ui(conv);
    ui.joined = true;
    ui.replaying?.resolve();
    let resolve;
    const promise = new Promise((r) => { resolve = r; });
    ui.replaying = { promise, resolve };
    if (!this.chat.socket.send(joinFrame(conv.ref, conv.since))) return;
    conv.markJoined();
    for (const msg of resendAfterJoin(conv)) this.chat.connection.sendPending(conv, msg);
  }

  /**
   * Leaves a room on the socket (a type 3 frame): the user is no longer
   * "here". Its unread count goes on from room activity (type 10); coming
   * back replays what was missed from where it was left.
   */
  leaveRoom(conv) {
    const { chat } = this;
    const ui = chat.ui(conv);
    if (!ui.joined) return;
    this.forgetJoin(conv);
    const entry = chat.model.rooms.find((r) => r.id === conv.ref);
    if (entry) {
      ui.leftAtSeq = entry.last_seq;
      // Never read on the server (no message to mark): what is here now counts as seen.
      if (typeof entry.read_seq !== 'number') conv.seenSeq = entry.last_seq ?? 0;
    }
    chat.socket.send(leaveFrame(conv.ref));
  }

  /** The socket is not (or no longer) in the room: what it held live stops there. */
  forgetJoin(conv) {
    const { chat } = this;
    const ui = chat.ui(conv);
    ui.joined = false;
    conv.markLeft();
    conv.presence = new Set();
    for (const user of [...ui.typing.keys()]) chat.rooms.clearTyping(conv, user);
    ui.replaying?.resolve();
    ui.replaying = null;
  }

  /**
   * Leaves every room the user is no longer looking at (joins.js): called when
   * a conversation opens and when a post on its way is done.
   */
  settleJoins() {
    const { chat } = this;
    if (!chat.started) return;
    this.kept = keptRoom(chat.current, this.kept);
    const rooms = [];
    for (const conv of chat.model.conversations.values()) {
      if (conv.kind !== 'room') continue;
      rooms.push({ conv, joined: !!chat.uis.get(conv)?.joined, inFlight: inFlight(conv).length });
    }
    for (const conv of roomsToLeave(rooms, this.kept)) this.leaveRoom(conv);
  }

  /**
   * A room about to be opened again: the same conversation, replayed from
   * where it was left, or, when too much came meanwhile, a fresh one that
   * reads the latest page (joins.js rejoinPlan).
   */
  comingBack(conv) {
    const { chat } = this;
    const ui = chat.uis.get(conv);
    if (conv.kind !== 'room' || !ui || ui.joined || !conv.loaded || conv.pending.size) return conv;
    const entry = chat.model.rooms.find((r) => r.id === conv.ref);
    if (rejoinPlan(ui.leftAtSeq, entry && entry.last_seq) !== 'reload') return conv;
    chat.forget(conv);
    return chat.roomConv(conv.ref, conv.name);
  }

  /** A join's replay is all here: what was new meanwhile gets its divider. */
  replayed(conv) {
    const { chat } = this;
    const ui = chat.ui(conv);
    ui.replaying?.resolve();
    ui.replaying = null;
    if (!chat.isCurrent(conv) || !ui.unreadRule) return;
    const stick = chat.nearBottom();
    const divider = chat.placeUnreadDivider(conv);
    if (divider && stick) chat.scrollToDivider(divider);
  }
}
