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
/// `u` its author): `Row<RoomMessage>` decodes them by position. A history page is 50 rows of 8
/// columns, and by name each is a hash lookup, which the history benchmark's profile showed.
/// `bot_meta` comes as text (NULL but on the bot's answers) and is parsed here.
macro_rules! message_columns {
    () => {
        "m.id, m.room_id, m.seq, m.user_id, u.username, m.body, m.created_at, m.bot_meta::text"
    };
}

pub mod admin;
pub mod api_keys;
pub mod dms;
mod error;
pub mod markers;
pub mod messages;
pub mod presence;
pub mod rooms;
pub mod sessions;
pub mod stock;
pub mod throttle;
pub mod users;

use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions, PgRow};
use sqlx::{FromRow, PgPool, Row as _};
use tickertalk_wire::{DirectMessage, PostedMessage, RoomMessage};

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
            bot: r
                .try_get::<Option<&str>, _>(7)?
                .map(|text| serde_json::from_str(text).map(Box::new))
                .transpose()
                .map_err(|e| sqlx::Error::ColumnDecode {
                    index: "bot_meta".into(),
                    source: Box::new(e),
                })?,
        }))
    }
}

/// `message_columns!()` and then the stored `client_id`.
impl FromRow<'_, PgRow> for Row<PostedMessage> {
    fn from_row(r: &PgRow) -> Result<Self, sqlx::Error> {
        let Row(message) = Row::<RoomMessage>::from_row(r)?;
        Ok(Row(PostedMessage {
            message,
            client_id: r.try_get(8)?,
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
