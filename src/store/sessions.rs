//! Sessions: one row per login, holding the refresh token's hash. An access token names its
//! session, so revoking the row revokes every token of that login at once.

use chrono::{DateTime, Utc};
use sqlx::PgPool;
use uuid::Uuid;

use super::StoreResult;

pub async fn create(
    db: &PgPool,
    id: Uuid,
    user_id: i64,
    refresh_hash: &[u8],
    expires_at: DateTime<Utc>,
) -> StoreResult<()> {
    sqlx::query("INSERT INTO sessions (id, user_id, refresh_hash, expires_at) VALUES ($1, $2, $3, $4)")
        .bind(id)
        .bind(user_id)
        .bind(refresh_hash)
        .bind(expires_at)
        .execute(db)
        .await?;
    Ok(())
}

/// Whether the session exists, is not revoked and has not expired.
pub async fn is_active(db: &PgPool, id: Uuid) -> StoreResult<bool> {
    let row: Option<(bool,)> =
        sqlx::query_as("SELECT revoked_at IS NULL AND expires_at > now() FROM sessions WHERE id = $1")
            .bind(id)
            .fetch_optional(db)
            .await?;
    Ok(matches!(row, Some((true,))))
}

/// Swaps the stored refresh hash for a new one, in one statement, so two concurrent refreshes
/// with the same token cannot both win. Returns the session and its user, or `None` when the
/// token is unknown, already rotated, revoked or expired.
/// The old hash is kept as retired (`retired_by`), in the same statement.
pub async fn rotate(db: &PgPool, old_hash: &[u8], new_hash: &[u8]) -> StoreResult<Option<(Uuid, i64)>> {
    Ok(sqlx::query_as(
        "WITH s AS ( \
           UPDATE sessions SET refresh_hash = $2, refreshed_at = now() \
           WHERE refresh_hash = $1 AND revoked_at IS NULL AND expires_at > now() \
           RETURNING id, user_id), \
         r AS (INSERT INTO retired_refresh_tokens (hash, session_id) SELECT $1, id FROM s \
               ON CONFLICT (hash) DO NOTHING) \
         SELECT id, user_id FROM s",
    )
    .bind(old_hash)
    .bind(new_hash)
    .fetch_optional(db)
    .await?)
}

/// The session a refresh token was retired from (by a refresh) and how many seconds ago, if
/// it was.
pub async fn retired_by(db: &PgPool, hash: &[u8]) -> StoreResult<Option<(Uuid, f64)>> {
    Ok(sqlx::query_as(
        "SELECT session_id, extract(epoch FROM now() - retired_at)::float8 \
         FROM retired_refresh_tokens WHERE hash = $1",
    )
    .bind(hash)
    .fetch_optional(db)
    .await?)
}

/// Revokes every live session of `user_id` but `keep` (all of them without it); returns the
/// ids revoked.
pub async fn revoke_all(db: &PgPool, user_id: i64, keep: Option<Uuid>) -> StoreResult<Vec<Uuid>> {
    let rows: Vec<(Uuid,)> = sqlx::query_as(
        "UPDATE sessions SET revoked_at = now() \
         WHERE user_id = $1 AND revoked_at IS NULL AND ($2::uuid IS NULL OR id <> $2) \
         RETURNING id",
    )
    .bind(user_id)
    .bind(keep)
    .fetch_all(db)
    .await?;
    Ok(rows.into_iter().map(|(id,)| id).collect())
}

/// Deletes retired refresh tokens of sessions that expired (they can no longer be reused).
pub async fn prune_retired(db: &PgPool) -> StoreResult<u64> {
    let done = sqlx::query(
        "DELETE FROM retired_refresh_tokens r USING sessions s \
         WHERE r.session_id = s.id AND s.expires_at < now()",
    )
    .execute(db)
    .await?;
    Ok(done.rows_affected())
}

pub async fn revoke(db: &PgPool, id: Uuid) -> StoreResult<()> {
    sqlx::query("UPDATE sessions SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL")
        .bind(id)
        .execute(db)
        .await?;
    Ok(())
}
