// Unit tests for a message's text as DOM (web/message-text.js), against a fake
// document that refuses innerHTML: which elements and attributes markdown may
// make, whatever the message holds.
// Run: node --test tests/web/ (see model.test.mjs for why web/ has a package.json).

import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';

import { elements, installFakeDocument } from './fake-dom.mjs';
import { parseMarkdown } from '../../web/markdown.js';

let renderMessageText;
let LINK_REL;

before(async () => {
  installFakeDocument();
  ({ renderMessageText, LINK_REL } = await import('../../web/message-text.js'));
});

const render = (text, me = 'alice') => renderMessageText(parseMarkdown(text), me);
const TAGS = new Set(['P', 'PRE', 'CODE', 'BLOCKQUOTE', 'STRONG', 'EM', 'A', 'SPAN']);
const ATTRIBUTES = new Set(['href', 'target', 'rel', 'title']);

const HOSTILE = [
  '<script>alert(1)</script>',
  '<img src=x onerror="alert(1)">',
  '**<img src=x onerror=alert(1)>**',
  '[<b>x</b>](javascript:alert(1))',
  '[x](JaVaScRiPt:alert(1)) [y](&#106;avascript:alert(1)) [z]( javascript:alert(1))',
  '[x](https://ok.example/"onclick="alert(1))',
  '[x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)',
  '`<script>` ```\n<iframe src=javascript:alert(1)>\n```',
  '> <svg onload=alert(1)>\n> [q](vbscript:msgbox)',
  'https://ok.example/<script>alert(1)</script>',
  '&lt;script&gt; &#60;img&#62;',
];

describe('message text as DOM', () => {
  it('makes only text and a few plain elements, with no attribute but a link\'s', () => {
    for (const text of HOSTILE) {
      for (const e of elements(render(text))) {
        assert.ok(TAGS.has(e.tagName), `${e.tagName} from ${text}`);
        for (const name of e.attributes.keys()) assert.ok(ATTRIBUTES.has(name), `${name} on ${e.tagName} from ${text}`);
        if (e.tagName === 'A') {
          assert.match(e.getAttribute('href'), /^https?:\/\/[^/]/, text);
          assert.equal(e.getAttribute('rel'), LINK_REL);
          assert.equal(e.getAttribute('target'), '_blank');
        }
      }
    }
  });

  it('shows HTML and entities as typed', () => {
    for (const text of ['<script>alert(1)</script>', '&lt;b&gt; &amp;amp; &#106;', '<img src=x onerror="alert(1)">']) {
      const [p] = render(text);
      assert.equal(p.tagName, 'P');
      assert.equal(p.textContent, text);
      assert.equal(p.children.length, 0, 'one text node, no element');
    }
  });

  it('builds the marks as elements', () => {
    const [p] = render('**b** _i_ `c` [d](https://d.example/x) @alice @bob');
    assert.deepEqual(p.children.map((e) => e.tagName), ['STRONG', 'EM', 'CODE', 'A', 'SPAN', 'SPAN']);
    const [, , , a, mine, theirs] = p.children;
    assert.equal(a.getAttribute('href'), 'https://d.example/x');
    assert.equal(a.getAttribute('rel'), 'noopener noreferrer nofollow');
    assert.equal(a.getAttribute('title'), 'https://d.example/x', 'where a worded link goes');
    assert.equal(mine.className, 'mention mention-me');
    assert.equal(theirs.className, 'mention');
    const [quote, pre] = render('> quoted\n```\n**code**\n```');
    assert.equal(quote.tagName, 'BLOCKQUOTE');
    assert.equal(pre.tagName, 'PRE');
    assert.equal(pre.textContent, '**code**');
  });

  it('gives a bare link no title: its words are its address', () => {
    const [p] = render('see https://example.com/x?y=1.');
    const [a] = p.children;
    assert.equal(a.getAttribute('href'), 'https://example.com/x?y=1');
    assert.equal(a.getAttribute('title'), null);
  });

  it('makes text, not a link, of a tree whose href is not http(s)', () => {
    const tree = { type: 'root', children: [{ type: 'paragraph', children: [{ type: 'link', href: 'javascript:alert(1)', children: [{ type: 'text', text: 'x' }] }] }] };
    const [p] = renderMessageText(tree, 'alice');
    assert.deepEqual([...elements(p)].map((e) => e.tagName), ['P', 'SPAN']);
  });
});
