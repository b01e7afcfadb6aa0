// Unit tests for message markdown (web/markdown.js, web/markdown-inline.js):
// what it reads, what it leaves as typed, hostile input, and its cost.
// Run: node --test tests/web/ (see model.test.mjs for why web/ has a package.json).

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';

import { MAX_QUOTE_DEPTH, mentionsUser, parseMarkdown, plainText } from '../../web/markdown.js';
import { MAX_EMPHASIS_DEPTH } from '../../web/markdown-inline.js';

/** The inline nodes of a one-paragraph message. */
function inline(text) {
  const { children } = parseMarkdown(text);
  assert.equal(children.length, 1, `one block for ${JSON.stringify(text)}`);
  assert.equal(children[0].type, 'paragraph');
  return children[0].children;
}

/** A compact picture of a tree: `**x**` → 'strong(x)', links as 'link<href>(text)'. */
function sketch(nodes) {
  return nodes.map((n) => {
    if (n.type === 'text') return n.text;
    if (n.type === 'code') return `code(${n.text})`;
    if (n.type === 'mention') return `@(${n.user})`;
    if (n.type === 'link') return `link<${n.href}>(${sketch(n.children)})`;
    if (n.type === 'code_block') return `pre(${n.text})`;
    return `${n.type}(${sketch(n.children)})`;
  }).join('');
}

const blocks = (text) => sketch(parseMarkdown(text).children);

/** Every node of a tree, depth first. */
function* nodes(tree) {
  yield tree;
  for (const c of tree.children || []) yield* nodes(c);
}

describe('markdown: what it reads', () => {
  it('bold, italic with * and _, inline code', () => {
    assert.equal(sketch(inline('**bold** *it* _it_ `code`')), 'strong(bold) em(it) em(it) code(code)');
    assert.equal(sketch(inline('***both***')), 'strong(em(both))');
    assert.equal(sketch(inline('**bold *and it* bold**')), 'strong(bold em(and it) bold)');
    assert.equal(sketch(inline('a*b*c')), 'aem(b)c', '* works inside a word');
  });

  it('fenced code blocks, whatever they hold, and the text around them', () => {
    assert.equal(blocks('before\n```js\nlet a = **b**;\n> not a quote\n```\nafter'),
      'paragraph(before)pre(let a = **b**;\n> not a quote)paragraph(after)');
    assert.equal(blocks('```\nnever closed\n**x**'), 'pre(never closed\n**x**)');
    assert.equal(blocks('````\n```\n````'), 'pre(```)', 'a shorter fence does not close a longer one');
  });

  it('quoted lines, one quote per run; the next line is the reply', () => {
    assert.equal(blocks('> one\n>two\n> **three**\nreply'), 'quote(paragraph(one\ntwo\nstrong(three)))paragraph(reply)');
    assert.equal(blocks('> a\n> > b'), 'quote(paragraph(a)quote(paragraph(b)))');
    assert.equal(blocks('5 > 3'), 'paragraph(5 > 3)', 'only at the start of a line');
  });

  it('links: [text](http…) and bare http(s) URLs, without the sentence\'s punctuation', () => {
    assert.equal(sketch(inline('[the docs](https://example.com/a_(b)) and https://x.org/_next/a_b.')),
      'link<https://example.com/a_(b)>(the docs) and link<https://x.org/_next/a_b>(https://x.org/_next/a_b).');
    assert.equal(sketch(inline('[**bold** `code`](https://a.org)')), 'link<https://a.org/>(strong(bold) code(code))');
    assert.equal(sketch(inline('[see https://a.org](https://b.org)')), 'link<https://b.org/>(see https://a.org)',
      'no link inside a link');
    assert.equal(sketch(inline('**https://x.org** _https://y.org_')),
      'strong(link<https://x.org/>(https://x.org)) em(link<https://y.org/>(https://y.org))');
  });

  it('mentions, also inside marks, never inside code or a link', () => {
    assert.equal(sketch(inline('hi @alice_b and **@bob**')), 'hi @(alice_b) and strong(@(bob))');
    assert.equal(mentionsUser('`@alice` and ```@alice```', 'alice'), false);
    assert.equal(mentionsUser('```\n@alice\n```', 'alice'), false);
    assert.equal(mentionsUser('see https://x.org/@alice', 'alice'), false);
    assert.equal(mentionsUser('> @ALICE said', 'alice'), true);
    assert.equal(mentionsUser('hi @alicex', 'alice'), false);
    assert.equal(mentionsUser('mail alice@example.com', 'alice'), false);
  });

  it('plain text for previews: the words without the marks', () => {
    assert.equal(plainText('**urgent**: _see_ [this](https://a.org)\n> quoted\n```\ncode\n```'), 'urgent: see this\nquoted\ncode');
    assert.equal(plainText('2 * 3 * 4'), '2 * 3 * 4');
  });
});

