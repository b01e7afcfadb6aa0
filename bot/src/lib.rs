//! tickertalk-bot: consumes `/stock=CODE` commands from RabbitMQ, fetches the quote CSV and
//! publishes the answer to the durable answer queue, where a server instance takes it and
//! stores it in the room. It talks to the server only
//! through RabbitMQ; the wire types and topology come from `tickertalk-wire`, the one crate
//! both sides link, so they agree on them without the bot linking the server.

pub mod fetch;
pub mod history;
pub mod metrics_http;
pub mod quote;
pub mod refresh;
pub mod suggest;
pub mod worker;

use std::time::Duration;

use clap::{Parser, Subcommand};

/// What the binary does besides answering commands (the default).
#[derive(Subcommand, Clone, Debug, PartialEq, Eq)]
pub enum BotCommand {
    /// Exit 0 if the broker at AMQP_URL answers and a bot consumes the command queue, 1 if not.
    /// For container health checks.
    Healthcheck,
}

/// Bot configuration: flags, environment, `.env`.
#[derive(Parser, Clone)]
#[command(name = "tickertalk-bot", version, about = "tickertalk stock-quote bot")]
pub struct BotConfig {
    /// What to do; answering commands when omitted.
    #[command(subcommand)]
    pub command: Option<BotCommand>,

    /// RabbitMQ URL.
    #[arg(
        long,
        env = "AMQP_URL",
        default_value = "amqp://guest:guest@127.0.0.1:5672/%2f",
        hide_env_values = true
    )]
    pub amqp_url: String,

    /// Quote CSV URL; `{symbol}` is replaced by the lower-case stock code.
    #[arg(
        long,
        env = "QUOTE_URL",
        default_value = "https://stooq.com/q/l/?s={symbol}&f=sd2t2ohlcv&h&e=csv"
    )]
    pub quote_url: String,

    /// Daily history CSV URL (`Date,Open,High,Low,Close,Volume`); `{symbol}` as in QUOTE_URL.
    /// Empty: quotes go without history (no chart, no change against the previous close).
    #[arg(
        long,
        env = "QUOTE_HISTORY_URL",
        default_value = "https://stooq.com/q/d/l/?s={symbol}&i=d"
    )]
    pub quote_history_url: String,

    /// The time zone of the quote service's dates and times (an IANA name; stooq's is Warsaw).
    #[arg(long, env = "QUOTE_TIME_ZONE", default_value = "Europe/Warsaw")]
    pub quote_time_zone: String,

    /// Prefix of exchange and queue names (must match the server's).
    #[arg(long, env = "BROKER_PREFIX", default_value = "tickertalk")]
    pub broker_prefix: String,

    /// Commands one bot works on at once (the broker's prefetch limit).
    #[arg(long, env = "BOT_PREFETCH", default_value_t = 8)]
    pub prefetch: u16,

    /// Total time allowed for fetching one quote, in milliseconds: every attempt, the backoff
    /// between them and the body included (the answer is ready by then).
    #[arg(long, env = "QUOTE_TIMEOUT_MS", default_value_t = 5000)]
    pub quote_timeout_ms: u64,

    /// Time allowed to connect to the quote service, in milliseconds.
    #[arg(long, env = "QUOTE_CONNECT_TIMEOUT_MS", default_value_t = 2000)]
    pub quote_connect_timeout_ms: u64,

    /// Extra attempts after a transient quote failure.
    #[arg(long, env = "QUOTE_RETRIES", default_value_t = 2)]
    pub quote_retries: u32,

    /// Seconds a quote is reused for the same symbol.
    #[arg(long, env = "QUOTE_CACHE_SECS", default_value_t = 30)]
    pub quote_cache_secs: u64,

    /// Seconds a symbol's history is reused (daily closes change once a day).
    #[arg(long, env = "QUOTE_HISTORY_CACHE_SECS", default_value_t = 600)]
    pub quote_history_cache_secs: u64,

    /// Where `GET /metrics` (Prometheus) and `GET /healthz` are served; empty: nowhere.
    #[arg(long, env = "METRICS_ADDR", default_value = "127.0.0.1:9102")]
    pub metrics_addr: String,
}

