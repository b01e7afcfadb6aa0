// Stock figures as the client shows them, without the DOM: a quote's change
// against a base (the previous close, or the day's open), the points of a
// one-month sparkline, the quote's time in the quote service's own time zone,
// cashtags ($AAPL) and the symbols they name, and a room's watchlist (its
// ticker strip and price alerts) read from the server's answer or frame 15.
//
// Every number of a quote arrives as a string (as the quote service wrote it);
// anything that is not a finite number is left out, never shown as NaN.
// The views (quote-card-view.js, ticker-view.js) draw what this computes, so
// node unit-tests all of it (tests/web/stocks.test.mjs).

/** A quote's field as a number, NaN when it is not one (empty, "N/D", missing). */
export function num(v) {
  if (typeof v === 'number') return v;
  return typeof v === 'string' && v.trim() !== '' ? Number(v) : NaN;
}

/** Two decimals, or as many as the price needs up to four (penny stocks). */
export function priceText(n) {
  const digits = Math.abs(n) >= 1 ? 2 : 4;
  return n.toLocaleString(undefined, { minimumFractionDigits: 2, maximumFractionDigits: digits });
}

/**
 * The move from `base` to `value`: {change, pct, dir: 'up'|'down'|'flat', sign,
 * arrow, text: "+1.62 (+1.76%)"}, or null when either is not a number. The sign
 * and the arrow say the direction in characters, so colour is never the only signal.
 */
export function changeFigures(value, base) {
  const v = num(value);
  const b = num(base);
  if (!Number.isFinite(v) || !Number.isFinite(b)) return null;
  const change = v - b;
  const pct = b !== 0 ? (change / b) * 100 : 0;
  // A change that rounds to zero cents is flat, whatever the float says.
  const shown = Math.round(Math.abs(change) * 10_000) / 10_000;
  const dir = shown === 0 ? 'flat' : change > 0 ? 'up' : 'down';
  const sign = dir === 'up' ? '+' : dir === 'down' ? '−' : '±';
  const arrow = dir === 'up' ? '▲' : dir === 'down' ? '▼' : '▶';
  const text = `${sign}${priceText(Math.abs(change))} (${sign}${Math.abs(pct).toFixed(2)}%)`;
  return { change, pct, dir, sign, arrow, text };
}

/** "up 1.62 (1.76%)": a change in words, for a screen reader's label. */
export function changeWords(figures) {
  if (!figures) return '';
  const word = figures.dir === 'up' ? 'up' : figures.dir === 'down' ? 'down' : 'unchanged';
  return figures.dir === 'flat' ? word : `${word} ${priceText(Math.abs(figures.change))} (${Math.abs(figures.pct).toFixed(2)}%)`;
}

/**
 * A quote's daily closes, oldest first: its `history` (items whose close is not
 * a number are skipped), and the quote's own close after them when it is of a
 * later day than the history's last (a quote taken before the history caught up).
 */
export function closes(quote) {
  if (!quote || !Array.isArray(quote.history)) return [];
  const out = [];
  let lastDate = '';
  for (const h of quote.history) {
    const c = h && typeof h === 'object' ? num(h.close) : NaN;
    if (!Number.isFinite(c)) continue;
    out.push(c);
    if (typeof h.date === 'string') lastDate = h.date;
  }
  const close = num(quote.close);
  if (out.length && Number.isFinite(close) && typeof quote.date === 'string' && lastDate && quote.date > lastDate) out.push(close);
  return out;
}

/**
 * A sparkline of `values` in a `width`×`height` box (`pad` inside its edges):
 * {points: "x,y x,y …" for an SVG polyline, count, min, max, first, last, dir},
 * or null for fewer than two values. Higher values are higher up (smaller y);
 * a flat series is drawn across the middle.
 */
