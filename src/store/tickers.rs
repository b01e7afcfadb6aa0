//! Room watchlists, price alerts, refreshed prices and the refresh schedule
//! (`stock_watches`, `stock_alerts`, `stock_prices`, `stock_refreshes`, `stock_schedule`;
//! docs/stocks.md). Symbols are lower-case codes here, upper-case in what rooms see.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sqlx::PgPool;
use tickertalk_wire::{AlertView, QuoteFields, Ticker, TickerItem};
use uuid::Uuid;

use super::StoreResult;

/// What adding to a room's list came to.
#[derive(Debug, PartialEq, Eq)]
pub enum Added {
    /// Added; the list now has this many.
    New(i64),
    /// It was there already.
    Already,
    /// The room (or the user) is at its limit; nothing added.
    Full,
}

/// Pins `symbol` to the room, unless the room already watches `max`.
pub async fn watch(db: &PgPool, room_id: i64, symbol: &str, user_id: i64, max: i64) -> StoreResult<Added> {
    // One statement. Two members pinning the tenth and eleventh symbol at the same instant
    // may both pass the count (each sees the other's insert only after): the limit is a bound
    // on cost, and one over it costs nothing more.
    let row: Option<(i64, bool, i64)> = sqlx::query_as(
        "WITH room AS (SELECT id FROM rooms WHERE id = $1), \
              n AS (SELECT count(*) AS n FROM stock_watches WHERE room_id = $1), \
              already AS (SELECT EXISTS (SELECT 1 FROM stock_watches WHERE room_id = $1 AND symbol = $2) AS yes), \
              ins AS (INSERT INTO stock_watches (room_id, symbol, added_by) \
                      SELECT $1, $2, $3 FROM room, n, already WHERE n.n < $4 AND NOT already.yes \
                      ON CONFLICT DO NOTHING RETURNING 1) \
         SELECT (SELECT n FROM n), (SELECT yes FROM already), (SELECT count(*) FROM ins) FROM room",
    )
    .bind(room_id)
    .bind(symbol)
    .bind(user_id)
    .bind(max)
    .fetch_optional(db)
    .await?;
    Ok(match row {
        Some((_, true, _)) => Added::Already,
        Some((n, false, 1)) => Added::New(n + 1),
        _ => Added::Full,
    })
}

/// Unpins `symbol`; whether it was pinned.
pub async fn unwatch(db: &PgPool, room_id: i64, symbol: &str) -> StoreResult<bool> {
    let done = sqlx::query("DELETE FROM stock_watches WHERE room_id = $1 AND symbol = $2")
        .bind(room_id)
        .bind(symbol)
        .execute(db)
        .await?;
    Ok(done.rows_affected() > 0)
}

/// A new alert, unless the room already has `per_room` active ones or the user `per_user`.
pub struct NewAlert<'a> {
    pub room_id: i64,
    pub user_id: i64,
    pub symbol: &'a str,
    pub op: &'a str,
    pub threshold: &'a str,
}

/// Adds an alert; its id, or `None` when a limit is reached.
pub async fn add_alert(
    db: &PgPool,
    a: &NewAlert<'_>,
    per_room: i64,
    per_user: i64,
) -> StoreResult<Option<i64>> {
    let id: Option<i64> = sqlx::query_scalar(
        "WITH room AS (SELECT id FROM rooms WHERE id = $1) \
         INSERT INTO stock_alerts (room_id, user_id, symbol, op, threshold) \
         SELECT $1, $2, $3, $4, $5::numeric FROM room \
         WHERE (SELECT count(*) FROM stock_alerts WHERE room_id = $1 AND fired_at IS NULL) < $6 \
           AND (SELECT count(*) FROM stock_alerts WHERE user_id = $2 AND fired_at IS NULL) < $7 \
         RETURNING id",
    )
    .bind(a.room_id)
    .bind(a.user_id)
    .bind(a.symbol)
    .bind(a.op)
    .bind(a.threshold)
    .bind(per_room)
    .bind(per_user)
    .fetch_optional(db)
    .await?;
    Ok(id)
}

/// Cancels an active alert of the room, if `user_id` set it or created the room; whether one
/// was cancelled.
pub async fn cancel_alert(db: &PgPool, room_id: i64, alert_id: i64, user_id: i64) -> StoreResult<bool> {
    let done = sqlx::query(
        "DELETE FROM stock_alerts a WHERE a.id = $2 AND a.room_id = $1 AND a.fired_at IS NULL \
           AND (a.user_id = $3 OR EXISTS (SELECT 1 FROM rooms r WHERE r.id = $1 AND r.created_by = $3))",
    )
    .bind(room_id)
    .bind(alert_id)
    .bind(user_id)
    .execute(db)
    .await?;
    Ok(done.rows_affected() > 0)
}

