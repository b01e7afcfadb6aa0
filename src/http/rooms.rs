//! Rooms and their messages.

use std::sync::Arc;

use bytes::Bytes;
use serde::Deserialize;
use serde_json::json;
use warp::http::StatusCode;

use super::error::ApiError;
use super::routes::{HandlerResult, Request};
use super::{AppState, Paging, json, json_bytes};
use crate::auth::AuthUser;
use crate::chat::{Kind, Posted};
use crate::domain::RoomName;
use crate::realtime::protocol::RoomMessageFrame;

#[derive(Deserialize)]
struct CreateBody {
    name: Option<String>,
}

pub async fn create(state: Arc<AppState>, me: AuthUser, req: Request) -> HandlerResult {
    let b: CreateBody = req.json()?;
    let name = RoomName::parse(b.name.as_deref().unwrap_or("")).map_err(|e| ApiError::invalid("name", e))?;
    let room = state.chat.create_room(&me, &name).await?;
    Ok(json(StatusCode::CREATED, &room))
}

/// One page of rooms (by name) with this user's unread counts (`store::markers::RoomEntry`):
/// `limit` 1–200 (default 100), `after` the last room id of the previous page. A full page
/// carries `Link: <…?after=ID&limit=N>; rel="next"`, so 100,000 rooms never make one answer
/// megabytes long.
pub async fn list(state: Arc<AppState>, me: AuthUser, req: Request) -> HandlerResult {
    let mut errors = crate::domain::FieldErrors::new();
    let limit = super::limit_param(&req.query, 100, 200, &mut errors);
    let after = match req.query.get("after").map(|v| v.parse::<i64>()) {
        None => None,
        Some(Ok(v)) if v > 0 => Some(v),
        Some(_) => {
            errors.insert("after", "must be a room id".into());
            None
        }
    };
    if !errors.is_empty() {
        return Err(ApiError::Invalid(errors));
    }
    let page = state.chat.room_list(&me, after, limit).await?;
    let mut resp = json(StatusCode::OK, &page);
    if let Some(last) = page.last().filter(|_| page.len() as i64 == limit) {
        let next = format!("</v1/chat/rooms?after={}&limit={limit}>; rel=\"next\"", last.id);
        if let Ok(v) = warp::http::HeaderValue::from_str(&next) {
            resp.headers_mut().insert(warp::http::header::LINK, v);
        }
    }
    Ok(resp)
}

#[derive(Deserialize)]
struct ReadBody {
    last_read_id: Option<i64>,
}

/// The `last_read_id` of a read-marker body: a message id.
pub(super) fn last_read_id(req: &Request) -> Result<i64, ApiError> {
    let b: ReadBody = req.json()?;
    match b.last_read_id {
        Some(id) if id > 0 => Ok(id),
        Some(_) => Err(ApiError::invalid("last_read_id", "must be a message id")),
        None => Err(ApiError::invalid("last_read_id", "required")),
    }
}

/// `PUT /v1/chat/rooms/:id/read` `{"last_read_id"}`: read up to that message (never moves back).
pub async fn mark_read(state: Arc<AppState>, me: AuthUser, req: Request) -> HandlerResult {
    let id = last_read_id(&req)?;
    let marker = state.chat.mark_room_read(&me, req.int("id"), id).await?;
    Ok(json(StatusCode::OK, &marker))
}

pub async fn get(state: Arc<AppState>, _me: AuthUser, req: Request) -> HandlerResult {
    Ok(json(StatusCode::OK, &state.chat.room(req.int("id")).await?))
}

/// The latest 50 messages (or `limit`, or those before `before`), oldest first, in the same
/// shape the socket sends them.
///
/// The latest page (no `before`) is served from `state.pages` while the room's `last_rev` is
/// the one it was read at (see `pages`): one primary-key lookup instead of reading, decoding
/// and encoding 50 rows.
pub async fn history(state: Arc<AppState>, me: AuthUser, req: Request) -> HandlerResult {
    let paging = Paging::parse(&req.query)?;
    let room_id = req.int("id");
    let latest_at = match paging.before {
        None => {
            let seq = state.chat.last_rev(room_id).await?;
            if let Some(body) = state.pages.get(room_id, paging.limit, seq) {
                return Ok(json_bytes(StatusCode::OK, body));
            }
            Some(seq)
        }
        Some(_) => None,
    };
    let rows = state.chat.history(room_id, paging.before, paging.limit).await?;
    // Whether each reaction is the reader's differs per reader: a page with reactions is
    // read for each (and not cached).
    let reacted: Vec<i64> = rows
        .iter()
        .filter(|m| !m.reactions.is_empty())
        .map(|m| m.id)
        .collect();
    let mine = state.chat.my_reactions(Kind::Room, me.user_id, &reacted).await?;
    let frames: Vec<RoomMessageFrame> = rows
        .iter()
        .map(|m| RoomMessageFrame::of(m).with_mine(&mine))
        .collect();
    let body = Bytes::from(serde_json::to_vec(&frames).map_err(|e| ApiError::Internal(e.to_string()))?);
    if let Some(seq) = latest_at
        && reacted.is_empty()
    {
        state.pages.put(room_id, paging.limit, seq, body.clone());
    }
    Ok(json_bytes(StatusCode::OK, body))
}

