// Links and mentions in message text.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';

import { findLinks, tokenize, safeUrl } from '../../web/text.js';

describe('message text', () => {
  it('finds http(s) links without the sentence\'s punctuation', () => {
    assert.deepEqual(tokenize('see https://example.com/a?b=1. ok'), [
      { kind: 'text', text: 'see ' },
      { kind: 'link', text: 'https://example.com/a?b=1', href: 'https://example.com/a?b=1' },
      { kind: 'text', text: '. ok' },
    ]);
    assert.equal(tokenize('(http://x.org/wiki/A_(b))')[1].text, 'http://x.org/wiki/A_(b)');
  });

  it('never makes a link of another scheme', () => {
    for (const t of ['javascript:alert(1)', 'data:text/html,<b>x</b>', 'JaVaScRiPt://%0aalert(1)', 'ftp://x.org']) {
      assert.ok(tokenize(t).every((p) => p.kind === 'text'), t);
    }
    assert.equal(safeUrl('javascript:alert(1)'), null);
  });

  it('finds mentions, not emails or mentions inside links', () => {
    const parts = tokenize('hi @Alice and @bob_2, mail me@example.com or see https://x.org/@carol');
    assert.deepEqual(parts.filter((p) => p.kind === 'mention').map((p) => p.user), ['Alice', 'bob_2']);
  });

  it('leaves markdown\'s marks around a link out of it', () => {
    assert.deepEqual(findLinks('**https://x.org/a** _https://y.org_ https://z.org/a_b').map((l) => l.text),
      ['https://x.org/a', 'https://y.org', 'https://z.org/a_b']);
    assert.deepEqual(findLinks('xhttps://x.org 1http://y.org'), [], 'never glued to a word');
  });

  it('finds only mentions when asked for no links', () => {
    assert.deepEqual(tokenize('https://x.org/@carol @dave', { links: false }).filter((p) => p.kind !== 'text').map((p) => p.kind),
      ['mention', 'mention']);
  });

  it('keeps the text whole: the pieces join back to it', () => {
    const text = 'a https://b.c/d, @eve <img src=x> e';
    assert.equal(tokenize(text).map((p) => p.text).join(''), text);
  });
});
