//! Changes to stored room messages: edits, deletions and reactions. Each takes the room's next
//! stream position (`rooms.last_rev`) under the room row's lock, as a new message does, and
//! stamps it on the message as `changed_rev` in the same transaction: positions are committed
//! in order, so a later position seen by another instance means every earlier one is readable.
//! A change that changes nothing (a reaction already there) rolls back and takes no position.

use sqlx::PgPool;
use tickertalk_wire::{DirectMessage, RoomMessage};

use super::dms::SELECT as DIRECT_SELECT;
use super::messages::SELECT;
use super::{Row, StoreResult};

/// At most this many different emoji on one message, so that one message's reactions stay a
/// small part of every frame that carries it.
pub const MAX_EMOJI_PER_MESSAGE: i64 = 20;

/// A change to make.
#[derive(Debug, Clone)]
pub enum Op<'a> {
    Edit(&'a str),
    Delete,
    React { user_id: i64, emoji: &'a str, on: bool },
}

/// What a message is, for deciding who may change it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::FromRow)]
pub struct Target {
    pub user_id: i64,
    pub deleted: bool,
    /// A stored bot answer.
    pub bot: bool,
    /// The room's creator (`None` for the seeded rooms).
    pub room_creator: Option<i64>,
}

/// What applying a change did (to a room message, or a direct message `M`).
#[derive(Debug, Clone, PartialEq)]
pub enum Applied<M = RoomMessage> {
    /// Stored; the message as it is now (a room message's `changed_rev` is the change's
    /// position).
    Changed(M),
    /// Nothing to do: the reaction was already there (or not), the message already deleted.
    Unchanged,
    /// The message is deleted (or gone): it cannot be edited or reacted to.
    Gone,
    /// A new emoji on a message that already has `MAX_EMOJI_PER_MESSAGE`.
    TooManyEmoji,
}

/// Message `id` of room `room_id`, if it is there.
pub async fn target(db: &PgPool, room_id: i64, id: i64) -> StoreResult<Option<Target>> {
    Ok(sqlx::query_as::<_, Target>(
        "SELECT m.user_id, m.deleted_at IS NOT NULL AS deleted, m.bot_meta IS NOT NULL AS bot, \
                r.created_by AS room_creator \
         FROM room_messages m JOIN rooms r ON r.id = m.room_id WHERE m.id = $1 AND m.room_id = $2",
    )
    .bind(id)
    .bind(room_id)
    .fetch_optional(db)
    .await?)
}

/// Applies `op` to message `id` of room `room_id` (the caller checked it may).
pub async fn apply(db: &PgPool, room_id: i64, id: i64, op: Op<'_>) -> StoreResult<Applied> {
    let mut tx = db.begin().await?;
    let Some((rev,)): Option<(i64,)> =
        sqlx::query_as("UPDATE rooms SET last_rev = last_rev + 1 WHERE id = $1 RETURNING last_rev")
            .bind(room_id)
            .fetch_optional(&mut *tx)
            .await?
    else {
        return Ok(Applied::Gone);
    };
    let live: Option<(i32,)> = sqlx::query_as(
        "SELECT 1 FROM room_messages WHERE id = $1 AND room_id = $2 AND deleted_at IS NULL FOR UPDATE",
    )
    .bind(id)
    .bind(room_id)
    .fetch_optional(&mut *tx)
    .await?;
    if live.is_none() {
        return Ok(match op {
            Op::Delete | Op::React { on: false, .. } => Applied::Unchanged,
            _ => Applied::Gone,
        });
    }
    match op {
        Op::Edit(text) => {
            sqlx::query("UPDATE room_messages SET body = $2, edited_at = clock_timestamp() WHERE id = $1")
                .bind(id)
                .bind(text)
                .execute(&mut *tx)
                .await?;
        }
        Op::Delete => {
            // The text and the quote go from storage, not only from view.
            sqlx::query(
                "UPDATE room_messages SET body = '', bot_meta = NULL, deleted_at = clock_timestamp() \
                 WHERE id = $1",
            )
            .bind(id)
            .execute(&mut *tx)
            .await?;
            sqlx::query("DELETE FROM room_reactions WHERE message_id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        Op::React { user_id, emoji, on } => {
            if let Some(not) = toggle(&mut tx, Kind::Room, id, user_id, emoji, on).await? {
                return Ok(not);
            }
        }
    }
    sqlx::query("UPDATE room_messages SET changed_rev = $2 WHERE id = $1")
        .bind(id)
        .bind(rev)
        .execute(&mut *tx)
        .await?;
    let Row(message) = sqlx::query_as::<_, Row<RoomMessage>>(sql!("{SELECT} WHERE m.id = $1"))
        .bind(id)
        .fetch_one(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(Applied::Changed(message))
}

/// Adds (`on`) or takes back `user_id`'s reaction `emoji` on message `id` (of `kind`; its row
/// is locked). `None`: done; else why nothing changed: it was already so, or the message
/// already carries `MAX_EMOJI_PER_MESSAGE` different emoji and this is a new one.
async fn toggle<M>(
    tx: &mut sqlx::PgConnection,
    kind: Kind,
    id: i64,
    user_id: i64,
    emoji: &str,
    on: bool,
) -> StoreResult<Option<Applied<M>>> {
    let table = kind.reactions();
    let changed = if on {
        let (present, distinct): (bool, i64) = sqlx::query_as(sql!(
            "SELECT bool_or(emoji = $2) IS TRUE, count(DISTINCT emoji) FROM {table} WHERE message_id = $1"
        ))
        .bind(id)
        .bind(emoji)
        .fetch_one(&mut *tx)
        .await?;
        if !present && distinct >= MAX_EMOJI_PER_MESSAGE {
            return Ok(Some(Applied::TooManyEmoji));
        }
        sqlx::query(sql!(
            "INSERT INTO {table} (message_id, user_id, emoji) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING"
        ))
    } else {
        sqlx::query(sql!(
            "DELETE FROM {table} WHERE message_id = $1 AND user_id = $2 AND emoji = $3"
        ))
    }
    .bind(id)
    .bind(user_id)
    .bind(emoji)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    Ok((changed == 0).then_some(Applied::Unchanged))
}

/// Which messages' reactions: room messages' or direct messages'.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Room,
    Direct,
}

impl Kind {
    fn reactions(self) -> &'static str {
        match self {
            Kind::Room => "room_reactions",
            Kind::Direct => "direct_reactions",
        }
    }
}

/// Which of `ids`' reactions are `user_id`'s: `(message id, emoji)` pairs.
pub async fn mine(db: &PgPool, kind: Kind, user_id: i64, ids: &[i64]) -> StoreResult<Vec<(i64, String)>> {
    let table = kind.reactions();
    Ok(sqlx::query_as(sql!(
        "SELECT message_id, emoji FROM {table} WHERE user_id = $1 AND message_id = ANY($2)"
    ))
    .bind(user_id)
    .bind(ids)
    .fetch_all(db)
    .await?)
}

/// A direct message between `me` and `peer`, for deciding who may change it: its author.
pub async fn direct_author(db: &PgPool, me: i64, peer: i64, id: i64) -> StoreResult<Option<(i64, bool)>> {
    Ok(sqlx::query_as(
        "SELECT author_id, deleted_at IS NOT NULL FROM direct_messages WHERE id = $1 \
         AND ((author_id = $2 AND recipient_id = $3) OR (author_id = $3 AND recipient_id = $2))",
    )
    .bind(id)
    .bind(me)
    .bind(peer)
    .fetch_optional(db)
    .await?)
}

/// Applies `op` to direct message `id` (the caller checked it is of the conversation and may
/// be changed by them). Direct messages have no stream: the change is announced to both users'
/// sockets, and a reader that missed it sees it in the conversation's history.
pub async fn apply_direct(db: &PgPool, id: i64, op: Op<'_>) -> StoreResult<Applied<DirectMessage>> {
    let mut tx = db.begin().await?;
    let live: Option<(i32,)> =
        sqlx::query_as("SELECT 1 FROM direct_messages WHERE id = $1 AND deleted_at IS NULL FOR UPDATE")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
    if live.is_none() {
        return Ok(match op {
            Op::Delete | Op::React { on: false, .. } => Applied::Unchanged,
            _ => Applied::Gone,
        });
    }
    let changed = match op {
        Op::Edit(text) => {
            sqlx::query("UPDATE direct_messages SET body = $2, edited_at = clock_timestamp() WHERE id = $1")
                .bind(id)
                .bind(text)
                .execute(&mut *tx)
                .await?
                .rows_affected()
        }
        Op::Delete => {
            sqlx::query("DELETE FROM direct_reactions WHERE message_id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
            sqlx::query("UPDATE direct_messages SET body = '', deleted_at = clock_timestamp() WHERE id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?
                .rows_affected()
        }
        Op::React { user_id, emoji, on } => {
            if let Some(not) = toggle(&mut tx, Kind::Direct, id, user_id, emoji, on).await? {
                return Ok(not);
            }
            1
        }
    };
    if changed == 0 {
        return Ok(Applied::Unchanged);
    }
    let Row(message) = sqlx::query_as::<_, Row<DirectMessage>>(sql!("{DIRECT_SELECT} WHERE d.id = $1"))
        .bind(id)
        .fetch_one(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(Applied::Changed(message))
}
