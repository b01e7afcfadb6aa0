//! Fetching a quote over HTTP, with limits a hostile or broken quote service cannot get past:
//!
//! * one deadline for the whole fetch (`FetchConfig::total_timeout`, `QUOTE_TIMEOUT_MS`, 5 s by
//!   default): connecting, every attempt, the backoff between them and reading the body,
//!   however slowly it trickles. A retry is only started when its backoff ends before the
//!   deadline;
//! * the body is read in chunks and given up once it passes [`MAX_BODY`] (a `Content-Length`
//!   over it is refused before any of the body is read); it is never buffered whole;
//! * redirects are followed only to the scheme, host and port of `QUOTE_URL`, at most
//!   [`MAX_REDIRECTS`] of them; any other one is a failure, the target is never asked.
//!
//! Within those: a small retry with backoff for transient failures (connection refused/reset,
//! 502/503/504), and a short per-symbol cache so a room asking for the same symbol again and
//! again does not hammer the service. Whatever goes wrong, the answer is the usual failure
//! reply, in the bot's own words.
//!
//! The daily history (`QUOTE_HISTORY_URL`) is fetched beside the quote, under the same
//! deadline, redirect rule and retries, and cached the same way; its body is streamed and only
//! its end kept (`Body::Tail`). A history that fails or is late never holds back the price.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::redirect;
use tickertalk_wire::{HistoryPoint, StockCode};
use tokio::time::Instant;

use crate::history;
use crate::quote::{self, Quote};
use crate::suggest;

/// The largest quote body read, in bytes. A quote is one CSV row of well under 1 KiB.
pub const MAX_BODY: usize = 64 * 1024;

/// The most of a history body read, in bytes. stooq sends a symbol's whole daily history
/// (decades: hundreds of KiB), oldest first; only its header and its last [`HISTORY_TAIL`]
/// bytes are kept while it streams past.
pub const HISTORY_MAX_READ: usize = 4 * 1024 * 1024;

/// The end of a history body kept: well over the month the card shows (about 45 bytes a day).
pub const HISTORY_TAIL: usize = 16 * 1024;

/// How long a quote that is ready waits for its history still on the way.
pub const HISTORY_GRACE: Duration = Duration::from_millis(1500);

/// The most redirects followed for one request (all on `QUOTE_URL`'s own scheme, host, port).
pub const MAX_REDIRECTS: usize = 3;

/// How quotes are fetched; built from `BotConfig`.
#[derive(Debug, Clone)]
pub struct FetchConfig {
    /// URL template; `{symbol}` is replaced by the lower-case code.
    pub url: String,
    /// History URL template (`QUOTE_HISTORY_URL`); empty: no history.
    pub history_url: String,
    pub connect_timeout: Duration,
    /// The whole fetch, retries and their backoff included: the answer is ready by then.
    pub total_timeout: Duration,
    /// Extra attempts after a transient failure, when they fit before the deadline.
    pub retries: u32,
    /// A quote this fresh is reused for the same symbol: a busy room asking for the same
    /// code does not hammer the quote service (which rate-limits by IP).
    pub cache_ttl: Duration,
    /// The same for a symbol's history (daily closes change once a day).
    pub history_cache_ttl: Duration,
    /// The zone the service's dates and times are in (`QUOTE_TIME_ZONE`).
    pub zone: chrono_tz::Tz,
}

/// The quote service client, shared by every command in hand (one connection pool, one cache).
pub struct QuoteSource {
    cfg: FetchConfig,
    http: reqwest::Client,
    /// Last good quote per symbol, with when it was fetched. Failures are never cached.
    cache: Cache<Quote>,
    /// Last good history per symbol, likewise.
    histories: Cache<Arc<Vec<HistoryPoint>>>,
}

/// Per symbol: a value and when it was fetched.
type Cache<T> = Mutex<HashMap<String, (Instant, T)>>;

/// Why a redirect was refused (what `reqwest` reports; the reply says "redirected elsewhere").
#[derive(Debug, thiserror::Error)]
#[error("redirect refused: not to the quote service's own scheme, host and port, or too many")]
struct RedirectRefused;

