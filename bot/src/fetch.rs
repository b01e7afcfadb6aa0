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

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use reqwest::redirect;
use tickertalk_wire::StockCode;
use tokio::time::Instant;

use crate::quote::{self, Quote};

/// The largest quote body read, in bytes. A quote is one CSV row of well under 1 KiB.
pub const MAX_BODY: usize = 64 * 1024;

/// The most redirects followed for one request (all on `QUOTE_URL`'s own scheme, host, port).
pub const MAX_REDIRECTS: usize = 3;

/// How quotes are fetched; built from `BotConfig`.
#[derive(Debug, Clone)]
pub struct FetchConfig {
    /// URL template; `{symbol}` is replaced by the lower-case code.
    pub url: String,
    pub connect_timeout: Duration,
    /// The whole fetch, retries and their backoff included: the answer is ready by then.
    pub total_timeout: Duration,
    /// Extra attempts after a transient failure, when they fit before the deadline.
    pub retries: u32,
    /// A quote this fresh is reused for the same symbol: a busy room asking for the same
    /// code does not hammer the quote service (which rate-limits by IP).
    pub cache_ttl: Duration,
}

/// The quote service client, shared by every command in hand (one connection pool, one cache).
pub struct QuoteSource {
    cfg: FetchConfig,
    http: reqwest::Client,
    /// Last good quote per symbol, with when it was fetched. Failures are never cached.
    cache: Mutex<HashMap<String, (Instant, Quote)>>,
}

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
        })
    }

    /// The answer for a symbol: a quote, "not available", or a failure notice. Never fails,
    /// and is ready within `total_timeout`.
    pub async fn answer(&self, symbol: &StockCode) -> Answer {
        match self.quote(symbol).await {
            Ok(q) => Answer {
                text: quote::reply(&q),
                outcome: match q {
                    Quote::Price(_) => "quote",
                    Quote::NoData { .. } => "no_data",
                },
                quote: match q {
                    Quote::Price(fields) => Some(fields),
                    Quote::NoData { .. } => None,
                },
            },
            Err(why) => Answer {
                text: quote::failure_reply(symbol.as_str(), &why),
                outcome: "failed",
                quote: None,
            },
        }
    }

    async fn quote(&self, symbol: &StockCode) -> Result<Quote, String> {
        if let Some(q) = self.cached(symbol.as_str()) {
            metrics::counter!("tickertalk_bot_quote_cache_total", "result" => "hit").increment(1);
            tracing::debug!(symbol = symbol.as_str(), "quote from cache");
            return Ok(q);
        }
        metrics::counter!("tickertalk_bot_quote_cache_total", "result" => "miss").increment(1);
        let url = self.cfg.url.replace("{symbol}", symbol.as_str());
        let deadline = Instant::now() + self.cfg.total_timeout;
        let mut attempt = 0;
        let body = loop {
            let started = Instant::now();
            let fetched = tokio::time::timeout_at(deadline, self.fetch_once(&url))
                .await
                .unwrap_or_else(|_| Err(Failure::timed_out()));
            metrics::histogram!("tickertalk_bot_quote_fetch_seconds").record(started.elapsed().as_secs_f64());
            if let Err(f) = &fetched {
                metrics::counter!("tickertalk_bot_quote_failures_total", "kind" => f.kind).increment(1);
            }
            match fetched {
                Ok(body) => break body,
                Err(Failure {
                    transient: true, why, ..
                }) if attempt < self.cfg.retries && Instant::now() + backoff(attempt + 1) < deadline => {
                    attempt += 1;
                    tracing::info!(symbol = symbol.as_str(), attempt, %why, "quote fetch failed; retrying");
                    tokio::time::sleep(backoff(attempt)).await;
                }
                Err(f) => {
                    tracing::warn!(symbol = symbol.as_str(), why = %f.why, "quote fetch failed");
                    return Err(f.why);
                }
            }
        };
        let body = String::from_utf8_lossy(&body);
        let q = quote::parse(&body, symbol).map_err(|e| {
            metrics::counter!("tickertalk_bot_quote_failures_total", "kind" => "parse").increment(1);
            tracing::warn!(symbol = symbol.as_str(), error = %e, "unusable quote response");
            "unexpected response".to_string()
        })?;
        self.cache
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(symbol.as_str().to_string(), (Instant::now(), q.clone()));
        Ok(q)
    }

    fn cached(&self, symbol: &str) -> Option<Quote> {
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        let ttl = self.cfg.cache_ttl;
        cache.retain(|_, (at, _)| at.elapsed() < ttl);
        cache.get(symbol).map(|(_, q)| q.clone())
    }

    /// One request: the status, then the body in chunks, at most `MAX_BODY` bytes of it.
    async fn fetch_once(&self, url: &str) -> Result<Vec<u8>, Failure> {
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
        if resp.content_length().is_some_and(|n| n > MAX_BODY as u64) {
            return Err(Failure::too_large());
        }
        let mut body = Vec::with_capacity(resp.content_length().map_or(4096, |n| n as usize));
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
            if body.len() + chunk.len() > MAX_BODY {
                // Dropping the response closes the connection: the rest is never read.
                return Err(Failure::too_large());
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }
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
