// Markdown inside a block: code spans, links, **bold**, *italic* and _italic_,
// and the mentions, cashtags and bare links of the plain text between them (text.js).
// Two passes: scan finds code spans, links and delimiter runs (in that order of
// precedence); emphasize pairs the delimiters and builds the nodes. The tree's
// shape is described in markdown.js, which is the module to import.
//
// Linear in the text's length: code spans are matched in one pass over the
// backtick runs, every `(` is matched to its `)` in one pass, and each
// delimiter is pushed and popped at most once.

import { findLinks, safeUrl, tokenize, trimLink } from './text.js';

/** Bold and italic inside each other go this deep; further marks are shown as typed. */
export const MAX_EMPHASIS_DEPTH = 6;

const SPACE = /\s/u;
const PUNCT = /[\p{P}\p{S}]/u;

/** The inline nodes of one block's text. */
export function parseInline(src) {
  return emphasize(scan(src), false);
}

const isSpace = (c) => c === undefined || SPACE.test(c); // the text's edges count as space
const isPunct = (c) => c !== undefined && PUNCT.test(c);

/**
 * Code spans by their opening position: a run of n backticks up to the next
 * run of exactly n. Each run's next equal-length run is found in one pass from
 * the right, so unmatched runs cost nothing extra.
 */
function codeSpans(src) {
  const runs = [];
  for (let i = 0; i < src.length;) {
    if (src[i] !== '`') {
      i += 1;
      continue;
    }
    let j = i;
    while (src[j] === '`') j += 1;
    runs.push({ start: i, len: j - i });
    i = j;
  }
  const next = new Array(runs.length).fill(-1);
  const seen = new Map();
  for (let k = runs.length - 1; k >= 0; k -= 1) {
    next[k] = seen.has(runs[k].len) ? seen.get(runs[k].len) : -1;
    seen.set(runs[k].len, k);
  }
  const spans = new Map();
  for (let k = 0; k < runs.length;) {
    const m = next[k];
    if (m < 0) {
      k += 1;
      continue;
    }
    const { start, len } = runs[k];
    spans.set(start, { end: runs[m].start + len, text: codeText(src.slice(start + len, runs[m].start)) });
    k = m + 1;
  }
  return spans;
}

/** `` ` a ` `` shows "a": one space on each side is padding (it lets code start with a backtick). */
function codeText(s) {
  return s.length > 2 && s[0] === ' ' && s[s.length - 1] === ' ' && s.trim() ? s.slice(1, -1) : s;
}

/**
 * Bare links by their position. One that runs into `](` is cut there: it is
 * the text of a [text](target) link, not the whole of it.
 */
function bareLinks(src) {
  const links = new Map();
  for (const link of findLinks(src)) {
    const cut = link.text.indexOf('](');
    const text = cut < 0 ? link.text : trimLink(link.text.slice(0, cut));
    const href = cut < 0 ? link.href : safeUrl(text);
    if (href && text) links.set(link.start, { end: link.start + text.length, text, href });
  }
  return links;
}

/**
 * Where each `(` closes: its matching `)` (parentheses balanced), found for all
 * of them in one pass, and for each position the nearest character a link's
 * target may not hold (space, quote, backtick or angle bracket) at or after it.
 * With both, trying a link at any `]` costs the same, however long the text.
 */
function targetBounds(src) {
  const closeOf = new Map();
  const open = [];
  for (let i = 0; i < src.length; i += 1) {
    if (src[i] === '(') open.push(i);
    else if (src[i] === ')' && open.length) closeOf.set(open.pop(), i);
  }
  const badFrom = new Array(src.length + 1).fill(src.length);
  for (let i = src.length - 1; i >= 0; i -= 1) {
    const c = src[i];
    badFrom[i] = SPACE.test(c) || c === '<' || c === '>' || c === '"' || c === '`' ? i : badFrom[i + 1];
  }
  return { closeOf, badFrom };
}

/**
 * The `(target)` of a link at `at` (the position after `]`), or null. The
 * target must be an absolute http(s) URL with balanced parentheses and no
 * space, quote, backtick or angle bracket: anything else (`javascript:`,
 * `data:`, entities, relative paths) is not a link and stays text.
 */
function linkTarget(src, at, { closeOf, badFrom }) {
  if (src[at] !== '(') return null;
  const close = closeOf.get(at);
  if (close === undefined || badFrom[at + 1] < close) return null;
  const raw = src.slice(at + 1, close);
  const href = /^https?:\/\//i.test(raw) ? safeUrl(raw) : null;
  return href ? { href, end: close + 1 } : null;
}

/**
 * A run of `*` or `_`, and whether it may open or close emphasis (CommonMark's
 * flanking rules: `_` never works inside a word, so snake_case and
 * @user_names stay as typed). Runs longer than three are text.
 */
