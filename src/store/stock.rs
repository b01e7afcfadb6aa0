//! Stock commands waiting for their answer (`stock_requests`): what `chat::rooms` checks an
//! answer against before storing it.

use sqlx::PgPool;
use uuid::Uuid;

use super::StoreResult;

/// A command the server queued for the bot.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct Request {
    pub request_id: Uuid,
    pub room_id: i64,
    pub user_id: i64,
    pub username: String,
    pub command: String,
}

/// Records a command before it is queued.
pub async fn remember(db: &PgPool, r: &Request) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO stock_requests (request_id, room_id, user_id, username, command) \
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (request_id) DO NOTHING",
    )
    .bind(r.request_id)
    .bind(r.room_id)
    .bind(r.user_id)
    .bind(&r.username)
    .bind(&r.command)
    .execute(db)
    .await?;
    Ok(())
}

/// The command `request_id` answers, if it still waits.
pub async fn waiting(db: &PgPool, request_id: Uuid) -> StoreResult<Option<Request>> {
    Ok(sqlx::query_as::<_, Request>(
        "SELECT request_id, room_id, user_id, username, command FROM stock_requests WHERE request_id = $1",
    )
    .bind(request_id)
    .fetch_optional(db)
    .await?)
}

/// The command was answered (its answer is stored): it no longer waits.
pub async fn answered(db: &PgPool, request_id: Uuid) -> StoreResult<()> {
    sqlx::query("DELETE FROM stock_requests WHERE request_id = $1")
        .bind(request_id)
        .execute(db)
        .await?;
    Ok(())
}

/// Deletes requests older than `secs` (never answered); returns how many.
pub async fn prune(db: &PgPool, secs: f64) -> StoreResult<u64> {
    let done = sqlx::query("DELETE FROM stock_requests WHERE asked_at < now() - make_interval(secs => $1)")
        .bind(secs)
        .execute(db)
        .await?;
    Ok(done.rows_affected())
}
