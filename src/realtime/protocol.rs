//! Frames as the contract defines them. Field names follow the original chat server
//! (`type`, `chatmessage`, `chatuser`, `chatroomId`).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tickertalk_wire::{Change, DirectMessage, QuoteFields, RoomMessage};
use tokio_tungstenite::tungstenite::Utf8Bytes;

use crate::domain::BOT_NAME;
use crate::domain::time::timestamp;

/// Which API a socket speaks. `/v1/ws` is this server's protocol (numbered frame types);
/// `/api/ws` is the original direct-message server's, whose clients send
/// `{"author","recipient","message"}` and receive direct messages in that shape only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    V1,
    Classic,
}

/// Frame type numbers.
pub mod kind {
    pub const ROOM_MESSAGE: i64 = 1;
    pub const JOIN: i64 = 2;
    pub const LEAVE: i64 = 3;
    pub const DIRECT: i64 = 4;
    pub const TYPING: i64 = 5;
    pub const ERROR: i64 = 6;
    pub const PRESENCE: i64 = 7;
    pub const COMMAND_ACCEPTED: i64 = 8;
    pub const ROOM_CREATED: i64 = 9;
    pub const ROOM_ACTIVITY: i64 = 10;
    pub const READ_MARKER: i64 = 11;
    pub const MESSAGE_CHANGED: i64 = 12;
    pub const DIRECT_CHANGED: i64 = 13;
    pub const ROOM_UPDATED: i64 = 14;
    pub const TICKER: i64 = 15;
}

/// A client frame, as far as it parsed. Unknown fields (such as a spoofed `chatuser`) are ignored.
#[derive(Debug, Default, Deserialize)]
pub struct ClientFrame {
    #[serde(rename = "type")]
    pub kind: Option<i64>,
    #[serde(rename = "chatroomId")]
    pub room_id: Option<i64>,
    pub chatmessage: Option<String>,
    pub client_id: Option<String>,
    pub since: Option<i64>,
    pub recipient: Option<String>,
    pub message: Option<String>,
    /// Type 1: the id of the message (of the same room) this one answers.
    pub reply_to: Option<i64>,
}

/// Why a client frame could not be parsed.
#[derive(Debug)]
pub struct FrameError {
    pub message: String,
    /// The frame's `client_id` if it could be read, for the error reply.
    pub client_id: Option<String>,
}

impl ClientFrame {
    pub fn parse(text: &str) -> Result<ClientFrame, FrameError> {
        let value: Value = serde_json::from_str(text).map_err(|e| FrameError {
            message: format!("malformed JSON: {e}"),
            client_id: None,
        })?;
        let client_id = value.get("client_id").and_then(Value::as_str).map(str::to_string);
        let Some(object) = value.as_object() else {
            return Err(FrameError {
                message: "a frame must be a JSON object".into(),
                client_id,
            });
        };
        if let Err(errors) = crate::domain::fields::check::<ClientFrame>(object) {
            let message = errors
                .iter()
                .map(|(field, why)| format!("{field} {why}"))
                .collect::<Vec<_>>()
                .join("; ");
            return Err(FrameError { message, client_id });
        }
        serde_json::from_value(value).map_err(|e| FrameError {
            message: format!("bad field: {e}"),
            client_id,
        })
    }
}

/// Room message, in the shape both the socket and the HTTP API use.
#[derive(Debug, Serialize)]
pub struct RoomMessageFrame<'a> {
    #[serde(rename = "type")]
    pub kind: i64,
    pub id: i64,
    #[serde(rename = "chatroomId")]
    pub room_id: i64,
    pub chatuser: &'a str,
    pub chatmessage: &'a str,
    pub created_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<&'a str>,
    /// The bot's stored answers: `bot: true`, who asked, the command, how it went, the quote.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub bot: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub asked_by: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub command: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outcome: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quote: Option<&'a QuoteFields>,
    /// On `no_data`: a symbol the asker may have meant.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub suggestion: Option<&'a str>,
    /// On `alert`: the alert that fired.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alert: Option<&'a tickertalk_wire::AlertView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub edited_at: Option<String>,
    /// A tombstone: `chatmessage` is empty.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub deleted: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<ReplyFrame<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub reactions: Vec<ReactionFrame<'a>>,
    /// Type 12 only: what changed (`edited`, `deleted`, `reaction`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub change: Option<&'static str>,
    /// Type 12 `reaction` only: who added (`on`) or took back which emoji.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reaction: Option<ReactionChangeFrame<'a>>,
}

