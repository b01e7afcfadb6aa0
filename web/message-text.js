// A message's text on the page: the markdown token tree (markdown.js) as DOM
// nodes. Every node is made with createElement or createTextNode and every
// piece of the user's text set as textContent (util.el), never innerHTML, so
// the strict CSP and the textContent-only rule hold for markdown too.
//
// Links are checked again here, not trusted from the tree: only an absolute
// http or https URL becomes an href, opened in a new tab without access to this
// page, without the referrer, and without vouching for it to search engines.

import { sameUser } from './model.js';
import { safeUrl } from './text.js';
import { el } from './util.js';

export const LINK_REL = 'noopener noreferrer nofollow';

/**
 * The block nodes of a message's tree; `me` decides which mentions are
 * highlighted; `onCashtag(text)` is called when a cashtag is chosen (without
 * it, cashtags are plain text).
 */
export function renderMessageText(tree, me, { onCashtag = null } = {}) {
  const ctx = { me, onCashtag };
  return tree.children.map((b) => block(b, ctx));
}

function block(node, ctx) {
  if (node.type === 'code_block') {
    return el('pre', { className: 'md-pre', testid: 'md-code-block' }, [el('code', { text: node.text })]);
  }
  if (node.type === 'quote') {
    return el('blockquote', { className: 'md-quote', testid: 'md-quote' }, node.children.map((b) => block(b, ctx)));
  }
  return el('p', { className: 'md-p' }, inlines(node.children, ctx));
}

function inlines(nodes, ctx) {
  return nodes.map((n) => inline(n, ctx));
}

function inline(node, ctx) {
  switch (node.type) {
    case 'code':
      return el('code', { className: 'md-code', testid: 'md-code', text: node.text });
    case 'strong':
      return el('strong', {}, inlines(node.children, ctx));
    case 'em':
      return el('em', {}, inlines(node.children, ctx));
    case 'link': {
      const href = safeUrl(node.href);
      if (!href) return el('span', {}, inlines(node.children, ctx));
      const children = inlines(node.children, ctx);
      // Where a [text](target) link goes, on hover: its words may say otherwise.
      const shown = children.map((c) => c.textContent).join('');
      return el('a', {
        testid: 'message-link',
        attrs: { href, target: '_blank', rel: LINK_REL, title: safeUrl(shown) === href ? null : href },
      }, children);
    }
    case 'mention': {
      const mine = sameUser(node.user, ctx.me);
      return el('span', { className: `mention${mine ? ' mention-me' : ''}`, testid: 'mention', text: node.text });
    }
    case 'cashtag':
      return cashtag(node, ctx.onCashtag);
    default:
      return document.createTextNode(node.text);
  }
}

function cashtag(node, onCashtag) {
  if (!onCashtag) return el('span', { className: 'cashtag-text', text: node.text });
  const b = el('button', {
    className: 'cashtag',
    testid: 'cashtag',
    text: node.text,
    dataset: { symbol: node.symbol },
    attrs: { type: 'button', title: `Search ${node.text}: recent discussion and past quotes` },
  });
  b.addEventListener('click', () => onCashtag(node.text));
  return b;
}
