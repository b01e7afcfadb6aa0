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
// Fake quote service (the bot's QUOTE_URL and QUOTE_HISTORY_URL point here)
// ---------------------------------------------------------------------------

const QUOTES = {
  'aapl.us': 'AAPL.US,2024-05-03,22:00:09,92.11,94.10,91.50,93.42,163224109',
  'msft.us': 'MSFT.US,2023-09-08,22:00:10,331.29,336.85,331.17,334.27,17843230',
};
/** The close of the trading day before each quote's (the history's second-to-last row). */
const PREVIOUS_CLOSE = { 'aapl.us': '91.80', 'msft.us': '333.55' };
/** Trading days of history served, ending on the quote's day. */
export const HISTORY_DAYS = 60;

const FIELDS = ['symbol', 'date', 'time', 'open', 'high', 'low', 'close', 'volume'];

function parseRow(row) {
  return Object.fromEntries(row.split(',').map((v, i) => [FIELDS[i], v]));
}

/** The HISTORY_DAYS weekdays up to and including `date` (YYYY-MM-DD), oldest first. */
function tradingDays(date, n) {
  const days = [];
  for (let t = Date.parse(`${date}T00:00:00Z`); days.length < n; t -= 86_400_000) {
    const d = new Date(t);
    if (d.getUTCDay() !== 0 && d.getUTCDay() !== 6) days.push(d.toISOString().slice(0, 10));
  }
  return days.reverse();
}

/**
 * Daily history as stooq's CSV (`Date,Open,High,Low,Close,Volume`, CRLF), oldest first, ending
 * on the quote's day at its current close, the day before at PREVIOUS_CLOSE; the days before
 * that drift back from there in a made-up but steady walk (the same every run). Null when the
 * symbol has no quote (stooq then answers "No data").
 */
export function historyCsv(symbol, row) {
  const q = parseRow(row);
  const close = Number(q.close);
  if (!/^\d{4}-\d{2}-\d{2}$/.test(q.date) || !Number.isFinite(close)) return null;
  const days = tradingDays(q.date, HISTORY_DAYS);
  const closes = new Array(days.length);
  closes[days.length - 1] = close;
  closes[days.length - 2] = Number(PREVIOUS_CLOSE[symbol] ?? (close * 0.99).toFixed(2));
  for (let i = days.length - 3; i >= 0; i -= 1) {
    closes[i] = Math.round(closes[i + 1] * (1 - 0.011 * Math.sin(i * 1.7) - 0.0015) * 100) / 100;
  }
  const lines = ['Date,Open,High,Low,Close,Volume'];
  days.forEach((day, i) => {
    const c = closes[i];
    const o = i ? closes[i - 1] : c;
    const hi = Math.max(o, c) * 1.006;
    const lo = Math.min(o, c) * 0.994;
    lines.push([day, o.toFixed(2), hi.toFixed(2), lo.toFixed(2), c.toFixed(2), 40_000_000 + ((i * 7_919_993) % 90_000_000)].join(','));
  });
  return `${lines.join('\r\n')}\r\n`;
}

/**
 * The fake stooq: `/q/l/?s=SYM` a quote row (unknown symbols all `N/D`), `/q/d/l/?s=SYM&i=d` its
 * daily history (unknown: `No data`). `setQuote(symbol, row)` changes what a symbol's quote is
 * from then on: a whole CSV row, or some fields ({close: '101.50', high: '102.00'}) over the
 * current ones. `requests` and `historyRequests` list the symbols asked for, in order.
 */
export async function startQuoteServer() {
  const requests = [];
  const historyRequests = [];
  const rows = { ...QUOTES };
  const server = http.createServer((req, res) => {
    const url = new URL(req.url, 'http://127.0.0.1');
    const symbol = (url.searchParams.get('s') || '').toLowerCase();
    const send = (body) => {
      res.writeHead(200, { 'Content-Type': 'text/csv', 'Content-Length': Buffer.byteLength(body) });
      res.end(body);
    };
    if (url.pathname === '/q/l/' || url.pathname === '/q/l') {
      requests.push(symbol);
      const row = rows[symbol] || `${symbol.toUpperCase()},N/D,N/D,N/D,N/D,N/D,N/D,N/D`;
      send(`Symbol,Date,Time,Open,High,Low,Close,Volume\r\n${row}\r\n`);
      return;
    }
    if (url.pathname === '/q/d/l/' || url.pathname === '/q/d/l') {
      historyRequests.push(symbol);
      send((rows[symbol] && historyCsv(symbol, rows[symbol])) || 'No data');
      return;
    }
    res.writeHead(404, { 'Content-Type': 'text/plain' });
    res.end('not found');
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  onCleanup(() => new Promise((resolve) => {
    server.closeAllConnections?.();
    server.close(() => resolve());
  }));
  log(`fake quote server on 127.0.0.1:${port}`);
  return {
    port,
    requests,
    historyRequests,
    url: `http://127.0.0.1:${port}/q/l/?s={symbol}&f=sd2t2ohlcv&h&e=csv`,
    historyUrl: `http://127.0.0.1:${port}/q/d/l/?s={symbol}&i=d`,
    /** The quote row `symbol` (lower case, `aapl.us`) has now. */
    row: (symbol) => rows[symbol] || null,
    setQuote(symbol, row) {
      const key = symbol.toLowerCase();
      if (typeof row === 'string') rows[key] = row;
      else {
        const fields = { ...parseRow(rows[key] || `${key.toUpperCase()},,,,,,,`), ...row };
        rows[key] = FIELDS.map((f) => fields[f] ?? '').join(',');
      }
      log(`fake quote server: ${key} is now ${rows[key]}`);
    },
  };
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
    QUOTE_HISTORY_URL: quotes.historyUrl,
    // Every request reaches the fake service, so a test that changes a price sees it at once.
    QUOTE_CACHE_SECS: '0',
    QUOTE_HISTORY_CACHE_SECS: '0',
    // Watched symbols and alerts are priced again every 2 s (the server's default is 60).
    WATCH_REFRESH_SECS: '2',
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
    /**
     * Another server instance of this stack (the same database and broker) on a free port of
     * `host`: its users reach the first instance's only through RabbitMQ and PostgreSQL, as on
     * two machines. Stopped at cleanup. Resolves with {origin, port, child}.
     */
    async startInstance(host = '127.0.0.1') {
      const instancePort = await freePort();
      const instanceOrigin = `http://${host}:${instancePort}`;
      const child = spawnLogged(`server-${host}-${instancePort}`, SERVER_BIN, [], { ...env, LISTEN_ADDR: `${host}:${instancePort}` });
      onCleanup(() => stopProcess(child, 10_000));
      await waitFor(async () => {
        if (child.exitInfo) throw Object.assign(new Error(`server on ${instanceOrigin} exited:\n${tail(child.logFile)}`), { fatal: true });
        const res = await fetch(`${instanceOrigin}/readyz`).catch(() => null);
        return res && res.status === 200;
      }, { timeout: 45_000, what: `GET ${instanceOrigin}/readyz = 200` });
      log(`second instance ready on ${instanceOrigin} (pid ${child.pid})`);
      return { origin: instanceOrigin, port: instancePort, child };
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

// The browser (Chromium, pages that record their errors, the client's files from this checkout)
// is browser.js's; re-exported so that a test imports its whole harness from here.
export {
  WEB_DIR, launchBrowser, newPage, screenshot,
} from './browser.js';
