//! Room messages. Ordering is `created_at, id` everywhere; inside one room `seq`, `id` and
//! `created_at` grow together (see the migration), which is what makes `since` replay and the
//! per-room delivery sequencer exact.

use std::collections::{HashMap, VecDeque};

use chrono::{DateTime, Utc};
use sqlx::PgPool;
use tickertalk_wire::{BotMeta, PostedMessage, RoomMessage};

use super::{Row, StoreError, StoreResult, unwrap_rows};

/// Stores one message: a batch of one (`insert_batch`), so single and batched messages are
/// numbered by the same statement.
pub async fn insert(db: &PgPool, row: &NewMessage) -> StoreResult<Outcome> {
    Ok(insert_batch(db, std::slice::from_ref(row))
        .await?
        .pop()
        .unwrap_or(Outcome::NoRoom))
}

/// A message to store: one row of a batch.
#[derive(Debug, Clone)]
pub struct NewMessage {
    pub room_id: i64,
    pub user_id: i64,
    pub body: String,
    /// The author's id for it (validated). Stored, so that a copy rebuilt from here still
    /// acknowledges the author, and unique per author, so that a retry finds it.
    pub client_id: Option<String>,
    /// On the bot's answers: who asked what, and the quote.
    pub bot: Option<BotMeta>,
    /// The message this one answers (checked to be of the same room before).
    pub reply_to: Option<i64>,
}

/// What storing one row did.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Stored now.
    New(RoomMessage),
    /// A retry: this author already stored this text in this room with this `client_id`
    /// (through any instance). Nothing new was stored; this is the earlier message.
    Repeat(RoomMessage),
    /// The room does not exist.
    NoRoom,
    /// This author already used this `client_id` for another message (another room or text).
    Reused,
}

/// Stores many messages, of any rooms, in one transaction: one commit (one WAL flush) for the
/// whole batch instead of one per message. The result is aligned with `batch`. Inside each room
/// the new messages keep their order in `batch`, and get consecutive `seq`s (and growing ids and
/// `created_at`) exactly as single inserts would.
///
/// Posting is idempotent per author and `client_id`: a row whose author already stored that
/// `client_id` (earlier, or earlier in this batch) is not stored again (`Repeat` or `Reused`).
/// The rooms are locked in id order first, so two instances' batches that share rooms wait for
/// each other instead of deadlocking, and a retry that reaches another instance sees the first
/// post once it committed. (A retry to another room takes another lock; the unique index then
/// refuses the second insert, which fails its batch and sends its rows one by one, and the
/// lookup finds the first.) Any error fails the whole batch (nothing is stored); the caller then
/// stores its rows one by one, so one bad row fails only itself.
pub async fn insert_batch(db: &PgPool, batch: &[NewMessage]) -> StoreResult<Vec<Outcome>> {
    let mut rooms: Vec<i64> = batch.iter().map(|m| m.room_id).collect();
    rooms.sort_unstable();
    rooms.dedup();
    let mut tx = db.begin().await?;
    sqlx::query("SELECT 1 FROM rooms WHERE id = ANY($1) ORDER BY id FOR UPDATE")
        .bind(&rooms)
        .execute(&mut *tx)
        .await?;
    let earlier = earlier_posts(&mut tx, batch).await?;

    // Decide each row: a repeat of a stored message, of an earlier row of this batch, or new.
    let mut outcomes: Vec<Option<Outcome>> = vec![None; batch.len()];
    let mut first: HashMap<(i64, &str), usize> = HashMap::new();
    let mut copies: Vec<(usize, usize)> = Vec::new();
    let mut fresh: Vec<usize> = Vec::with_capacity(batch.len());
    for (i, row) in batch.iter().enumerate() {
        if let Some(cid) = row.client_id.as_deref() {
            let key = (row.user_id, cid);
            if let Some(m) = earlier.get(&(row.user_id, cid.to_string())) {
                outcomes[i] = Some(same_post(row, m));
                continue;
            }
            if let Some(&j) = first.get(&key) {
                copies.push((i, j));
                continue;
            }
            first.insert(key, i);
        }
        fresh.push(i);
    }
    if !fresh.is_empty() {
        let rows: Vec<&NewMessage> = fresh.iter().map(|&i| &batch[i]).collect();
        let stored = insert_rows(&mut tx, &rows).await?;
        for (&i, m) in fresh.iter().zip(stored) {
            outcomes[i] = Some(m.map_or(Outcome::NoRoom, Outcome::New));
        }
    }
    tx.commit().await?;
    for (i, j) in copies {
        outcomes[i] = Some(match &outcomes[j] {
            Some(Outcome::New(m)) => same_post(&batch[i], m),
            _ => Outcome::NoRoom,
        });
    }
    Ok(outcomes
        .into_iter()
        .map(|o| o.unwrap_or(Outcome::NoRoom))
        .collect())
}

/// `Repeat` when `row` is the post `stored` is (same room and text), else `Reused`.
fn same_post(row: &NewMessage, stored: &RoomMessage) -> Outcome {
    if stored.room_id == row.room_id && stored.body == row.body {
        Outcome::Repeat(stored.clone())
    } else {
        Outcome::Reused
    }
}

