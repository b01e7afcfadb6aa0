// Message text as the client shows it: links and @mentions found in plain text.
// The text itself is never parsed as HTML; this only splits it into pieces, and
// the renderer builds text nodes and elements from them.
//
// Links: only http and https (so never `javascript:`), ending before spaces,
// quotes and angle brackets, and without trailing punctuation (a sentence's
// full stop is not part of its link). Mentions: `@` and a username (a letter,
// then letters, digits or `_`, 3 to 32 long, as sign-up allows), not inside a
// word or an email address.

const LINK = /\bhttps?:\/\/[^\s<>"'`]+/gi;
const MENTION = /(^|[^A-Za-z0-9_@.])@([A-Za-z][A-Za-z0-9_]{2,31})\b/g;
const TRAILING = '.,;:!?)]}\'"';

/** `raw` without the punctuation a sentence puts after a link (a `)` stays if it closes one). */
function trimLink(raw) {
  let end = raw.length;
  const count = (s, c) => s.split(c).length - 1;
  while (end > 0 && TRAILING.includes(raw[end - 1])) {
    const head = raw.slice(0, end);
    if (raw[end - 1] === ')' && count(head, '(') >= count(head, ')')) break;
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

/** Splits `text` into [{kind: 'text'|'link'|'mention', text, href?, user?}], in order. */
export function tokenize(text) {
  const found = [];
  for (const m of text.matchAll(LINK)) {
    const raw = trimLink(m[0]);
    const href = safeUrl(raw);
    if (href) found.push({ start: m.index, end: m.index + raw.length, kind: 'link', text: raw, href });
  }
  for (const m of text.matchAll(MENTION)) {
    const start = m.index + m[1].length;
    const end = start + 1 + m[2].length;
    if (found.some((f) => start < f.end && end > f.start)) continue; // inside a link
    found.push({ start, end, kind: 'mention', text: `@${m[2]}`, user: m[2] });
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

/** Whether `text` mentions `me` (any case). */
export function mentionsUser(text, me) {
  if (!me) return false;
  const who = String(me).toLowerCase();
  return tokenize(text).some((p) => p.kind === 'mention' && p.user.toLowerCase() === who);
}
