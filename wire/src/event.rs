//! What travels over RabbitMQ, as JSON, one AMQP message per value: the events every server
//! instance receives (and the bot publishes its replies as), and the commands the bot consumes.
//!
//! The stored records (`RoomMessage`, `DirectMessage`) are defined here rather than in the
//! server's store because an event carries the row exactly as PostgreSQL returned it: the
//! receiving instance must be able to deliver it, and to compare it with a gap fill read from the
//! database, without another query. The server's `store` returns these types directly.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::StockCode;

/// A room message as stored, with its author's name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RoomMessage {
    pub id: i64,
    pub room_id: i64,
    /// Position in the room (1, 2, 3, ... in commit order); instances deliver a room's messages
    /// strictly in this order and notice gaps by it.
    pub seq: i64,
    pub user_id: i64,
    pub username: String,
    pub body: String,
    pub created_at: DateTime<Utc>,
    /// On the bot's stored answers only: who asked what, and the quote's fields (boxed: most
    /// messages have none, and a message is held per room while a gap is filled).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bot: Option<Box<BotMeta>>,
    /// Position in the room's stream (new messages and changes to them), where this message
    /// entered it. Instances deliver a room's stream strictly in this order.
    #[serde(default)]
    pub rev: i64,
    /// The stream position of this message's latest change (edit, deletion, reaction).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub changed_rev: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub edited_at: Option<DateTime<Utc>>,
    /// Deleted: `body` is empty (the text is gone from storage too).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub deleted: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<Box<ReplyRef>>,
    /// Reaction counts, in the order each emoji was first used.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reactions: Vec<ReactionCount>,
}

impl RoomMessage {
    /// A new message's fields besides what every message has: no change, no reply, no reaction.
    #[allow(clippy::too_many_arguments)]
    pub fn plain(
        id: i64,
        room_id: i64,
        seq: i64,
        user_id: i64,
        username: String,
        body: String,
        created_at: DateTime<Utc>,
    ) -> RoomMessage {
        RoomMessage {
            id,
            room_id,
            seq,
            user_id,
            username,
            body,
            created_at,
            bot: None,
            rev: seq,
            changed_rev: None,
            edited_at: None,
            deleted: false,
            reply_to: None,
            reactions: Vec::new(),
        }
    }
}

/// The message a reply answers, as the reply shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReplyRef {
    pub id: i64,
    pub username: String,
    /// The start of its text (empty once it is deleted).
    pub snippet: String,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub deleted: bool,
}

/// How many users reacted to a message with one emoji.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReactionCount {
    pub emoji: String,
    pub count: i64,
}

/// What changed a message (`Event::RoomChanges`, `Event::DirectChanged`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "change", rename_all = "snake_case")]
pub enum Change {
    Edited,
    Deleted,
    /// `username` added (`on`) or took back a reaction.
    Reaction {
        emoji: String,
        username: String,
        on: bool,
    },
}

/// A room message after a change: its whole new state, at stream position `changed_rev`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RoomChange {
    pub message: RoomMessage,
    #[serde(flatten)]
    pub change: Change,
}

/// What a stored `stockbot` answer says besides its sentence: who asked, what, and how the bot
/// fared, so clients can draw a card instead of parsing the text.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BotMeta {
    /// The username of the asker.
    pub asked_by: String,
    /// The command as the asker typed it (`/stock=aapl.us`, `$AAPL`).
    pub command: String,
    /// How the bot fared: `quote`, `no_data` (the service knows no such symbol), `failed`
    /// (the quote service failed), `unanswered` (no bot answered in time) or `alert` (a price
    /// alert fired; the server's own message).
    pub outcome: String,
    /// The quote, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quote: Option<QuoteFields>,
    /// On `no_data`: a symbol the asker may have meant (the bot's own list, never the service's
    /// text), upper-case.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suggestion: Option<String>,
    /// On `alert`: which alert fired.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alert: Option<AlertView>,
}