impl std::fmt::Debug for BotConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BotConfig")
            .field("amqp_url", &tickertalk_wire::nodes::redact_list(&self.amqp_url))
            .field("quote_url", &self.quote_url)
            .field("quote_history_url", &self.quote_history_url)
            .field("quote_time_zone", &self.quote_time_zone)
            .field("broker_prefix", &self.broker_prefix)
            .field("prefetch", &self.prefetch)
            .field("metrics_addr", &self.metrics_addr)
            .finish_non_exhaustive()
    }
}

impl BotConfig {
    /// One line naming the variable when something is malformed.
    pub fn validate(&self) -> Result<(), String> {
        tickertalk_wire::Nodes::parse_in_order(&self.amqp_url).map_err(|e| format!("AMQP_URL: {e}"))?;
        let probe = self.quote_url.replace("{symbol}", "aapl.us");
        let quote = url::Url::parse(&probe).map_err(|e| format!("QUOTE_URL: not a valid URL ({e})"))?;
        if !matches!(quote.scheme(), "http" | "https") {
            return Err("QUOTE_URL: scheme must be http or https".into());
        }
        if !self.quote_url.contains("{symbol}") {
            return Err("QUOTE_URL: must contain {symbol}".into());
        }
        if !self.quote_history_url.is_empty() {
            let probe = self.quote_history_url.replace("{symbol}", "aapl.us");
            let history =
                url::Url::parse(&probe).map_err(|e| format!("QUOTE_HISTORY_URL: not a valid URL ({e})"))?;
            if !matches!(history.scheme(), "http" | "https") {
                return Err("QUOTE_HISTORY_URL: scheme must be http or https".into());
            }
            if !self.quote_history_url.contains("{symbol}") {
                return Err("QUOTE_HISTORY_URL: must contain {symbol}".into());
            }
        }
        self.zone()?;
        if self.prefetch == 0 {
            return Err("BOT_PREFETCH: must be at least 1".into());
        }
        Ok(())
    }

    fn zone(&self) -> Result<chrono_tz::Tz, String> {
        self.quote_time_zone.parse().map_err(|_| {
            format!(
                "QUOTE_TIME_ZONE: {:?} is not an IANA time zone name",
                self.quote_time_zone
            )
        })
    }

    pub fn fetch_config(&self) -> fetch::FetchConfig {
        fetch::FetchConfig {
            url: self.quote_url.clone(),
            history_url: self.quote_history_url.clone(),
            history_cache_ttl: Duration::from_secs(self.quote_history_cache_secs),
            zone: self.zone().unwrap_or(chrono_tz::Europe::Warsaw),
            connect_timeout: Duration::from_millis(self.quote_connect_timeout_ms),
            total_timeout: Duration::from_millis(self.quote_timeout_ms),
            retries: self.quote_retries,
            cache_ttl: Duration::from_secs(self.quote_cache_secs),
        }
    }
}

/// The bot's metrics, with their help texts (`docs/metrics.md`).
pub fn describe_metrics() {
    use metrics::{describe_counter, describe_gauge, describe_histogram};
    describe_counter!(
        "tickertalk_bot_commands_total",
        "Stock commands taken from the command queue"
    );
    describe_counter!(
        "tickertalk_bot_answers_total",
        "Answers the broker confirmed, by outcome (quote, no_data, failed)"
    );
    describe_counter!(
        "tickertalk_bot_quote_failures_total",
        "Failed quote fetch attempts, by kind (timeout, connect, status, read, parse, redirect, too_large)"
    );
    describe_histogram!(
        "tickertalk_bot_quote_fetch_seconds",
        metrics::Unit::Seconds,
        "Time of one quote fetch attempt"
    );
    describe_counter!(
        "tickertalk_bot_quote_cache_total",
        "Quote lookups, by result (hit, miss)"
    );
    describe_counter!(
        "tickertalk_bot_history_total",
        "History lookups, by result (hit, fetched, failed)"
    );
    describe_counter!(
        "tickertalk_bot_refreshes_total",
        "Price refreshes answered (one per scheduled refresh of watched and alerted symbols)"
    );
    describe_gauge!(
        "tickertalk_bot_broker_connected",
        "1 while the bot is connected to RabbitMQ"
    );
    describe_counter!(
        "tickertalk_bot_broker_reconnects_total",
        "Broker connections after the first"
    );
    describe_gauge!(
        "tickertalk_bot_consuming",
        "1 while the bot consumes the command queue"
    );
    // Every counter's series exist from the start at 0 (rate() misses a series' first
    // increment otherwise).
    use tickertalk_wire::prometheus::zero;
    zero(
        "tickertalk_bot_answers_total",
        "outcome",
        &["quote", "no_data", "failed"],
    );
    zero(
        "tickertalk_bot_quote_failures_total",
        "kind",
        &[
            "timeout",
            "connect",
            "status",
            "read",
            "parse",
            "redirect",
            "too_large",
        ],
    );
    zero("tickertalk_bot_quote_cache_total", "result", &["hit", "miss"]);
    zero(
        "tickertalk_bot_history_total",
        "result",
        &["hit", "fetched", "failed"],
    );
    metrics::counter!("tickertalk_bot_refreshes_total").increment(0);
    metrics::counter!("tickertalk_bot_commands_total").increment(0);
    metrics::counter!("tickertalk_bot_broker_reconnects_total").increment(0);
    metrics::gauge!("tickertalk_bot_consuming").set(0.0);
    metrics::gauge!("tickertalk_bot_broker_connected").set(0.0);
}

