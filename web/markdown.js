// Message markdown: the few marks people type in chat, read into a small token
// tree without the DOM. message-text.js builds elements from the tree with
// createElement and textContent only; nothing here produces HTML, so no message
// can become markup, and marks that do not pair up stay as typed.
//
// What is read: **bold**, *italic* and _italic_, `inline code`, ``` fenced code
// blocks ```, > quoted lines, [text](https://…) links and bare http(s) URLs,
// @mentions and $cashtags (text.js). Inside code nothing is read. A link's
// target must be an absolute http or https URL; anything else stays text.
//
// The cost stays linear in the text's length, whatever it holds: no regular
// expression with nested or overlapping quantifiers, every delimiter pushed and
// popped at most once, parentheses matched in one pass, and nesting capped, so
// 4,000 `*` cost about what 4,000 letters do (markdown-inline.js).
//
// The tree:
//   {type: 'root', children: blocks}
//   blocks:  paragraph {children: inlines} · code_block {text} · quote {children: blocks}
//   inlines: text {text} · code {text} · strong {children} · em {children}
//            · link {href, children} · mention {user, text} · cashtag {symbol, text}

import { parseInline } from './markdown-inline.js';

/** Quotes inside quotes go this deep; further `>` are shown as typed. */
export const MAX_QUOTE_DEPTH = 3;

const FENCE_OPEN = /^ {0,3}(`{3,})[^`]*$/;
const FENCE_CLOSE = /^ {0,3}(`{3,})[ \t]*$/;
const QUOTE = /^ {0,3}>/;
const QUOTE_MARK = /^ {0,3}> ?/;

/** The token tree of a message's text. */
export function parseMarkdown(text) {
  const lines = String(text ?? '').replace(/\r\n?/g, '\n').split('\n');
  return { type: 'root', children: parseBlocks(lines, 0) };
}

// ---------------------------------------------------------------------------
// Blocks: fenced code, quotes, and paragraphs of everything else
// ---------------------------------------------------------------------------

function parseBlocks(lines, depth) {
  const blocks = [];
  let para = [];
  const flush = () => {
    const p = paragraph(para);
    if (p) blocks.push(p);
    para = [];
  };
  for (let i = 0; i < lines.length;) {
    const fence = FENCE_OPEN.exec(lines[i]);
    if (fence) {
      flush();
      const body = [];
      i += 1;
      // An unclosed fence runs to the end of the text (or of its quote).
      while (i < lines.length && !closesFence(lines[i], fence[1].length)) body.push(lines[i++]);
      if (i < lines.length) i += 1;
      blocks.push({ type: 'code_block', text: body.join('\n') });
    } else if (depth < MAX_QUOTE_DEPTH && QUOTE.test(lines[i])) {
      flush();
      const inner = [];
      // No lazy continuation: in chat, the line after a quote is the reply to it.
      while (i < lines.length && QUOTE.test(lines[i])) inner.push(lines[i++].replace(QUOTE_MARK, ''));
      blocks.push({ type: 'quote', children: parseBlocks(inner, depth + 1) });
    } else {
      para.push(lines[i++]);
    }
  }
  flush();
  return blocks;
}

function closesFence(line, openLength) {
  const m = FENCE_CLOSE.exec(line);
  return !!m && m[1].length >= openLength;
}

/**
 * The lines between blocks as one paragraph, newlines and blank lines inside
 * kept (the view shows them as typed); blank lines at its edges are the gap
 * to a neighbouring block, which the layout draws.
 */
function paragraph(lines) {
  let a = 0;
  let b = lines.length;
  while (a < b && !lines[a].trim()) a += 1;
  while (b > a && !lines[b - 1].trim()) b -= 1;
  if (a === b) return null;
  return { type: 'paragraph', children: parseInline(lines.slice(a, b).join('\n')) };
}

// ---------------------------------------------------------------------------
// Reading the tree
// ---------------------------------------------------------------------------

function walk(node, visit) {
  if (visit(node) === false) return;
  for (const child of node.children || []) walk(child, visit);
}

/** Whether the message (its text or its tree) mentions `me`, in any case; never in code. */
export function mentionsUser(textOrTree, me) {
  if (!me) return false;
  const tree = typeof textOrTree === 'string' ? parseMarkdown(textOrTree) : textOrTree;
  const who = String(me).toLowerCase();
  let found = false;
  walk(tree, (n) => {
    if (n.type === 'mention' && n.user.toLowerCase() === who) found = true;
    return !found;
  });
  return found;
}

/** The words of a message without its marks, one line per block: for previews and notifications. */
export function plainText(textOrTree) {
  const tree = typeof textOrTree === 'string' ? parseMarkdown(textOrTree) : textOrTree;
  const inline = (nodes) => nodes.map((n) => (n.children ? inline(n.children) : n.text)).join('');
  const block = (b) => {
    if (b.type === 'code_block') return b.text;
    if (b.type === 'quote') return b.children.map(block).join('\n');
    return inline(b.children);
  };
  return tree.children.map(block).join('\n');
}
