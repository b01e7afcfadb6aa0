//! Stocks beyond one price (docs/stocks.md): the quote budget, cashtags, room watchlists, price
//! alerts and the scheduled refresh that keeps the ticker strips current and fires alerts.
//!
//! The schedule lives with the data: every server checks `stock_schedule` a few times a
//! period and the one that moves it forward asks the bots for every watched or alerted symbol
//! at once (one `PriceRefresh`; one bot takes it). Its `PriceReport` comes back on the answer
//! queue to one server, which stores the prices, fires the alerts they cross (one UPDATE:
//! once, whichever server and however often the report is delivered), posts the fired alerts
//! (idempotent per alert) and sends each room showing those symbols its strip.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use chrono::Utc;
use tickertalk_wire::{AlertView, BotMeta, Event, PriceRefresh, PriceReport, QuoteFields, StockCode, Ticker};
use uuid::Uuid;

use super::{Chat, ChatError};
use crate::auth::AuthUser;
use crate::domain::command::AlertSpec;
use crate::domain::{Command, HELP_TEXT, MessageText};
use crate::store::messages::{NewMessage, Outcome};
use crate::store::{self, tickers::Added};

/// Symbols one room's ticker strip holds.
pub const WATCHES_PER_ROOM: i64 = 10;
/// Active alerts one room may have, and one user over all rooms.
pub const ALERTS_PER_ROOM: i64 = 20;
pub const ALERTS_PER_USER: i64 = 20;
/// A cashtag's symbol is quoted again in the same room only after this long.
pub const CASHTAG_QUIET: Duration = Duration::from_secs(300);
/// Symbols one scheduled refresh asks for (`tickertalk_bot::refresh::MAX_SYMBOLS`).
const REFRESH_MAX_SYMBOLS: i64 = 500;
/// Refreshes older than this are forgotten: a report for one is refused.
const REFRESH_KEPT_SECS: f64 = 600.0;
/// The last price of a symbol nobody watches or alerts on any more is kept this long.
const PRICES_KEPT_SECS: f64 = 86_400.0;
/// Remembered (room, symbol) cashtag answers per instance before old ones are dropped.
const CASHTAG_MEMORY: usize = 10_000;

/// When each (room, symbol) last got a cashtag quote here.
#[derive(Default)]
pub struct CashtagMemory(Mutex<HashMap<(i64, String), Instant>>);

impl CashtagMemory {
    /// Whether `symbol` was quoted in `room_id` in the last [`CASHTAG_QUIET`].
    fn quiet(&self, room_id: i64, symbol: &str, now: Instant) -> bool {
        let seen = self.0.lock().unwrap_or_else(|p| p.into_inner());
        seen.get(&(room_id, symbol.to_string()))
            .is_some_and(|at| now.duration_since(*at) < CASHTAG_QUIET)
    }

    /// Remembers that `symbol` is quoted in `room_id` now.
    fn quoted(&self, room_id: i64, symbol: &str, now: Instant) {
        let mut seen = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if seen.len() >= CASHTAG_MEMORY {
            seen.retain(|_, at| now.duration_since(*at) < CASHTAG_QUIET);
            if seen.len() >= CASHTAG_MEMORY {
                seen.clear();
            }
        }
        seen.insert((room_id, symbol.to_string()), now);
    }
}

impl Chat {
    /// Takes `n` quotes from the user's quote budget (`QUOTES_PER_MINUTE`; 0: no budget).
    pub(super) fn quote_check(&self, user: &AuthUser, n: u32) -> Result<(), ChatError> {
        let Some(quotes) = &self.quotes else {
            return Ok(());
        };
        quotes
            .take(user.user_id, n)
            .map_err(|wait| ChatError::RateLimited {
                retry_after_secs: wait.as_secs_f64().ceil().max(1.0) as u64,
            })
    }

