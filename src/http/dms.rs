//! Direct messages: inbox and per-user threads.

use std::sync::Arc;

use serde::Deserialize;
use warp::http::StatusCode;

use super::error::ApiError;
use super::routes::{HandlerResult, Request};
use super::{AppState, Paging, json};
use crate::auth::AuthUser;
use crate::realtime::protocol::DirectFrame;

pub async fn inbox(state: Arc<AppState>, me: AuthUser, _req: Request) -> HandlerResult {
    Ok(json(StatusCode::OK, &state.chat.inbox(&me).await?))
}

pub async fn thread(state: Arc<AppState>, me: AuthUser, req: Request) -> HandlerResult {
    let paging = Paging::parse(&req.query)?;
    let rows = state
        .chat
        .thread(&me, req.param(0), paging.before, paging.limit)
        .await?;
    let frames: Vec<DirectFrame> = rows.iter().map(DirectFrame::of).collect();
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
    let dm = state.chat.send_dm(&me, req.param(0), &text, b.client_id).await?;
    Ok(json(StatusCode::CREATED, &DirectFrame::of(&dm)))
}
