// Message text as the client shows it: links, @mentions and $cashtags found in plain text.
// The text itself is never parsed as HTML; this only splits it into pieces, and
// the renderer builds text nodes and elements from them. Markdown (markdown.js)
// hands its plain-text leaves to tokenize, so a link or a mention means the same
// with or without markdown around it.
//
// Links: only http and https (so never `javascript:`), not glued to a letter or
// digit before them, ending before spaces, quotes, backticks and angle brackets,
// and without trailing punctuation (a sentence's full stop, or the `*`/`_` of
// markdown around the link, is not part of it). Mentions: `@` and a username (a
// letter, then letters, digits or `_`, 3 to 32 long, as sign-up allows), not
// inside a word or an email address. Cashtags: `$` and a symbol (stocks.js
// findCashtags), not inside a word or a link.
//
// Both patterns are single passes with no nested quantifiers: their cost grows
// with the text's length, whatever the text.

import { findCashtags } from './stocks.js';

const LINK = /(?<![A-Za-z0-9])https?:\/\/[^\s<>"'`]+/gi;
const MENTION = /(^|[^A-Za-z0-9_@.])@([A-Za-z][A-Za-z0-9_]{2,31})\b/g;
const TRAILING = '.,;:!?)]}\'"*_~';

/** `raw` without the punctuation a sentence puts after a link (a `)` stays if it closes one). */
export function trimLink(raw) {
  let end = raw.length;
  // Counted once, then kept as characters are dropped: the loop stays linear.
  let open = 0;
  let close = 0;
  for (const c of raw) {
    if (c === '(') open += 1;
    else if (c === ')') close += 1;
  }
  while (end > 0 && TRAILING.includes(raw[end - 1])) {
    const c = raw[end - 1];
    if (c === ')' && open >= close) break;
    if (c === ')') close -= 1;
    end -= 1;
  }
  return raw.slice(0, end);
}

/** A safe absolute http(s) URL for `raw`, or null. */
export function safeUrl(raw) {
  try {
    const url = new URL(raw);
    return url.protocol === 'http:' || url.protocol === 'https:' ? url.href : null;
  } catch {
    return null;
  }
}

/** The http(s) links in `text`: [{start, end, text, href}], in order. */
export function findLinks(text) {
  const found = [];
  for (const m of text.matchAll(LINK)) {
    const raw = trimLink(m[0]);
    const href = safeUrl(raw);
    if (href) found.push({ start: m.index, end: m.index + raw.length, text: raw, href });
  }
  return found;
}

/**
 * Splits `text` into [{kind: 'text'|'link'|'mention'|'cashtag', text, href?,
 * user?, symbol?}], in order. `links: false` finds mentions and cashtags only
 * (text that is already a link's).
 */
export function tokenize(text, { links = true } = {}) {
  const found = links ? findLinks(text).map((l) => ({ ...l, kind: 'link' })) : [];
  for (const m of text.matchAll(MENTION)) {
    const start = m.index + m[1].length;
    const end = start + 1 + m[2].length;
    if (found.some((f) => start < f.end && end > f.start)) continue; // inside a link
    found.push({ start, end, kind: 'mention', text: `@${m[2]}`, user: m[2] });
  }
  for (const c of findCashtags(text)) {
    if (found.some((f) => c.start < f.end && c.end > f.start)) continue; // inside a link
    found.push({ start: c.start, end: c.end, kind: 'cashtag', text: c.text, symbol: c.symbol });
  }
  found.sort((a, b) => a.start - b.start);
  const out = [];
  let at = 0;
  for (const f of found) {
    if (f.start < at) continue;
    if (f.start > at) out.push({ kind: 'text', text: text.slice(at, f.start) });
    const { start, end, ...piece } = f;
    out.push(piece);
    at = end;
  }
  if (at < text.length) out.push({ kind: 'text', text: text.slice(at) });
  return out;
}