/// The stored messages whose (author, `client_id`) a row of `batch` names, by that key.
async fn earlier_posts(
    tx: &mut sqlx::PgConnection,
    batch: &[NewMessage],
) -> StoreResult<HashMap<(i64, String), RoomMessage>> {
    let (users, ids): (Vec<i64>, Vec<&str>) = batch
        .iter()
        .filter_map(|m| Some((m.user_id, m.client_id.as_deref()?)))
        .unzip();
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let rows = sqlx::query_as::<_, Row<PostedMessage>>(sql!(
        "{SELECT_POSTED} JOIN unnest($1::int8[], $2::text[]) AS k(user_id, client_id) \
         ON m.user_id = k.user_id AND m.client_id = k.client_id"
    ))
    .bind(&users)
    .bind(&ids)
    .fetch_all(&mut *tx)
    .await?;
    Ok(unwrap_rows(rows)
        .into_iter()
        .filter_map(|p| Some(((p.message.user_id, p.client_id?), p.message)))
        .collect())
}

/// Numbers and inserts rows (rooms already locked). Aligned with `rows`: `None` where the room
/// does not exist.
async fn insert_rows(
    tx: &mut sqlx::PgConnection,
    batch: &[&NewMessage],
) -> StoreResult<Vec<Option<RoomMessage>>> {
    let rooms: Vec<i64> = batch.iter().map(|m| m.room_id).collect();
    let users: Vec<i64> = batch.iter().map(|m| m.user_id).collect();
    let bodies: Vec<&str> = batch.iter().map(|m| m.body.as_str()).collect();
    let client_ids: Vec<Option<&str>> = batch.iter().map(|m| m.client_id.as_deref()).collect();
    let metas: Vec<Option<String>> = batch
        .iter()
        .map(|m| m.bot.as_ref().and_then(|b| serde_json::to_string(b).ok()))
        .collect();
    let replies: Vec<Option<i64>> = batch.iter().map(|m| m.reply_to).collect();
    // Each room's `last_seq` (messages) and `last_rev` (its stream) move by its number of rows;
    // the rows are numbered after the old values in batch order, and inserted in (room, seq)
    // order so that ids and the per-row clock_timestamp() grow with seq.
    let rows = sqlx::query_as::<_, Row<RoomMessage>>(concat!(
        "WITH input AS (SELECT * FROM unnest($1::int8[], $2::int8[], $3::text[], $4::text[], $5::text[], $6::int8[]) \
                        WITH ORDINALITY AS t(room_id, user_id, body, client_id, bot_meta, reply_to, ord)), \
              counts AS (SELECT room_id, count(*) AS n FROM input GROUP BY room_id), \
              r AS (UPDATE rooms SET last_seq = rooms.last_seq + counts.n, last_rev = rooms.last_rev + counts.n \
                    FROM counts WHERE rooms.id = counts.room_id \
                    RETURNING rooms.id, rooms.last_seq - counts.n AS base, rooms.last_rev - counts.n AS rev_base), \
              numbered AS (SELECT i.room_id, \
                                  row_number() OVER (PARTITION BY i.room_id ORDER BY i.ord) AS n, \
                                  r.base, r.rev_base, \
                                  i.user_id, i.body, i.client_id, i.bot_meta::jsonb AS bot_meta, i.reply_to \
                           FROM input i JOIN r ON r.id = i.room_id), \
              m AS (INSERT INTO room_messages (room_id, seq, rev, user_id, body, client_id, bot_meta, reply_to) \
                    SELECT room_id, base + n, rev_base + n, user_id, body, client_id, bot_meta, reply_to \
                    FROM numbered ORDER BY room_id, n \
                    RETURNING id, room_id, seq, rev, changed_rev, user_id, body, created_at, bot_meta, \
                              edited_at, deleted_at, reply_to) \
         SELECT ",
        new_message_columns!(),
        " FROM m",
        message_joins!(),
        " ORDER BY m.room_id, m.seq"
    ))
    .bind(&rooms)
    .bind(&users)
    .bind(&bodies)
    .bind(&client_ids)
    .bind(&metas)
    .bind(&replies)
    .fetch_all(&mut *tx)
    .await?;
    // Rows come back by (room, seq), and a room's rows were numbered in batch order: hand each
    // room's rows out to that room's inputs in order.
    let mut by_room: HashMap<i64, VecDeque<RoomMessage>> = HashMap::new();
    for row in unwrap_rows(rows) {
        by_room.entry(row.room_id).or_default().push_back(row);
    }
    Ok(batch
        .iter()
        .map(|m| by_room.get_mut(&m.room_id).and_then(|q| q.pop_front()))
        .collect())
}

pub(super) const SELECT: &str = concat!(
    "SELECT ",
    message_columns!(),
    " FROM room_messages m",
    message_joins!()
);

/// `SELECT` with the author's `client_id` after the message's columns (`Row<PostedMessage>`).
const SELECT_POSTED: &str = concat!(
    "SELECT ",
    message_columns!(),
    ", m.client_id FROM room_messages m",
    message_joins!()
);

