//! Rooms. `last_seq` is the room's message counter and `last_rev` its stream's (messages and
//! changes to them; see `messages::insert_batch` and `changes`).

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
    /// What the room is about (empty: none). Its creator sets it.
    pub topic: String,
    /// The creator's username (`None` for the rooms every deployment starts with, or when
    /// the account is gone).
    pub created_by: Option<String>,
}

const SELECT: &str = "SELECT r.id, r.name, r.created_at, r.topic, u.username AS created_by \
                      FROM rooms r LEFT JOIN users u ON u.id = r.created_by";

pub async fn create(db: &PgPool, name: &RoomName, created_by: Option<i64>) -> StoreResult<Room> {
    sqlx::query_as::<_, Room>(
        "WITH r AS (INSERT INTO rooms (name, created_by) VALUES ($1, $2) \
                    RETURNING id, name, created_at, topic, created_by) \
         SELECT r.id, r.name, r.created_at, r.topic, u.username AS created_by \
         FROM r LEFT JOIN users u ON u.id = r.created_by",
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
    Ok(sqlx::query_as::<_, Room>(sql!("{SELECT} WHERE r.id = $1"))
        .bind(id)
        .fetch_optional(db)
        .await?)
}

/// The room's latest stream position (`last_rev`: messages and changes), or `None` for an
/// unknown room.
pub async fn last_rev(db: &PgPool, id: i64) -> StoreResult<Option<i64>> {
    let row: Option<(i64,)> = sqlx::query_as("SELECT last_rev FROM rooms WHERE id = $1")
        .bind(id)
        .fetch_optional(db)
        .await?;
    Ok(row.map(|r| r.0))
}

/// The room's creator id (`Ok(None)` for a room without one), or `NotFound`.
pub async fn creator(db: &PgPool, id: i64) -> StoreResult<Option<i64>> {
    let row: Option<(Option<i64>,)> = sqlx::query_as("SELECT created_by FROM rooms WHERE id = $1")
        .bind(id)
        .fetch_optional(db)
        .await?;
    row.map(|r| r.0)
        .ok_or_else(|| StoreError::NotFound("no such room".into()))
}

/// Renames a room and/or sets its topic; the room as it is now (`None`: no such room).
pub async fn update(
    db: &PgPool,
    id: i64,
    name: Option<&RoomName>,
    topic: Option<&str>,
) -> StoreResult<Option<Room>> {
    sqlx::query_as::<_, Room>(
        "WITH r AS (UPDATE rooms SET name = COALESCE($2, name), topic = COALESCE($3, topic) WHERE id = $1 \
                    RETURNING id, name, created_at, topic, created_by) \
         SELECT r.id, r.name, r.created_at, r.topic, u.username AS created_by \
         FROM r LEFT JOIN users u ON u.id = r.created_by",
    )
    .bind(id)
    .bind(name.map(RoomName::as_str))
    .bind(topic)
    .fetch_optional(db)
    .await
    .map_err(|e| StoreError::on_constraint(e, "rooms_name_key", Taken::RoomName))
}

/// Records that users joined rooms (again, after leaving): `(room_id, user_id)` pairs. Unknown
/// rooms are skipped.
pub async fn join_batch(db: &PgPool, joins: &[(i64, i64)]) -> StoreResult<()> {
    let (rooms, users): (Vec<i64>, Vec<i64>) = joins.iter().copied().unzip();
    sqlx::query(
        "INSERT INTO room_members (room_id, user_id) \
         SELECT j.room_id, j.user_id FROM unnest($1::int8[], $2::int8[]) AS j(room_id, user_id) \
         JOIN rooms r ON r.id = j.room_id \
         ORDER BY 1, 2 \
         ON CONFLICT (room_id, user_id) DO UPDATE SET left_at = NULL, joined_at = now() \
         WHERE room_members.left_at IS NOT NULL",
    )
    .bind(&rooms)
    .bind(&users)
    .execute(db)
    .await?;
    Ok(())
}

/// `user_id` leaves the room; false when they were not a member.
pub async fn leave(db: &PgPool, room_id: i64, user_id: i64) -> StoreResult<bool> {
    Ok(sqlx::query(
        "UPDATE room_members SET left_at = now() WHERE room_id = $1 AND user_id = $2 AND left_at IS NULL",
    )
    .bind(room_id)
    .bind(user_id)
    .execute(db)
    .await?
    .rows_affected()
        == 1)
}

/// One room member, as the members list shows them.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Member {
    pub username: String,
    /// Has a socket in this room now (on any live instance).
    pub online: bool,
}

/// The room's members (joined and not left), by name, at most `limit` after `after` (a
/// username, case-insensitively).
pub async fn members(db: &PgPool, room_id: i64, after: Option<&str>, limit: i64) -> StoreResult<Vec<Member>> {
    Ok(sqlx::query_as::<_, Member>(
        "SELECT u.username, EXISTS (SELECT 1 FROM room_presence p JOIN instances i ON i.id = p.instance_id \
                                    WHERE p.room_id = m.room_id AND p.user_id = m.user_id \
                                      AND i.heartbeat_at > now() - make_interval(secs => $4)) AS online \
         FROM room_members m JOIN users u ON u.id = m.user_id \
         WHERE m.room_id = $1 AND m.left_at IS NULL AND ($2::text IS NULL OR lower(u.username) > lower($2)) \
         ORDER BY lower(u.username) LIMIT $3",
    )
    .bind(room_id)
    .bind(after)
    .bind(limit)
    .bind(super::presence::ALIVE_SECS)
    .fetch_all(db)
    .await?)
}
