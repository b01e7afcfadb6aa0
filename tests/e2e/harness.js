// Test harness: fake quote server, a throw-away database, the tickertalk
// server and bot processes, and a headless Chromium (Debian's, via
// playwright-core). Everything started here is registered for cleanup, which
// runs even when a test fails or the runner is interrupted.

import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as delay } from 'node:timers/promises';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const OUT_DIR = process.env.E2E_OUTPUT_DIR || path.join(ROOT, 'target', 'test-output', 'e2e');
export const SERVER_BIN = process.env.TICKERTALK_BIN || path.join(ROOT, 'target', 'debug', 'tickertalk');
export const BOT_BIN = process.env.TICKERTALK_BOT_BIN || path.join(ROOT, 'target', 'debug', 'tickertalk-bot');
export const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
export const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];

fs.mkdirSync(OUT_DIR, { recursive: true });

export function rand(n = 6) {
  return randomBytes(n).toString('hex').slice(0, n);
}

export function log(...args) {
  const line = `[e2e ${new Date().toISOString().slice(11, 23)}] ${args.join(' ')}`;
  console.error(line);
  fs.appendFileSync(path.join(OUT_DIR, 'harness.log'), `${line}\n`);
}

// ---------------------------------------------------------------------------
// Cleanup registry
// ---------------------------------------------------------------------------

const cleanups = [];
const children = new Set();

/** Register an async cleanup; they run in reverse order. */
export function onCleanup(fn) {
  cleanups.push(fn);
}

export async function cleanupAll() {
  while (cleanups.length) {
    const fn = cleanups.pop();
    try {
      await fn();
    } catch (err) {
      log('cleanup error:', err && err.stack ? err.stack : String(err));
    }
  }
}

// Last resort if the runner dies: never leave server/bot processes behind.
process.on('exit', () => {
  for (const child of children) {
    try {
      child.kill('SIGKILL');
    } catch {
      /* ignore */
    }
  }
});
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.once(sig, () => {
    cleanupAll().finally(() => process.exit(130));
  });
}

// ---------------------------------------------------------------------------
// Small helpers
// ---------------------------------------------------------------------------

export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

export async function waitFor(fn, { timeout = 30_000, interval = 200, what = 'condition' } = {}) {
  const deadline = Date.now() + timeout;
  let lastErr;
  while (Date.now() < deadline) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (err) {
      if (err && err.fatal) throw err;
      lastErr = err;
    }
    await delay(interval);
  }
  throw new Error(`timed out after ${timeout} ms waiting for ${what}${lastErr ? `: ${lastErr.message}` : ''}`);
}

// ---------------------------------------------------------------------------
// Fake quote service (the bot's QUOTE_URL points here)
// ---------------------------------------------------------------------------

const QUOTES = {
  'aapl.us': 'AAPL.US,2024-05-03,22:00:09,92.11,94.10,91.50,93.42,163224109',
  'msft.us': 'MSFT.US,2023-09-08,22:00:10,331.29,336.85,331.17,334.27,17843230',
};

