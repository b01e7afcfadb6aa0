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
pub async fn rotate(db: &PgPool, old_hash: &[u8], new_hash: &[u8]) -> StoreResult<Option<(Uuid, i64)>> {
    Ok(sqlx::query_as(
        "UPDATE sessions SET refresh_hash = $2, refreshed_at = now() \
         WHERE refresh_hash = $1 AND revoked_at IS NULL AND expires_at > now() \
         RETURNING id, user_id",
    )
    .bind(old_hash)
    .bind(new_hash)
    .fetch_optional(db)
    .await?)
}

pub async fn revoke(db: &PgPool, id: Uuid) -> StoreResult<()> {
    sqlx::query("UPDATE sessions SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL")
        .bind(id)
        .execute(db)
        .await?;
    Ok(())
}