    /// After an ordinary message is stored: a quote for each of its cashtags (at most three)
    /// not quoted in this room in the last five minutes, while the author's quote budget lasts.
    pub(super) async fn cashtag_quotes(&self, user: &AuthUser, room_id: i64, text: &str) {
        let now = Instant::now();
        for (typed, code) in crate::domain::command::cashtags(text) {
            if self.cashtags.quiet(room_id, code.as_str(), now) {
                continue;
            }
            if self.quote_check(user, 1).is_err() {
                tracing::debug!(
                    room_id,
                    user_id = user.user_id,
                    "cashtag quotes over the budget; skipped"
                );
                return;
            }
            self.cashtags.quoted(room_id, code.as_str(), now);
            self.queue_quote(user, room_id, code, &typed, Uuid::new_v4())
                .await;
        }
    }

    /// `/help`, `/watch`, `/unwatch`, `/alert`, `/alerts`, `/unalert`: done at once, answered
    /// to the typist (the room sees the strip change).
    pub(super) async fn ticker_command(
        &self,
        user: &AuthUser,
        room_id: i64,
        cmd: Command,
    ) -> Result<String, ChatError> {
        Ok(match cmd {
            Command::Help => HELP_TEXT.to_string(),
            Command::Watch(None) | Command::Alerts => {
                let t = self.watchlist(room_id).await?;
                let watched: Vec<String> = t.symbols.iter().map(|s| s.symbol.clone()).collect();
                let alerts: Vec<String> = t.alerts.iter().map(alert_line).collect();
                match (watched.is_empty(), alerts.is_empty()) {
                    (true, true) => "This room watches nothing yet: /watch=aapl pins a symbol, /alert=aapl>200 sets an alert.".into(),
                    _ => format!(
                        "Watched: {}. Alerts: {}.",
                        if watched.is_empty() { "none".into() } else { watched.join(", ") },
                        if alerts.is_empty() { "none".into() } else { alerts.join("; ") }
                    ),
                }
            }
            Command::Watch(Some(code)) => {
                let shown = code.as_str().to_ascii_uppercase();
                match store::tickers::watch(&self.db, room_id, code.as_str(), user.user_id, WATCHES_PER_ROOM)
                    .await?
                {
                    Added::Already => format!("{shown} is already on this room's ticker."),
                    Added::Full => format!(
                        "This room's ticker is full ({WATCHES_PER_ROOM} symbols): /unwatch one first."
                    ),
                    Added::New(n) => {
                        self.publish_tickers(&[room_id]).await;
                        // Priced at once while the user's quote budget lasts; otherwise at the
                        // next scheduled refresh (pinning costs no fetch of its own).
                        if self.quote_check(user, 1).is_ok() {
                            self.ask_prices(vec![code.as_str().to_string()]).await;
                        }
                        format!(
                            "{shown} is on this room's ticker ({n} of {WATCHES_PER_ROOM}); prices refresh every {}.",
                            self.refresh_period_text()
                        )
                    }
                }
            }
            Command::Unwatch(code) => {
                let shown = code.as_str().to_ascii_uppercase();
                if store::tickers::unwatch(&self.db, room_id, code.as_str()).await? {
                    self.publish_tickers(&[room_id]).await;
                    format!("{shown} is off this room's ticker.")
                } else {
                    format!("{shown} is not on this room's ticker.")
                }
            }
            Command::Alert(spec) => self.set_alert(user, room_id, spec).await?,
            Command::Unalert(id) => {
                if store::tickers::cancel_alert(&self.db, room_id, id, user.user_id).await? {
                    self.publish_tickers(&[room_id]).await;
                    format!("Alert {id} cancelled.")
                } else {
                    format!(
                        "No active alert {id} of yours in this room (its setter or the room's creator may cancel it; /alerts lists them)."
                    )
                }
            }
            Command::Stock(_) | Command::Usage { .. } => unreachable!("answered by run_command"),
        })
    }

