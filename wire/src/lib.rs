//! tickertalk-wire: the contract between the server and the stock bot, which talk only through
//! RabbitMQ. Both link this crate, so they cannot disagree about a field name, an exchange name
//! or how long to wait before reconnecting.
//!
//! This crate owns: the JSON shapes on the broker (`event`), the stock-code type commands carry
//! (`stock`), the exchange and queue names and their declaration (`topology`), which instances
//! an event reaches (`routing`), the broker nodes of
//! `AMQP_URL` (`nodes`), the reconnect delay (`backoff`), and the log set-up both processes use (`telemetry`).
//! It must not: know about HTTP, SQL, passwords or WebSocket frames. Anything that needs those
//! belongs in the server crate; the bot's dependency tree stays free of them.

pub mod backoff;
pub mod event;
pub mod nodes;
pub mod prometheus;
pub mod routing;
pub mod stock;
pub mod telemetry;
pub mod topology;

pub use backoff::Backoff;
pub use event::{
    AlertView, BotMeta, BotReply, Change, DirectMessage, Event, HistoryPoint, PRICES_TYPE, PostedMessage,
    PresenceChange, PriceRefresh, PriceReport, QuoteFields, REFRESH_TYPE, ReactionCount, ReadMarker,
    ReplyRef, RoomChange, RoomCreated, RoomMessage, RoomTip, StockAnswer, StockCommand, Ticker, TickerItem,
};
pub use nodes::Nodes;
pub use stock::StockCode;
pub use topology::Topology;

/// `postgres://user:secret@host/db` becomes `postgres://user:***@host/db`: URLs carry
/// passwords, and both processes log the URLs they connect to.
pub fn redact_url(raw: &str) -> String {
    match url::Url::parse(raw) {
        Ok(mut u) => {
            if u.password().is_some() {
                let _ = u.set_password(Some("***"));
            }
            u.to_string()
        }
        Err(_) => "<unparsable url>".into(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn passwords_are_redacted_and_the_rest_kept() {
        assert_eq!(
            super::redact_url("amqp://guest:s3cret@127.0.0.1:5672/%2f"),
            "amqp://guest:***@127.0.0.1:5672/%2f"
        );
        assert_eq!(super::redact_url("not a url"), "<unparsable url>");
    }
}