/// The message a reply answers: `{"id","chatuser","snippet"}` (`deleted` once it is).
#[derive(Debug, Serialize)]
pub struct ReplyFrame<'a> {
    pub id: i64,
    pub chatuser: &'a str,
    pub snippet: &'a str,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub deleted: bool,
}

/// `(message id, emoji)` pairs of the reader's own reactions.
pub type Mine = std::collections::HashSet<(i64, String)>;

fn reaction_frames(reactions: &[tickertalk_wire::ReactionCount]) -> Vec<ReactionFrame<'_>> {
    reactions
        .iter()
        .map(|r| ReactionFrame {
            emoji: &r.emoji,
            count: r.count,
            me: None,
        })
        .collect()
}

fn mark_mine(id: i64, reactions: &mut [ReactionFrame<'_>], mine: &Mine) {
    for r in reactions {
        r.me = Some(mine.contains(&(id, r.emoji.to_string())));
    }
}

/// One emoji's count; `me` (whether the reader is among them) only where the frame is for one
/// user: HTTP history and the `since` replay.
#[derive(Debug, Serialize)]
pub struct ReactionFrame<'a> {
    pub emoji: &'a str,
    pub count: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub me: Option<bool>,
}

#[derive(Debug, Serialize)]
pub struct ReactionChangeFrame<'a> {
    pub emoji: &'a str,
    pub chatuser: &'a str,
    pub on: bool,
}

impl<'a> RoomMessageFrame<'a> {
    /// A change to a message (type 12): the whole message as it is now, and what changed.
    pub fn changed(m: &'a RoomMessage, change: &'a Change) -> Self {
        let (what, reaction) = match change {
            Change::Edited => ("edited", None),
            Change::Deleted => ("deleted", None),
            Change::Reaction { emoji, username, on } => (
                "reaction",
                Some(ReactionChangeFrame {
                    emoji,
                    chatuser: username,
                    on: *on,
                }),
            ),
        };
        RoomMessageFrame {
            kind: kind::MESSAGE_CHANGED,
            change: Some(what),
            reaction,
            ..RoomMessageFrame::of(m)
        }
    }

    /// A change read back from storage (the `since` replay, a gap fill): what changed is not
    /// known any more, only the message as it is now.
    pub fn changed_since(m: &'a RoomMessage) -> Self {
        RoomMessageFrame {
            kind: kind::MESSAGE_CHANGED,
            ..RoomMessageFrame::of(m)
        }
    }

    /// Marks which reactions are the reader's (`mine`: message id and emoji pairs).
    pub fn with_mine(mut self, mine: &Mine) -> Self {
        mark_mine(self.id, &mut self.reactions, mine);
        self
    }

    pub fn of(m: &'a RoomMessage) -> Self {
        let meta = m.bot.as_ref();
        RoomMessageFrame {
            kind: kind::ROOM_MESSAGE,
            id: m.id,
            room_id: m.room_id,
            chatuser: &m.username,
            chatmessage: &m.body,
            created_at: timestamp(&m.created_at),
            client_id: None,
            bot: meta.is_some(),
            asked_by: meta.map(|b| b.asked_by.as_str()),
            command: meta.map(|b| b.command.as_str()),
            outcome: meta.map(|b| b.outcome.as_str()),
            quote: meta.and_then(|b| b.quote.as_ref()),
            suggestion: meta.and_then(|b| b.suggestion.as_deref()),
            alert: meta.and_then(|b| b.alert.as_ref()),
            edited_at: m.edited_at.as_ref().map(timestamp),
            deleted: m.deleted,
            reply_to: m.reply_to.as_deref().map(|r| ReplyFrame {
                id: r.id,
                chatuser: &r.username,
                snippet: &r.snippet,
                deleted: r.deleted,
            }),
            reactions: reaction_frames(&m.reactions),
            change: None,
            reaction: None,
        }
    }

    /// The author's own copy: with the `client_id` it was posted with.
    pub fn acknowledging(m: &'a RoomMessage, client_id: Option<&'a str>) -> Self {
        RoomMessageFrame {
            client_id,
            ..RoomMessageFrame::of(m)
        }
    }