export function sparkline(values, { width = 240, height = 40, pad = 2 } = {}) {
  const ys = (values || []).filter((v) => typeof v === 'number' && Number.isFinite(v));
  if (ys.length < 2) return null;
  const min = Math.min(...ys);
  const max = Math.max(...ys);
  const spanX = width - 2 * pad;
  const spanY = height - 2 * pad;
  const round = (n) => Math.round(n * 10) / 10;
  const points = ys.map((v, i) => {
    const x = pad + (i * spanX) / (ys.length - 1);
    const y = max > min ? pad + ((max - v) / (max - min)) * spanY : height / 2;
    return `${round(x)},${round(y)}`;
  }).join(' ');
  const first = ys[0];
  const last = ys[ys.length - 1];
  const dir = last > first ? 'up' : last < first ? 'down' : 'flat';
  return { points, count: ys.length, min, max, first, last, dir };
}

/**
 * When a quote was taken, in the quote service's time zone, with the zone's
 * name: "May 3, 22:00 GMT+2" (the words and the zone's name are the reader's
 * locale's: "3 May, 22:00 CEST" in en-GB). From `at` (RFC 3339) and
 * `time_zone`; when the browser does not know the zone, its date and time as
 * the service wrote them and the zone's id. '' when the quote has no time.
 */
export function quoteTime(quote, locale = undefined) {
  if (!quote) return '';
  const zone = typeof quote.time_zone === 'string' && quote.time_zone ? quote.time_zone : '';
  const at = typeof quote.at === 'string' ? new Date(quote.at) : null;
  if (at && !Number.isNaN(at.getTime()) && zone) {
    try {
      return new Intl.DateTimeFormat(locale, {
        month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', hourCycle: 'h23', timeZone: zone, timeZoneName: 'short',
      }).format(at);
    } catch {
      /* a zone this browser does not know: the service's own words below */
    }
  }
  const date = typeof quote.date === 'string' ? quote.date : '';
  const time = typeof quote.time === 'string' ? quote.time.slice(0, 5) : '';
  if (!date) return '';
  return [date, time, zone].filter(Boolean).join(' ');
}

/** The same moment in full (year, seconds, the zone's long name), for a tooltip; '' when unknown. */
export function quoteTimeFull(quote, locale = undefined) {
  if (!quote || typeof quote.at !== 'string' || !quote.time_zone) return '';
  const at = new Date(quote.at);
  if (Number.isNaN(at.getTime())) return '';
  try {
    return new Intl.DateTimeFormat(locale, { dateStyle: 'full', timeStyle: 'long', timeZone: quote.time_zone }).format(at);
  } catch {
    return '';
  }
}

// ---------------------------------------------------------------------------
// Cashtags
// ---------------------------------------------------------------------------

/**
 * `$` and a letter, then up to 15 letters or digits, and an optional market
 * suffix (`$AAPL.US`); not glued to a word before it (`US$5`, `a$b`) nor
 * running into more letters or digits after it. One pass, no nested quantifier.
 */
const CASHTAG = /(?<![A-Za-z0-9_$])\$([A-Za-z][A-Za-z0-9]{0,15}(?:\.[A-Za-z]{2})?)(?![A-Za-z0-9])/g;

/** The cashtags of `text`: [{start, end, text: "$AAPL", symbol: "AAPL"}], in order. */
export function findCashtags(text) {
  const found = [];
  for (const m of String(text ?? '').matchAll(CASHTAG)) {
    found.push({ start: m.index, end: m.index + m[0].length, text: m[0], symbol: m[1].toUpperCase() });
  }
  return found;
}

/**
 * The symbol the bot answers a code with: upper-cased, and a code of 1–5
 * letters (with an optional `-X` class, BRK-B) without `.` or `^` is an
 * American one, `.US` appended (`$aapl` → AAPL.US). '' for nothing usable.
 */
export function quoteSymbol(code) {
  const c = String(code ?? '').trim().replace(/^\$/, '').toUpperCase();
  if (!c) return '';
  return /^[A-Z]{1,5}(-[A-Z])?$/.test(c) ? `${c}.US` : c;
}

/** The command that asks for a symbol's quote: "/stock=aapl.us". */
export function stockCommand(symbol) {
  const s = quoteSymbol(symbol);
  return s ? `/stock=${s.toLowerCase()}` : '';
}

// ---------------------------------------------------------------------------
// A room's watchlist and alerts (GET /v1/chat/rooms/:id/watchlist, frame 15)
// ---------------------------------------------------------------------------

export function watchlistPath(roomId) {
  return `/v1/chat/rooms/${encodeURIComponent(roomId)}/watchlist`;
}

