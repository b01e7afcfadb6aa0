//! Full-text search over room messages and direct messages (PostgreSQL `tsvector`, GIN
//! indexes; see the migration for how cashtags and mentions are indexed).
//!
//! Ranking is by `ts_rank_cd`, newest first among equals, over the newest `CANDIDATES` matches
//! of each kind: a common word in a million messages must not make every search rank a
//! hundred thousand rows. Those are looked for among the newest room messages first
//! (`RECENT_WINDOWS`), and in all of them only when too few are there. Pages are offsets into one snapshot: the first page fixes the highest
//! ids it may return, so messages stored meanwhile do not shift later pages.

use chrono::{DateTime, Utc};
use sqlx::PgPool;

use super::StoreResult;

/// At most this many of the newest matches of each kind (room, direct) are ranked.
pub const CANDIDATES: i64 = 1000;

/// Where a search looks.
#[derive(Debug, Clone, Copy)]
pub enum Scope {
    /// The rooms the user is a member of, and their direct messages.
    Mine,
    /// One room.
    Room(i64),
}

/// How hits are ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    /// Best match first (newest first among equals).
    Rank,
    /// Newest first (a list of mentions).
    Newest,
}

/// Where a page starts: the snapshot's highest ids and the offset into the ranking.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    pub max_room_id: i64,
    pub max_direct_id: i64,
    pub offset: i64,
}

/// One hit, with its text cut around the matches: `\u{2}` and `\u{3}` mark where each match
/// starts and ends (taken out of the text first, so they can only be marks). `<`, `>` and `&`
/// come as `\u{4}`, `\u{5}` and `\u{6}`: `ts_headline` reads `<b>` as markup and drops it,
/// and the headline must show the text as it was written (`http::search` puts them back).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Hit {
    pub id: i64,
    /// A room message's room; `None` for a direct message.
    pub room_id: Option<i64>,
    pub author: String,
    /// A direct message's other user (seen from the searcher).
    pub peer: Option<String>,
    pub body: String,
    pub headline: String,
    pub created_at: DateTime<Utc>,
    pub edited_at: Option<DateTime<Utc>>,
    /// How many room messages were ranked (at most `CANDIDATES`).
    pub room_candidates: i64,
}

/// The snapshot a first page fixes: the highest ids stored now.
pub async fn snapshot(db: &PgPool) -> StoreResult<Cursor> {
    let (max_room_id, max_direct_id): (i64, i64) = sqlx::query_as(
        "SELECT COALESCE((SELECT max(id) FROM room_messages), 0), \
                COALESCE((SELECT max(id) FROM direct_messages), 0)",
    )
    .fetch_one(db)
    .await?;
    Ok(Cursor {
        max_room_id,
        max_direct_id,
        offset: 0,
    })
}

/// One page of `user_id`'s search for `text` in `scope`: at most `limit` hits from `at`.
pub async fn search(
    db: &PgPool,
    user_id: i64,
    text: &str,
    scope: Scope,
    order: Order,
    at: Cursor,
    limit: i64,
) -> StoreResult<Vec<Hit>> {
    // The newest room messages first: a common word has its `CANDIDATES` newest matches among
    // them, found there without sorting a hundred thousand older ones. Fewer there: a window
    // ten times wider, then all (each read of a rarer word is cheaper: fewer rows match).
    for window in RECENT_WINDOWS {
        let floor = at.max_room_id - window;
        if floor <= 0 {
            break;
        }
        let (hits, in_window) = page(db, user_id, text, (scope, order), at, limit, floor).await?;
        if in_window >= CANDIDATES {
            return Ok(hits);
        }
    }
    Ok(page(db, user_id, text, (scope, order), at, limit, 0).await?.0)
}

/// The newest room messages (by id) searched first, then the next window, then all.
const RECENT_WINDOWS: [i64; 2] = [50_000, 500_000];

