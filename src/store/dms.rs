//! Direct messages between two users. A conversation is the unordered pair of user ids.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgPool;
use tickertalk_wire::DirectMessage;

use super::{Row, StoreError, StoreResult, unwrap_rows};

/// One inbox entry: the other user and the conversation's latest message, in the shape the
/// `/v1/chat/inbox` response uses (this row is serialised as is).
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct InboxEntry {
    pub username: String,
    pub latest_message: String,
    #[serde(serialize_with = "crate::domain::time::micros")]
    pub created_at: DateTime<Utc>,
    /// The latest message's id (clients count later ones as new).
    pub latest_id: i64,
    /// Messages from this user after my read marker (all of them before I read any).
    pub unread: i64,
    /// The last message I read of this conversation (`None`: none yet).
    pub last_read_id: Option<i64>,
    /// The other user has a socket in a room now, on any live instance.
    pub online: bool,
}

pub(super) const SELECT: &str = "SELECT d.id, d.author_id, a.username AS author, d.recipient_id, \
                      r.username AS recipient, d.body, d.message_type, d.created_at, \
                      d.edited_at, d.deleted_at IS NOT NULL AS deleted, \
                      (SELECT json_agg(json_build_array(x.emoji, x.n) ORDER BY x.first)::text FROM \
                       (SELECT emoji, count(*) AS n, min(created_at) AS first FROM direct_reactions \
                        WHERE message_id = d.id GROUP BY emoji) x) AS reactions \
                      FROM direct_messages d JOIN users a ON a.id = d.author_id \
                      JOIN users r ON r.id = d.recipient_id";

/// What storing a direct message did.
#[derive(Debug, Clone, PartialEq)]
pub enum Sent {
    /// Stored now.
    New(DirectMessage),
    /// A retry: this author already sent this text to this user with this `client_id`.
    /// Nothing new was stored; this is the earlier message.
    Repeat(DirectMessage),
    /// This author already used this `client_id` for another message.
    Reused,
}

/// Stores a direct message, once per author and `client_id` (see `Sent`).
pub async fn insert(
    db: &PgPool,
    author_id: i64,
    recipient_id: i64,
    body: &str,
    client_id: Option<&str>,
) -> StoreResult<Sent> {
    let inserted: Option<(i64,)> = sqlx::query_as(
        "INSERT INTO direct_messages (author_id, recipient_id, body, client_id) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (author_id, client_id) WHERE client_id IS NOT NULL DO NOTHING RETURNING id",
    )
    .bind(author_id)
    .bind(recipient_id)
    .bind(body)
    .bind(client_id)
    .fetch_optional(db)
    .await?;
    let (id, new) = match inserted {
        Some((id,)) => (id, true),
        // The conflict waited for the first post to commit, so this (new) statement sees it.
        None => {
            let (id,): (i64,) =
                sqlx::query_as("SELECT id FROM direct_messages WHERE author_id = $1 AND client_id = $2")
                    .bind(author_id)
                    .bind(client_id)
                    .fetch_one(db)
                    .await?;
            (id, false)
        }
    };
    let dm = sqlx::query_as::<_, Row<DirectMessage>>(sql!("{SELECT} WHERE d.id = $1"))
        .bind(id)
        .fetch_one(db)
        .await?
        .0;
    Ok(if new {
        Sent::New(dm)
    } else if dm.recipient_id == recipient_id && dm.body == body {
        Sent::Repeat(dm)
    } else {
        Sent::Reused
    })
}

/// The latest `limit` messages between two users (before message `before`), oldest first.
pub async fn thread(
    db: &PgPool,
    me: i64,
    peer: i64,
    before: Option<i64>,
    limit: i64,
) -> StoreResult<Vec<DirectMessage>> {
    let pair = "LEAST(d.author_id, d.recipient_id) = LEAST($1::bigint, $2::bigint) \
                AND GREATEST(d.author_id, d.recipient_id) = GREATEST($1::bigint, $2::bigint)";
    let mut rows = match before {
        None => {
            sqlx::query_as::<_, Row<DirectMessage>>(sql!(
                "{SELECT} WHERE {pair} ORDER BY d.created_at DESC, d.id DESC LIMIT $3"
            ))
            .bind(me)
            .bind(peer)
            .bind(limit)
            .fetch_all(db)
            .await?
        }
        Some(before) => {
            let anchor: Option<(DateTime<Utc>, i64)> = sqlx::query_as(sql!(
                "SELECT d.created_at, d.id FROM direct_messages d WHERE d.id = $3 AND {pair}"
            ))
            .bind(me)
            .bind(peer)
            .bind(before)
            .fetch_optional(db)
            .await?;
            let (at, id) = anchor.ok_or_else(|| {
                StoreError::NotFound(format!("message {before} is not in this conversation"))
            })?;
            sqlx::query_as::<_, Row<DirectMessage>>(sql!(
                "{SELECT} WHERE {pair} AND (d.created_at, d.id) < ($3, $4) \
                 ORDER BY d.created_at DESC, d.id DESC LIMIT $5"
            ))
            .bind(me)
            .bind(peer)
            .bind(at)
            .bind(id)
            .bind(limit)
            .fetch_all(db)
            .await?
        }
    };
    rows.reverse();
    Ok(unwrap_rows(rows))
}