    async fn set_alert(&self, user: &AuthUser, room_id: i64, spec: AlertSpec) -> Result<String, ChatError> {
        self.quote_check(user, 1)?;
        let new = store::tickers::NewAlert {
            room_id,
            user_id: user.user_id,
            symbol: spec.symbol.as_str(),
            op: spec.op.as_str(),
            threshold: &spec.threshold,
        };
        let Some(id) = store::tickers::add_alert(&self.db, &new, ALERTS_PER_ROOM, ALERTS_PER_USER).await?
        else {
            return Ok(format!(
                "Too many alerts: at most {ALERTS_PER_ROOM} active in a room and {ALERTS_PER_USER} of yours. /alerts lists them; /unalert=ID cancels one."
            ));
        };
        self.publish_tickers(&[room_id]).await;
        self.ask_prices(vec![spec.symbol.as_str().to_string()]).await;
        let view = AlertView {
            id,
            symbol: spec.symbol.as_str().to_ascii_uppercase(),
            op: spec.op.as_str().into(),
            threshold: spec.threshold.clone(),
            set_by: user.username.clone(),
            created_at: None,
        };
        Ok(format!(
            "Alert {id} set: {}. It posts here once, at the first price refresh that finds it true (every {}). /unalert={id} cancels it.",
            alert_line(&view),
            self.refresh_period_text()
        ))
    }

    fn refresh_period_text(&self) -> String {
        match self.refresh_period.as_secs() {
            0 => "time a price is asked for (scheduled refreshes are off)".into(),
            60 => "minute".into(),
            s => format!("{s} s"),
        }
    }

    /// A room's strip: watched symbols with their latest prices, and its active alerts.
    pub async fn watchlist(&self, room_id: i64) -> Result<Ticker, ChatError> {
        self.room(room_id).await?;
        let mut all = store::tickers::tickers(&self.db, &[room_id]).await?;
        Ok(all.pop().unwrap_or(Ticker {
            room_id,
            symbols: Vec::new(),
            alerts: Vec::new(),
        }))
    }

    /// Sends the rooms' sockets (on every instance) their strips. A failure is logged: the
    /// next refresh sends them again.
    async fn publish_tickers(&self, rooms: &[i64]) {
        match store::tickers::tickers(&self.db, rooms).await {
            Ok(tickers) => {
                for t in tickers {
                    self.bus.publish(Event::Ticker(t));
                }
            }
            Err(e) => tracing::warn!(error = %e, rooms = rooms.len(), "ticker strips not sent"),
        }
    }

    /// The scheduled refresh: when it is this server's turn, asks the bots for every watched
    /// or alerted symbol. Also posts fired alerts still unposted and forgets old refreshes.
    /// Whether this server asked.
    pub async fn tick_prices(&self) -> Result<bool, ChatError> {
        self.sweep_alerts().await?;
        if self.refresh_period.is_zero() {
            return Ok(false);
        }
        if !store::tickers::refresh_due(&self.db, self.refresh_period.as_secs_f64()).await? {
            return Ok(false);
        }
        store::tickers::prune_refreshes(&self.db, REFRESH_KEPT_SECS).await?;
        store::tickers::prune_prices(&self.db, PRICES_KEPT_SECS).await?;
        let symbols = store::tickers::tracked(&self.db, REFRESH_MAX_SYMBOLS).await?;
        if !symbols.is_empty() {
            self.ask_prices(symbols).await;
        }
        Ok(true)
    }

    /// Asks the bots for these symbols' prices now (recorded first: a report is taken only for
    /// a refresh asked here). A failure is logged; the next period asks again.
    async fn ask_prices(&self, symbols: Vec<String>) {
        let codes: Vec<StockCode> = symbols.iter().filter_map(|s| StockCode::parse(s).ok()).collect();
        let refresh = PriceRefresh {
            refresh_id: Uuid::new_v4(),
            symbols: codes,
            requested_at: Utc::now(),
        };
        if let Err(e) = store::tickers::record_refresh(&self.db, refresh.refresh_id, &symbols).await {
            tracing::warn!(error = %e, "price refresh not recorded; not asked");
            return;
        }
        match self.bus.publish_refresh(&refresh).await {
            Ok(()) => {
                metrics::counter!("tickertalk_price_refreshes_total").increment(1);
                tracing::debug!(refresh_id = %refresh.refresh_id, symbols = symbols.len(), "prices asked");
            }
            Err(e) => tracing::warn!(error = %e, "price refresh not queued; the next period asks again"),
        }
    }

