// The rules of getting a message out: when the composer sends (and what its
// other keys do), how long a message may be, when a typing notice is due,
// what a failed post becomes, which posts go out again after a join, and
// whether a fetch may move dm_since (it may only when one socket stayed up
// throughout it).
//
// Must not touch the DOM, the socket or timers: the controllers
// (chat-connection.js, chat-rooms.js) ask these rules and act, so node can
// unit-test them (tests/web/delivery.test.mjs).

/** A message with no echo by then is marked failed, so it never spins forever. */
export const ECHO_TIMEOUT = 15_000;
/** At most one typing notice per room this often. */
export const TYPING_SEND_EVERY = 2000;
/** At most one typing notice to the other person of a direct conversation this often. */
export const DIRECT_TYPING_EVERY = 1000;
/** How long someone's typing notice shows. */
export const TYPING_SHOW_FOR = 3000;
/** How long "stockbot is fetching a quote…" may show before the answer comes. */
export const BOT_TYPING_FOR = 10_000;

/** From this share of the limit on, the composer shows how long the message is. */
export const COUNT_FROM = 0.9;

/** Enter sends; Shift+Enter (or any modifier, or an IME composing) is a new line. */
export function isSendKey(ev) {
  return ev.key === 'Enter' && !ev.shiftKey && !ev.isComposing && !ev.altKey && !ev.ctrlKey && !ev.metaKey;
}

/**
 * The length of what the message box would send, as the server counts it:
 * the text is sent trimmed, and the server counts characters (code points),
 * so an emoji is one, not the two UTF-16 units of `.length`.
 */
export function messageLength(value) {
  let n = 0;
  for (const _codePoint of value.trim()) n += 1; // a string iterates by code point
  return n;
}

/**
 * What the composer shows about the length of `value`: the count against
 * `max` from COUNT_FROM of it on (`shown`), and whether it is too long to send
 * (`over`, by `excess` characters).
 */
export function lengthCheck(value, max) {
  const count = messageLength(value);
  return { count, max, over: count > max, excess: Math.max(0, count - max), shown: count >= Math.ceil(max * COUNT_FROM) };
}

/**
 * What a key pressed in the message box does:
 * 'send' (Enter), 'refuse' (Enter on a message too long: nothing is sent and
 * the text stays), 'cancel' (Escape while replying or editing: back to a new
 * message), 'leave' (Escape otherwise: the focus leaves the box), 'edit-last'
 * (ArrowUp in an empty box: edit the user's last message), or
 * null: the key is the text's.
 * `state`: {over, mode (a reply or edit in progress, or null), empty}.
 */
export function composerKey(ev, { over = false, mode = null, empty = false } = {}) {
  if (isSendKey(ev)) return over ? 'refuse' : 'send';
  if (ev.isComposing) return null;
  if (ev.key === 'Escape') return mode ? 'cancel' : 'leave';
  const plain = !ev.shiftKey && !ev.altKey && !ev.ctrlKey && !ev.metaKey;
  if (ev.key === 'ArrowUp' && plain && empty && !mode) return 'edit-last';
  return null;
}

/**
 * Whether what is in the message box is worth a typing notice now: some text
 * that is not a command, and none sent in the last `every` ms.
 */
export function typingDue(value, now, lastSent, every = TYPING_SEND_EVERY) {
  if (!value.trim() || value.trimStart().startsWith('/')) return false;
  return now - lastSent >= every;
}

/**
 * What a post that did not get through becomes.
 * `dropped`: for want of a connection. Still in the outbox (`waiting`), it is
 * 'queued': it goes out by itself when a connection opens (the server may have
 * it already; it stores it once).
 * `unanswered`: sent, but the server never answered: it may or may not have
 * stored it. 'failed' (with Retry) and kept in the outbox, so the next
 * connection (or a reload) sends it again; so is a dropped one no longer
 * waiting.
 * Otherwise the server refused it (an error frame naming it): 'refused', on
 * screen with Retry, and out of the outbox.
 * @returns {'queued'|'failed'|'refused'}
 */
export function failureOutcome({ dropped = false, unanswered = false, waiting = false } = {}) {
  if (dropped && waiting) return 'queued';
  return dropped || unanswered ? 'failed' : 'refused';
}

/** A conversation's posts on their way on the current socket. */
export function inFlight(conv) {
  return [...conv.pending.values()].filter((msg) => msg.state === 'pending');
}

/**
 * Posts to send again right after (re)joining a room. One still on its way
 * may already be stored with an id up to the join's `since`: history fetched
 * meanwhile shows it (without its client_id), and the server skips its echo
 * to this socket, taking it for replayed. Posting it again is safe and brings
 * the stored copy back to this socket alone, with its client_id, so its bubble
 * and outbox entry can go. Commands are not stored, and their acceptance is
 * never skipped: they are not sent again.
 */
export function resendAfterJoin(conv) {
  // A post on its way over HTTP (to a room the socket was not in) is answered over HTTP.
  return inFlight(conv).filter((msg) => !msg.command && !msg.overHttp);
}

/**
 * Counts the socket's opens and drops, so that a fetch can tell whether one
 * connection stayed up throughout it. A thread's page fetched that way proves
 * the socket delivered every direct message meanwhile, so it may move
 * dm_since; a page fetched while the socket was down proves nothing about the
 * other threads' messages missed meanwhile.
 */
export class FetchMarks {
  constructor() {
    this.epoch = 0;
  }

  /** A socket opened or dropped. */
  changed() {
    this.epoch += 1;
  }

  /** The start of a fetch: the current connection when the socket is up, else null. */
  mark(isOpen) {
    return isOpen ? this.epoch : null;
  }

  /** At the end of a fetch: whether the connection of `mark` is still the one, and up. */
  holds(mark, isOpen) {
    return mark !== null && mark === this.epoch && isOpen;
  }
}
