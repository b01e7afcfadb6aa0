// In Chromium: markdown in messages renders as elements for the one who reads
// them, and a hostile message renders as text: no element made from it, no
// script run, no dialog opened, no link but to http(s).

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';

import { cleanupAll, launchBrowser, newPage, rand, screenshot, startStack } from './harness.js';
import { send, signUp, waitOnline } from './ui.js';

const RUN = rand(6);
const ANN = { username: `ann_${RUN}`, email: `ann_${RUN}@example.com`, password: 'correct horse battery' };
const BEN = { username: `ben_${RUN}`, email: `ben_${RUN}@example.com`, password: 'staple battery horse' };

let stack;
let browser;
let ann;
let ben;

async function step(name, fn) {
  try {
    await fn();
  } catch (err) {
    for (const [who, page] of [['ann', ann], ['ben', ben]]) {
      if (page) await screenshot(page, `markdown-fail-${name}-${who}`).catch(() => {});
    }
    throw err;
  }
}

/** The bubble whose text holds `marker` (its rendered text, marks gone), once it is stored. */
async function bubble(page, marker) {
  await page.waitForFunction((m) => [...document.querySelectorAll('[data-testid="message-list"] [data-testid="message"][data-state="sent"]')]
    .some((e) => e.querySelector('[data-testid="message-text"]')?.textContent.includes(m)), marker);
  return page.locator('[data-testid="message"][data-state="sent"]', { has: page.getByTestId('message-text').filter({ hasText: marker }) });
}

describe('markdown in messages, in Chromium', { timeout: 180_000 }, () => {
  before(async () => {
    stack = await startStack();
    browser = await launchBrowser();
    ann = await newPage(browser, 'ann');
    ben = await newPage(browser, 'ben');
    for (const [page, user] of [[ann, ANN], [ben, BEN]]) {
      page.dialogs = [];
      page.on('dialog', (d) => {
        page.dialogs.push(d.message());
        d.dismiss().catch(() => {});
      });
      await page.goto(stack.origin);
      await signUp(page, user);
      await page.waitForFunction(() => document.querySelector('[data-testid="room-title"]')?.dataset.name === 'General');
      await waitOnline(page);
    }
  }, { timeout: 120_000 });

  after(async () => {
    await cleanupAll();
  }, { timeout: 60_000 });

  it('renders bold, italic, code, quotes, code blocks and links', { timeout: 60_000 }, () => step('render', async () => {
    const text = [
      `**bold ${RUN}** and _italic_ and *also* and \`code *not em* @${BEN.username}\``,
      `see [the docs](https://example.com/docs) or https://example.org/a_b. @${BEN.username}`,
      '> quoted **line**',
      '```',
      '<b>raw</b> **not bold** [no](https://example.net)',
      '```',
    ].join('\n');
    await send(ann, text);
    const msg = await bubble(ben, `bold ${RUN}`);
    const body = msg.getByTestId('message-text');
    assert.equal(await body.locator('strong').first().textContent(), `bold ${RUN}`);
    assert.deepEqual(await body.locator('p > em').allTextContents(), ['italic', 'also']);
    assert.equal(await body.getByTestId('md-code').textContent(), `code *not em* @${BEN.username}`);
    const links = body.getByTestId('message-link');
    assert.deepEqual(await links.allTextContents(), ['the docs', 'https://example.org/a_b']);
    for (const [i, href] of ['https://example.com/docs', 'https://example.org/a_b'].entries()) {
      assert.equal(await links.nth(i).getAttribute('href'), href);
      assert.equal(await links.nth(i).getAttribute('rel'), 'noopener noreferrer nofollow');
      assert.equal(await links.nth(i).getAttribute('target'), '_blank');
    }
    assert.equal(await body.getByTestId('md-quote').textContent(), 'quoted line');
    assert.equal(await body.locator('blockquote strong').textContent(), 'line');
    assert.equal(await body.getByTestId('md-code-block').textContent(), '<b>raw</b> **not bold** [no](https://example.net)');
    assert.equal(await body.locator('b').count(), 0, 'HTML in a code block is text');
    // One mention, outside the code: the one in code is not read.
    assert.equal(await body.getByTestId('mention').count(), 1);
    assert.match(await msg.getAttribute('class'), /mentions-me/);
    await msg.scrollIntoViewIfNeeded();
    await screenshot(ben, 'markdown');
  }));

  it('renders a hostile message as text: no element, no script, no dialog, no link', { timeout: 60_000 }, () => step('hostile', async () => {
    const hostile = [
      `hostile ${RUN} [click me](javascript:alert(1)) [x](JaVaScRiPt:alert(document.domain))`,
      '[y](&#106;avascript:alert(1)) [z]( javascript:alert(1)) [d](data:text/html,<script>alert(1)</script>)',
      '<img src=x onerror="window.__xss=1;alert(1)"> **<script>window.__xss=1</script>**',
      '`<svg onload=alert(1)>` &lt;b&gt; &amp;amp;',
      '> <iframe src="javascript:alert(1)"></iframe>',
    ].join('\n');
    await send(ann, hostile);
    for (const page of [ben, ann]) {
      const msg = await bubble(page, `hostile ${RUN}`);
      const body = msg.getByTestId('message-text');
      assert.equal(await body.locator('img, script, svg, iframe, a, b').count(), 0, 'no element made from the text');
      const shown = await body.textContent();
      for (const piece of ['[click me](javascript:alert(1))', '<img src=x onerror="window.__xss=1;alert(1)">', '&lt;b&gt; &amp;amp;', '<svg onload=alert(1)>']) {
        assert.ok(shown.includes(piece), `shown as typed: ${piece}`);
      }
      assert.equal(await body.locator('strong').textContent(), '<script>window.__xss=1</script>');
    }
    await ben.waitForTimeout(500); // a broken image's onerror would have fired by now
    for (const page of [ann, ben]) {
      assert.equal(await page.evaluate(() => typeof window.__xss), 'undefined');
      assert.deepEqual(page.dialogs, [], 'no dialog opened');
      assert.equal(await page.locator('[data-testid="message-list"] img, [data-testid="message-list"] script').count(), 0);
    }
  }));

  it('logged no CSP violations or script errors', () => {
    for (const [who, page] of [['ann', ann], ['ben', ben]]) {
      assert.deepEqual(page.problems.filter((p) => !/status of 40[19]/.test(p)), [], `${who}: console/page errors`);
    }
  });
});
