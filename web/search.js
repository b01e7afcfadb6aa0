// Message search (`GET /v1/search`): the request's path, reading its answer,
// where each result was written (a room or a direct conversation), its
// highlighted pieces, and the words for a refusal. The Mentions list is a
// search too: `@me`, newest first; so are a symbol's past quotes (the bot's
// answers that name it, newest first) shown with a cashtag's discussion.
//
// Must not touch the DOM or hold a session: the search controller
// (chat-search.js) asks and draws (search-view.js), so node can unit-test all
// of it (tests/web/search.test.mjs). The pieces the server marks as matches
// are plain text: the view puts them in <mark> with textContent.

import { plainText } from './markdown.js';
import { BOT_NAME, sameUser } from './model.js';

export const SEARCH_PATH = '/v1/search';
/** Results per page. */
export const SEARCH_LIMIT = 20;
/** The server's limit on a query, in characters. */
export const QUERY_MAX = 200;

/** A page of results: `before` is the previous page's `next`. */
export function searchPath(q, { before = null, order = null, limit = SEARCH_LIMIT, roomId = null } = {}) {
  const query = new URLSearchParams({ q: q.trim(), limit: String(limit) });
  if (order) query.set('order', order);
  if (roomId != null) query.set('room_id', String(roomId));
  if (before) query.set('before', before);
  return `${SEARCH_PATH}?${query}`;
}

/** The newest messages that mention `me`: the Mentions list, kept by the server. */
export function mentionsPath(me, limit) {
  return searchPath(`@${me}`, { order: 'newest', limit });
}

function validResult(r) {
  return r && Number.isSafeInteger(r.id) && typeof r.chatmessage === 'string'
    && (Number.isSafeInteger(r.chatroomId) || typeof r.thread === 'string');
}

/** An answer as {results, next}; anything malformed in it is left out. */
export function readSearchPage(page) {
  const results = page && Array.isArray(page.results) ? page.results.filter(validResult) : [];
  const next = page && typeof page.next === 'string' && page.next ? page.next : null;
  return { results, next };
}

/** Where a result was written: {kind: 'room', id} or {kind: 'dm', name}. */
export function resultTarget(result) {
  return Number.isSafeInteger(result.chatroomId)
    ? { kind: 'room', id: result.chatroomId }
    : { kind: 'dm', name: result.thread };
}

/** Where a result was written, in words: "#General", or "DM with bob". */
export function resultPlace(result, rooms) {
  const target = resultTarget(result);
  if (target.kind === 'dm') return `DM with ${target.name}`;
  const room = (rooms || []).find((r) => r.id === target.id);
  return `#${room ? room.name : `room ${target.id}`}`;
}

/**
 * A result's text as runs {text, match}: the server's highlight pieces (the
 * text around the matches), neighbours of the same kind joined; the start of
 * the message's plain text when there are none.
 */
export function highlightRuns(result) {
  const runs = [];
  for (const p of Array.isArray(result.highlight) ? result.highlight : []) {
    if (!p || typeof p.text !== 'string' || !p.text) continue;
    const match = p.match === true;
    const last = runs[runs.length - 1];
    if (last && last.match === match) last.text += p.text;
    else runs.push({ text: p.text, match });
  }
  if (runs.length) return runs;
  return [{ text: [...plainText(result.chatmessage)].slice(0, 200).join(''), match: false }];
}

/** How many past quotes a cashtag shows, and how many results are read to find them. */
export const PAST_QUOTES = 5;
export const PAST_QUOTES_READ = 50;

/**
 * The search for a symbol's past quotes (`AAPL.US`: the bot's answers say it,
 * "AAPL.US quote is $93.42 per share"), newest first.
 */
export function pastQuotesPath(symbol) {
  return searchPath(symbol, { order: 'newest', limit: PAST_QUOTES_READ });
}

/**
 * Of a page of results, the bot's answers that quote `symbol`: at most
 * PAST_QUOTES, newest first. A quote names the symbol first and a price
 * ("AAPL.US quote is $93.42 per share", "Alert: AAPL.US is $101.50, ..."); an
 * answer without one ("not available", "Did you mean AAPL.US?") is no quote.
 */
export function pastQuotes(results, symbol) {
  const want = String(symbol || '').toUpperCase();
  if (!want) return [];
  const quotes = (text) => {
    const t = text.toUpperCase().replace(/^ALERT: /, '');
    // The whole symbol: AAPL.US is not named by "AAPL.USD".
    return t.startsWith(want) && !/[A-Z0-9]/.test(t[want.length] || ' ') && /\$\d/.test(t);
  };
  return results.filter((r) => sameUser(r.chatuser, BOT_NAME) && quotes(r.chatmessage)).slice(0, PAST_QUOTES);
}

/** A result as the model's message, for the Mentions list. */
export function resultMessage(result) {
  return {
    id: result.id,
    author: result.chatuser,
    text: result.chatmessage,
    created_at: result.created_at,
    bot: false,
    ...(result.edited_at ? { edited_at: result.edited_at } : {}),
  };
}

/** Seconds until a `Retry-After` (a number of seconds, or an HTTP date), at least 1; null if unreadable. */
export function retryAfterSeconds(value, now = Date.now()) {
  if (value == null || value === '') return null;
  const n = Number(value);
  if (Number.isFinite(n)) return Math.max(1, Math.ceil(n));
  const at = Date.parse(String(value));
  return Number.isNaN(at) ? null : Math.max(1, Math.ceil((at - now) / 1000));
}

/** Why a search found nothing to show, in words (an ApiError). */
export function searchProblem(err, now = Date.now()) {
  if (err && err.status === 429) {
    const secs = retryAfterSeconds(err.retryAfter, now);
    const wait = secs == null ? 'in a few seconds' : `in ${secs} second${secs === 1 ? '' : 's'}`;
    return `You have searched a lot in a short time. Please try again ${wait}.`;
  }
  if (err && err.status === 422) {
    const why = err.errors && (err.errors.q || err.errors.before);
    return why ? `This search cannot be run: ${why}.` : 'This search cannot be run.';
  }
  return (err && err.friendly) || 'The search failed. Try again.';
}

/** Whether what is typed is worth a search: something, and not longer than the server takes. */
export function queryProblem(q) {
  const text = q.trim();
  if (!text) return 'Type something to search for.';
  if ([...text].length > QUERY_MAX) return `A search is at most ${QUERY_MAX} characters.`;
  return '';
}