/// Follows a redirect only back to the origin the chain started from, and only a few times.
fn same_origin_redirects(attempt: redirect::Attempt<'_>) -> redirect::Action {
    let Some(first) = attempt.previous().first() else {
        return attempt.error(RedirectRefused);
    };
    let next = attempt.url();
    let same = next.scheme() == first.scheme()
        && next.host_str().is_some()
        && next.host_str() == first.host_str()
        && next.port_or_known_default() == first.port_or_known_default();
    // `previous` holds the first URL too: it has MAX_REDIRECTS + 1 entries at the last allowed.
    if same && attempt.previous().len() <= MAX_REDIRECTS {
        attempt.follow()
    } else {
        attempt.error(RedirectRefused)
    }
}

/// How much of a body is read and kept.
#[derive(Debug, Clone, Copy)]
enum Body {
    /// All of it, refused past this many bytes.
    Whole(usize),
    /// Its first line and its last `keep` bytes (from a line start), refused past `max_read`.
    Tail { max_read: usize, keep: usize },
}

impl QuoteSource {
    pub fn new(cfg: FetchConfig) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder()
            .connect_timeout(cfg.connect_timeout)
            // Per request; the deadline in `quote` bounds the whole fetch.
            .timeout(cfg.total_timeout)
            .redirect(redirect::Policy::custom(same_origin_redirects))
            .user_agent(concat!("tickertalk-bot/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(QuoteSource {
            cfg,
            http,
            cache: Mutex::new(HashMap::new()),
            histories: Mutex::new(HashMap::new()),
        })
    }

    /// The answer for a symbol: a quote (with its zone, and its month of history when that
    /// came), "not available" (with a suggestion when one is close), or a failure notice.
    /// Never fails, and is ready within `total_timeout` (plus [`HISTORY_GRACE`] at most when
    /// the history is slower than the quote).
    pub async fn answer(&self, symbol: &StockCode) -> Answer {
        let q = match self.full_quote(symbol).await {
            Ok(q) => q,
            Err(why) => {
                return Answer {
                    text: quote::failure_reply(symbol.as_str(), &why),
                    outcome: "failed",
                    quote: None,
                    suggestion: None,
                };
            }
        };
        let mut text = quote::reply(&q);
        match q {
            Quote::Price(fields) => Answer {
                text,
                outcome: "quote",
                quote: Some(fields),
                suggestion: None,
            },
            Quote::NoData { .. } => {
                let hint = suggest::suggest(symbol.as_str());
                if let Some(k) = hint {
                    text = format!("{text}. {}", suggest::sentence(k));
                }
                Answer {
                    text,
                    outcome: "no_data",
                    quote: None,
                    suggestion: hint.map(|k| k.symbol.to_ascii_uppercase()),
                }
            }
        }
    }

    /// The quote with its zone and, when the history fetch works, its month of history and
    /// previous close. The two are fetched at once; a quote that is ready waits for a history
    /// still on the way at most [`HISTORY_GRACE`], and goes out without it after that (or
    /// when it failed).
    pub async fn full_quote(&self, symbol: &StockCode) -> Result<Quote, String> {
        let deadline = Instant::now() + self.cfg.total_timeout;
        let mut history = std::pin::pin!(self.history(symbol, deadline));
        let mut quote = std::pin::pin!(self.quote(symbol, deadline));
        let mut early = None;
        let quote = loop {
            tokio::select! {
                q = &mut quote => break q,
                h = &mut history, if early.is_none() => early = Some(h),
            }
        };
        let mut q = quote?;
        if let Quote::Price(fields) = &mut q {
            history::locate(fields, self.cfg.zone);
            let h = match early {
                Some(h) => h,
                None => tokio::time::timeout(HISTORY_GRACE, history)
                    .await
                    .unwrap_or_else(|_| Err("timed out".into())),
            };
            if let Ok(h) = h {
                history::attach(fields, &h);
            }
        }
        Ok(q)
    }

    async fn quote(&self, symbol: &StockCode, deadline: Instant) -> Result<Quote, String> {
        if let Some(q) = cached(&self.cache, symbol.as_str(), self.cfg.cache_ttl) {
            metrics::counter!("tickertalk_bot_quote_cache_total", "result" => "hit").increment(1);
            tracing::debug!(symbol = symbol.as_str(), "quote from cache");
            return Ok(q);
        }
        metrics::counter!("tickertalk_bot_quote_cache_total", "result" => "miss").increment(1);
        let url = self.cfg.url.replace("{symbol}", symbol.as_str());
        let body = self
            .get(&url, Body::Whole(MAX_BODY), deadline, symbol, true)
            .await?;
        let body = String::from_utf8_lossy(&body);
        let q = quote::parse(&body, symbol).map_err(|e| {
            metrics::counter!("tickertalk_bot_quote_failures_total", "kind" => "parse").increment(1);
            tracing::warn!(symbol = symbol.as_str(), error = %e, "unusable quote response");
            "unexpected response".to_string()
        })?;
        store(&self.cache, symbol.as_str(), q.clone());
        Ok(q)
    }

    /// The symbol's daily history (all of it that was kept, sorted), from the cache or the
    /// service. Off (an error) when `QUOTE_HISTORY_URL` is empty.
    async fn history(&self, symbol: &StockCode, deadline: Instant) -> Result<Arc<Vec<HistoryPoint>>, String> {
        if self.cfg.history_url.is_empty() {
            return Err("off".into());
        }
        if let Some(h) = cached(&self.histories, symbol.as_str(), self.cfg.history_cache_ttl) {
            metrics::counter!("tickertalk_bot_history_total", "result" => "hit").increment(1);
            return Ok(h);
        }
        let url = self.cfg.history_url.replace("{symbol}", symbol.as_str());
        let body = Body::Tail {
            max_read: HISTORY_MAX_READ,
            keep: HISTORY_TAIL,
        };
        let parsed = match self.get(&url, body, deadline, symbol, false).await {
            Ok(body) => history::parse(&String::from_utf8_lossy(&body)).map_err(|e| e.to_string()),
            Err(why) => Err(why),
        };
        match parsed {
            Ok(points) => {
                metrics::counter!("tickertalk_bot_history_total", "result" => "fetched").increment(1);
                let points = Arc::new(points);
                store(&self.histories, symbol.as_str(), points.clone());
                Ok(points)
            }
            Err(why) => {
                metrics::counter!("tickertalk_bot_history_total", "result" => "failed").increment(1);
                tracing::info!(symbol = symbol.as_str(), %why, "no history; the quote goes without it");
                Err(why)
            }
        }
    }

    /// GETs `url` before `deadline`, retrying transient failures with backoff while a retry
    /// fits. `quote` says whether this is a quote fetch (counted in the quote metrics).
    async fn get(
        &self,
        url: &str,
        body: Body,
        deadline: Instant,
        symbol: &StockCode,
        quote: bool,
    ) -> Result<Vec<u8>, String> {
        let mut attempt = 0;
        loop {
            let started = Instant::now();
            let fetched = tokio::time::timeout_at(deadline, self.fetch_once(url, body))
                .await
                .unwrap_or_else(|_| Err(Failure::timed_out()));
            if quote {
                metrics::histogram!("tickertalk_bot_quote_fetch_seconds")
                    .record(started.elapsed().as_secs_f64());
                if let Err(f) = &fetched {
                    metrics::counter!("tickertalk_bot_quote_failures_total", "kind" => f.kind).increment(1);
                }
            }
            match fetched {
                Ok(body) => return Ok(body),
                Err(Failure {
                    transient: true, why, ..
                }) if attempt < self.cfg.retries && Instant::now() + backoff(attempt + 1) < deadline => {
                    attempt += 1;
                    tracing::info!(symbol = symbol.as_str(), attempt, %why, quote, "fetch failed; retrying");
                    tokio::time::sleep(backoff(attempt)).await;
                }
                Err(f) => {
                    if quote {
                        tracing::warn!(symbol = symbol.as_str(), why = %f.why, "quote fetch failed");
                    }
                    return Err(f.why);
                }
            }
        }
    }

    /// One request: the status, then the body in chunks, within `limit`.
    async fn fetch_once(&self, url: &str, limit: Body) -> Result<Vec<u8>, Failure> {
        let mut resp = self.http.get(url).send().await.map_err(|e| {
            if e.is_timeout() {
                Failure::timed_out()
            } else if e.is_redirect() {
                Failure {
                    transient: false,
                    kind: "redirect",
                    why: "redirected elsewhere".into(),
                }
            } else {
                Failure {
                    transient: e.is_connect() || e.is_request(),
                    kind: "connect",
                    why: "unreachable".into(),
                }
            }
        })?;
        let status = resp.status();
        if !status.is_success() {
            return Err(Failure {
                transient: matches!(status.as_u16(), 502..=504),
                kind: "status",
                why: format!("HTTP {}", status.as_u16()),
            });
        }
        let max_read = match limit {
            Body::Whole(max) => max,
            Body::Tail { max_read, .. } => max_read,
        };
        if resp.content_length().is_some_and(|n| n > max_read as u64) {
            return Err(Failure::too_large());
        }
        let mut kept = Kept::new(limit);
        while let Some(chunk) = resp.chunk().await.map_err(|e| {
            if e.is_timeout() {
                Failure::timed_out()
            } else {
                Failure {
                    transient: false,
                    kind: "read",
                    why: "unreadable response".into(),
                }
            }
        })? {
            // Dropping the response closes the connection: the rest is never read.
            kept.push(&chunk)?;
        }
        Ok(kept.finish())
    }
}