    pub fn to_text(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// Direct message, for both the socket and the HTTP API.
#[derive(Debug, Serialize)]
pub struct DirectFrame<'a> {
    #[serde(rename = "type")]
    pub kind: i64,
    pub id: i64,
    pub author: &'a str,
    pub recipient: &'a str,
    pub message: &'a str,
    pub message_type: i16,
    pub created_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub edited_at: Option<String>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub deleted: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub reactions: Vec<ReactionFrame<'a>>,
}

impl<'a> DirectFrame<'a> {
    pub fn of(m: &'a DirectMessage) -> Self {
        DirectFrame {
            kind: kind::DIRECT,
            id: m.id,
            author: &m.author,
            recipient: &m.recipient,
            message: &m.body,
            message_type: m.message_type,
            created_at: timestamp(&m.created_at),
            client_id: None,
            edited_at: m.edited_at.as_ref().map(timestamp),
            deleted: m.deleted,
            reactions: reaction_frames(&m.reactions),
        }
    }

    /// Marks which reactions are the reader's (`mine`: message id and emoji pairs).
    pub fn with_mine(mut self, mine: &Mine) -> Self {
        mark_mine(self.id, &mut self.reactions, mine);
        self
    }

    /// The author's own copy: with the `client_id` it was sent with.
    pub fn acknowledging(m: &'a DirectMessage, client_id: Option<&'a str>) -> Self {
        DirectFrame {
            client_id,
            ..DirectFrame::of(m)
        }
    }

