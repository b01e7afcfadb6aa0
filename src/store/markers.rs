//! Read markers: how far each user has read each room and each direct
//! conversation. Markers only move forward (a late request from an older tab cannot move one
//! back). A room's unread count is its `last_seq` minus the marker's `seq`; a conversation's is
//! a count of the peer's messages after the marker.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgPool;

use super::StoreResult;

/// A room as one user's room list shows it.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct RoomEntry {
    pub id: i64,
    pub name: String,
    #[serde(serialize_with = "crate::domain::time::micros")]
    pub created_at: DateTime<Utc>,
    pub topic: String,
    /// The creator's username (`None` for the seeded rooms).
    pub created_by: Option<String>,
    /// The room's latest message number: with `read_seq`, clients keep `unread` live.
    pub last_seq: i64,
    /// How far the user has read (a message number); `None` for a room never opened.
    pub read_seq: Option<i64>,
    /// The id of the last message read; `None` for a room never opened.
    pub last_read_id: Option<i64>,
    /// Messages after the marker (0 for a room never opened).
    pub unread: i64,
    /// Of those, the ones that mention the user (`@name`), counted up to 100.
    pub unread_mentions: i64,
}

/// One page of rooms, by name, with `user_id`'s marker: the first `limit` after room `after`
/// in that order (from the start without it), without the rooms the user left. `None` when
/// `after` is not a room.
pub async fn rooms_for(
    db: &PgPool,
    user_id: i64,
    after: Option<i64>,
    limit: i64,
) -> StoreResult<Option<Vec<RoomEntry>>> {
    let rows = sqlx::query_as::<_, RoomEntry>(
        "WITH me AS (SELECT websearch_to_tsquery('english', search_text('@' || username)) AS q \
                    FROM users WHERE id = $1) \
         SELECT r.id, r.name, r.created_at, r.topic, c.username AS created_by, r.last_seq, \
                m.last_read_seq AS read_seq, m.last_read_id, \
                CASE WHEN m.last_read_seq IS NULL THEN 0 \
                     ELSE GREATEST(r.last_seq - m.last_read_seq, 0) END AS unread, \
                CASE WHEN m.last_read_seq IS NULL OR r.last_seq <= m.last_read_seq THEN 0 \
                     ELSE (SELECT count(*) FROM (SELECT 1 FROM room_messages x, me \
                           WHERE x.room_id = r.id AND x.seq > m.last_read_seq AND x.deleted_at IS NULL \
                             AND x.user_id <> $1 AND x.search @@ me.q LIMIT 100) hits) END AS unread_mentions \
         FROM rooms r LEFT JOIN read_markers m ON m.room_id = r.id AND m.user_id = $1 \
         LEFT JOIN users c ON c.id = r.created_by \
         WHERE ($2::bigint IS NULL \
                OR (lower(r.name), r.id) > (SELECT lower(a.name), a.id FROM rooms a WHERE a.id = $2)) \
           AND NOT EXISTS (SELECT 1 FROM room_members l \
                           WHERE l.room_id = r.id AND l.user_id = $1 AND l.left_at IS NOT NULL) \
         ORDER BY lower(r.name), r.id \
         LIMIT $3",
    )
    .bind(user_id)
    .bind(after)
    .bind(limit)
    .fetch_all(db)
    .await?;
    if rows.is_empty()
        && let Some(after) = after
        && super::rooms::get(db, after).await?.is_none()
    {
        return Ok(None);
    }
    Ok(Some(rows))
}

/// A room marker after a move.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct RoomMarker {
    pub room_id: i64,
    pub last_read_id: i64,
    pub read_seq: i64,
    pub last_seq: i64,
    pub unread: i64,
}

/// Moves `user_id`'s marker in `room_id` up to message `message_id` (never back). `None` when
/// that message is not in that room.
pub async fn mark_room(
    db: &PgPool,
    user_id: i64,
    room_id: i64,
    message_id: i64,
) -> StoreResult<Option<RoomMarker>> {
    Ok(sqlx::query_as::<_, RoomMarker>(
        "WITH msg AS (SELECT id, seq FROM room_messages WHERE id = $3 AND room_id = $2), \
              marker AS ( \
                INSERT INTO read_markers (user_id, room_id, last_read_id, last_read_seq) \
                SELECT $1, $2, id, seq FROM msg \
                ON CONFLICT (user_id, room_id) DO UPDATE SET \
                    last_read_id = GREATEST(read_markers.last_read_id, EXCLUDED.last_read_id), \
                    last_read_seq = GREATEST(read_markers.last_read_seq, EXCLUDED.last_read_seq), \
                    updated_at = now() \
                RETURNING room_id, last_read_id, last_read_seq) \
         SELECT m.room_id, m.last_read_id, m.last_read_seq AS read_seq, r.last_seq, \
                GREATEST(r.last_seq - m.last_read_seq, 0) AS unread \
         FROM marker m JOIN rooms r ON r.id = m.room_id",
    )
    .bind(user_id)
    .bind(room_id)
    .bind(message_id)
    .fetch_optional(db)
    .await?)
}

/// A conversation marker after a move.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct ThreadMarker {
    pub username: String,
    pub last_read_id: i64,
    pub unread: i64,
}

/// Moves `user_id`'s marker in the conversation with `peer_id` up to message `message_id`
/// (never back). `None` when that message is not in that conversation.
pub async fn mark_thread(
    db: &PgPool,
    user_id: i64,
    peer_id: i64,
    message_id: i64,
) -> StoreResult<Option<ThreadMarker>> {
    Ok(sqlx::query_as::<_, ThreadMarker>(
        "WITH msg AS (SELECT id FROM direct_messages WHERE id = $3 \
                        AND ((author_id = $1 AND recipient_id = $2) OR (author_id = $2 AND recipient_id = $1))), \
              marker AS ( \
                INSERT INTO dm_read_markers (user_id, peer_id, last_read_id) \
                SELECT $1, $2, id FROM msg \
                ON CONFLICT (user_id, peer_id) DO UPDATE SET \
                    last_read_id = GREATEST(dm_read_markers.last_read_id, EXCLUDED.last_read_id), \
                    updated_at = now() \
                RETURNING peer_id, last_read_id) \
         SELECT u.username, m.last_read_id, \
                (SELECT count(*) FROM direct_messages d \
                  WHERE d.recipient_id = $1 AND d.author_id = $2 AND d.id > m.last_read_id) AS unread \
         FROM marker m JOIN users u ON u.id = m.peer_id",
    )
    .bind(user_id)
    .bind(peer_id)
    .bind(message_id)
    .fetch_optional(db)
    .await?)
}
