//! Editing, deleting and reacting to messages, in rooms (`/v1/chat/rooms/:id/messages/:mid`)
//! and direct conversations (`/v1/chat/threads/:username/messages/:mid`).

use std::sync::Arc;

use serde::Deserialize;
use warp::http::StatusCode;

use super::error::ApiError;
use super::routes::{HandlerResult, Request};
use super::{AppState, json, no_content};
use crate::auth::AuthUser;
use crate::chat::{ChatError, Kind, Toggle};
use crate::domain::MessageText;
use crate::realtime::protocol::{DirectFrame, RoomMessageFrame};
use crate::store::changes::Op;

#[derive(Deserialize)]
struct RoomEdit {
    chatmessage: Option<String>,
}

#[derive(Deserialize)]
struct DirectEdit {
    message: Option<String>,
}

/// `PATCH /v1/chat/rooms/:id/messages/:mid` `{"chatmessage"}`: 200 the message as it is now.
pub async fn edit_room(state: Arc<AppState>, me: AuthUser, req: Request) -> HandlerResult {
    let b: RoomEdit = req.json()?;
    let text = b
        .chatmessage
        .ok_or_else(|| ApiError::invalid("chatmessage", "required"))?;
    let m = state
        .chat
        .edit_room_message(&me, req.int("id"), req.int("mid"), &text)
        .await?;
    let mine = state.chat.my_reactions(Kind::Room, me.user_id, &[m.id]).await?;
    Ok(json(StatusCode::OK, &RoomMessageFrame::of(&m).with_mine(&mine)))
}

/// `DELETE /v1/chat/rooms/:id/messages/:mid`: 204.
pub async fn delete_room(state: Arc<AppState>, me: AuthUser, req: Request) -> HandlerResult {
    state
        .chat
        .delete_room_message(&me, req.int("id"), req.int("mid"))
        .await?;
    Ok(no_content())
}

/// `PUT /v1/chat/rooms/:id/messages/:mid/reactions/:emoji`: 204.
pub async fn react_room(state: Arc<AppState>, me: AuthUser, req: Request) -> HandlerResult {
    room_reaction(state, me, req, Toggle::Add).await
}

/// `DELETE /v1/chat/rooms/:id/messages/:mid/reactions/:emoji`: 204.
pub async fn unreact_room(state: Arc<AppState>, me: AuthUser, req: Request) -> HandlerResult {
    room_reaction(state, me, req, Toggle::Remove).await
}

async fn room_reaction(state: Arc<AppState>, me: AuthUser, req: Request, toggle: Toggle) -> HandlerResult {
    let emoji = emoji_param(&req)?;
    state
        .chat
        .react_in_room(&me, req.int("id"), req.int("mid"), &emoji, toggle)
        .await?;
    Ok(no_content())
}

/// `PATCH /v1/chat/threads/:username/messages/:mid` `{"message"}`: 200 the message.
pub async fn edit_direct(state: Arc<AppState>, me: AuthUser, req: Request) -> HandlerResult {
    let b: DirectEdit = req.json()?;
    let text = b
        .message
        .ok_or_else(|| ApiError::invalid("message", "required"))?;
    let text = MessageText::parse(&text).map_err(ChatError::text("message"))?;
    let id = req.int("mid");
    let changed = state
        .chat
        .change_direct(&me, req.text("username"), id, Op::Edit(text.as_str()))
        .await?;
    let m = changed.ok_or_else(|| ApiError::NotFound(format!("message {id} is not in this conversation")))?;
    let mine = state.chat.my_reactions(Kind::Direct, me.user_id, &[m.id]).await?;
    Ok(json(StatusCode::OK, &DirectFrame::of(&m).with_mine(&mine)))
}

/// `DELETE /v1/chat/threads/:username/messages/:mid`: 204.
pub async fn delete_direct(state: Arc<AppState>, me: AuthUser, req: Request) -> HandlerResult {
    state
        .chat
        .change_direct(&me, req.text("username"), req.int("mid"), Op::Delete)
        .await?;
    Ok(no_content())
}

/// `PUT /v1/chat/threads/:username/messages/:mid/reactions/:emoji`: 204.
pub async fn react_direct(state: Arc<AppState>, me: AuthUser, req: Request) -> HandlerResult {
    direct_reaction(state, me, req, true).await
}

/// `DELETE /v1/chat/threads/:username/messages/:mid/reactions/:emoji`: 204.
pub async fn unreact_direct(state: Arc<AppState>, me: AuthUser, req: Request) -> HandlerResult {
    direct_reaction(state, me, req, false).await
}

async fn direct_reaction(state: Arc<AppState>, me: AuthUser, req: Request, on: bool) -> HandlerResult {
    let raw = emoji_param(&req)?;
    let emoji = crate::domain::Emoji::parse(&raw).map_err(|why| ApiError::invalid("emoji", why))?;
    let op = Op::React {
        user_id: me.user_id,
        emoji: emoji.as_str(),
        on,
    };
    state
        .chat
        .change_direct(&me, req.text("username"), req.int("mid"), op)
        .await?;
    Ok(no_content())
}

/// The `{emoji}` path segment, percent-decoded.
fn emoji_param(req: &Request) -> Result<String, ApiError> {
    percent_decode(req.text("emoji"))
        .ok_or_else(|| ApiError::invalid("emoji", "must be one emoji, percent-encoded"))
}

/// `%XX` escapes decoded, as UTF-8; `None` for a broken escape or invalid UTF-8.
fn percent_decode(s: &str) -> Option<String> {
    let mut out = Vec::with_capacity(s.len());
    let mut bytes = s.bytes();
    while let Some(b) = bytes.next() {
        if b == b'%' {
            let hi = (bytes.next()? as char).to_digit(16)?;
            let lo = (bytes.next()? as char).to_digit(16)?;
            out.push((hi * 16 + lo) as u8);
        } else {
            out.push(b);
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::percent_decode;

    #[test]
    fn percent_escapes_decode_to_utf8() {
        assert_eq!(percent_decode("%F0%9F%91%8D").as_deref(), Some("👍"));
        assert_eq!(percent_decode("👍").as_deref(), Some("👍"));
        assert_eq!(percent_decode("%F0%9F"), None, "not UTF-8");
        assert_eq!(percent_decode("%G0"), None);
        assert_eq!(percent_decode("%F"), None);
    }
}
