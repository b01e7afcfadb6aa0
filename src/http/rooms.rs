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
use crate::chat::Posted;
use crate::domain::{ClientId, RoomName};
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

pub async fn list(state: Arc<AppState>, _me: AuthUser, _req: Request) -> HandlerResult {
    Ok(json(StatusCode::OK, &state.chat.rooms().await?))
}

pub async fn get(state: Arc<AppState>, _me: AuthUser, req: Request) -> HandlerResult {
    Ok(json(StatusCode::OK, &state.chat.room(req.id(0)).await?))
}

/// The latest 50 messages (or `limit`, or those before `before`), oldest first, in the same
/// shape the socket sends them.
///
/// The latest page (no `before`) is served from `state.pages` while the room's `last_seq` is
/// the one it was read at (see `pages`): one primary-key lookup instead of reading, decoding
/// and encoding 50 rows.
pub async fn history(state: Arc<AppState>, _me: AuthUser, req: Request) -> HandlerResult {
    let paging = Paging::parse(&req.query)?;
    let room_id = req.id(0);
    let latest_at = match paging.before {
        None => {
            let seq = state.chat.last_seq(room_id).await?;
            if let Some(body) = state.pages.get(room_id, paging.limit, seq) {
                return Ok(json_bytes(StatusCode::OK, body));
            }
            Some(seq)
        }
        Some(_) => None,
    };
    let rows = state.chat.history(room_id, paging.before, paging.limit).await?;
    let frames: Vec<RoomMessageFrame> = rows.iter().map(RoomMessageFrame::of).collect();
    let body = Bytes::from(serde_json::to_vec(&frames).map_err(|e| ApiError::Internal(e.to_string()))?);
    if let Some(seq) = latest_at {
        state.pages.put(room_id, paging.limit, seq, body.clone());
    }
    Ok(json_bytes(StatusCode::OK, body))
}

#[derive(Deserialize)]
struct PostBody {
    chatmessage: Option<String>,
    client_id: Option<String>,
}

pub async fn post(state: Arc<AppState>, me: AuthUser, req: Request) -> HandlerResult {
    let b: PostBody = req.json()?;
    let text = b
        .chatmessage
        .ok_or_else(|| ApiError::invalid("chatmessage", "required"))?;
    let client_id = b
        .client_id
        .map(|c| ClientId::parse(&c).map(|c| c.as_str().to_string()))
        .transpose()
        .map_err(|e| ApiError::invalid("client_id", e))?;
    match state
        .chat
        .post_room_message(&me, req.id(0), &text, client_id)
        .await?
    {
        Posted::Stored(m) => Ok(json(StatusCode::CREATED, &RoomMessageFrame::of(&m))),
        Posted::Command { command, request_id } => Ok(json(
            StatusCode::ACCEPTED,
            &json!({"status": "accepted", "command": command, "request_id": request_id}),
        )),
    }
}