/// One quote row. No text of the quote service's reaches it: `symbol` is the one the user asked
/// for, the date and time are re-written from their parsed values, and each number is re-written
/// from its parsed value (with the service's number of decimals); an empty field was `N/D`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuoteFields {
    pub symbol: String,
    pub date: String,
    pub time: String,
    pub open: String,
    pub high: String,
    pub low: String,
    pub close: String,
    pub volume: String,
    /// The zone `date` and `time` are in (IANA name, the quote service's: `QUOTE_TIME_ZONE`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub time_zone: String,
    /// `date` and `time` as an RFC 3339 instant with that zone's offset; empty without both.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub at: String,
    /// The close of the trading day before `date`, from the history (empty without it).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub previous_close: String,
    /// About one month of daily closes up to `date`, oldest first (empty without history).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub history: Vec<HistoryPoint>,
}

/// One day of a quote's history: `YYYY-MM-DD` and the close, re-written like the quote's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryPoint {
    pub date: String,
    pub close: String,
}

/// A price alert as rooms see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertView {
    pub id: i64,
    pub symbol: String,
    /// `>` (above), `<` (below) or `%` (a move of at least `threshold` percent either way from
    /// the previous close).
    pub op: String,
    pub threshold: String,
    pub set_by: String,
    #[serde(default, skip_serializing_if = "Option::is_none", with = "micros")]
    pub created_at: Option<DateTime<Utc>>,
}

/// One symbol of a room's ticker strip: its latest refreshed quote (without history), if any.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TickerItem {
    pub symbol: String,
    pub quote: Option<QuoteFields>,
    #[serde(with = "micros")]
    pub refreshed_at: Option<DateTime<Utc>>,
}

/// Instants as every timestamp of the API: RFC 3339, UTC, always six fraction digits
/// (`2026-11-21T10:00:00.123456Z`), so clients can compare them as text.
mod micros {
    use chrono::{DateTime, SecondsFormat, Utc};
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(t: &Option<DateTime<Utc>>, s: S) -> Result<S::Ok, S::Error> {
        match t {
            Some(t) => s.serialize_str(&t.to_rfc3339_opts(SecondsFormat::Micros, true)),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<DateTime<Utc>>, D::Error> {
        Option::<DateTime<Utc>>::deserialize(d)
    }
}

/// A room's watchlist and active alerts, whole (the ticker strip replaces what it shows).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ticker {
    pub room_id: i64,
    pub symbols: Vec<TickerItem>,
    pub alerts: Vec<AlertView>,
}

/// The server's scheduled price refresh, on the command queue (AMQP `type` [`REFRESH_TYPE`]):
/// the symbols every room watches or has an alert on, each asked once.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PriceRefresh {
    pub refresh_id: Uuid,
    pub symbols: Vec<StockCode>,
    pub requested_at: DateTime<Utc>,
}

/// The bot's prices for one refresh, on the answer queue (AMQP `type` [`PRICES_TYPE`]): one
/// quote (with `previous_close`, without history) per symbol that has one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PriceReport {
    pub refresh_id: Uuid,
    pub prices: Vec<QuoteFields>,
    pub answered_at: DateTime<Utc>,
}

/// AMQP `type` property of a [`PriceRefresh`] (a message without one is a `StockCommand`).
pub const REFRESH_TYPE: &str = "price_refresh";
/// AMQP `type` property of a [`PriceReport`] (a message without one is a `StockAnswer`).
pub const PRICES_TYPE: &str = "price_report";

/// The answer to one stock command, on the durable answer queue: the bot's (or a server's,
/// when no bot answered in time). One server instance stores it as a room message by
/// `stockbot` (once per `request_id`), then publishes it like any message, then acknowledges it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StockAnswer {
    pub request_id: Uuid,
    pub room_id: i64,
    /// The sentence, exactly as the contract words it.
    pub text: String,
    pub meta: BotMeta,
    pub answered_at: DateTime<Utc>,
    /// The asking command's `trace_id`, handed back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace_id: Option<String>,
}

/// A direct message as stored, with both users' names.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DirectMessage {
    pub id: i64,
    pub author_id: i64,
    pub author: String,
    pub recipient_id: i64,
    pub recipient: String,
    pub body: String,
    /// Always 0 (text); kept because the original direct-message API exposes it.
    pub message_type: i16,
    pub created_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub edited_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub deleted: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reactions: Vec<ReactionCount>,
}