function delimiter(src, start, end) {
  const ch = src[start];
  const len = end - start;
  const before = src[start - 1];
  const after = src[end];
  const left = !isSpace(after) && (!isPunct(after) || isSpace(before) || isPunct(before));
  const right = !isSpace(before) && (!isPunct(before) || isSpace(after) || isPunct(after));
  let canOpen = left;
  let canClose = right;
  if (ch === '_') {
    canOpen = left && (!right || isPunct(before));
    canClose = right && (!left || isPunct(after));
  }
  if (len > 3) canOpen = canClose = false;
  return { t: 'delim', ch, len, canOpen, canClose };
}

/**
 * A flat list of items: text, code, link (its own items inside) and delimiter
 * runs. Code spans win over everything, then links, then emphasis.
 */
function scan(src) {
  const codes = codeSpans(src);
  const bare = bareLinks(src);
  const bounds = targetBounds(src);
  const items = [];
  const brackets = []; // positions in items of `[` that may still open a link
  let buf = '';
  const flush = () => {
    if (buf) items.push({ t: 'text', s: buf });
    buf = '';
  };
  for (let i = 0; i < src.length;) {
    const c = src[i];
    if (c === '`') {
      const code = codes.get(i);
      let j = i;
      while (src[j] === '`') j += 1;
      if (code) {
        flush();
        items.push({ t: 'code', s: code.text });
        i = code.end;
      } else {
        buf += src.slice(i, j);
        i = j;
      }
      continue;
    }
    const link = bare.get(i);
    if (link) {
      flush();
      items.push({ t: 'link', href: link.href, items: [{ t: 'text', s: link.text }] });
      i = link.end;
      continue;
    }
    if (c === '*' || c === '_') {
      let j = i;
      while (src[j] === c) j += 1;
      flush();
      items.push(delimiter(src, i, j));
      i = j;
      continue;
    }
    if (c === '[') {
      flush();
      brackets.push(items.length);
      items.push({ t: 'text', s: '[' });
      i += 1;
      continue;
    }
    if (c === ']' && brackets.length) {
      const opener = brackets.pop();
      const target = linkTarget(src, i + 1, bounds);
      if (target) {
        flush();
        const inner = items.splice(opener).slice(1).map(unlink);
        items.push({ t: 'link', href: target.href, items: inner });
        brackets.length = 0; // a link holds no link: the `[` before this one are text now
        i = target.end;
        continue;
      }
    }
    buf += c;
    i += 1;
  }
  flush();
  return items;
}

/** A bare link inside a link's text is only text. */
function unlink(item) {
  return item.t === 'link' ? { t: 'text', s: item.items.map((x) => x.s).join('') } : item;
}

/**
 * Pairs delimiter runs and builds the inline nodes. A closer takes the nearest
 * opener of the same mark and length; every opener between the two is text
 * from then on, so pairs nest and never cross. One stack per mark and length,
 * each opener pushed and popped once: linear, however the marks are arranged.
 */
function emphasize(items, inLink) {
  const partner = new Array(items.length).fill(-1);
  const stacks = new Map();
  items.forEach((d, k) => {
    if (d.t !== 'delim') return;
    const key = d.ch + d.len;
    const openers = stacks.get(key);
    if (d.canClose && openers && openers.length) {
      const o = openers.pop();
      partner[o] = k;
      partner[k] = o;
      for (const s of stacks.values()) while (s.length && s[s.length - 1] > o) s.pop();
      return;
    }
    if (d.canOpen) {
      if (!openers) stacks.set(key, [k]);
      else openers.push(k);
    }
  });

  const root = [];
  const open = [root];
  let text = '';
  const flush = () => {
    if (text) open[open.length - 1].push(...leaves(text, inLink));
    text = '';
  };
  items.forEach((it, k) => {
    const out = open[open.length - 1];
    if (it.t === 'text') text += it.s;
    else if (it.t === 'delim') {
      if (partner[k] > k && open.length <= MAX_EMPHASIS_DEPTH) {
        flush();
        const inner = { type: it.len === 1 ? 'em' : 'strong', children: [] };
        if (it.len === 3) {
          const em = { type: 'em', children: [] };
          inner.children.push(em);
          out.push(inner);
          open.push(em.children);
        } else {
          out.push(inner);
          open.push(inner.children);
        }
      } else if (partner[k] > k) {
        partner[partner[k]] = -1; // too deep: both marks stay text
        text += it.ch.repeat(it.len);
      } else if (partner[k] >= 0) {
        flush();
        open.pop();
      } else {
        text += it.ch.repeat(it.len);
      }
    } else {
      flush();
      if (it.t === 'code') out.push({ type: 'code', text: it.s });
      else out.push({ type: 'link', href: it.href, children: emphasize(it.items, true) });
    }
  });
  flush();
  return root;
}

/** Plain text as nodes: mentions, cashtags and links (text.js); inside a link, only text. */
function leaves(text, inLink) {
  if (inLink) return [{ type: 'text', text }];
  return tokenize(text).map((p) => {
    if (p.kind === 'link') return { type: 'link', href: p.href, children: [{ type: 'text', text: p.text }] };
    if (p.kind === 'mention') return { type: 'mention', user: p.user, text: p.text };
    if (p.kind === 'cashtag') return { type: 'cashtag', symbol: p.symbol, text: p.text };
    return { type: 'text', text: p.text };
  });
}