/// The latest `limit` messages of a room (optionally older than message `before`), oldest first.
/// `Err(NotFound)` when `before` is not a message of this room.
pub async fn latest(
    db: &PgPool,
    room_id: i64,
    before: Option<i64>,
    limit: i64,
) -> StoreResult<Vec<RoomMessage>> {
    let mut rows = match before {
        None => {
            sqlx::query_as::<_, Row<RoomMessage>>(sql!(
                "{SELECT} WHERE m.room_id = $1 ORDER BY m.created_at DESC, m.id DESC LIMIT $2"
            ))
            .bind(room_id)
            .bind(limit)
            .fetch_all(db)
            .await?
        }
        Some(before) => {
            let anchor: Option<(DateTime<Utc>, i64)> =
                sqlx::query_as("SELECT created_at, id FROM room_messages WHERE id = $1 AND room_id = $2")
                    .bind(before)
                    .bind(room_id)
                    .fetch_optional(db)
                    .await?;
            let (at, id) = anchor
                .ok_or_else(|| StoreError::NotFound(format!("message {before} is not in this room")))?;
            sqlx::query_as::<_, Row<RoomMessage>>(sql!(
                "{SELECT} WHERE m.room_id = $1 AND (m.created_at, m.id) < ($2, $3) \
                 ORDER BY m.created_at DESC, m.id DESC LIMIT $4"
            ))
            .bind(room_id)
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

/// One item of a room's stream: a message where it entered (`rev`), or its latest change
/// (at `changed_rev`).
#[derive(Debug, Clone, PartialEq)]
pub enum StreamItem {
    New(PostedMessage),
    Changed(RoomMessage),
}

impl StreamItem {
    /// Where the item is in its room's stream.
    pub fn position(&self) -> i64 {
        match self {
            StreamItem::New(p) => p.message.rev,
            StreamItem::Changed(m) => m.changed_rev.unwrap_or(m.rev),
        }
    }
}

/// What a socket joining with `since` (a message id) missed: the room's stream after that
/// message, at most `limit` items in order. Messages newer than `since` come once, as they are
/// now; older messages changed since come as changes. (A change between `since` and the
/// client's real position is sent again: applying a change twice shows the same state.)
pub async fn after(db: &PgPool, room_id: i64, since: i64, limit: i64) -> StoreResult<Vec<StreamItem>> {
    // rev grows with id inside a room, so the stream after message `since` is what is after
    // its rev. The usual `since` is a message of this room (one primary-key probe); COALESCE
    // evaluates the slower fallback only when it is not.
    let (from,): (i64,) = sqlx::query_as(
        "SELECT COALESCE( \
             (SELECT p.rev FROM room_messages p WHERE p.id = $2 AND p.room_id = $1), \
             (SELECT p.rev FROM room_messages p WHERE p.room_id = $1 AND p.id <= $2 \
              ORDER BY p.rev DESC LIMIT 1), 0)",
    )
    .bind(room_id)
    .bind(since)
    .fetch_one(db)
    .await?;
    stream(db, room_id, from + 1, i64::MAX, limit).await
}

/// The room's stream items at positions `from..=to`, in order, at most `limit` (fills delivery
/// gaps: a new message's item carries its author's `client_id`, which must still acknowledge
/// the post). A position with nothing there was superseded (a later change of the same
/// message) or deleted with its author's account.
pub async fn stream(
    db: &PgPool,
    room_id: i64,
    from: i64,
    to: i64,
    limit: i64,
) -> StoreResult<Vec<StreamItem>> {
    let rows = sqlx::query_as::<_, Row<PostedMessage>>(sql!(
        "{SELECT_POSTED} WHERE m.id IN ( \
             (SELECT id FROM room_messages WHERE room_id = $1 AND rev BETWEEN $2 AND $3 ORDER BY rev LIMIT $4) \
             UNION \
             (SELECT id FROM room_messages WHERE room_id = $1 AND changed_rev BETWEEN $2 AND $3 \
              ORDER BY changed_rev LIMIT $4))"
    ))
    .bind(room_id)
    .bind(from)
    .bind(to)
    .bind(limit)
    .fetch_all(db)
    .await?;
    let mut items = Vec::with_capacity(rows.len());
    for Row(p) in rows {
        let changed = p.message.changed_rev.filter(|r| (from..=to).contains(r));
        if changed.is_some() {
            items.push(StreamItem::Changed(p.message.clone()));
        }
        if (from..=to).contains(&p.message.rev) {
            items.push(StreamItem::New(p));
        }
    }
    items.sort_by_key(StreamItem::position);
    items.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
    Ok(items)
}

/// Whether message `id` is in room `room_id` (and not deleted).
pub async fn is_in_room(db: &PgPool, room_id: i64, id: i64) -> StoreResult<bool> {
    Ok(sqlx::query_as::<_, (i32,)>(
        "SELECT 1 FROM room_messages WHERE id = $1 AND room_id = $2 AND deleted_at IS NULL",
    )
    .bind(id)
    .bind(room_id)
    .fetch_optional(db)
    .await?
    .is_some())
}