/// `tickertalk-bot healthcheck`: a node of AMQP_URL answers within 5 s and the command queue
/// of BROKER_PREFIX has a consumer (in a container: this bot, once it is connected).
pub async fn healthcheck(cfg: &BotConfig) -> Result<(), String> {
    let topology = tickertalk_wire::Topology::new(&cfg.broker_prefix);
    let queue = topology.stock_queue.clone();
    let nodes =
        tickertalk_wire::Nodes::parse_in_order(&cfg.amqp_url).map_err(|e| format!("AMQP_URL: {e}"))?;
    let check = async {
        let mut reached = Err("AMQP_URL: no node listed".to_string());
        for _ in 0..nodes.len() {
            let (url, endpoint) = nodes.current();
            match lapin::Connection::connect(url, lapin::ConnectionProperties::default()).await {
                Ok(conn) => {
                    reached = Ok(conn);
                    break;
                }
                Err(e) => reached = Err(format!("AMQP_URL: cannot reach {endpoint} ({e})")),
            }
            nodes.advance();
        }
        let conn = reached?;
        let ch = conn.create_channel().await.map_err(|e| e.to_string())?;
        let passive = lapin::options::QueueDeclareOptions {
            passive: true,
            ..Default::default()
        };
        let q = ch
            .queue_declare(
                tickertalk_wire::topology::name(&queue),
                passive,
                lapin::types::FieldTable::default(),
            )
            .await
            .map_err(|e| format!("{queue}: not declared yet ({e})"))?;
        let _ = conn.close(200, tickertalk_wire::topology::name("bye")).await;
        if q.consumer_count() == 0 {
            return Err(format!("{queue}: no bot is consuming it"));
        }
        Ok(())
    };
    tokio::time::timeout(Duration::from_secs(5), check)
        .await
        .map_err(|_| "AMQP_URL: the broker did not answer within 5 s".to_string())?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quote_url_must_have_the_symbol_placeholder() {
        let mut c = BotConfig::try_parse_from(["bot"]).unwrap();
        assert!(c.validate().is_ok());
        c.quote_url = "http://127.0.0.1/q".into();
        assert!(c.validate().unwrap_err().starts_with("QUOTE_URL"));
        c.quote_url = "not a url {symbol}".into();
        assert!(c.validate().unwrap_err().starts_with("QUOTE_URL"));
    }

    #[test]
    fn the_history_url_and_the_zone_are_checked_too() {
        let mut c = BotConfig::try_parse_from(["bot"]).unwrap();
        c.quote_history_url = "http://127.0.0.1/history".into();
        assert!(c.validate().unwrap_err().starts_with("QUOTE_HISTORY_URL"));
        c.quote_history_url = String::new();
        assert!(c.validate().is_ok(), "empty turns history off");
        c.quote_time_zone = "Mars/Olympus".into();
        assert!(c.validate().unwrap_err().starts_with("QUOTE_TIME_ZONE"));
    }

    #[test]
    fn by_default_a_quote_fetch_gives_up_well_within_ten_seconds() {
        let c = BotConfig::try_parse_from(["bot"]).unwrap().fetch_config();
        // total_timeout bounds the whole fetch, retries included (fetch.rs).
        assert!(c.total_timeout <= Duration::from_secs(10), "{c:?}");
        assert!(c.connect_timeout <= c.total_timeout, "{c:?}");
    }
}