/// One page ranked among the candidates with ids above `room_floor`, and how many room
/// messages were candidates.
async fn page(
    db: &PgPool,
    user_id: i64,
    text: &str,
    (scope, order): (Scope, Order),
    at: Cursor,
    limit: i64,
    room_floor: i64,
) -> StoreResult<(Vec<Hit>, i64)> {
    let room = match scope {
        Scope::Mine => None,
        Scope::Room(id) => Some(id),
    };
    let rows = sqlx::query_as::<_, Hit>(
        "WITH q AS (SELECT websearch_to_tsquery('english', search_text($2)) AS q), \
              rm AS (SELECT m.id, m.created_at, ts_rank_cd(m.search, q.q) AS rank, true AS in_room \
                     FROM room_messages m, q \
                     WHERE m.search @@ q.q AND m.deleted_at IS NULL AND m.id <= $4 AND m.id > $9 \
                       AND CASE WHEN $3::bigint IS NULL \
                                THEN m.room_id IN (SELECT room_id FROM room_members \
                                                   WHERE user_id = $1 AND left_at IS NULL) \
                                ELSE m.room_id = $3 END \
                     ORDER BY m.id DESC LIMIT $8), \
              dm AS (SELECT d.id, d.created_at, ts_rank_cd(d.search, q.q) AS rank, false AS in_room \
                     FROM direct_messages d, q \
                     WHERE $3::bigint IS NULL AND d.search @@ q.q AND d.deleted_at IS NULL AND d.id <= $5 \
                       AND (d.author_id = $1 OR d.recipient_id = $1) \
                     ORDER BY d.id DESC LIMIT $8), \
              page AS (SELECT * FROM (SELECT * FROM rm UNION ALL SELECT * FROM dm) hits \
                       ORDER BY CASE WHEN $10 THEN 0 ELSE rank END DESC, created_at DESC, id DESC \
                       OFFSET $6 LIMIT $7) \
         SELECT p.id, m.room_id, COALESCE(u.username, a.username) AS author, \
                CASE WHEN d.author_id = $1 THEN r.username ELSE a.username END AS peer, \
                COALESCE(m.body, d.body) AS body, \
                ts_headline('english', translate(COALESCE(m.body, d.body), E'<>&\\x02\\x03\\x04\\x05\\x06', E'\\x04\\x05\\x06'), q.q, \
                            'StartSel=\u{2}, StopSel=\u{3}, MaxWords=30, MinWords=12, MaxFragments=2, FragmentDelimiter=\" … \"') \
                    AS headline, \
                p.created_at, COALESCE(m.edited_at, d.edited_at) AS edited_at, \
                (SELECT count(*) FROM rm) AS room_candidates \
         FROM page p CROSS JOIN q \
         LEFT JOIN room_messages m ON p.in_room AND m.id = p.id LEFT JOIN users u ON u.id = m.user_id \
         LEFT JOIN direct_messages d ON NOT p.in_room AND d.id = p.id \
         LEFT JOIN users a ON a.id = d.author_id LEFT JOIN users r ON r.id = d.recipient_id \
         ORDER BY CASE WHEN $10 THEN 0 ELSE p.rank END DESC, p.created_at DESC, p.id DESC",
    )
    .bind(user_id)
    .bind(text)
    .bind(room)
    .bind(at.max_room_id)
    .bind(at.max_direct_id)
    .bind(at.offset)
    .bind(limit)
    .bind(CANDIDATES)
    .bind(room_floor)
    .bind(order == Order::Newest)
    // Planned for each query's own words: a cached generic plan cannot tell a rare word (read
    // it from the GIN index) from a common one (walk the newest messages until enough match),
    // and picked the walk for every word: 0.7 s for a word nobody wrote, in the benchmark.
    .persistent(false)
    .fetch_all(db)
    .await?;
    // Every row carries the count; no row: nothing matched in the window.
    let candidates = rows.first().map_or(0, |h| h.room_candidates);
    Ok((rows, candidates))
}
