//! `GET /v1/search?q=&room_id=&before=&limit=&order=`: full-text search over the messages the
//! caller can read. `before` is the `next` cursor of the previous page (opaque to clients);
//! `order=newest` lists newest first instead of best first (the web client's Mentions list is
//! `q=@me&order=newest`).

use std::sync::Arc;

use serde::Serialize;
use warp::http::StatusCode;

use super::error::ApiError;
use super::routes::{HandlerResult, Request};
use super::{AppState, json};
use crate::auth::AuthUser;
use crate::domain::time::timestamp;
use crate::store::search::{CANDIDATES, Cursor, Hit, Order};

/// Longest query accepted, in characters.
const MAX_QUERY_CHARS: usize = 200;

#[derive(Serialize)]
struct Page {
    results: Vec<Result>,
    next: Option<String>,
}

/// A hit: a room message (`chatroomId`) or a direct message (`thread`, the other user).
#[derive(Serialize)]
struct Result {
    id: i64,
    #[serde(rename = "chatroomId", skip_serializing_if = "Option::is_none")]
    room_id: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    thread: Option<String>,
    chatuser: String,
    chatmessage: String,
    created_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    edited_at: Option<String>,
    /// The text around the matches, in pieces: `{"text", "match"}` (render each as text).
    highlight: Vec<Piece>,
}

#[derive(Serialize, Debug, PartialEq)]
struct Piece {
    text: String,
    #[serde(rename = "match")]
    matched: bool,
}

pub async fn search(state: Arc<AppState>, me: AuthUser, req: Request) -> HandlerResult {
    let mut errors = crate::domain::FieldErrors::new();
    let q = req.query.get("q").map(|q| q.trim()).unwrap_or("");
    if q.is_empty() {
        errors.insert("q", "required".into());
    } else if q.chars().count() > MAX_QUERY_CHARS {
        errors.insert("q", format!("must be at most {MAX_QUERY_CHARS} characters"));
    }
    let limit = super::limit_param(&req.query, 20, 50, &mut errors);
    let room = match req.query.get("room_id").map(|v| v.parse::<i64>()) {
        None => None,
        Some(Ok(v)) if v > 0 => Some(v),
        Some(_) => {
            errors.insert("room_id", "must be a room id".into());
            None
        }
    };
    let order = match req.query.get("order").map(String::as_str) {
        None | Some("rank") => Order::Rank,
        Some("newest") => Order::Newest,
        Some(_) => {
            errors.insert("order", "must be rank or newest".into());
            Order::Rank
        }
    };
    let at = match req.query.get("before").map(|c| parse_cursor(c)) {
        None => None,
        Some(Some(c)) => Some(c),
        Some(None) => {
            errors.insert("before", "must be the `next` of a previous page".into());
            None
        }
    };
    if !errors.is_empty() {
        return Err(ApiError::Invalid(errors));
    }
    let found = state.chat.search(&me, q, (room, order), at, limit).await?;
    let page = Page {
        results: found.hits.into_iter().map(result).collect(),
        next: found
            .next
            .map(|c| format!("{}.{}.{}", c.max_room_id, c.max_direct_id, c.offset)),
    };
    Ok(json(StatusCode::OK, &page))
}

fn result(h: Hit) -> Result {
    Result {
        id: h.id,
        room_id: h.room_id,
        thread: h.peer,
        chatuser: h.author,
        chatmessage: h.body,
        created_at: timestamp(&h.created_at),
        edited_at: h.edited_at.as_ref().map(timestamp),
        highlight: pieces(&h.headline),
    }
}

/// `a \u{2}b\u{3} c` as `[a , b (match), c]`.
fn pieces(headline: &str) -> Vec<Piece> {
    let mut out = Vec::new();
    let mut matched = false;
    for (i, part) in headline.split(['\u{2}', '\u{3}']).enumerate() {
        if i > 0 {
            matched = !matched;
        }
        if !part.is_empty() {
            out.push(Piece {
                text: part
                    .chars()
                    .map(|c| match c {
                        '\u{4}' => '<',
                        '\u{5}' => '>',
                        '\u{6}' => '&',
                        c => c,
                    })
                    .collect(),
                matched,
            });
        }
    }
    out
}

/// `"{max room id}.{max direct id}.{offset}"`, as `Page::next` writes it.
fn parse_cursor(s: &str) -> Option<Cursor> {
    let mut parts = s.split('.').map(|p| p.parse::<i64>().ok().filter(|v| *v >= 0));
    let cursor = Cursor {
        max_room_id: parts.next()??,
        max_direct_id: parts.next()??,
        offset: parts.next()??,
    };
    // Beyond every candidate there is nothing to find.
    (parts.next().is_none() && cursor.offset <= 2 * CANDIDATES).then_some(cursor)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headlines_split_into_marked_pieces() {
        let got = pieces("buy \u{2}TSLA\u{3} now \u{2}x\u{3}");
        let want = [("buy ", false), ("TSLA", true), (" now ", false), ("x", true)];
        assert_eq!(
            got,
            want.map(|(t, m)| Piece {
                text: t.into(),
                matched: m
            })
        );
        assert!(pieces("").is_empty());
        let tags = pieces("\u{2}TSLA\u{3}\u{4}/b\u{5} \u{6}amp;");
        assert_eq!(
            tags[1].text, "</b> &amp;",
            "markup-looking text comes back as written"
        );
    }

    #[test]
    fn cursors_round_trip_and_nonsense_is_refused() {
        assert_eq!(
            parse_cursor("10.4.20"),
            Some(Cursor {
                max_room_id: 10,
                max_direct_id: 4,
                offset: 20
            })
        );
        for bad in ["", "1.2", "1.2.3.4", "a.b.c", "1.2.-3", "1.2.999999"] {
            assert_eq!(parse_cursor(bad), None, "{bad}");
        }
    }
}
