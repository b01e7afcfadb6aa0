// The browser side of the end-to-end harness: Debian's Chromium through playwright-core, pages
// that record console errors, CSP violations and page errors, the client's files answered from
// this checkout's web/, and screenshots. harness.js re-exports all of it.

import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

// Used inside functions only: harness.js imports this module, so nothing of it is read at load.
import { CHROMIUM, CHROMIUM_ARGS, OUT_DIR, log, onCleanup } from './harness.js';


export async function launchBrowser() {
  if (!fs.existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} not found: apt-get install -y chromium`);
  const { chromium } = await import('playwright-core');
  // A document answered from disk (see WEB_DIR) has no address the browser saw, so Chromium's
  // local network access checks would take it for a public page and block its socket to 127.0.0.1.
  const args = SERVE_WEB_FROM_DISK ? [...CHROMIUM_ARGS, '--disable-features=LocalNetworkAccessChecks'] : CHROMIUM_ARGS;
  const browser = await chromium.launch({ executablePath: CHROMIUM, args, headless: true });
  onCleanup(() => browser.close());
  return browser;
}

// The client's files as this checkout has them. The server embeds web/ when it is built, so a
// binary built before a change to web/ would serve the old client; the pages' requests for those
// files are answered from here instead, with the server's own answer's status and headers (its
// CSP among them), so a client change is tested with any binary. E2E_EMBEDDED_WEB=1 tests the
// binary's embedded copy as it is.
export const WEB_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'web');
const SERVE_WEB_FROM_DISK = !process.env.E2E_EMBEDDED_WEB;
const MIME = { '.js': 'text/javascript', '.css': 'text/css', '.html': 'text/html', '.svg': 'image/svg+xml', '.json': 'application/json' };

/** The file of web/ a request path names (`/` is index.html), or null. */
function webFile(pathname) {
  let rel;
  try {
    rel = decodeURIComponent(pathname === '/' ? '/index.html' : pathname);
  } catch {
    return null;
  }
  const file = path.join(WEB_DIR, rel);
  if (!file.startsWith(WEB_DIR + path.sep)) return null;
  try {
    return fs.statSync(file).isFile() ? file : null;
  } catch {
    return null;
  }
}

async function serveWebFromDisk(context) {
  await context.route((url) => webFile(url.pathname) !== null, async (route) => {
    const request = route.request();
    if (request.method() !== 'GET') return route.fallback();
    let response;
    try {
      response = await route.fetch();
    } catch {
      // The server is down (a restart test): fail the way the browser would without us.
      return route.abort('connectionrefused').catch(() => {});
    }
    let headers;
    if (response.status() === 200) {
      headers = { ...response.headers() };
      delete headers['content-length'];
      delete headers['content-encoding'];
    } else {
      // A file the binary does not have yet: the headers the server gives every file of web/.
      headers = { 'content-type': MIME[path.extname(webFile(new URL(request.url()).pathname))] || 'application/octet-stream', 'cache-control': 'no-cache', 'x-content-type-options': 'nosniff' };
    }
    return route.fulfill({ status: 200, headers, body: fs.readFileSync(webFile(new URL(request.url()).pathname)) });
  });
}

/** A page that records console errors, CSP violations and page errors. */
export async function newPage(browser, name, contextOptions = {}) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, ...contextOptions });
  if (SERVE_WEB_FROM_DISK) await serveWebFromDisk(context);
  const page = await context.newPage();
  page.setDefaultTimeout(15_000);
  page.problems = [];
  page.refreshes = 0;
  page.on('request', (req) => {
    if (req.method() === 'POST' && new URL(req.url()).pathname === '/v1/auth/refresh') page.refreshes += 1;
  });
  page.on('pageerror', (err) => {
    page.problems.push(`pageerror: ${err.message}`);
    log(`[${name}] pageerror: ${err.message}`);
  });
  page.on('console', (msg) => {
    if (msg.type() === 'error' || msg.type() === 'warning') {
      const text = msg.text();
      // A refused WebSocket while the server restarts is expected noise.
      if (/WebSocket connection to .* failed|ERR_CONNECTION_REFUSED|Failed to load resource/.test(text)) return;
      page.problems.push(`console.${msg.type()}: ${text}`);
      log(`[${name}] console.${msg.type()}: ${text}`);
    }
  });
  return page;
}

export async function screenshot(page, name) {
  const file = path.join(OUT_DIR, `${name}.png`);
  await page.screenshot({ path: file, fullPage: false });
  log(`screenshot ${file}`);
  return file;
}