/// One presence change: an `Event::Presence`, or one of an `Event::Presences`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PresenceChange {
    pub room_id: i64,
    pub conn_id: Uuid,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub joined: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub left: Option<String>,
}

/// The furthest stream position (`RoomMessage::rev` or `changed_rev`) stored in a room, as one
/// instance knows it (`Event::RoomTips`). The field keeps its first name, `seq`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomTip {
    pub room_id: i64,
    pub seq: i64,
}

/// A stored room message and its author's `client_id` (echoed only on the author's sockets).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PostedMessage {
    pub message: RoomMessage,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
}

/// What server instances tell each other (and what the bot tells them) on the events exchange.
/// Room events reach the instances with sockets in the room's shard; the rest reach every
/// instance (`routing`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Event {
    /// Stored room messages one instance committed together (its batch writer's one publish
    /// for the whole batch). Several rooms may be mixed; a room's messages are in `seq` order.
    /// Each `seq` is used to deliver in order and to notice (and fill) gaps; `client_id` is the
    /// author's, echoed only on the author's own sockets.
    RoomMessages { messages: Vec<PostedMessage> },
    /// Edits, deletions and reactions one instance committed, each at its message's
    /// `changed_rev` in the room's stream (delivered in order with the messages).
    RoomChanges { changes: Vec<RoomChange> },
    /// The server speaking in the bot's name, unstored: help, or a command it could not queue.
    /// (The bot's own answers are stored room messages.)
    BotReply(BotReply),
    /// The server's usage reply to a malformed command (`/stok=…`, `/stock=`): for the sockets
    /// of the user who typed it in that room only, and not stored. The room does not see the
    /// typo or the reply.
    UsageReply {
        user_id: i64,
        room_id: i64,
        text: String,
        created_at: DateTime<Utc>,
    },
    /// Someone is typing in a room; `conn_id` is the typing socket, which does not get it back.
    Typing {
        room_id: i64,
        username: String,
        conn_id: Uuid,
    },
    /// A room's ticker strip changed (a price refresh, a watch, an alert set, fired or
    /// cancelled): every socket in the room gets the whole state.
    Ticker(Ticker),
    /// Users whose first socket entered, or last socket left, a room: the changes one instance
    /// recorded in one batch. Each change's `conn_id` is the socket that caused it, which
    /// already knows (it gets the full list instead).
    Presences { changes: Vec<PresenceChange> },
    /// A stored direct message, for every socket of both users.
    DirectMessage {
        message: DirectMessage,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        client_id: Option<String>,
    },
    /// A direct message changed (edit, deletion, reaction): for every socket of both users.
    DirectChanged {
        message: DirectMessage,
        #[serde(flatten)]
        change: Change,
    },
    /// A room was created (on any instance): every socket hears of it, so room lists are live.
    RoomCreated(RoomCreated),
    /// A room's name or topic changed: every socket hears of it, like a new room.
    RoomUpdated(RoomCreated),
    /// Someone is typing to `recipient_id` in a direct conversation.
    DirectTyping { recipient_id: i64, username: String },
    /// A user moved a read marker: every socket of theirs hears of it (other tabs and devices).
    ReadMarker(ReadMarker),
    /// Rooms whose latest messages (up to `seq`) may not have reached other instances: their
    /// publish failed (the broker connection dropped, a confirm was lost, the publish queue was
    /// full). Published by the instance that stored them once its broker connection works
    /// again; an instance following such a room and behind `seq` reads the rest from
    /// PostgreSQL at once instead of waiting for the room's next message to show the gap.
    RoomTips { tips: Vec<RoomTip> },
    /// Rooms in which the publishing instance stored messages during its last second, up to
    /// `seq`: for every socket's room list (unread counts), including rooms whose events do
    /// not reach this instance (routing by interest). Sent to every instance, once a second at
    /// most per instance.
    RoomActivity { rooms: Vec<RoomTip> },
    /// A session was logged out: every instance closes that session's sockets (and stops
    /// trusting it), then answers with `RevocationHeard`.
    SessionRevoked { session_id: Uuid },
    /// Instance `instance_id` has acted on `SessionRevoked`; the logout waits for every live
    /// instance's before it answers.
    RevocationHeard { session_id: Uuid, instance_id: Uuid },
}