/// A body as it streams in, within its limit: all of it, or its first line and its end.
struct Kept {
    limit: Body,
    read: usize,
    head: Vec<u8>,
    tail: Vec<u8>,
    /// Whether the tail lost bytes from its front (its first line may be cut).
    cut: bool,
}

impl Kept {
    fn new(limit: Body) -> Self {
        Kept {
            limit,
            read: 0,
            head: Vec::new(),
            tail: Vec::new(),
            cut: false,
        }
    }

    fn push(&mut self, mut chunk: &[u8]) -> Result<(), Failure> {
        self.read += chunk.len();
        match self.limit {
            Body::Whole(max) => {
                if self.read > max {
                    return Err(Failure::too_large());
                }
                self.head.extend_from_slice(chunk);
            }
            Body::Tail { max_read, keep } => {
                if self.read > max_read {
                    return Err(Failure::too_large());
                }
                // The header line goes to `head` (a header without a line end within 1 KiB is
                // not CSV: it is kept whole and will not parse).
                if !self.head.ends_with(b"\n") && self.head.len() < 1024 {
                    let end = chunk
                        .iter()
                        .position(|b| *b == b'\n')
                        .map_or(chunk.len(), |i| i + 1)
                        .min(1024 - self.head.len());
                    self.head.extend_from_slice(&chunk[..end]);
                    chunk = &chunk[end..];
                }
                self.tail.extend_from_slice(chunk);
                if self.tail.len() > 2 * keep {
                    self.tail.drain(..self.tail.len() - keep);
                    self.cut = true;
                }
            }
        }
        Ok(())
    }

