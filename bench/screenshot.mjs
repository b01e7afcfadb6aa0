// Screenshot of Prometheus's graph page (bench/watch.sh): node bench/screenshot.mjs URL FILE.
// Uses the Chromium and playwright-core the browser tests already install (tests/e2e).
import { createRequire } from 'node:module';
import path from 'node:path';

const require = createRequire(path.resolve('tests/e2e/package.json'));
const { chromium } = require('playwright-core');
const [url, file] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium',
  args: ['--no-sandbox'],
  headless: true,
});
// Tall enough for the three graphs: a full-page shot would repeat the fixed navigation bar.
const page = await browser.newPage({ viewport: { width: 1400, height: 2300 } });
await page.goto(url, { waitUntil: 'networkidle' });
// The graphs draw after their queries return.
await page.waitForTimeout(3000);
await page.screenshot({ path: file });
await browser.close();
