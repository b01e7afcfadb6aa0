//! Rooms. `last_seq` is the room's message counter (see `messages::insert_batch`).

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgPool;

use super::{StoreError, StoreResult, Taken};
use crate::domain::RoomName;

/// A room as the API shows it.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Room {
    pub id: i64,
    pub name: String,
    #[serde(serialize_with = "crate::domain::time::micros")]
    pub created_at: DateTime<Utc>,
}

pub async fn create(db: &PgPool, name: &RoomName, created_by: Option<i64>) -> StoreResult<Room> {
    sqlx::query_as::<_, Room>(
        "INSERT INTO rooms (name, created_by) VALUES ($1, $2) RETURNING id, name, created_at",
    )
    .bind(name.as_str())
    .bind(created_by)
    .fetch_one(db)
    .await
    .map_err(|e| StoreError::on_constraint(e, "rooms_name_key", Taken::RoomName))
}

/// The rooms every deployment starts with (`tickertalk seed`, `SEED_ROOMS`).
pub const DEFAULT_ROOMS: [&str; 2] = ["General", "Random"];

/// Creates the named rooms unless they exist (any case). Used by `tickertalk seed`.
pub async fn ensure(db: &PgPool, names: &[&str]) -> StoreResult<()> {
    for name in names {
        sqlx::query("INSERT INTO rooms (name) VALUES ($1) ON CONFLICT DO NOTHING")
            .bind(name)
            .execute(db)
            .await?;
    }
    Ok(())
}

pub async fn get(db: &PgPool, id: i64) -> StoreResult<Option<Room>> {
    Ok(
        sqlx::query_as::<_, Room>("SELECT id, name, created_at FROM rooms WHERE id = $1")
            .bind(id)
            .fetch_optional(db)
            .await?,
    )
}

/// The room's latest message sequence number, or `None` for an unknown room.
pub async fn last_seq(db: &PgPool, id: i64) -> StoreResult<Option<i64>> {
    let row: Option<(i64,)> = sqlx::query_as("SELECT last_seq FROM rooms WHERE id = $1")
        .bind(id)
        .fetch_optional(db)
        .await?;
    Ok(row.map(|r| r.0))
}
