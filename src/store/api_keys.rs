//! Access keys of the `/api` surface (see the migration and `auth::keys`). A key lives as long
//! as its session: revoking the session revokes the key.

use chrono::{DateTime, Utc};
use sqlx::PgPool;
use uuid::Uuid;

use super::StoreResult;

/// A key as its owner sees it (the secret is never read back through this).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct KeyRow {
    pub access_key_id: String,
    pub created_at: DateTime<Utc>,
    pub modified_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// What authenticating with a key needs: its owner, its session and the sealed secret.
#[derive(Debug, sqlx::FromRow)]
pub struct KeyLookup {
    pub user_id: i64,
    pub username: String,
    pub session_id: Uuid,
    pub secret_sealed: Vec<u8>,
    /// False once the key expired or its session was revoked or expired.
    pub active: bool,
}

pub async fn insert(
    db: &PgPool,
    access_key_id: &str,
    session_id: Uuid,
    user_id: i64,
    secret_sealed: &[u8],
    expires_at: DateTime<Utc>,
) -> StoreResult<KeyRow> {
    Ok(sqlx::query_as::<_, KeyRow>(
        "INSERT INTO api_keys (access_key_id, session_id, user_id, secret_sealed, expires_at) \
         VALUES ($1, $2, $3, $4, $5) RETURNING access_key_id, created_at, modified_at, expires_at",
    )
    .bind(access_key_id)
    .bind(session_id)
    .bind(user_id)
    .bind(secret_sealed)
    .bind(expires_at)
    .fetch_one(db)
    .await?)
}

pub async fn lookup(db: &PgPool, access_key_id: &str) -> StoreResult<Option<KeyLookup>> {
    Ok(sqlx::query_as::<_, KeyLookup>(
        "SELECT k.user_id, u.username, k.session_id, k.secret_sealed, \
                (k.expires_at > now() AND s.revoked_at IS NULL AND s.expires_at > now()) AS active \
         FROM api_keys k JOIN sessions s ON s.id = k.session_id JOIN users u ON u.id = k.user_id \
         WHERE k.access_key_id = $1",
    )
    .bind(access_key_id)
    .fetch_optional(db)
    .await?)
}
