//! All SQL lives here. Queries are checked at run time (`sqlx::query_as` with `FromRow`); the
//! integration tests run every one of them against a real PostgreSQL.
//!
//! Layer 1 (docs/architecture.md): it may use `domain` and the wire crate's record types, and
//! nothing else of this crate. It returns `StoreError`, never an HTTP status: what a client is
//! told is decided at the boundaries above.

/// SQL assembled with `format!` from this module's own constant fragments (column lists, a
/// column picked from two literals), never from input; values always go through `bind`.
macro_rules! sql {
    ($($arg:tt)*) => { sqlx::AssertSqlSafe(format!($($arg)*)) };
}

/// The columns every query returning room messages selects, in this order (`m` the message,
/// `u` its author, `r` and `ru` the message it replies to and that one's author: see
/// `message_joins!`): `Row<RoomMessage>` decodes them by position. A history page is 50 rows of
/// 17 columns, and by name each is a hash lookup, which the history benchmark's profile showed.
/// `bot_meta` comes as text (NULL but on the bot's answers) and is parsed here, and so do the
/// reaction counts (`[[emoji, count], ...]`, in the order each emoji was first used).
macro_rules! message_columns {
    () => {
        concat!(
            message_columns_but_reactions!(),
            ", (SELECT json_agg(json_build_array(x.emoji, x.n) ORDER BY x.first)::text FROM \
               (SELECT emoji, count(*) AS n, min(created_at) AS first FROM room_reactions \
                WHERE message_id = m.id GROUP BY emoji) x)"
        )
    };
}

/// `message_columns!` for messages stored a moment ago, which nobody has reacted to yet.
macro_rules! new_message_columns {
    () => {
        concat!(message_columns_but_reactions!(), ", NULL::text")
    };
}

macro_rules! message_columns_but_reactions {
    () => {
        "m.id, m.room_id, m.seq, m.user_id, u.username, m.body, m.created_at, m.bot_meta::text, \
         m.rev, m.changed_rev, m.edited_at, m.deleted_at IS NOT NULL, \
         r.id, ru.username, left(r.body, 140), r.deleted_at IS NOT NULL"
    };
}

/// What `message_columns!` reads from, after `FROM room_messages m` (or a CTE named `m`).
macro_rules! message_joins {
    () => {
        " JOIN users u ON u.id = m.user_id \
          LEFT JOIN room_messages r ON r.id = m.reply_to LEFT JOIN users ru ON ru.id = r.user_id"
    };
}

/// The position of the author's `client_id` after `message_columns!` (`Row<PostedMessage>`).
const CLIENT_ID_COLUMN: usize = 17;

pub mod admin;
pub mod api_keys;
pub mod changes;
pub mod dms;
mod error;
pub mod markers;
pub mod messages;
pub mod presence;
pub mod rooms;
pub mod search;
pub mod sessions;
pub mod stock;
pub mod throttle;
pub mod tickers;
pub mod users;

use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions, PgRow};
use sqlx::{FromRow, PgPool, Row as _};
use tickertalk_wire::{BotMeta, DirectMessage, PostedMessage, ReactionCount, ReplyRef, RoomMessage};

pub use error::{StoreError, StoreResult, Taken};

/// Embedded migrations (`migrations/`), applied at start-up.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// Opens the pool and checks that the database answers.
pub async fn connect(url: &str, max_connections: u32) -> Result<PgPool, sqlx::Error> {
    // client_min_messages=warning: PostgreSQL's NOTICEs (such as `relation "_sqlx_migrations"
    // already exists, skipping` on every start) are not news, and read like errors in the log.
    let options = PgConnectOptions::from_str(url)?
        .application_name("tickertalk")
        .options([("client_min_messages", "warning")]);
    PgPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(Duration::from_secs(5))
        .connect_with(options)
        .await
}

/// Applies pending migrations.
pub async fn migrate(pool: &PgPool) -> Result<(), sqlx::migrate::MigrateError> {
    MIGRATOR.run(pool).await
}