#[derive(Deserialize)]
struct PostBody {
    chatmessage: Option<String>,
    client_id: Option<String>,
    reply_to: Option<i64>,
}

pub async fn post(state: Arc<AppState>, me: AuthUser, req: Request) -> HandlerResult {
    let b: PostBody = req.json()?;
    let text = b
        .chatmessage
        .ok_or_else(|| ApiError::invalid("chatmessage", "required"))?;
    let client_id = super::client_id(b.client_id)?;
    match state
        .chat
        .post_room_message(&me, req.int("id"), &text, client_id.clone(), b.reply_to)
        .await?
    {
        Posted::Stored(m) => {
            state.chat.remember_member(&me, m.room_id).await?;
            Ok(json(
                StatusCode::CREATED,
                &RoomMessageFrame::acknowledging(&m, client_id.as_deref()),
            ))
        }
        // A retry of a stored post: the stored message again, and 200 since nothing was created.
        Posted::Repeat(m) => Ok(json(
            StatusCode::OK,
            &RoomMessageFrame::acknowledging(&m, client_id.as_deref()),
        )),
        Posted::Command { command, request_id } => Ok(json(
            StatusCode::ACCEPTED,
            &json!({"status": "accepted", "command": command, "request_id": request_id}),
        )),
    }
}

/// `GET /v1/chat/rooms/:id/members`: everyone who joined and has not left, by name, each with
/// `online` (a socket in the room now). `limit` 1–500 (default 200), `after` a username.
pub async fn members(state: Arc<AppState>, _me: AuthUser, req: Request) -> HandlerResult {
    let mut errors = crate::domain::FieldErrors::new();
    let limit = super::limit_param(&req.query, 200, 500, &mut errors);
    if !errors.is_empty() {
        return Err(ApiError::Invalid(errors));
    }
    let after = req.query.get("after").map(String::as_str);
    let members = state.chat.members(req.int("id"), after, limit).await?;
    Ok(json(StatusCode::OK, &members))
}

/// `GET /v1/chat/rooms/:id/watchlist`: the room's ticker strip (watched symbols with their
/// latest prices, active alerts); the type 15 frame carries the same. At most 10 symbols and
/// 20 alerts: a bounded read.
pub async fn watchlist(state: Arc<AppState>, _me: AuthUser, req: Request) -> HandlerResult {
    let t = state.chat.watchlist(req.int("id")).await?;
    Ok(json(
        StatusCode::OK,
        &serde_json::json!({"symbols": t.symbols, "alerts": t.alerts}),
    ))
}

/// `DELETE /v1/chat/rooms/:id/members/me`: leave the room (204).
pub async fn leave(state: Arc<AppState>, me: AuthUser, req: Request) -> HandlerResult {
    state.chat.leave_room(&me, req.int("id")).await?;
    Ok(super::no_content())
}

#[derive(Deserialize)]
struct UpdateBody {
    name: Option<String>,
    topic: Option<String>,
}

/// At most this many characters of topic.
const MAX_TOPIC_CHARS: usize = 250;

/// `PATCH /v1/chat/rooms/:id` `{"name"?, "topic"?}`: the creator renames the room or sets its
/// topic (an empty topic clears it); 200 the room.
pub async fn update(state: Arc<AppState>, me: AuthUser, req: Request) -> HandlerResult {
    let b: UpdateBody = req.json()?;
    let mut errors = crate::domain::FieldErrors::new();
    let name = match b.name.as_deref().map(RoomName::parse) {
        None => None,
        Some(Ok(n)) => Some(n),
        Some(Err(e)) => {
            errors.insert("name", e.to_string());
            None
        }
    };
    let topic = b.topic.as_deref().map(str::trim);
    if let Some(t) = topic {
        if t.chars().count() > MAX_TOPIC_CHARS {
            errors.insert("topic", format!("must be at most {MAX_TOPIC_CHARS} characters"));
        } else if t.chars().any(char::is_control) {
            errors.insert("topic", "must not contain control characters".into());
        }
    }
    if b.name.is_none() && b.topic.is_none() {
        errors.insert("body", "give a name, a topic or both".into());
    }
    if !errors.is_empty() {
        return Err(ApiError::Invalid(errors));
    }
    let room = state
        .chat
        .update_room(&me, req.int("id"), name.as_ref(), topic)
        .await?;
    Ok(json(StatusCode::OK, &room))
}