/// Every symbol a room watches or has an active alert on, the ones refreshed longest ago
/// first, at most `max`.
pub async fn tracked(db: &PgPool, max: i64) -> StoreResult<Vec<String>> {
    Ok(sqlx::query_scalar(
        "SELECT s.symbol FROM (SELECT symbol FROM stock_watches UNION \
                               SELECT symbol FROM stock_alerts WHERE fired_at IS NULL) s \
         LEFT JOIN stock_prices p USING (symbol) \
         ORDER BY p.refreshed_at NULLS FIRST, s.symbol LIMIT $1",
    )
    .bind(max)
    .fetch_all(db)
    .await?)
}

/// Whether the scheduled refresh is due now, and if so moves it `period_secs` on: true for
/// exactly one caller per period, however many servers ask.
pub async fn refresh_due(db: &PgPool, period_secs: f64) -> StoreResult<bool> {
    let row: Option<i32> = sqlx::query_scalar(
        "INSERT INTO stock_schedule (name, due_at) VALUES ('prices', now() + make_interval(secs => $1)) \
         ON CONFLICT (name) DO UPDATE SET due_at = now() + make_interval(secs => $1) \
         WHERE stock_schedule.due_at <= now() RETURNING 1",
    )
    .bind(period_secs)
    .fetch_optional(db)
    .await?;
    Ok(row.is_some())
}

/// Records a refresh about to be asked of the bots.
pub async fn record_refresh(db: &PgPool, refresh_id: Uuid, symbols: &[String]) -> StoreResult<()> {
    sqlx::query("INSERT INTO stock_refreshes (refresh_id, symbols) VALUES ($1, $2)")
        .bind(refresh_id)
        .bind(symbols)
        .execute(db)
        .await?;
    Ok(())
}

/// The symbols refresh `refresh_id` asked for, if it is one this side asked for lately.
pub async fn refresh_symbols(db: &PgPool, refresh_id: Uuid) -> StoreResult<Option<Vec<String>>> {
    Ok(
        sqlx::query_scalar("SELECT symbols FROM stock_refreshes WHERE refresh_id = $1")
            .bind(refresh_id)
            .fetch_optional(db)
            .await?,
    )
}

/// Deletes refreshes older than `secs`; how many.
pub async fn prune_refreshes(db: &PgPool, secs: f64) -> StoreResult<u64> {
    let done = sqlx::query("DELETE FROM stock_refreshes WHERE asked_at < now() - make_interval(secs => $1)")
        .bind(secs)
        .execute(db)
        .await?;
    Ok(done.rows_affected())
}

/// Deletes the prices of symbols no room watches or has an active alert on, refreshed more
/// than `secs` ago; how many.
pub async fn prune_prices(db: &PgPool, secs: f64) -> StoreResult<u64> {
    let done = sqlx::query(
        "DELETE FROM stock_prices p WHERE p.refreshed_at < now() - make_interval(secs => $1) \
           AND NOT EXISTS (SELECT 1 FROM stock_watches w WHERE w.symbol = p.symbol) \
           AND NOT EXISTS (SELECT 1 FROM stock_alerts a WHERE a.symbol = p.symbol AND a.fired_at IS NULL)",
    )
    .bind(secs)
    .execute(db)
    .await?;
    Ok(done.rows_affected())
}

/// Stores the latest prices (lower-case symbol, quote) and fires the active alerts they cross,
/// in one transaction. Returns the ids of the alerts fired (each exactly once: another server
/// storing the same prices finds them fired already).
pub async fn store_prices(db: &PgPool, prices: &[(String, QuoteFields)]) -> StoreResult<Vec<i64>> {
    let symbols: Vec<&str> = prices.iter().map(|(s, _)| s.as_str()).collect();
    let closes: Vec<&str> = prices.iter().map(|(_, q)| q.close.as_str()).collect();
    let previous: Vec<&str> = prices.iter().map(|(_, q)| q.previous_close.as_str()).collect();
    let quotes: Vec<String> = prices
        .iter()
        .map(|(_, q)| serde_json::to_string(q).expect("quotes serialise"))
        .collect();
    let mut tx = db.begin().await?;
    sqlx::query(
        "INSERT INTO stock_prices (symbol, quote, refreshed_at) \
         SELECT symbol, quote::jsonb, now() FROM unnest($1::text[], $2::text[]) AS p(symbol, quote) \
         ON CONFLICT (symbol) DO UPDATE SET quote = excluded.quote, refreshed_at = excluded.refreshed_at",
    )
    .bind(&symbols)
    .bind(&quotes)
    .execute(&mut *tx)
    .await?;
    // Numbers come validated (plain decimals, `quote.rs` in the bot, checked again by the
    // caller); an empty previous close is NULL and a `%` alert then waits for one.
    let fired: Vec<i64> = sqlx::query_scalar(
        "UPDATE stock_alerts a SET fired_at = now(), fired_price = p.close::numeric, fired_quote = p.quote::jsonb \
         FROM unnest($1::text[], $2::text[], $3::text[], $4::text[]) AS p(symbol, close, prev, quote) \
         WHERE a.symbol = p.symbol AND a.fired_at IS NULL AND ( \
               (a.op = '>' AND p.close::numeric > a.threshold) \
            OR (a.op = '<' AND p.close::numeric < a.threshold) \
            OR (a.op = '%' AND NULLIF(p.prev, '')::numeric > 0 \
                AND abs(p.close::numeric - p.prev::numeric) * 100 >= a.threshold * p.prev::numeric)) \
         RETURNING a.id",
    )
    .bind(&symbols)
    .bind(&closes)
    .bind(&previous)
    .bind(&quotes)
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(fired)
}