/// Decodes a row into a record type of the wire crate, which cannot derive sqlx's `FromRow`
/// itself (it must not depend on sqlx: the bot links it). Events carry these records as read.
pub(crate) struct Row<T>(pub T);

/// By position: see `message_columns!`.
impl FromRow<'_, PgRow> for Row<RoomMessage> {
    fn from_row(r: &PgRow) -> Result<Self, sqlx::Error> {
        Ok(Row(RoomMessage {
            id: r.try_get(0)?,
            room_id: r.try_get(1)?,
            seq: r.try_get(2)?,
            user_id: r.try_get(3)?,
            username: r.try_get(4)?,
            body: r.try_get(5)?,
            created_at: r.try_get(6)?,
            bot: json_column::<BotMeta, _>(r, 7, "bot_meta")?.map(Box::new),
            rev: r.try_get(8)?,
            changed_rev: r.try_get(9)?,
            edited_at: r.try_get(10)?,
            deleted: r.try_get(11)?,
            reply_to: match r.try_get::<Option<i64>, _>(12)? {
                None => None,
                Some(id) => {
                    let deleted: bool = r.try_get(15)?;
                    Some(Box::new(ReplyRef {
                        id,
                        username: r.try_get::<Option<String>, _>(13)?.unwrap_or_default(),
                        snippet: r.try_get::<Option<String>, _>(14)?.unwrap_or_default(),
                        deleted,
                    }))
                }
            },
            reactions: reactions(json_column::<Vec<(String, i64)>, _>(r, 16, "reactions")?),
        }))
    }
}

/// Reaction counts as `[[emoji, count], ...]` (NULL: none).
fn reactions(pairs: Option<Vec<(String, i64)>>) -> Vec<ReactionCount> {
    pairs
        .unwrap_or_default()
        .into_iter()
        .map(|(emoji, count)| ReactionCount { emoji, count })
        .collect()
}

/// A JSON column (sent as text) decoded into `T`; NULL is `None`.
fn json_column<'r, T, I>(r: &'r PgRow, index: I, name: &str) -> Result<Option<T>, sqlx::Error>
where
    T: serde::de::DeserializeOwned,
    I: sqlx::ColumnIndex<PgRow>,
{
    r.try_get::<Option<&'r str>, _>(index)?
        .map(serde_json::from_str)
        .transpose()
        .map_err(|e| sqlx::Error::ColumnDecode {
            index: name.into(),
            source: Box::new(e),
        })
}

/// `message_columns!()` and then the stored `client_id`.
impl FromRow<'_, PgRow> for Row<PostedMessage> {
    fn from_row(r: &PgRow) -> Result<Self, sqlx::Error> {
        let Row(message) = Row::<RoomMessage>::from_row(r)?;
        Ok(Row(PostedMessage {
            message,
            client_id: r.try_get(CLIENT_ID_COLUMN)?,
        }))
    }
}

impl FromRow<'_, PgRow> for Row<DirectMessage> {
    fn from_row(r: &PgRow) -> Result<Self, sqlx::Error> {
        Ok(Row(DirectMessage {
            id: r.try_get("id")?,
            author_id: r.try_get("author_id")?,
            author: r.try_get("author")?,
            recipient_id: r.try_get("recipient_id")?,
            recipient: r.try_get("recipient")?,
            body: r.try_get("body")?,
            message_type: r.try_get("message_type")?,
            created_at: r.try_get("created_at")?,
            edited_at: r.try_get("edited_at")?,
            deleted: r.try_get("deleted")?,
            reactions: reactions(json_column::<Vec<(String, i64)>, _>(r, "reactions", "reactions")?),
        }))
    }
}

/// Unwraps decoded rows.
pub(crate) fn unwrap_rows<T>(rows: Vec<Row<T>>) -> Vec<T> {
    rows.into_iter().map(|r| r.0).collect()
}

/// Whether the database answers a trivial query within `limit` (readiness).
pub async fn ping(pool: &PgPool, limit: std::time::Duration) -> bool {
    tokio::time::timeout(limit, sqlx::query("SELECT 1").execute(pool))
        .await
        .is_ok_and(|r| r.is_ok())
}
