use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgPool;

use crate::domain::RoomName;
use crate::error::ApiError;

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Room {
    pub id: i64,
    pub name: String,
    #[serde(serialize_with = "crate::ws::protocol::micros")]
    pub created_at: DateTime<Utc>,
}

pub async fn create(db: &PgPool, name: &RoomName, created_by: Option<i64>) -> Result<Room, ApiError> {
    sqlx::query_as::<_, Room>(
        "INSERT INTO rooms (name, created_by) VALUES ($1, $2) RETURNING id, name, created_at",
    )
    .bind(name.as_str())
    .bind(created_by)
    .fetch_one(db)
    .await
    .map_err(|e| {
        if super::is_unique_violation(&e, "rooms_name_key") {
            let mut errors = crate::error::FieldErrors::new();
            errors.insert("name", "taken".into());
            ApiError::Conflict {
                detail: "a room with that name already exists".into(),
                errors,
            }
        } else {
            e.into()
        }
    })
}

/// Creates the named rooms unless they exist (any case). Used by `tickertalk seed`.
pub async fn ensure(db: &PgPool, names: &[&str]) -> Result<(), sqlx::Error> {
    for name in names {
        sqlx::query("INSERT INTO rooms (name) VALUES ($1) ON CONFLICT DO NOTHING")
            .bind(name)
            .execute(db)
            .await?;
    }
    Ok(())
}

pub async fn list(db: &PgPool) -> Result<Vec<Room>, ApiError> {
    Ok(
        sqlx::query_as::<_, Room>("SELECT id, name, created_at FROM rooms ORDER BY lower(name), id")
            .fetch_all(db)
            .await?,
    )
}

pub async fn get(db: &PgPool, id: i64) -> Result<Option<Room>, ApiError> {
    Ok(
        sqlx::query_as::<_, Room>("SELECT id, name, created_at FROM rooms WHERE id = $1")
            .bind(id)
            .fetch_optional(db)
            .await?,
    )
}

/// The room's latest message sequence number, or `None` for an unknown room.
pub async fn last_seq(db: &PgPool, id: i64) -> Result<Option<i64>, ApiError> {
    let row: Option<(i64,)> = sqlx::query_as("SELECT last_seq FROM rooms WHERE id = $1")
        .bind(id)
        .fetch_optional(db)
        .await?;
    Ok(row.map(|r| r.0))
}