/** The command that cancels an alert: "/unalert=12". */
export function unalertCommand(id) {
  return `/unalert=${id}`;
}

const OPS = new Set(['>', '<', '%']);

function readAlert(a) {
  if (!a || typeof a !== 'object' || !Number.isSafeInteger(a.id) || typeof a.symbol !== 'string' || !a.symbol) return null;
  const op = OPS.has(a.op) ? a.op : '';
  return {
    id: a.id,
    symbol: a.symbol,
    op,
    threshold: typeof a.threshold === 'string' || typeof a.threshold === 'number' ? String(a.threshold) : '',
    set_by: typeof a.set_by === 'string' ? a.set_by : '',
    created_at: typeof a.created_at === 'string' ? a.created_at : null,
  };
}

function readSymbol(s) {
  if (!s || typeof s !== 'object' || typeof s.symbol !== 'string' || !s.symbol) return null;
  const quote = s.quote && typeof s.quote === 'object' ? s.quote : null;
  return { symbol: s.symbol, quote, refreshed_at: typeof s.refreshed_at === 'string' ? s.refreshed_at : null };
}

/**
 * A room's watchlist as the strip shows it, from the HTTP answer or a type 15
 * frame (the whole state: it replaces what was shown): {symbols, alerts},
 * anything malformed left out.
 */
export function readWatchlist(data) {
  const symbols = data && Array.isArray(data.symbols) ? data.symbols.map(readSymbol).filter(Boolean) : [];
  const alerts = data && Array.isArray(data.alerts) ? data.alerts.map(readAlert).filter(Boolean) : [];
  return { symbols, alerts };
}

/** Whether the strip has anything to show. */
export function watchlistShown(state) {
  return !!state && (state.symbols.length > 0 || state.alerts.length > 0);
}

/**
 * One symbol of the strip: {symbol, price: "93.42" or "…", change (changeFigures
 * against the previous close, or null), priced}.
 */
export function tickerItem(item) {
  const close = item.quote ? num(item.quote.close) : NaN;
  if (!Number.isFinite(close)) return { symbol: item.symbol, price: '…', change: null, priced: false };
  return { symbol: item.symbol, price: priceText(close), change: changeFigures(close, item.quote.previous_close), priced: true };
}

/** An alert's condition in symbols, "AAPL.US > 200" or "TSLA.US ±5%", and in words. */
export function alertLabel(alert) {
  if (alert.op === '%') return `${alert.symbol} ±${alert.threshold}%`;
  return `${alert.symbol} ${alert.op} ${alert.threshold}`.trim();
}

export function alertWords(alert) {
  if (alert.op === '%') return `${alert.symbol} moving ${alert.threshold}% from the previous close`;
  const how = alert.op === '>' ? 'above' : alert.op === '<' ? 'below' : 'at';
  return `${alert.symbol} ${how} ${alert.threshold}`;
}

// ---------------------------------------------------------------------------
// Commands, for the hint under the message box
// ---------------------------------------------------------------------------

/** The room commands (the bot's /help has the full text): [form, what it does]. */
export const COMMANDS = Object.freeze([
  ['/stock=CODE', 'a quote; several: /stock=msft,tsla'],
  ['/watch=CODE', 'pin to the ticker strip'],
  ['/unwatch=CODE', 'unpin'],
  ['/alert=CODE>PRICE', 'alert once above a price (< below, %5 a move)'],
  ['/alerts', "the room's alerts"],
  ['/unalert=ID', 'cancel an alert'],
  ['/help', 'every command'],
]);

/**
 * The commands the text in the box may be starting: all of them for a lone
 * `/`, those whose name starts with what is typed before `=` or a space, and
 * none once the text is not a command's start (no `/` first, or a second line).
 */
export function commandHints(text) {
  const t = String(text ?? '');
  if (!t.startsWith('/') || t.includes('\n')) return [];
  const word = t.slice(1).split(/[=\s]/, 1)[0].toLowerCase();
  return COMMANDS.filter(([form]) => form.slice(1).toLowerCase().startsWith(word)
    && (!/[=\s]/.test(t) || form.slice(1).split(/[=\s]/, 1)[0].toLowerCase() === word));
}