describe('markdown: what it leaves as typed', () => {
  it('marks that do not pair up, or cannot open or close where they are', () => {
    for (const text of ['**a*', '*a**', '**', '* not a list', '2 * 3 * 4', 'a ** b', 'file__init__name', 'snake_case_name',
      '@user_name_', '`unclosed', '[text]', '[text](', '](x)', '****four****']) {
      assert.equal(plainText(text), text, text);
    }
  });

  it('crossing marks: the first to close wins, the other stays as typed', () => {
    assert.equal(sketch(inline('*a _b* c_')), 'em(a _b) c_');
    assert.equal(sketch(inline('**a `b** c`')), '**a code(b** c)', 'code first');
    assert.equal(sketch(inline('[a *b](https://x.org) c*')), 'link<https://x.org/>(a *b) c*');
  });

  it('nothing inside code is read', () => {
    assert.equal(sketch(inline('`**b** [l](https://x.org) <i> &amp; @bob`')), 'code(**b** [l](https://x.org) <i> &amp; @bob)');
    assert.equal(sketch(inline('`` a ` b ``')), 'code(a ` b)');
  });

  it('HTML and its entities are text, shown as typed', () => {
    for (const text of ['<script>alert(1)</script>', '<img src=x onerror="alert(1)">', '&lt;b&gt; &amp; &#106; &quot;',
      '<a href="javascript:alert(1)">x</a>', '<!-- x -->', '<svg onload=alert(1)>']) {
      assert.deepEqual(inline(text), [{ type: 'text', text }], text);
    }
  });

  it('caps quote and emphasis nesting', () => {
    const deep = '>'.repeat(10);
    let depth = 0;
    for (const n of nodes(parseMarkdown(`${deep} x`))) if (n.type === 'quote') depth += 1;
    assert.equal(depth, MAX_QUOTE_DEPTH);
    assert.match(plainText(`${deep} x`), /^>+ x$/, 'the rest of the marks are shown');
    // Each mark opens before a word and closes after one, so every pair sits inside the one before.
    const nested = `${'*a _a '.repeat(20)}x${' a_ a*'.repeat(20)}`;
    const depthOf = (n) => (n.children || []).reduce((d, c) => Math.max(d, depthOf(c)), 0)
      + (n.type === 'em' || n.type === 'strong' ? 1 : 0);
    assert.equal(depthOf(parseMarkdown(nested)), MAX_EMPHASIS_DEPTH);
    assert.equal(plainText(nested).length, nested.length - 2 * MAX_EMPHASIS_DEPTH, 'the deeper marks are shown');
  });
});