    pub fn to_text(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// A frame an `/api/ws` client sends: a direct message. `author` is read only to be ignored:
/// the author is always the socket's user.
#[derive(Debug, Default, Deserialize)]
pub struct ClassicFrame {
    pub recipient: Option<String>,
    pub message: Option<String>,
}

/// A direct message as `/api/ws` clients receive it (and as `/api/thread` lists it).
#[derive(Debug, Serialize)]
pub struct ClassicDirect<'a> {
    pub author: &'a str,
    pub recipient: &'a str,
    pub message: &'a str,
    pub message_type: i16,
    pub created_at: String,
}

impl<'a> ClassicDirect<'a> {
    pub fn of(m: &'a DirectMessage) -> Self {
        ClassicDirect {
            author: &m.author,
            recipient: &m.recipient,
            message: &m.body,
            message_type: m.message_type,
            created_at: timestamp(&m.created_at),
        }
    }
}

pub fn classic_direct(m: &DirectMessage) -> String {
    serde_json::to_string(&ClassicDirect::of(m)).expect("frame")
}

/// A refused `/api/ws` frame, in that API's envelope (`status: fail`, the error object).
pub fn classic_error(code: u16, kind: &str, errors: Value) -> String {
    json!({
        "status": "fail",
        "data": [],
        "error": {"code": code, "errors": errors, "message": kind},
    })
    .to_string()
}

pub fn bot_message(room_id: i64, text: &str, created_at: &DateTime<Utc>) -> String {
    json!({
        "type": kind::ROOM_MESSAGE,
        "chatroomId": room_id,
        "chatuser": BOT_NAME,
        "bot": true,
        "chatmessage": text,
        "created_at": timestamp(created_at),
    })
    .to_string()
}

/// A room created anywhere: `{"type":9,"room":{"id","name","created_at"}}` (the room as
/// `GET /v1/chat/rooms` lists it).
pub fn room_created(room: &tickertalk_wire::RoomCreated) -> String {
    json!({
        "type": kind::ROOM_CREATED,
        "room": {"id": room.id, "name": room.name, "created_at": timestamp(&room.created_at)},
    })
    .to_string()
}

/// A room renamed or given a topic: `{"type":14,"room":{"id","name","created_at","topic"}}`.
pub fn room_updated(room: &tickertalk_wire::RoomCreated) -> String {
    json!({
        "type": kind::ROOM_UPDATED,
        "room": {"id": room.id, "name": room.name, "created_at": timestamp(&room.created_at), "topic": room.topic},
    })
    .to_string()
}

/// A room's ticker strip, whole: `{"type":15,"chatroomId":1,"symbols":[...],"alerts":[...]}`.
pub fn ticker(t: &tickertalk_wire::Ticker) -> String {
    json!({
        "type": kind::TICKER,
        "chatroomId": t.room_id,
        "symbols": t.symbols,
        "alerts": t.alerts,
    })
    .to_string()
}

/// A direct message changed: the type 4 shape with `"type":13` and what changed.
pub fn direct_changed(m: &DirectMessage, change: &Change) -> String {
    let mut v = serde_json::to_value(DirectFrame::of(m)).expect("frame");
    v["type"] = json!(kind::DIRECT_CHANGED);
    match change {
        Change::Edited => v["change"] = json!("edited"),
        Change::Deleted => v["change"] = json!("deleted"),
        Change::Reaction { emoji, username, on } => {
            v["change"] = json!("reaction");
            v["reaction"] = json!({"emoji": emoji, "chatuser": username, "on": on});
        }
    }
    v.to_string()
}

/// Someone is typing to the reader in their conversation: `{"type":5,"username":"bob"}`.
pub fn direct_typing(username: &str) -> String {
    json!({"type": kind::TYPING, "username": username}).to_string()
}

/// Rooms with new messages since the last such frame, each with its latest message number:
/// `{"type":10,"rooms":[{"id":1,"last_seq":57}]}` (with the read markers, clients count unread).
pub fn room_activity(rooms: &[(i64, i64)]) -> String {
    let rooms: Vec<Value> = rooms
        .iter()
        .map(|(id, seq)| json!({"id": id, "last_seq": seq}))
        .collect();
    json!({"type": kind::ROOM_ACTIVITY, "rooms": rooms}).to_string()
}

/// A read marker moved (by another tab or device of the same user, or this one).
pub fn read_marker(m: &tickertalk_wire::ReadMarker) -> String {
    let mut v = json!({"type": kind::READ_MARKER, "last_read_id": m.last_read_id, "unread": m.unread});
    if let Some(room) = m.room_id {
        v["chatroomId"] = json!(room);
    }
    if let Some(seq) = m.read_seq {
        v["read_seq"] = json!(seq);
    }
    if let Some(peer) = &m.peer {
        v["username"] = json!(peer);
    }
    v.to_string()
}

pub fn typing(room_id: i64, username: &str) -> String {
    json!({"type": kind::TYPING, "chatroomId": room_id, "chatuser": username}).to_string()
}

pub fn presence_list(room_id: i64, users: &[String]) -> String {
    json!({"type": kind::PRESENCE, "chatroomId": room_id, "users": users}).to_string()
}

pub fn presence_change(room_id: i64, joined: Option<&str>, left: Option<&str>) -> String {
    let mut v = json!({"type": kind::PRESENCE, "chatroomId": room_id});
    if let Some(j) = joined {
        v["joined"] = json!(j);
    }
    if let Some(l) = left {
        v["left"] = json!(l);
    }
    v.to_string()
}

pub fn left_room(room_id: i64) -> String {
    json!({"type": kind::LEAVE, "chatroomId": room_id}).to_string()
}

pub fn command_accepted(
    room_id: i64,
    command: &str,
    request_id: uuid::Uuid,
    client_id: Option<&str>,
) -> String {
    let mut v = json!({"type": kind::COMMAND_ACCEPTED, "chatroomId": room_id, "command": command, "request_id": request_id});
    if let Some(c) = client_id {
        v["client_id"] = json!(c);
    }
    v.to_string()
}

pub fn error(code: &str, message: &str, client_id: Option<&str>) -> String {
    let mut v = json!({"type": kind::ERROR, "error": {"code": code, "message": message}});
    if let Some(c) = client_id {
        v["client_id"] = json!(c);
    }
    v.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_spoofed_chatuser_is_not_even_read() {
        let f =
            ClientFrame::parse(r#"{"type":1,"chatroomId":2,"chatmessage":"hi","chatuser":"admin"}"#).unwrap();
        assert_eq!(
            (f.kind, f.room_id, f.chatmessage.as_deref()),
            (Some(1), Some(2), Some("hi"))
        );
    }

    #[test]
    fn malformed_frames_say_what_is_wrong_and_keep_the_client_id() {
        assert!(
            ClientFrame::parse("{nope")
                .unwrap_err()
                .message
                .starts_with("malformed JSON")
        );
        assert!(ClientFrame::parse("[1]").is_err());
        let e = ClientFrame::parse(r#"{"type":"one","client_id":"c-1"}"#).unwrap_err();
        assert_eq!(e.client_id.as_deref(), Some("c-1"));
        assert!(e.message.contains("bad field"));
    }

    #[test]
    fn bot_messages_carry_the_bot_flag_and_no_id() {
        let v: Value = serde_json::from_str(&bot_message(1, "x", &Utc::now())).unwrap();
        assert_eq!(v["bot"], true);
        assert_eq!(v["chatuser"], "stockbot");
        assert!(v.get("id").is_none());
    }
}

/// One item of a room's stream, rendered once for every socket of the room: the frame for
/// everyone and, for a new message whose author sent a `client_id`, the variant carrying it for
/// the author's own sockets.
#[derive(Debug)]
pub struct RoomFrames {
    pub room_id: i64,
    /// Where it is in the room's stream (`rev`, or `changed_rev` for a change).
    pub position: i64,
    /// A new message's number (`seq`), which unread counts follow; `None` for a change.
    pub seq: Option<i64>,
    pub author_id: i64,
    /// Its `created_at` in microseconds since the epoch (for the delivery latency).
    pub stored_at: i64,
    pub plain: Utf8Bytes,
    pub authored: Option<Utf8Bytes>,
}

impl RoomFrames {
    pub fn of(m: &RoomMessage, client_id: Option<&str>) -> RoomFrames {
        let mut frame = RoomMessageFrame::of(m);
        let plain: Utf8Bytes = serde_json::to_string(&frame).expect("frame").into();
        let authored = client_id.map(|c| {
            frame.client_id = Some(c);
            Utf8Bytes::from(serde_json::to_string(&frame).expect("frame"))
        });
        RoomFrames {
            room_id: m.room_id,
            position: m.rev,
            seq: Some(m.seq),
            author_id: m.user_id,
            stored_at: m.created_at.timestamp_micros(),
            plain,
            authored,
        }
    }

    /// A change to a message: one frame for everyone. `change` is `None` for a change read
    /// back from storage.
    pub fn changed(m: &RoomMessage, change: Option<&Change>) -> RoomFrames {
        let frame = match change {
            Some(c) => RoomMessageFrame::changed(m, c),
            None => RoomMessageFrame::changed_since(m),
        };
        RoomFrames {
            room_id: m.room_id,
            position: m.changed_rev.unwrap_or(m.rev),
            seq: None,
            author_id: m.user_id,
            stored_at: m.created_at.timestamp_micros(),
            plain: serde_json::to_string(&frame).expect("frame").into(),
            authored: None,
        }
    }

    /// The frame for a socket of `user_id`.
    pub fn for_user(&self, user_id: i64) -> &Utf8Bytes {
        match &self.authored {
            Some(a) if user_id == self.author_id => a,
            _ => &self.plain,
        }
    }
}

/// A direct message's frames for the sockets of both users, each rendered at most once: `/v1`
/// with or without the author's `client_id`, and the `/api` dialect's.
pub struct DirectFrames<'a> {
    message: &'a DirectMessage,
    plain: Utf8Bytes,
    authored: Utf8Bytes,
    classic: Option<Utf8Bytes>,
}

impl<'a> DirectFrames<'a> {
    pub fn of(message: &'a DirectMessage, client_id: Option<&str>) -> DirectFrames<'a> {
        let mut f = DirectFrame::of(message);
        let plain: Utf8Bytes = serde_json::to_string(&f).expect("frame").into();
        let authored = match client_id {
            Some(_) => {
                f.client_id = client_id;
                serde_json::to_string(&f).expect("frame").into()
            }
            None => plain.clone(),
        };
        DirectFrames {
            message,
            plain,
            authored,
            classic: None,
        }
    }

    /// The frame for a socket speaking `dialect`, of the author or of the recipient.
    pub fn for_socket(&mut self, dialect: Dialect, is_author: bool) -> Utf8Bytes {
        match dialect {
            Dialect::Classic => self
                .classic
                .get_or_insert_with(|| classic_direct(self.message).into())
                .clone(),
            Dialect::V1 if is_author => self.authored.clone(),
            Dialect::V1 => self.plain.clone(),
        }
    }
}
