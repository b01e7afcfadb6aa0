//! Direct messages: inbox and per-user threads.

use std::sync::Arc;

use serde::Deserialize;
use warp::http::StatusCode;

use super::error::ApiError;
use super::routes::{HandlerResult, Request};
use super::{AppState, Paging, json};
use crate::auth::AuthUser;
use crate::chat::{Kind, SentDm};
use crate::realtime::protocol::DirectFrame;

pub async fn inbox(state: Arc<AppState>, me: AuthUser, _req: Request) -> HandlerResult {
    Ok(json(StatusCode::OK, &state.chat.inbox(&me).await?))
}

pub async fn thread(state: Arc<AppState>, me: AuthUser, req: Request) -> HandlerResult {
    let paging = Paging::parse(&req.query)?;
    let rows = state
        .chat
        .thread(&me, req.text("username"), paging.before, paging.limit)
        .await?;
    let reacted: Vec<i64> = rows
        .iter()
        .filter(|m| !m.reactions.is_empty())
        .map(|m| m.id)
        .collect();
    let mine = state
        .chat
        .my_reactions(Kind::Direct, me.user_id, &reacted)
        .await?;
    let frames: Vec<DirectFrame> = rows.iter().map(|m| DirectFrame::of(m).with_mine(&mine)).collect();
    Ok(json(StatusCode::OK, &frames))
}

#[derive(Deserialize)]
struct SendBody {
    message: Option<String>,
    client_id: Option<String>,
}

pub async fn send(state: Arc<AppState>, me: AuthUser, req: Request) -> HandlerResult {
    let b: SendBody = req.json()?;
    let text = b
        .message
        .ok_or_else(|| ApiError::invalid("message", "required"))?;
    let client_id = super::client_id(b.client_id)?;
    let sent = state
        .chat
        .send_dm(&me, req.text("username"), &text, client_id.clone())
        .await?;
    // A retry of a stored message is 200: nothing was created.
    let status = match sent {
        SentDm::Stored(_) => StatusCode::CREATED,
        SentDm::Repeat(_) => StatusCode::OK,
    };
    Ok(json(
        status,
        &DirectFrame::acknowledging(sent.message(), client_id.as_deref()),
    ))
}

/// `PUT /v1/chat/threads/:username/read` `{"last_read_id"}`: read up to that message.
pub async fn mark_read(state: Arc<AppState>, me: AuthUser, req: Request) -> HandlerResult {
    let id = super::rooms::last_read_id(&req)?;
    let marker = state.chat.mark_thread_read(&me, req.text("username"), id).await?;
    Ok(json(StatusCode::OK, &marker))
}
