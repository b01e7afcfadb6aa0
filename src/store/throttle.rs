//! Failed-login counts per key (`login_throttle`); what they mean is decided in
//! `chat::throttle`.

use chrono::{DateTime, Utc};
use sqlx::PgPool;

use super::StoreResult;

/// The latest `blocked_until` among `keys` that is still in the future.
pub async fn blocked_until(db: &PgPool, keys: &[String]) -> StoreResult<Option<DateTime<Utc>>> {
    let row: (Option<DateTime<Utc>>,) = sqlx::query_as(
        "SELECT max(blocked_until) FROM login_throttle WHERE key = ANY($1) AND blocked_until > now()",
    )
    .bind(keys)
    .fetch_one(db)
    .await?;
    Ok(row.0)
}

/// Counts one failure for `key`, starting a new count when the current one began more than
/// `window_secs` ago; returns the failures counted in the window, this one included.
pub async fn count_failure(db: &PgPool, key: &str, window_secs: f64) -> StoreResult<i32> {
    let (failures,): (i32,) = sqlx::query_as(
        "INSERT INTO login_throttle AS t (key, failures) VALUES ($1, 1) \
         ON CONFLICT (key) DO UPDATE SET \
           failures = CASE WHEN t.window_start > now() - make_interval(secs => $2) \
                           THEN t.failures + 1 ELSE 1 END, \
           window_start = CASE WHEN t.window_start > now() - make_interval(secs => $2) \
                               THEN t.window_start ELSE now() END \
         RETURNING failures",
    )
    .bind(key)
    .bind(window_secs)
    .fetch_one(db)
    .await?;
    Ok(failures)
}

/// Blocks `key` for `secs` from now.
pub async fn block(db: &PgPool, key: &str, secs: f64) -> StoreResult<()> {
    sqlx::query("UPDATE login_throttle SET blocked_until = now() + make_interval(secs => $2) WHERE key = $1")
        .bind(key)
        .bind(secs)
        .execute(db)
        .await?;
    Ok(())
}

/// Forgets `keys` (after a successful login).
pub async fn clear(db: &PgPool, keys: &[String]) -> StoreResult<()> {
    sqlx::query("DELETE FROM login_throttle WHERE key = ANY($1)")
        .bind(keys)
        .execute(db)
        .await?;
    Ok(())
}
