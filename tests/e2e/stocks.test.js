// In Chromium, the stock features of issue 27 with two users in one room: the quote card with
// its one-month chart (an SVG polyline of the stored closes), its change against the previous
// close and its time with the zone; "Did you mean …?"; the ticker strip appearing after
// /watch and following the fake quote service's price on the server's refresh (every 2 s
// here), after a reload too; an alert firing once when the price crosses it, and another
// cancelled with its ✕; a cashtag opening the search for it with the symbol's past quotes;
// /help readable on its lines, for the typist only; and axe-core on all of it, in both themes.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as delay } from 'node:timers/promises';

import {
  cleanupAll, launchBrowser, newPage, rand, screenshot, startStack,
} from './harness.js';
import {
  axeSerious, bubble, messages, send, signUp, waitForConversation, waitForMessage, waitOnline,
} from './ui.js';

const RUN = rand(6);
const ANN = { username: `ann_${RUN}`, email: `ann_${RUN}@example.com`, password: 'correct horse battery' };
const BEN = { username: `ben_${RUN}`, email: `ben_${RUN}@example.com`, password: 'staple battery horse' };
const QUOTE = 'AAPL.US quote is $93.42 per share';
const CASHTAG = `What about $AAPL into the close? ${RUN}`;

let stack;
let browser;
let ann;
let ben;

async function step(name, fn) {
  try {
    await fn();
  } catch (err) {
    for (const [who, page] of [['ann', ann], ['ben', ben]]) {
      if (page) await screenshot(page, `stocks-fail-${name}-${who}`).catch(() => {});
    }
    throw err;
  }
}

/** The ticker strip as shown: {shown, items: [{symbol, price, change}], alerts: [{id, text, cancel}]}. */
function strip(page) {
  return page.evaluate(() => {
    const s = document.querySelector('[data-testid="ticker-strip"]');
    return {
      shown: !!s && !s.hidden,
      label: s?.getAttribute('aria-label') ?? null,
      items: [...document.querySelectorAll('[data-testid="ticker-item"]')].map((e) => ({
        symbol: e.dataset.symbol,
        price: e.querySelector('[data-testid="ticker-price"]')?.textContent ?? null,
        change: e.querySelector('[data-testid="ticker-change"]')?.textContent ?? null,
      })),
      alerts: [...document.querySelectorAll('[data-testid="ticker-alert"]')].map((e) => ({
        id: Number(e.dataset.id),
        text: e.querySelector('.ticker-alert-text')?.textContent ?? null,
        cancel: e.querySelector('[data-testid="ticker-alert-cancel"]')?.getAttribute('aria-label') ?? null,
      })),
    };
  });
}

/** Waits until the strip passes `check` (a function of strip()); returns that state. */
async function waitForStrip(page, check, what, timeout = 20_000) {
  const deadline = Date.now() + timeout;
  let last;
  while (Date.now() < deadline) {
    last = await strip(page);
    if (check(last)) return last;
    await delay(200);
  }
  throw new Error(`timed out waiting for the ticker strip: ${what}; last seen ${JSON.stringify(last)}`);
}

/** The stored messages shown whose text starts with `prefix`. */
async function startingWith(page, prefix) {
  return (await messages(page)).filter((m) => m.text && m.text.startsWith(prefix));
}