/// A fired alert whose room message is not stored yet.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Fired {
    pub id: i64,
    pub room_id: i64,
    pub symbol: String,
    pub op: String,
    pub threshold: String,
    pub fired_price: String,
    pub fired_quote: Option<String>,
    pub set_by: String,
    pub created_at: DateTime<Utc>,
}

/// Fired alerts not posted yet, oldest first, at most `max`.
pub async fn unposted(db: &PgPool, max: i64) -> StoreResult<Vec<Fired>> {
    Ok(sqlx::query_as::<_, Fired>(
        "SELECT a.id, a.room_id, a.symbol, a.op, a.threshold::text AS threshold, \
                a.fired_price::text AS fired_price, a.fired_quote::text AS fired_quote, \
                u.username AS set_by, a.created_at \
         FROM stock_alerts a JOIN users u ON u.id = a.user_id \
         WHERE a.fired_at IS NOT NULL AND a.message_id IS NULL ORDER BY a.id LIMIT $1",
    )
    .bind(max)
    .fetch_all(db)
    .await?)
}

/// The fired alert's room message is stored.
pub async fn posted(db: &PgPool, alert_id: i64, message_id: i64) -> StoreResult<()> {
    sqlx::query("UPDATE stock_alerts SET message_id = $2 WHERE id = $1")
        .bind(alert_id)
        .bind(message_id)
        .execute(db)
        .await?;
    Ok(())
}

/// Rooms whose strip shows one of `symbols` (watched, or with an active alert on it).
pub async fn rooms_showing(db: &PgPool, symbols: &[String]) -> StoreResult<Vec<i64>> {
    Ok(sqlx::query_scalar(
        "SELECT room_id FROM stock_watches WHERE symbol = ANY($1) \
         UNION SELECT room_id FROM stock_alerts WHERE symbol = ANY($1) AND fired_at IS NULL",
    )
    .bind(symbols)
    .fetch_all(db)
    .await?)
}

#[derive(sqlx::FromRow)]
struct WatchRow {
    room_id: i64,
    symbol: String,
    quote: Option<String>,
    refreshed_at: Option<DateTime<Utc>>,
}

#[derive(sqlx::FromRow)]
struct AlertRow {
    id: i64,
    room_id: i64,
    symbol: String,
    op: String,
    threshold: String,
    set_by: String,
    created_at: DateTime<Utc>,
}

/// The ticker strips of `rooms`: each room's watched symbols (in the order pinned) with their
/// latest prices, and its active alerts (oldest first). A room with neither is in the answer
/// too, empty.
pub async fn tickers(db: &PgPool, rooms: &[i64]) -> StoreResult<Vec<Ticker>> {
    let watches = sqlx::query_as::<_, WatchRow>(
        "SELECT w.room_id, w.symbol, p.quote::text AS quote, p.refreshed_at \
         FROM stock_watches w LEFT JOIN stock_prices p USING (symbol) \
         WHERE w.room_id = ANY($1) ORDER BY w.room_id, w.added_at, w.symbol",
    )
    .bind(rooms)
    .fetch_all(db)
    .await?;
    let alerts = sqlx::query_as::<_, AlertRow>(
        "SELECT a.id, a.room_id, a.symbol, a.op, a.threshold::text AS threshold, \
                u.username AS set_by, a.created_at \
         FROM stock_alerts a JOIN users u ON u.id = a.user_id \
         WHERE a.room_id = ANY($1) AND a.fired_at IS NULL ORDER BY a.id",
    )
    .bind(rooms)
    .fetch_all(db)
    .await?;
    let mut by_room: HashMap<i64, Ticker> = rooms
        .iter()
        .map(|&room_id| {
            (
                room_id,
                Ticker {
                    room_id,
                    symbols: Vec::new(),
                    alerts: Vec::new(),
                },
            )
        })
        .collect();
    for w in watches {
        if let Some(t) = by_room.get_mut(&w.room_id) {
            t.symbols.push(TickerItem {
                symbol: w.symbol.to_ascii_uppercase(),
                quote: w.quote.and_then(|q| serde_json::from_str(&q).ok()),
                refreshed_at: w.refreshed_at,
            });
        }
    }
    for a in alerts {
        if let Some(t) = by_room.get_mut(&a.room_id) {
            t.alerts.push(AlertView {
                id: a.id,
                symbol: a.symbol.to_ascii_uppercase(),
                op: a.op,
                threshold: a.threshold,
                set_by: a.set_by,
                created_at: Some(a.created_at),
            });
        }
    }
    let mut out: Vec<Ticker> = by_room.into_values().collect();
    out.sort_by_key(|t| t.room_id);
    Ok(out)
}