    fn finish(mut self) -> Vec<u8> {
        if self.cut {
            // Drop the partial line the cut left at the front.
            let start = self
                .tail
                .iter()
                .position(|b| *b == b'\n')
                .map_or(self.tail.len(), |i| i + 1);
            self.tail.drain(..start);
        }
        self.head.extend_from_slice(&self.tail);
        self.head
    }
}

/// A value of `cache` still fresher than `ttl` (stale ones are dropped on the way).
fn cached<T: Clone>(cache: &Cache<T>, symbol: &str, ttl: Duration) -> Option<T> {
    let mut cache = cache.lock().unwrap_or_else(|p| p.into_inner());
    cache.retain(|_, (at, _)| at.elapsed() < ttl);
    cache.get(symbol).map(|(_, v)| v.clone())
}

fn store<T>(cache: &Cache<T>, symbol: &str, value: T) {
    cache
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(symbol.to_string(), (Instant::now(), value));
}

/// The pause before retry number `attempt` (1-based): 200 ms, 400 ms, 800 ms, ...
fn backoff(attempt: u32) -> Duration {
    Duration::from_millis(200u64.saturating_mul(2u64.saturating_pow(attempt.saturating_sub(1))))
}

/// What the bot answers to one command.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    /// The sentence, as the contract words it.
    pub text: String,
    /// `quote`, `no_data` or `failed` (`tickertalk_wire::BotMeta::outcome`).
    pub outcome: &'static str,
    pub quote: Option<tickertalk_wire::QuoteFields>,
    /// On `no_data`: a symbol the asker may have meant (upper-case).
    pub suggestion: Option<String>,
}

struct Failure {
    transient: bool,
    /// The `kind` label of `tickertalk_bot_quote_failures_total`.
    kind: &'static str,
    /// The reason shown in the reply: always the bot's own words, never the service's.
    why: String,
}

impl Failure {
    fn timed_out() -> Self {
        Failure {
            transient: false,
            kind: "timeout",
            why: "timed out".into(),
        }
    }

    fn too_large() -> Self {
        Failure {
            transient: false,
            kind: "too_large",
            why: "response too large".into(),
        }
    }
}
