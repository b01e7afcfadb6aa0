// The WebSocket frames of the contract (CONTRACT.md, docs/api.md): building
// the client's frames and reading the server's into the model's message shape.
//
// Owns the wire format only. Must not touch the DOM or hold a socket or any
// state: socket.js moves the bytes, the chat controllers (chat-*.js) decide
// what to do with them.

import { BOT_NAME, sameUser } from './model.js';

export const FRAME = Object.freeze({
  MESSAGE: 1, // room message (both ways)
  JOIN: 2,
  LEAVE: 3,
  DIRECT: 4, // direct message (both ways)
  TYPING: 5,
  ERROR: 6,
  PRESENCE: 7,
  COMMAND_ACCEPTED: 8, // a `/command` was taken; the bot's answer follows as a room message
  ROOM_CREATED: 9, // a room was created somewhere: {room: {id, name, created_at}}
  ROOM_ACTIVITY: 10, // rooms with new messages: {rooms: [{id, last_seq}]}, at most once a second
  READ_MARKER: 11, // a read marker of ours moved: {chatroomId, read_seq, ...} or {username, ...}
  MESSAGE_CHANGED: 12, // a room message as it is now, edited, deleted or reacted to (`change`)
  DIRECT_CHANGED: 13, // the same for a direct message
  ROOM_UPDATED: 14, // a room renamed or given a topic: {room: {id, name, created_at, topic}}
  WATCHLIST: 15, // a room's watched symbols and alerts, the whole state: {chatroomId, symbols, alerts}
});

/** The server's limit on message text, in characters. */
export const MAX_MESSAGE = 2000;

/** Post to a room or a direct thread; the echo carries `clientId` back. `replyTo`: a room message's id. */
export function postFrame(kind, ref, text, clientId, replyTo = null) {
  if (kind !== 'room') return { type: FRAME.DIRECT, recipient: ref, message: text, client_id: clientId };
  const frame = { type: FRAME.MESSAGE, chatroomId: ref, chatmessage: text, client_id: clientId };
  if (replyTo != null) frame.reply_to = replyTo;
  return frame;
}

/** The same post over HTTP (`POST /v1/chat/rooms/:id/messages`), for a room the socket is not in. */
export function postBody(text, clientId, replyTo = null) {
  return replyTo != null ? { chatmessage: text, client_id: clientId, reply_to: replyTo } : { chatmessage: text, client_id: clientId };
}

/** `since`: the highest id we hold, so the server replays exactly what we missed. */
export function joinFrame(roomId, since) {
  return { type: FRAME.JOIN, chatroomId: roomId, since };
}

/**
 * The socket URL's query besides the token. `dm_since`: the highest direct
 * message id held, so the server first replays every direct message stored
 * after it (type 4 frames, read like live ones). Omitted when none is known.
 */
export function socketParams(dmSince) {
  return Number.isSafeInteger(dmSince) && dmSince >= 0 ? { dm_since: String(dmSince) } : {};
}

export function typingFrame(roomId) {
  return { type: FRAME.TYPING, chatroomId: roomId };
}

/** Typing to someone in a direct conversation: they see "… is typing". */
export function directTypingFrame(username) {
  return { type: FRAME.TYPING, recipient: username };
}

export function leaveFrame(roomId) {
  return { type: FRAME.LEAVE, chatroomId: roomId };
}

/** What every stored message may carry besides its text: edits, a tombstone, a reply, reactions. */
function changeable(frame) {
  const out = {};
  if (typeof frame.edited_at === 'string') out.edited_at = frame.edited_at;
  if (frame.deleted === true) out.deleted = true;
  const r = frame.reply_to;
  if (r && typeof r === 'object' && Number.isSafeInteger(r.id)) {
    out.reply_to = { id: r.id, chatuser: String(r.chatuser ?? ''), snippet: String(r.snippet ?? ''), deleted: r.deleted === true };
  }
  if (Array.isArray(frame.reactions)) {
    out.reactions = frame.reactions
      .filter((x) => x && typeof x.emoji === 'string' && Number.isSafeInteger(x.count))
      .map((x) => (typeof x.me === 'boolean' ? { emoji: x.emoji, count: x.count, me: x.me } : { emoji: x.emoji, count: x.count }));
  }
  // A change frame (type 12 or 13) says what changed; a reaction, whose it was.
  if (typeof frame.change === 'string') out.change = frame.change;
  const x = frame.reaction;
  if (x && typeof x === 'object' && typeof x.emoji === 'string' && typeof x.chatuser === 'string') {
    out.reaction = { emoji: x.emoji, chatuser: x.chatuser, on: x.on === true };
  }
  return out;
}