/// One entry per conversation of `me`, newest conversation first: all of them (`/v1`).
pub async fn inbox(db: &PgPool, me: i64) -> StoreResult<Vec<InboxEntry>> {
    inbox_page(db, me, 0, i64::MAX).await
}

/// Entries `offset ..` of the inbox, at most `limit` (the `/api` inbox pages).
pub async fn inbox_page(db: &PgPool, me: i64, offset: i64, limit: i64) -> StoreResult<Vec<InboxEntry>> {
    Ok(sqlx::query_as::<_, InboxEntry>(
        "SELECT u.username, latest.latest_message, latest.created_at, latest.id AS latest_id, \
                (SELECT count(*) FROM direct_messages d \
                  WHERE d.recipient_id = $1 AND d.author_id = latest.peer \
                    AND d.id > COALESCE(marker.last_read_id, 0)) AS unread, \
                marker.last_read_id, \
                EXISTS (SELECT 1 FROM room_presence p JOIN instances i ON i.id = p.instance_id \
                        WHERE p.user_id = latest.peer \
                          AND i.heartbeat_at > now() - make_interval(secs => $4)) AS online \
         FROM ( \
             SELECT DISTINCT ON (peer) peer, body AS latest_message, created_at, id FROM ( \
                 SELECT recipient_id AS peer, body, created_at, id FROM direct_messages WHERE author_id = $1 \
                 UNION ALL \
                 SELECT author_id AS peer, body, created_at, id FROM direct_messages WHERE recipient_id = $1 \
             ) AS mine ORDER BY peer, created_at DESC, id DESC \
         ) AS latest JOIN users u ON u.id = latest.peer \
         LEFT JOIN dm_read_markers marker ON marker.user_id = $1 AND marker.peer_id = latest.peer \
         ORDER BY latest.created_at DESC, latest.id DESC OFFSET $2 LIMIT $3",
    )
    .bind(me)
    .bind(offset)
    .bind(limit)
    .bind(super::presence::ALIVE_SECS)
    .fetch_all(db)
    .await?)
}

/// Page `offset / limit` of a conversation, newest first (the `/api` thread's order).
pub async fn thread_newest_first(
    db: &PgPool,
    me: i64,
    peer: i64,
    offset: i64,
    limit: i64,
) -> StoreResult<Vec<DirectMessage>> {
    Ok(sqlx::query_as::<_, Row<DirectMessage>>(sql!(
        "{SELECT} WHERE LEAST(d.author_id, d.recipient_id) = LEAST($1::bigint, $2::bigint) \
         AND GREATEST(d.author_id, d.recipient_id) = GREATEST($1::bigint, $2::bigint) \
         ORDER BY d.created_at DESC, d.id DESC OFFSET $3 LIMIT $4"
    ))
    .bind(me)
    .bind(peer)
    .bind(offset)
    .bind(limit)
    .fetch_all(db)
    .await
    .map(unwrap_rows)?)
}

/// Direct messages to or from `me` with an id above `since`, oldest first, at most `limit`: what
/// a socket missed while it was away (a `dm_since` reconnect, or a broker outage).
/// Direct messages to or from any of `users` after id `since`, oldest first, at most `limit`
/// (the catch-up of an instance whose broker connection was lost).
pub async fn since_for_users(
    db: &PgPool,
    users: &[i64],
    since: i64,
    limit: i64,
) -> StoreResult<Vec<DirectMessage>> {
    Ok(sqlx::query_as::<_, Row<DirectMessage>>(sql!(
        "{SELECT} WHERE d.id > $2 AND (d.author_id = ANY($1) OR d.recipient_id = ANY($1)) ORDER BY d.id LIMIT $3"
    ))
    .bind(users)
    .bind(since)
    .bind(limit)
    .fetch_all(db)
    .await
    .map(unwrap_rows)?)
}

pub async fn since(db: &PgPool, me: i64, since: i64, limit: i64) -> StoreResult<Vec<DirectMessage>> {
    Ok(sqlx::query_as::<_, Row<DirectMessage>>(sql!(
        "{SELECT} WHERE d.id > $2 AND (d.author_id = $1 OR d.recipient_id = $1) ORDER BY d.id LIMIT $3"
    ))
    .bind(me)
    .bind(since)
    .bind(limit)
    .fetch_all(db)
    .await
    .map(unwrap_rows)?)
}