describe('stocks: the card\'s chart, the ticker strip, alerts and cashtags, in Chromium', { timeout: 300_000 }, () => {
  before(async () => {
    stack = await startStack({ env: { RATE_LIMIT_MESSAGES: '500' } });
    browser = await launchBrowser();
    ann = await newPage(browser, 'ann');
    ben = await newPage(browser, 'ben');
    for (const [page, user] of [[ann, ANN], [ben, BEN]]) {
      await page.goto(stack.origin);
      await signUp(page, user);
      await waitForConversation(page, 'General');
      await waitOnline(page);
    }
  }, { timeout: 120_000 });

  after(async () => {
    await cleanupAll();
  }, { timeout: 60_000 });

  it('shows the quote card with a month\'s chart, the change vs the previous close and the zone', { timeout: 60_000 }, () => step('card', async () => {
    await send(ann, '/stock=aapl.us');
    for (const page of [ann, ben]) {
      await waitForMessage(page, QUOTE, { state: 'bot', timeout: 30_000 });
      const card = bubble(page, QUOTE).getByTestId('quote-card');
      await card.waitFor();
      assert.equal(await card.getByTestId('quote-price').textContent(), '$93.42');
      // The fake's history closes at 91.80 the day before.
      assert.equal(await card.getByTestId('quote-change').textContent(), '+1.62 (+1.76%)');
      assert.equal(await card.getByTestId('quote-basis').textContent(), 'vs prev close');
      assert.match(await card.locator('.quote-move').textContent(), /^▲/, 'an arrow, not colour alone');
      // Quoted at 22:00:09 Warsaw time: the zone is the quote's, named (GMT+2 in en-US, CEST elsewhere).
      assert.match(await card.getByTestId('quote-time').textContent(), /May 3, 22:00 (GMT\+2|CEST)/);
      const chart = card.locator('svg[data-testid="quote-sparkline"]');
      assert.equal(await chart.getAttribute('role'), 'img');
      assert.match(await chart.getAttribute('aria-label'), /^AAPL\.US over \d+ trading days: from [\d.]+ to 93\.42/);
      const points = (await chart.locator('polyline').getAttribute('points')).trim().split(/\s+/);
      assert.ok(points.length >= 15 && points.length <= 30, `about a month of daily closes: ${points.length} points`);
      for (const p of points) assert.match(p, /^[\d.]+,[\d.]+$/);
      const box = await chart.boundingBox();
      assert.ok(box && box.width > 150 && box.height >= 30, `the chart is drawn: ${JSON.stringify(box)}`);
    }
    assert.ok(stack.quotes.historyRequests.includes('aapl.us'), 'the bot read the history from the fake service');
    await bubble(ann, QUOTE).scrollIntoViewIfNeeded();
    await screenshot(ann, 'stock-card');
  }));

  it('offers the likely symbol for a mistyped one, into the message box', { timeout: 60_000 }, () => step('suggest', async () => {
    await send(ben, '/stock=appl.us');
    await ben.waitForFunction(() => [...document.querySelectorAll('[data-testid="message"][data-state="bot"] [data-testid="message-text"]')]
      .some((e) => e.textContent.startsWith('APPL.US quote is not available')), null, { timeout: 30_000 });
    const answer = ben.locator('[data-testid="message"][data-state="bot"]', { has: ben.getByText(/^APPL\.US quote is not available/) });
    const suggestion = answer.getByTestId('quote-suggestion');
    assert.equal(await suggestion.textContent(), 'Did you mean AAPL.US?');
    await suggestion.click();
    assert.equal(await ben.getByTestId('composer-input').inputValue(), '/stock=aapl.us');
    assert.equal(await ben.evaluate(() => document.activeElement?.dataset.testid), 'composer-input');
    await ben.getByTestId('composer-input').fill('');
  }));

  it('pins a watched symbol to the strip of everyone in the room, and follows its price', { timeout: 90_000 }, () => step('watch', async () => {
    for (const page of [ann, ben]) assert.equal((await strip(page)).shown, false, 'nothing watched: no strip');
    await send(ann, '/watch=aapl.us');
    for (const page of [ann, ben]) {
      const s = await waitForStrip(page, (x) => x.shown && x.items.some((i) => i.symbol === 'AAPL.US' && i.price === '93.42'), 'AAPL.US at 93.42');
      assert.equal(s.label, 'Watched stocks and price alerts');
      assert.deepEqual(s.items, [{ symbol: 'AAPL.US', price: '93.42', change: '▲ +1.62 (+1.76%)' }]);
    }
    await screenshot(ann, 'ticker-strip');
    // The price moves at the quote service: the server's next refresh brings it to both.
    stack.quotes.setQuote('aapl.us', { close: '95.00', high: '95.20' });
    for (const page of [ann, ben]) {
      await waitForStrip(page, (x) => x.items.some((i) => i.symbol === 'AAPL.US' && i.price === '95.00' && i.change === '▲ +3.20 (+3.49%)'), 'AAPL.US at 95.00');
    }
    // A price going down says so in characters too.
    stack.quotes.setQuote('aapl.us', { close: '90.00', low: '89.90' });
    await waitForStrip(ben, (x) => x.items.some((i) => i.price === '90.00' && i.change === '▼ −1.80 (−1.96%)'), 'AAPL.US at 90.00');
    // After a reload the strip comes from GET .../watchlist.
    await ben.reload();
    await waitForConversation(ben, 'General');
    await waitForStrip(ben, (x) => x.shown && x.items.some((i) => i.symbol === 'AAPL.US' && i.price === '90.00'), 'AAPL.US after a reload');
    await waitOnline(ben);
  }));

  it('fires an alert once when a refresh finds the price above it', { timeout: 90_000 }, () => step('alert', async () => {
    await send(ann, '/alert=aapl.us>100');
    let alertId;
    for (const page of [ann, ben]) {
      const s = await waitForStrip(page, (x) => x.alerts.some((a) => a.text === 'AAPL.US > 100'), 'the alert listed');
      const mine = s.alerts.find((a) => a.text === 'AAPL.US > 100');
      alertId = mine.id;
      if (page === ann) assert.match(mine.cancel, /^Cancel alert \d+: AAPL\.US above 100$/, 'its setter can cancel it');
      else assert.equal(mine.cancel, null, 'not someone else\'s to cancel');
    }
    assert.equal(await ann.getByTestId('ticker-alert-count').textContent(), '1 alert');
    // Not yet: the price is 90.
    await delay(4500);
    assert.deepEqual(await startingWith(ann, 'Alert: AAPL.US'), []);
    stack.quotes.setQuote('aapl.us', { close: '101.50', high: '102.00' });
    for (const page of [ann, ben]) {
      await page.waitForFunction(() => [...document.querySelectorAll('[data-testid="message"][data-state="bot"] [data-testid="message-text"]')]
        .some((e) => e.textContent.startsWith('Alert: AAPL.US')), null, { timeout: 30_000 });
      await waitForStrip(page, (x) => !x.alerts.some((a) => a.id === alertId), 'the fired alert off the strip');
    }
    // Several refreshes later it has still fired once, and is stored (after a reload too).
    await delay(6000);
    for (const page of [ann, ben]) {
      const fired = await startingWith(page, 'Alert: AAPL.US');
      assert.equal(fired.length, 1, `fired once: ${JSON.stringify(fired)}`);
      // The spec's example writes the threshold "$200"; the server writes it as it was typed.
      assert.match(fired[0].text, /^Alert: AAPL\.US is \$101\.50, above \$?100(\.00)? \(set by ann_/);
      assert.ok(fired[0].id, 'a stored message');
      const tag = page.locator(`[data-testid="message"][data-id="${fired[0].id}"] [data-testid="alert-tag"]`);
      assert.equal(await tag.textContent(), 'Price alert');
      assert.equal(await page.locator(`[data-testid="message"][data-id="${fired[0].id}"] [data-testid="quote-price"]`).textContent(), '$101.50');
    }
    await ann.reload();
    await waitForConversation(ann, 'General');
    assert.equal((await startingWith(ann, 'Alert: AAPL.US')).length, 1, 'once in the history');
    await waitOnline(ann);
    await bubble(ann, (await startingWith(ann, 'Alert: AAPL.US'))[0].text).scrollIntoViewIfNeeded();
    await screenshot(ann, 'price-alert');
  }));

  it('cancels an alert with its ✕ (a /unalert command), for everyone', { timeout: 60_000 }, () => step('cancel', async () => {
    await send(ann, '/alert=aapl.us<50');
    const s = await waitForStrip(ann, (x) => x.alerts.some((a) => a.text === 'AAPL.US < 50'), 'the second alert listed');
    const { id } = s.alerts.find((a) => a.text === 'AAPL.US < 50');
    await waitForStrip(ben, (x) => x.alerts.some((a) => a.id === id), 'ben sees it');
    const cancel = ann.locator(`[data-testid="ticker-alert"][data-id="${id}"] [data-testid="ticker-alert-cancel"]`);
    await cancel.focus();
    await ann.keyboard.press('Enter');
    for (const page of [ann, ben]) await waitForStrip(page, (x) => !x.alerts.some((a) => a.id === id), 'the alert gone');
    // The command was sent, not stored: nobody sees "/unalert=…" in the room.
    for (const page of [ann, ben]) {
      assert.deepEqual(await startingWith(page, '/unalert'), []);
    }
    const benMessages = await messages(ben);
    assert.equal(benMessages.filter((m) => /^\/(watch|alert|unalert)/.test(m.text || '')).length, 0, 'no command stored');
  }));

  it('takes a symbol off the strip with /unwatch, and hides the strip with nothing left', { timeout: 60_000 }, () => step('unwatch', async () => {
    await send(ann, '/unwatch=aapl.us');
    for (const page of [ann, ben]) await waitForStrip(page, (x) => !x.shown, 'no strip');
  }));

  it('opens a cashtag\'s discussion and past quotes from the message', { timeout: 60_000 }, () => step('cashtag', async () => {
    await send(ben, CASHTAG);
    await waitForMessage(ann, CASHTAG, { state: 'sent' });
    const tag = bubble(ann, CASHTAG).getByTestId('cashtag');
    assert.equal(await tag.evaluate((e) => e.tagName), 'BUTTON');
    assert.equal(await tag.textContent(), '$AAPL');
    await tag.click();
    await ann.waitForFunction(() => /found for "\$AAPL"|Nothing found/.test(document.querySelector('[data-testid="search-status"]')?.textContent || ''));
    assert.equal(await ann.getByTestId('search-input').inputValue(), '$AAPL');
    const found = await ann.$$eval('[data-testid="search-results"] [data-testid="search-result"]', (els) => els.map((e) => e.textContent));
    assert.ok(found.some((t) => t.includes(`into the close? ${RUN}`)), `the discussion found: ${JSON.stringify(found)}`);
    // Past quotes: the bot's answers for AAPL.US (the /stock answer and the alert, at least).
    await ann.getByTestId('search-quotes').waitFor();
    assert.equal(await ann.getByTestId('search-quotes-title').textContent(), 'Past quotes of AAPL.US');
    const past = ann.locator('[data-testid="past-quote"]');
    await past.first().waitFor();
    const pastTexts = await past.allTextContents();
    assert.ok(pastTexts.some((t) => t.includes(QUOTE)), `the first answer among the past quotes: ${JSON.stringify(pastTexts)}`);
    assert.ok(pastTexts.every((t) => t.includes('stockbot')), 'the bot\'s answers only');
    await screenshot(ann, 'cashtag-search');
    // A past quote opens its message.
    await past.filter({ hasText: QUOTE }).first().click();
    await ann.waitForFunction((q) => document.activeElement?.matches('[data-testid="message"]')
      && document.activeElement.querySelector('[data-testid="message-text"]')?.textContent === q, QUOTE, { timeout: 10_000 });
    assert.ok(await bubble(ann, QUOTE).isVisible(), 'the quote is on screen');
    await ann.getByTestId('search-close').click();
    assert.equal(await ann.getByTestId('search-quotes').isVisible(), false);
  }));

  it('answers /help to the typist alone, one command a line; a "/" lists the commands', { timeout: 60_000 }, () => step('help', async () => {
    const box = ann.getByTestId('composer-input');
    await box.fill('/al');
    const hint = ann.getByTestId('composer-commands');
    await hint.waitFor();
    assert.match(await hint.textContent(), /\/alert=CODE>PRICE.*\/alerts/);
    await box.fill('hello');
    assert.equal(await hint.isVisible(), false);
    await box.fill('');
    await send(ann, '/help');
    await ann.waitForFunction(() => [...document.querySelectorAll('[data-testid="message"].bot-note [data-testid="message-text"]')]
      .some((e) => e.textContent.includes('/watch') && e.textContent.includes('/alert')), null, { timeout: 30_000 });
    const help = ann.locator('[data-testid="message"].bot-note', { hasText: '/watch' }).last();
    const text = await help.getByTestId('message-text').textContent();
    assert.ok(text.split('\n').length >= 5, `one command a line: ${JSON.stringify(text)}`);
    const lines = await help.getByTestId('message-text').evaluate((e) => {
      const r = document.createRange();
      r.selectNodeContents(e);
      return new Set([...r.getClientRects()].map((x) => Math.round(x.top))).size;
    });
    assert.ok(lines >= 5, `shown on ${lines} lines`);
    await help.scrollIntoViewIfNeeded();
    await screenshot(ann, 'stock-help');
    await delay(1000);
    assert.equal((await messages(ben)).filter((m) => (m.text || '').includes('/watch') && m.bot).length, 0, 'not for the room');
  }));

  it('has no serious accessibility violations: cards, the strip with an alert, past quotes (axe-core, both themes)', { timeout: 120_000 }, () => step('axe', async () => {
    await send(ann, '/watch=aapl.us');
    for (const [i, scheme] of ['light', 'dark'].entries()) {
      const page = await newPage(browser, `axe-${scheme}`, { bypassCSP: true, colorScheme: scheme });
      try {
        await page.goto(stack.origin);
        await signUp(page, { username: `axe${scheme}_${RUN}`, email: `axe${scheme}_${RUN}@example.com`, password: 'axe password here' });
        await waitForConversation(page, 'General');
        await waitOnline(page);
        // An alert of this user's own, so the strip has its ✕.
        await send(page, `/alert=aapl.us<${40 - i}`);
        await waitForStrip(page, (x) => x.items.length > 0 && x.alerts.some((a) => a.cancel), 'the strip with an alert of ours');
        await bubble(page, CASHTAG).getByTestId('cashtag').click();
        await page.getByTestId('past-quote').first().waitFor();
        await bubble(page, QUOTE).scrollIntoViewIfNeeded();
        assert.deepEqual(await axeSerious(page), [], `axe (${scheme})`);
        await page.locator('[data-testid="ticker-alert-cancel"]').first().click();
        await waitForStrip(page, (x) => !x.alerts.some((a) => a.cancel), 'our alert cancelled');
      } finally {
        await page.context().close();
      }
    }
  }));

  it('logged no CSP violations or script errors', () => {
    for (const [who, page] of [['ann', ann], ['ben', ben]]) {
      assert.deepEqual(page.problems.filter((p) => !/status of 40[19]/.test(p)), [], `${who}: console/page errors`);
    }
  });
});
