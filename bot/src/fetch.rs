//! Fetching a quote over HTTP: bounded connect and total timeouts, a small retry with backoff
//! for transient failures (connection refused/reset, 502/503/504), and a short per-symbol cache
//! so a room asking for the same symbol again and again does not hammer the service.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use tickertalk_wire::StockCode;

use crate::quote::{self, Quote};

/// How quotes are fetched; built from `BotConfig`.
#[derive(Debug, Clone)]
pub struct FetchConfig {
    /// URL template; `{symbol}` is replaced by the lower-case code.
    pub url: String,
    pub connect_timeout: Duration,
    pub total_timeout: Duration,
    /// Extra attempts after a transient failure.
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

impl QuoteSource {
    pub fn new(cfg: FetchConfig) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder()
            .connect_timeout(cfg.connect_timeout)
            .timeout(cfg.total_timeout)
            .user_agent(concat!("tickertalk-bot/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(QuoteSource {
            cfg,
            http,
            cache: Mutex::new(HashMap::new()),
        })
    }

    /// The answer for a symbol: a quote, "not available", or a failure notice. Never fails.
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
        let mut attempt = 0;
        let body = loop {
            let started = Instant::now();
            let fetched = self.fetch_once(&url).await;
            metrics::histogram!("tickertalk_bot_quote_fetch_seconds").record(started.elapsed().as_secs_f64());
            if let Err(f) = &fetched {
                metrics::counter!("tickertalk_bot_quote_failures_total", "kind" => f.kind).increment(1);
            }
            match fetched {
                Ok(body) => break body,
                Err(Failure {
                    transient: true, why, ..
                }) if attempt < self.cfg.retries => {
                    attempt += 1;
                    let backoff = Duration::from_millis(200 * 2u64.pow(attempt - 1));
                    tracing::info!(symbol = symbol.as_str(), attempt, %why, "quote fetch failed; retrying");
                    tokio::time::sleep(backoff).await;
                }
                Err(f) => {
                    tracing::warn!(symbol = symbol.as_str(), why = %f.why, "quote fetch failed");
                    return Err(f.why);
                }
            }
        };
        let q = quote::parse(&body).map_err(|e| {
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

    async fn fetch_once(&self, url: &str) -> Result<String, Failure> {
        let resp = self.http.get(url).send().await.map_err(|e| {
            if e.is_timeout() {
                Failure {
                    transient: false,
                    kind: "timeout",
                    why: "timed out".into(),
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
        resp.text().await.map_err(|e| {
            let timeout = e.is_timeout();
            Failure {
                transient: false,
                kind: if timeout { "timeout" } else { "read" },
                why: if timeout {
                    "timed out".into()
                } else {
                    "unreadable response".into()
                },
            }
        })
    }
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
    why: String,
}