/// A new room, as room lists show it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RoomCreated {
    pub id: i64,
    pub name: String,
    pub created_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub topic: String,
}

/// A read marker after a move: of a room (`room_id`, `read_seq`) or a conversation (`peer`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReadMarker {
    pub user_id: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub room_id: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peer: Option<String>,
    pub last_read_id: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_seq: Option<i64>,
    pub unread: i64,
}

/// The bot's answer to one command, delivered into the room as a `stockbot` message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BotReply {
    pub room_id: i64,
    pub text: String,
    /// The command this answers (none for the server's own help replies).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
}

/// A `/stock=CODE` request on the durable command queue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StockCommand {
    pub request_id: Uuid,
    pub room_id: i64,
    pub user_id: i64,
    pub username: String,
    pub symbol: StockCode,
    pub requested_at: DateTime<Utc>,
    /// The command as typed (empty from servers that predate stored answers).
    #[serde(default)]
    pub command: String,
    /// The id of the request that asked (`X-Request-Id`), so the bot's logs and the answer's
    /// carry it and one request can be followed through server and bot.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace_id: Option<String>,
}

impl StockCommand {
    /// The command as typed, or as it would have been.
    pub fn command_text(&self) -> String {
        if self.command.is_empty() {
            format!("/stock={}", self.symbol.as_str())
        } else {
            self.command.clone()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticker_times_always_have_six_fraction_digits() {
        let whole = DateTime::parse_from_rfc3339("2026-12-07T12:00:00Z")
            .unwrap()
            .to_utc();
        let item = TickerItem {
            symbol: "AAPL.US".into(),
            quote: None,
            refreshed_at: Some(whole),
        };
        let json = serde_json::to_string(&item).unwrap();
        assert!(
            json.contains(r#""refreshed_at":"2026-12-07T12:00:00.000000Z""#),
            "{json}"
        );
        assert_eq!(serde_json::from_str::<TickerItem>(&json).unwrap(), item);
        let none = TickerItem {
            refreshed_at: None,
            ..item
        };
        let json = serde_json::to_string(&none).unwrap();
        assert!(json.contains(r#""refreshed_at":null"#), "{json}");
        assert_eq!(serde_json::from_str::<TickerItem>(&json).unwrap(), none);
    }

    #[test]
    fn events_round_trip_through_json() {
        let ev = Event::BotReply(BotReply {
            room_id: 3,
            text: "AAPL.US quote is $93.42 per share".into(),
            request_id: Some(Uuid::nil()),
            created_at: Utc::now(),
        });
        let json = serde_json::to_string(&ev).unwrap();
        assert!(json.contains(r#""kind":"bot_reply""#));
        assert_eq!(serde_json::from_str::<Event>(&json).unwrap(), ev);
        assert_eq!(ev.routing_key(), "shard.3.bot");
    }

    /// A batch's JSON: the messages with their fields as `RoomMessage` names them.
    #[test]
    fn a_message_batch_reads_and_writes_the_same_json() {
        let batch = r#"{"kind":"room_messages","messages":[{"message":{"id":7,"room_id":3,"seq":2,"user_id":1,"username":"ada","body":"hi","created_at":"2026-01-01T00:00:00Z","rev":2},"client_id":"c-1"}]}"#;
        let ev: Event = serde_json::from_str(batch).unwrap();
        assert!(
            matches!(&ev, Event::RoomMessages { messages } if messages[0].client_id.as_deref() == Some("c-1") && messages[0].message.seq == 2)
        );
        assert_eq!(ev.routing_key(), "shard.3.messages");
        assert_eq!(
            serde_json::to_value(&ev).unwrap(),
            serde_json::from_str::<serde_json::Value>(batch).unwrap()
        );
    }

    #[test]
    fn a_command_with_a_bad_symbol_does_not_decode() {
        let json = r#"{"request_id":"00000000-0000-0000-0000-000000000000","room_id":1,"user_id":1,
            "username":"a","symbol":"no spaces","requested_at":"2026-01-01T00:00:00Z"}"#;
        assert!(serde_json::from_str::<StockCommand>(json).is_err());
    }
}
