//! Users. Usernames and emails are unique ignoring case (the migration's indexes), which is
//! also how they are looked up.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgPool;

use super::{StoreError, StoreResult, Taken};
use crate::domain::{Email, Username};

/// A user as the API shows it (never the password hash).
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct User {
    pub id: i64,
    pub username: String,
    pub email: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub phone: Option<String>,
    #[serde(serialize_with = "crate::domain::time::micros")]
    pub created_at: DateTime<Utc>,
}

/// A user row with the hash, for login only.
#[derive(sqlx::FromRow)]
pub struct Credentials {
    #[sqlx(flatten)]
    pub user: User,
    pub password_hash: String,
}

/// A user about to be inserted: validated names, and the password already hashed.
pub struct NewUser {
    pub username: Username,
    pub email: Email,
    pub password_hash: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub phone: Option<String>,
}

const COLUMNS: &str = "id, username, email, first_name, last_name, phone, created_at";

pub async fn insert(db: &PgPool, new: &NewUser) -> StoreResult<User> {
    let sql = format!(
        "INSERT INTO users (username, email, password_hash, first_name, last_name, phone) \
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING {COLUMNS}"
    );
    sqlx::query_as::<_, User>(sqlx::AssertSqlSafe(sql))
        .bind(new.username.as_str())
        .bind(new.email.as_str())
        .bind(&new.password_hash)
        .bind(&new.first_name)
        .bind(&new.last_name)
        .bind(&new.phone)
        .fetch_one(db)
        .await
        .map_err(
            |e| match StoreError::on_constraint(e, "users_username_key", Taken::Username) {
                StoreError::Other(e) => StoreError::on_constraint(e, "users_email_key", Taken::Email),
                other => other,
            },
        )
}

/// Looks a user up by email or username, ignoring case.
pub async fn credentials(db: &PgPool, login: &str, by_email: bool) -> StoreResult<Option<Credentials>> {
    let column = if by_email { "email" } else { "username" };
    let sql = format!("SELECT {COLUMNS}, password_hash FROM users WHERE lower({column}) = lower($1)");
    Ok(sqlx::query_as::<_, Credentials>(sqlx::AssertSqlSafe(sql))
        .bind(login)
        .fetch_optional(db)
        .await?)
}

/// Whether `username` or `email` is already in use (ignoring case, as the unique indexes do):
/// asked before a sign-up hashes its password, so a taken name costs no hashing. The insert's
/// unique violation still decides a race between two sign-ups.
pub async fn taken(db: &PgPool, username: &str, email: &str) -> StoreResult<Option<Taken>> {
    let row: Option<(bool,)> = sqlx::query_as(
        "SELECT lower(username) = lower($1) FROM users \
         WHERE lower(username) = lower($1) OR lower(email) = lower($2) \
         ORDER BY 1 DESC LIMIT 1",
    )
    .bind(username)
    .bind(email)
    .fetch_optional(db)
    .await?;
    Ok(row.map(|(name,)| if name { Taken::Username } else { Taken::Email }))
}

/// The stored password hash of user `id`.
pub async fn password_hash(db: &PgPool, id: i64) -> StoreResult<Option<String>> {
    let row: Option<(String,)> = sqlx::query_as("SELECT password_hash FROM users WHERE id = $1")
        .bind(id)
        .fetch_optional(db)
        .await?;
    Ok(row.map(|(h,)| h))
}

/// Replaces user `id`'s password hash.
pub async fn set_password_hash(db: &PgPool, id: i64, hash: &str) -> StoreResult<()> {
    sqlx::query("UPDATE users SET password_hash = $2 WHERE id = $1")
        .bind(id)
        .bind(hash)
        .execute(db)
        .await?;
    Ok(())
}

pub async fn by_id(db: &PgPool, id: i64) -> StoreResult<Option<User>> {
    let sql = format!("SELECT {COLUMNS} FROM users WHERE id = $1");
    Ok(sqlx::query_as::<_, User>(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(db)
        .await?)
}

pub async fn by_username(db: &PgPool, username: &str) -> StoreResult<Option<User>> {
    let sql = format!("SELECT {COLUMNS} FROM users WHERE lower(username) = lower($1)");
    Ok(sqlx::query_as::<_, User>(sqlx::AssertSqlSafe(sql))
        .bind(username)
        .fetch_optional(db)
        .await?)
}

/// Usernames starting with `prefix` (ignoring case), after `after` in name order, at most
/// `limit`: the people search for starting a direct message. The bot is not a person to write to.
pub async fn search(db: &PgPool, prefix: &str, after: Option<&str>, limit: i64) -> StoreResult<Vec<String>> {
    let rows: Vec<(String,)> = sqlx::query_as(
        "SELECT username FROM users \
         WHERE starts_with(lower(username), lower($1)) \
           AND ($2::text IS NULL OR lower(username) > lower($2)) \
           AND lower(username) <> 'stockbot' \
         ORDER BY lower(username) LIMIT $3",
    )
    .bind(prefix)
    .bind(after)
    .bind(limit)
    .fetch_all(db)
    .await?;
    Ok(rows.into_iter().map(|r| r.0).collect())
}

/// Deletes a user and everything the account made: the rooms it created (with every message
/// in them), its messages in other rooms, its presence rows and, by cascade, its sessions,
/// keys, direct messages and read markers. One transaction. Returns the ids of the sessions
/// that ended, so that instances caching them can be told. Only the QA routes call this.
pub async fn delete_account(db: &PgPool, user_id: i64) -> StoreResult<Vec<uuid::Uuid>> {
    let mut tx = db.begin().await?;
    let sessions: Vec<(uuid::Uuid,)> = sqlx::query_as("SELECT id FROM sessions WHERE user_id = $1")
        .bind(user_id)
        .fetch_all(&mut *tx)
        .await?;
    for sql in [
        "DELETE FROM room_presence WHERE user_id = $1 \
         OR room_id IN (SELECT id FROM rooms WHERE created_by = $1)",
        "DELETE FROM rooms WHERE created_by = $1",
        "DELETE FROM room_messages WHERE user_id = $1",
        "DELETE FROM users WHERE id = $1",
    ] {
        sqlx::query(sql).bind(user_id).execute(&mut *tx).await?;
    }
    tx.commit().await?;
    Ok(sessions.into_iter().map(|(id,)| id).collect())
}
