// In Chromium: the chat screen by keyboard and on a phone. The Direct tab in the Tab order
// (and the tab list's arrow keys), the page's h1, "Notify me" big enough to tap, and
// placeholders that fit their boxes.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { createRequire } from 'node:module';

import { cleanupAll, launchBrowser, newPage, rand, screenshot, startStack } from './harness.js';
import { signUp, waitForConversation, waitOnline } from './ui.js';

const AXE_SOURCE = fs.readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
const RUN = rand(6);

let stack;
let browser;
let page;

async function step(name, fn) {
  try {
    await fn();
  } catch (err) {
    if (page) await screenshot(page, `a11y-fail-${name}`).catch(() => {});
    throw err;
  }
}

const focused = () => page.evaluate(() => document.activeElement?.dataset.testid || document.activeElement?.id || document.activeElement?.tagName);
const selected = (id) => page.getByTestId(id).getAttribute('aria-selected');

/** Placeholders whose text is wider than their box, at the current width. */
function cutPlaceholders() {
  return page.evaluate(() => [...document.querySelectorAll('input[placeholder], textarea[placeholder]')]
    .filter((e) => e.offsetParent !== null)
    .filter((e) => {
      const style = getComputedStyle(e);
      const ctx = document.createElement('canvas').getContext('2d');
      ctx.font = `${style.fontStyle} ${style.fontWeight} ${style.fontSize} ${style.fontFamily}`;
      const room = e.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
      return ctx.measureText(e.placeholder).width > room;
    })
    .map((e) => `${e.id}: "${e.placeholder}"`));
}

describe('keyboard, phone and headings in Chromium', { timeout: 180_000 }, () => {
  before(async () => {
    stack = await startStack();
    browser = await launchBrowser();
    // bypassCSP: axe-core is put into the page as an inline script.
    page = await newPage(browser, 'a11y', { bypassCSP: true });
    await page.goto(stack.origin);
    await signUp(page, { username: `kay_${RUN}`, email: `kay_${RUN}@example.com`, password: 'correct horse battery' });
    await waitForConversation(page, 'General');
    await waitOnline(page);
  }, { timeout: 120_000 });

  after(async () => {
    await cleanupAll();
  }, { timeout: 60_000 });

  it('reaches the Direct tab with Tab; arrows, Home and End move between the tabs', { timeout: 30_000 }, () => step('tabs', async () => {
    await page.getByTestId('tab-rooms').focus();
    await page.keyboard.press('Tab');
    assert.equal(await focused(), 'tab-dms', 'Tab goes from Rooms to Direct');
    assert.equal(await selected('tab-dms'), 'false', 'reaching a tab does not choose it');
    await page.keyboard.press('Enter');
    assert.equal(await selected('tab-dms'), 'true');
    assert.equal(await page.getByTestId('dm-start-input').isVisible(), true, 'the Direct panel shows');
    await page.keyboard.press('ArrowLeft');
    assert.equal(await focused(), 'tab-rooms');
    assert.equal(await selected('tab-rooms'), 'true');
    await page.keyboard.press('End');
    assert.equal(await focused(), 'tab-dms');
    assert.equal(await selected('tab-dms'), 'true');
    await page.keyboard.press('Home');
    assert.equal(await focused(), 'tab-rooms');
    assert.equal(await selected('tab-rooms'), 'true');
    await page.keyboard.press('Shift+Tab');
    assert.notEqual(await focused(), 'tab-dms', 'Shift+Tab leaves the tab list backwards');
  }));

  it('has one h1, the conversation on screen, and passes axe\'s heading rules', { timeout: 30_000 }, () => step('h1', async () => {
    const h1 = await page.$$eval('h1', (els) => els.filter((e) => e.offsetParent !== null).map((e) => e.textContent));
    assert.deepEqual(h1, ['# General']);
    await page.addScriptTag({ content: AXE_SOURCE });
    const result = await page.evaluate(async () => {
      const r = await window.axe.run(document, { runOnly: { type: 'rule', values: ['page-has-heading-one', 'empty-heading', 'heading-order'] } });
      return { violations: r.violations.map((v) => v.id), passes: r.passes.map((v) => v.id) };
    });
    assert.deepEqual(result.violations, []);
    assert.ok(result.passes.includes('page-has-heading-one'));
  }));

  it('shows every placeholder whole, on a desktop and in the phone drawer', { timeout: 30_000 }, () => step('placeholders', async () => {
    for (const tab of ['tab-rooms', 'tab-dms']) {
      await page.getByTestId(tab).click();
      assert.deepEqual(await cutPlaceholders(), [], `desktop, ${tab}`);
    }
    await page.setViewportSize({ width: 375, height: 740 });
    await page.getByTestId('nav-toggle').click();
    await page.getByTestId('sidebar').waitFor({ state: 'visible' });
    for (const tab of ['tab-rooms', 'tab-dms']) {
      await page.getByTestId(tab).click();
      assert.deepEqual(await cutPlaceholders(), [], `phone, ${tab}`);
    }
    await page.getByTestId('tab-rooms').click();
  }));

  it('makes "Notify me" at least 44 by 44 CSS pixels on a phone', { timeout: 30_000 }, () => step('tap', async () => {
    // Still at phone width with the drawer open (the step before).
    const button = page.getByTestId('notify-toggle');
    await button.scrollIntoViewIfNeeded();
    const box = await button.boundingBox();
    assert.ok(box.width >= 44 && box.height >= 44, `Notify me is ${box.width}×${box.height}`);
    await page.waitForTimeout(300); // the drawer's slide
    await screenshot(page, 'drawer-phone-notify');
    await page.setViewportSize({ width: 1280, height: 800 });
  }));

  it('logged no CSP violations or script errors', () => {
    assert.deepEqual(page.problems.filter((p) => !/status of 40[19]/.test(p)), []);
  });
});