describe('markdown: hostile links', () => {
  const targets = [
    'javascript:alert(1)', 'JaVaScRiPt:alert(1)', 'javascript&#58;alert(1)', '&#106;avascript:alert(1)',
    '&#x6A;avascript:alert(1)', ' javascript:alert(1)', 'java\tscript:alert(1)', 'java\nscript:alert(1)',
    '\u0001javascript:alert(1)', 'data:text/html,<script>alert(1)</script>', 'vbscript:msgbox(1)',
    '//evil.example/x', '/relative', '?q', '#frag', 'https:evil.example', 'http:/evil.example', 'file:///etc/passwd',
    'https://ok.example/"onmouseover="alert(1)', 'https://ok.example/<script>', 'ftp://x.example',
  ];

  it('never makes a link of anything but an absolute http(s) URL', () => {
    for (const target of targets) {
      const tree = parseMarkdown(`[click](${target})`);
      for (const n of nodes(tree)) {
        if (n.type === 'link') assert.match(n.href, /^https?:\/\/[^/]/, `${JSON.stringify(target)} gave ${n.href}`);
      }
    }
  });

  it('keeps the text of a refused link, as typed', () => {
    assert.equal(plainText('[click](javascript:alert(1))'), '[click](javascript:alert(1))');
    assert.equal(plainText('[click](JaVaScRiPt:alert(1))'), '[click](JaVaScRiPt:alert(1))');
  });

  it('a link\'s href is the URL parser\'s, never the raw text', () => {
    const [link] = inline('[x](HTTPS://Example.COM/a%20b)');
    assert.equal(link.href, 'https://example.com/a%20b');
  });
});

describe('markdown: random input', () => {
  // A small alphabet full of marks, so that most strings are unbalanced somewhere.
  const ALPHABET = ['*', '*', '_', '_', '`', '[', ']', '(', ')', '>', ' ', '\n', 'a', 'b', '@', 'x', '<', '&', '.'];
  function randomText(seed, length) {
    let s = seed;
    let out = '';
    for (let i = 0; i < length; i += 1) {
      s = (s * 1103515245 + 12345) % 2147483648;
      out += ALPHABET[s % ALPHABET.length];
    }
    return out;
  }
  const letters = (t) => t.replace(/[*_`[\]()>\s]/g, '');

  it('loses no letter of the text, only marks, and makes no link without an http(s) target', () => {
    for (let seed = 1; seed <= 400; seed += 1) {
      const text = randomText(seed, 1 + (seed % 80));
      const tree = parseMarkdown(text);
      // A fence's info string is not shown; with no fence line, every letter is.
      if (!/^ {0,3}```/m.test(text)) assert.equal(letters(plainText(tree)), letters(text), JSON.stringify(text));
      for (const n of nodes(tree)) {
        assert.ok(['root', 'paragraph', 'code_block', 'quote', 'text', 'code', 'strong', 'em', 'link', 'mention'].includes(n.type));
        assert.notEqual(n.type, 'link', JSON.stringify(text));
      }
    }
  });
});

describe('markdown: cost', () => {
  // Catastrophic backtracking takes seconds to hours on these; a linear parser a few milliseconds.
  const hostile = {
    stars: '*'.repeat(4000),
    underscores: '_'.repeat(4000),
    'star-letter': '*a'.repeat(2000),
    'underscore-word': '_a '.repeat(1333),
    alternating: '*_'.repeat(2000),
    backticks: '` ``'.repeat(1000),
    brackets: '[a]('.repeat(1000),
    'open-brackets': '[[[[]'.repeat(800),
    parens: '('.repeat(4000),
    links: '[](https://a.org'.repeat(250),
    urls: 'https://a.org/'.repeat(286),
    quotes: '>'.repeat(4000),
    fences: '```\n'.repeat(1000),
    mentions: '@'.repeat(4000),
    entities: '&#106;'.repeat(666),
  };

  for (const [name, text] of Object.entries(hostile)) {
    it(`reads 4,000 characters of ${name} at once`, () => {
      const start = performance.now();
      parseMarkdown(text);
      const ms = performance.now() - start;
      assert.ok(ms < 250, `${name}: ${ms.toFixed(1)} ms`);
    });
  }

  it('grows linearly: four times the text, not sixteen times the time', () => {
    const time = (text) => {
      parseMarkdown(text);
      const start = performance.now();
      for (let i = 0; i < 5; i += 1) parseMarkdown(text);
      return (performance.now() - start) / 5;
    };
    for (const unit of ['*a', '*_', '[a](']) {
      const small = time(unit.repeat(1000));
      const large = time(unit.repeat(4000));
      assert.ok(large < small * 10 + 5, `${unit}: ${small.toFixed(2)} ms → ${large.toFixed(2)} ms`);
    }
  });
});