export async function startQuoteServer() {
  const requests = [];
  const server = http.createServer((req, res) => {
    const url = new URL(req.url, 'http://127.0.0.1');
    const symbol = (url.searchParams.get('s') || '').toLowerCase();
    requests.push(symbol);
    if (url.pathname !== '/q/l/' && url.pathname !== '/q/l') {
      res.writeHead(404, { 'Content-Type': 'text/plain' });
      res.end('not found');
      return;
    }
    const row = QUOTES[symbol] || `${symbol.toUpperCase()},N/D,N/D,N/D,N/D,N/D,N/D,N/D`;
    const body = `Symbol,Date,Time,Open,High,Low,Close,Volume\r\n${row}\r\n`;
    res.writeHead(200, { 'Content-Type': 'text/csv', 'Content-Length': Buffer.byteLength(body) });
    res.end(body);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  onCleanup(() => new Promise((resolve) => {
    server.closeAllConnections?.();
    server.close(() => resolve());
  }));
  log(`fake quote server on 127.0.0.1:${port}`);
  return { port, requests, url: `http://127.0.0.1:${port}/q/l/?s={symbol}&f=sd2t2ohlcv&h&e=csv` };
}

// ---------------------------------------------------------------------------
// Database
// ---------------------------------------------------------------------------

/** Runs `tickertalk db ...` against the server of `adminUrl`: the binary owns the rules for
 * naming, creating, dropping and pointing a URL at a database, so none of them is repeated here. */
function db(adminUrl, ...args) {
  const r = spawnSync(SERVER_BIN, ['db', ...args], {
    encoding: 'utf8',
    timeout: 30_000,
    env: { ...process.env, DATABASE_URL: adminUrl, RUST_LOG: 'warn' },
  });
  if (r.error) throw new Error(`${SERVER_BIN} could not run: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`tickertalk db ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
  return r.stdout.trim();
}

/** A fresh database tickertalk_e2e_<random>; returns its name and URL; dropped at cleanup. */
export function createDatabase() {
  const admin = process.env.DATABASE_URL;
  if (!admin) throw new Error('DATABASE_URL must be set (an admin-capable PostgreSQL URL)');
  const name = `tickertalk_e2e_${rand(10)}`;
  db(admin, 'create', name);
  log(`created database ${name}`);
  onCleanup(async () => {
    for (let attempt = 1; ; attempt += 1) {
      try {
        db(admin, 'drop', name);
        log(`dropped database ${name}`);
        return;
      } catch (err) {
        if (attempt >= 5) {
          log(`could not drop database ${name}: ${err.message}`);
          return;
        }
        await delay(1000);
      }
    }
  });
  return { name, url: db(admin, 'url', name) };
}

// ---------------------------------------------------------------------------
// Processes
// ---------------------------------------------------------------------------

let runCounter = 0;

/** Spawn a process with stdout+stderr going to OUT_DIR/<label>.log (appended). */
export function spawnLogged(label, bin, args, env) {
  if (!fs.existsSync(bin)) throw new Error(`${bin} does not exist: build it first (cargo build --workspace)`);
  const file = path.join(OUT_DIR, `${label}.log`);
  const fd = fs.openSync(file, 'a');
  fs.writeSync(fd, `\n===== ${new Date().toISOString()} ${bin} ${args.join(' ')} (start #${++runCounter}) =====\n`);
  const child = spawn(bin, args, { env, stdio: ['ignore', fd, fd], cwd: ROOT });
  fs.closeSync(fd);
  children.add(child);
  child.exited = new Promise((resolve) => {
    child.once('exit', (code, signal) => {
      children.delete(child);
      child.exitInfo = { code, signal };
      resolve({ code, signal });
    });
  });
  child.logFile = file;
  child.label = label;
  return child;
}

/** SIGTERM, then SIGKILL after `graceMs`. Resolves with the exit info. */
export async function stopProcess(child, graceMs = 10_000) {
  if (!child || child.exitInfo) return child ? child.exitInfo : null;
  child.kill('SIGTERM');
  const timer = setTimeout(() => {
    if (!child.exitInfo) {
      log(`${child.label} did not stop within ${graceMs} ms: SIGKILL`);
      child.kill('SIGKILL');
    }
  }, graceMs);
  const info = await child.exited;
  clearTimeout(timer);
  return info;
}

export function tail(file, lines = 40) {
  try {
    return fs.readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

/**
 * The whole stack: quote server, database, seeded data, server, bot.
 * `stack.restartServer()` stops the server with SIGTERM and starts it again
 * on the same port; `stack.killServer()` ends it with SIGKILL (a crash).
 * `options.env`: settings that differ from the defaults below, for the
 * server and the bot of this stack.
 */
export async function startStack(options = {}) {
  for (const v of ['DATABASE_URL', 'AMQP_URL']) {
    if (!process.env[v]) throw new Error(`${v} must be set`);
  }
  const quotes = await startQuoteServer();
  const db = createDatabase();
  const port = await freePort();
  const origin = `http://127.0.0.1:${port}`;
  const env = {
    ...process.env,
    LISTEN_ADDR: `127.0.0.1:${port}`,
    DATABASE_URL: db.url,
    AMQP_URL: process.env.AMQP_URL,
    JWT_SECRET: randomBytes(32).toString('hex'),
    BROKER_PREFIX: `e2e${rand(8)}`,
    QUOTE_URL: quotes.url,
    // The bot's /metrics port stays closed: a developer's `make run` bot may hold the default.
    METRICS_ADDR: '',
    // No ALLOWED_ORIGINS: a page on the server's own address needs none, wherever that is.
    RUST_LOG: process.env.E2E_RUST_LOG || 'info',
    NO_COLOR: '1',
    // Every test signs its users up from this one address.
    SIGNUPS_PER_ADDRESS: '0',
    // And a few users create every room of a run.
    ROOMS_PER_USER: '0',
    // Short-lived access tokens, so the client's refresh-before-expiry runs during the test.
    ACCESS_TOKEN_TTL_SECS: process.env.E2E_ACCESS_TOKEN_TTL_SECS || '20',
    ...(options.env || {}),
  };

  // Remove this run's durable queues and exchanges at the end: left behind, quorum queues pile
  // up on the broker and slow every restart of it.
  onCleanup(async () => {
    const r = spawnSync(SERVER_BIN, ['broker-cleanup'], { env, cwd: ROOT, encoding: 'utf8', timeout: 30_000 });
    log(`broker-cleanup ${env.BROKER_PREFIX}: exit ${r.status}`);
  });

  const seed = spawnSync(SERVER_BIN, ['seed'], { env, cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
  fs.writeFileSync(path.join(OUT_DIR, 'seed.log'), `${seed.stdout || ''}${seed.stderr || ''}`);
  if (seed.error) throw new Error(`seed could not run: ${seed.error.message}`);
  if (seed.status !== 0) throw new Error(`tickertalk seed exited ${seed.status}:\n${seed.stdout}${seed.stderr}`);

  const stack = {
    origin,
    port,
    env,
    quotes,
    db,
    server: null,
    bot: null,
    async startServer() {
      const child = spawnLogged('server', SERVER_BIN, [], env);
      this.server = child;
      await waitFor(async () => {
        if (child.exitInfo) {
          throw Object.assign(new Error(`server exited early (${JSON.stringify(child.exitInfo)}):\n${tail(child.logFile)}`), { fatal: true });
        }
        const res = await fetch(`${origin}/readyz`).catch(() => null);
        return res && res.status === 200;
      }, { timeout: 45_000, what: 'GET /readyz = 200' }).catch((err) => {
        if (child.exitInfo) throw new Error(`server exited early (${JSON.stringify(child.exitInfo)}):\n${tail(child.logFile)}`);
        throw err;
      });
      log(`server ready on ${origin} (pid ${child.pid})`);
      return child;
    },
    async stopServer() {
      const info = await stopProcess(this.server);
      log(`server stopped: ${JSON.stringify(info)}`);
      return info;
    },
    /** SIGKILL: no goodbye to sockets, the broker or the database, as in a crash. */
    async killServer() {
      const child = this.server;
      if (!child || child.exitInfo) return child ? child.exitInfo : null;
      child.kill('SIGKILL');
      const info = await child.exited;
      log(`server killed: ${JSON.stringify(info)}`);
      return info;
    },
    async restartServer() {
      await this.stopServer();
      return this.startServer();
    },
    startBot() {
      this.bot = spawnLogged('bot', BOT_BIN, [], env);
      log(`bot started (pid ${this.bot.pid})`);
      return this.bot;
    },
  };
  onCleanup(async () => {
    await Promise.all([stopProcess(stack.bot, 5_000), stopProcess(stack.server, 10_000)]);
  });
  await stack.startServer();
  stack.startBot();
  return stack;
}

// ---------------------------------------------------------------------------
// API helpers (node's fetch) for setting up data
// ---------------------------------------------------------------------------

export async function api(origin, method, pathname, { token, body } = {}) {
  const headers = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (token) headers.Authorization = `Bearer ${token}`;
  const res = await fetch(`${origin}${pathname}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = text;
  }
  return { status: res.status, data, headers: res.headers };
}

// ---------------------------------------------------------------------------
// Browser
// ---------------------------------------------------------------------------

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
export const WEB_DIR = path.join(ROOT, 'web');
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