    /// A bot's prices: checked against the refresh asked (its symbols only; numbers that are
    /// plain decimals), stored, alerts fired and posted, strips sent.
    pub async fn store_prices(&self, report: PriceReport) -> Result<(), ChatError> {
        let refresh_id = report.refresh_id;
        let Some(asked) = store::tickers::refresh_symbols(&self.db, refresh_id).await? else {
            tracing::warn!(%refresh_id, "price report for no refresh asked here; refused");
            metrics::counter!("tickertalk_stock_answers_refused_total", "why" => "no_refresh").increment(1);
            return Ok(());
        };
        let mut prices: Vec<(String, QuoteFields)> = Vec::new();
        for q in report.prices {
            let symbol = q.symbol.to_ascii_lowercase();
            if !asked.contains(&symbol) || !plain_decimal(&q.close) {
                tracing::warn!(%refresh_id, "price for a symbol not asked, or not a number; dropped");
                continue;
            }
            if !q.previous_close.is_empty() && !plain_decimal(&q.previous_close) {
                continue;
            }
            if !prices.iter().any(|(s, _)| *s == symbol) {
                prices.push((symbol, q));
            }
        }
        if prices.is_empty() {
            return Ok(());
        }
        let fired = store::tickers::store_prices(&self.db, &prices).await?;
        if !fired.is_empty() {
            tracing::info!(%refresh_id, fired = fired.len(), "price alerts fired");
            metrics::counter!("tickertalk_price_alerts_fired_total").increment(fired.len() as u64);
        }
        self.sweep_alerts().await?;
        let symbols: Vec<String> = prices.into_iter().map(|(s, _)| s).collect();
        let rooms = store::tickers::rooms_showing(&self.db, &symbols).await?;
        self.publish_tickers(&rooms).await;
        Ok(())
    }

    /// Posts every fired alert whose message is not stored yet (after a crash between firing
    /// and posting too): once each, as the message's `client_id` is the alert's.
    pub async fn sweep_alerts(&self) -> Result<usize, ChatError> {
        let fired = store::tickers::unposted(&self.db, 100).await?;
        for a in &fired {
            let quote: Option<QuoteFields> = a
                .fired_quote
                .as_deref()
                .and_then(|q| serde_json::from_str(q).ok());
            let view = AlertView {
                id: a.id,
                symbol: a.symbol.to_ascii_uppercase(),
                op: a.op.clone(),
                threshold: a.threshold.clone(),
                set_by: a.set_by.clone(),
                created_at: Some(a.created_at),
            };
            let text = fired_text(&view, &a.fired_price, quote.as_ref());
            let Ok(body) = MessageText::parse(&text) else {
                continue;
            };
            let row = NewMessage {
                room_id: a.room_id,
                user_id: self.bot_user_id().await?,
                body: body.as_str().to_string(),
                client_id: Some(format!("alert:{}", a.id)),
                bot: Some(BotMeta {
                    asked_by: a.set_by.clone(),
                    command: format!("/alert={}{}{}", a.symbol, a.op, a.threshold),
                    outcome: "alert".into(),
                    quote,
                    suggestion: None,
                    alert: Some(view),
                }),
                reply_to: None,
            };
            let message_id = match self.writer.store(row).await? {
                Outcome::New(m) | Outcome::Repeat(m) => Some(m.id),
                Outcome::NoRoom | Outcome::Reused => None,
            };
            if let Some(message_id) = message_id {
                store::tickers::posted(&self.db, a.id, message_id).await?;
                tracing::info!(
                    alert_id = a.id,
                    room_id = a.room_id,
                    message_id,
                    "price alert posted"
                );
            }
        }
        Ok(fired.len())
    }
}

