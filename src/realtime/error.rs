//! Why a client frame was refused. Each becomes one type-6 error frame on the socket that sent
//! it (with the frame's `client_id`, so the client can match it); the socket stays open.

use crate::chat::ChatError;
use crate::store::Taken;

/// A refused frame: a stable `code` a client can switch on (the contract lists them), and a
/// message a person can read.
#[derive(Debug, thiserror::Error)]
pub enum SocketError {
    /// Not JSON, not an object, a field of the wrong type or a required field missing.
    #[error("{0}")]
    InvalidFrame(String),
    /// A `type` number the protocol does not have.
    #[error("unknown frame type {0}; expected 1, 2, 3, 4 or 5")]
    UnknownType(i64),
    /// Joining a room that does not exist.
    #[error("room {0} does not exist")]
    NoSuchRoom(i64),
    /// Leaving or typing in a room this socket did not join.
    #[error("{0}")]
    NotInRoom(String),
    /// The use case refused (unknown room, bad text, rate limit, database down ...).
    #[error(transparent)]
    Chat(#[from] ChatError),
}

impl SocketError {
    /// A required field is missing from the frame.
    pub fn missing(field: &str) -> SocketError {
        SocketError::InvalidFrame(format!("missing field `{field}`"))
    }

    /// The error code of the type-6 frame.
    pub fn code(&self) -> &'static str {
        match self {
            SocketError::InvalidFrame(_) => "invalid_frame",
            SocketError::UnknownType(_) => "unknown_type",
            SocketError::NoSuchRoom(_) => "unknown_room",
            SocketError::NotInRoom(_) => "not_in_room",
            SocketError::Chat(e) => match e {
                ChatError::UnknownRoom => "unknown_room",
                ChatError::UnknownUser => "unknown_user",
                ChatError::Text { error, .. } => error.code(),
                ChatError::RateLimited { .. } => "rate_limited",
                ChatError::Unavailable | ChatError::Busy(_) => "unavailable",
                ChatError::Invalid(_) => "invalid_frame",
                ChatError::Taken(Taken::ClientId) => "client_id_reused",
                ChatError::NotFound(_) => "not_found",
                ChatError::Forbidden(_) => "forbidden",
                ChatError::Conflict(_) => "conflict",
                ChatError::Taken(_) | ChatError::Unauthorized(_) | ChatError::Internal(_) => "internal",
            },
        }
    }

    /// A message safe to show the client: internal causes are logged here, never sent.
    pub fn public_message(&self) -> String {
        match self {
            SocketError::Chat(ChatError::Internal(cause)) => {
                tracing::error!(error = %cause, "chat operation failed");
                "internal error; nothing was stored".into()
            }
            SocketError::Chat(ChatError::Unavailable) => {
                "the database is unavailable; nothing was stored".into()
            }
            SocketError::Chat(ChatError::Taken(Taken::ClientId)) => {
                "client_id already used for a different message; nothing was stored".into()
            }
            other => other.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::TextError;

    #[test]
    fn codes_are_the_contracts_and_internal_causes_stay_in_the_log() {
        assert_eq!(SocketError::missing("chatroomId").code(), "invalid_frame");
        assert_eq!(SocketError::UnknownType(9).code(), "unknown_type");
        let text = SocketError::from(ChatError::text("chatmessage")(TextError::Empty));
        assert_eq!(text.code(), "empty_message");
        let internal = SocketError::from(ChatError::Internal("relation users does not exist".into()));
        assert_eq!(internal.code(), "internal");
        assert!(!internal.public_message().contains("relation"));
    }
}