/**
 * A room message, bot message or direct message (socket frame or history
 * item: they share a shape) as the model's message.
 */
export function parseMessage(frame) {
  const id = typeof frame.id === 'number' ? frame.id : null;
  if (frame.type === FRAME.DIRECT || frame.type === FRAME.DIRECT_CHANGED || frame.author !== undefined) {
    return {
      id,
      author: frame.author,
      text: frame.message ?? '',
      created_at: frame.created_at,
      bot: false,
      client_id: frame.client_id,
      ...changeable(frame),
    };
  }
  return {
    id,
    author: frame.chatuser,
    text: frame.chatmessage ?? '',
    created_at: frame.created_at,
    // Older servers marked bot replies only by the author's name and no id.
    bot: frame.bot === true || (frame.id == null && sameUser(frame.chatuser, BOT_NAME)),
    client_id: frame.client_id,
    // A stored stock answer: who asked what, and the quote's fields (strings, as the
    // quote service wrote them); how it went (`quote`, `no_data`, `alert`, ...), a
    // symbol it suggests instead, and a fired alert's condition.
    ...(typeof frame.asked_by === 'string' ? { asked_by: frame.asked_by } : {}),
    ...(typeof frame.command === 'string' ? { command: frame.command } : {}),
    ...(frame.quote && typeof frame.quote === 'object' ? { quote: frame.quote } : {}),
    ...(typeof frame.outcome === 'string' ? { outcome: frame.outcome } : {}),
    ...(typeof frame.suggestion === 'string' && frame.suggestion ? { suggestion: frame.suggestion } : {}),
    ...(frame.alert && typeof frame.alert === 'object' ? { alert: frame.alert } : {}),
    ...changeable(frame),
  };
}

/**
 * The numbers a quote card shows, or null when the quote is not usable
 * (a field missing or not a number): the card is then left out, the sentence stays.
 */
export function quoteFigures(quote) {
  if (!quote) return null;
  const num = (v) => (typeof v === 'string' && v.trim() !== '' ? Number(v) : NaN);
  const [open, high, low, close] = [quote.open, quote.high, quote.low, quote.close].map(num);
  if (![open, high, low, close].every(Number.isFinite) || high < low) return null;
  const change = close - open;
  const pct = open !== 0 ? (change / open) * 100 : 0;
  // Where the close sits in the day's range, 0..1 (the middle for a flat day).
  const position = high > low ? Math.min(1, Math.max(0, (close - low) / (high - low))) : 0.5;
  return { symbol: quote.symbol, close: quote.close, open, high, low, change, pct, position, date: quote.date, time: quote.time };
}

/** A history response (a JSON array, or anything else when the server misbehaves). */
export function parseHistory(list) {
  return Array.isArray(list) ? list.map(parseMessage) : [];
}

/** The other side of a direct message, whichever of the two sent it. */
export function directPeer(frame, me) {
  return sameUser(frame.author, me) ? frame.recipient : frame.author;
}

const ERROR_TEXT = {
  rate_limited: 'You are sending messages too fast. Wait a moment and try again.',
  message_too_long: `Message is too long (at most ${MAX_MESSAGE} characters).`,
  empty_message: 'Message is empty.',
  unknown_room: 'That room does not exist.',
  unknown_user: 'There is no user with that name.',
  not_found: 'The message you replied to is not in this room any more.',
  unavailable: 'The server cannot store messages right now. Try again shortly.',
  invalid_frame: 'The server could not read that message.',
  unknown_type: 'The server did not understand that request.',
};

// Shorter wording for the failed bubble itself.
const REASON_TEXT = {
  rate_limited: 'too many messages, wait a moment',
  message_too_long: `longer than ${MAX_MESSAGE} characters`,
  empty_message: 'the message is empty',
  unknown_room: 'the room does not exist',
  unknown_user: 'no such user',
  not_found: 'the message it replies to is gone',
  unavailable: 'the server could not store it',
};

/** A sentence for an error frame's `error` object. */
export function errorText(err) {
  if (!err || typeof err !== 'object') return 'Something went wrong.';
  return ERROR_TEXT[err.code] || err.message || 'Something went wrong.';
}

/** Why a message failed, short enough for its bubble. */
export function failureReason(err) {
  return REASON_TEXT[err && err.code] || errorText(err);
}