/// `AAPL.US above 200 (alice)`.
fn alert_line(a: &AlertView) -> String {
    let what =
        price_threshold(a).unwrap_or_else(|| format!("moves {}% from the previous close", a.threshold));
    format!("#{} {} {} ({})", a.id, a.symbol, what, a.set_by)
}

/// `above 200` or `below 150`; `None` for a move (`%`), which each caller words its own way.
fn price_threshold(a: &AlertView) -> Option<String> {
    match a.op.as_str() {
        ">" => Some(format!("above {}", a.threshold)),
        "<" => Some(format!("below {}", a.threshold)),
        _ => None,
    }
}

/// The fired alert's message: `Alert: AAPL.US is $201.50, above 200 (set by alice).`
fn fired_text(a: &AlertView, price: &str, quote: Option<&QuoteFields>) -> String {
    let how = price_threshold(a).unwrap_or_else(|| {
        let prev = quote.map(|q| q.previous_close.as_str()).unwrap_or_default();
        match (price.parse::<f64>(), prev.parse::<f64>()) {
            (Ok(p), Ok(b)) if b > 0.0 => format!(
                "{:+.2}% from the previous close ${prev}, past {}%",
                (p - b) / b * 100.0,
                a.threshold
            ),
            _ => format!("a move past {}%", a.threshold),
        }
    });
    format!("Alert: {} is ${price}, {how} (set by {}).", a.symbol, a.set_by)
}

/// A plain non-negative decimal, as the bot writes numbers (`93.42`, `7`).
fn plain_decimal(s: &str) -> bool {
    let (int, frac) = s.split_once('.').unwrap_or((s, "0"));
    !int.is_empty()
        && int.len() <= 15
        && !frac.is_empty()
        && frac.len() <= 8
        && int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cashtag_is_quoted_once_per_room_in_five_minutes() {
        let m = CashtagMemory::default();
        let t0 = Instant::now();
        assert!(!m.quiet(1, "aapl.us", t0));
        m.quoted(1, "aapl.us", t0);
        assert!(m.quiet(1, "aapl.us", t0 + Duration::from_secs(299)));
        assert!(!m.quiet(2, "aapl.us", t0), "another room");
        assert!(!m.quiet(1, "tsla.us", t0), "another symbol");
        assert!(!m.quiet(1, "aapl.us", t0 + Duration::from_secs(301)));
    }

    #[test]
    fn only_plain_decimals_are_prices() {
        for ok in ["93.42", "7", "0.5", "163224109"] {
            assert!(plain_decimal(ok), "{ok}");
        }
        for bad in [
            "",
            "-1",
            "1e3",
            "NaN",
            "1.",
            ".5",
            "1,5",
            "<b>1</b>",
            "1.123456789",
        ] {
            assert!(!plain_decimal(bad), "{bad}");
        }
    }

    #[test]
    fn fired_alerts_say_what_crossed() {
        let a = AlertView {
            id: 3,
            symbol: "AAPL.US".into(),
            op: ">".into(),
            threshold: "200".into(),
            set_by: "alice".into(),
            created_at: None,
        };
        assert_eq!(
            fired_text(&a, "201.50", None),
            "Alert: AAPL.US is $201.50, above 200 (set by alice)."
        );
        let m = AlertView {
            op: "%".into(),
            threshold: "5".into(),
            ..a
        };
        let q = QuoteFields {
            previous_close: "100".into(),
            ..Default::default()
        };
        assert_eq!(
            fired_text(&m, "94", Some(&q)),
            "Alert: AAPL.US is $94, -6.00% from the previous close $100, past 5% (set by alice)."
        );
    }
}
