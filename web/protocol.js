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
});

/** The server's limit on message text, in characters. */
export const MAX_MESSAGE = 2000;

/** Post to a room or a direct thread; the echo carries `clientId` back. */
export function postFrame(kind, ref, text, clientId) {
  return kind === 'room'
    ? { type: FRAME.MESSAGE, chatroomId: ref, chatmessage: text, client_id: clientId }
    : { type: FRAME.DIRECT, recipient: ref, message: text, client_id: clientId };
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

/**
 * A room message, bot message or direct message (socket frame or history
 * item: they share a shape) as the model's message.
 */
export function parseMessage(frame) {
  const id = typeof frame.id === 'number' ? frame.id : null;
  if (frame.type === FRAME.DIRECT || frame.author !== undefined) {
    return {
      id,
      author: frame.author,
      text: frame.message ?? '',
      created_at: frame.created_at,
      bot: false,
      client_id: frame.client_id,
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
    // quote service wrote them).
    ...(typeof frame.asked_by === 'string' ? { asked_by: frame.asked_by } : {}),
    ...(typeof frame.command === 'string' ? { command: frame.command } : {}),
    ...(frame.quote && typeof frame.quote === 'object' ? { quote: frame.quote } : {}),
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
