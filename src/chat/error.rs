//! Why a use case refused or failed, in the use case's own terms. `http::error` turns it into a
//! problem-details reply and `realtime::error` into a type-6 error frame; neither needs to look
//! further than this enum.

use crate::auth::PasswordError;
use crate::domain::{FieldErrors, TextError};
use crate::store::{StoreError, Taken};

/// What a use case refused or failed with.
#[derive(Debug, thiserror::Error)]
pub enum ChatError {
    /// Input fields that did not parse, each with its reason.
    #[error("invalid fields")]
    Invalid(FieldErrors),
    /// The message text was refused; `field` is the request field that held it (room posts say
    /// `chatmessage`, direct messages `message`, as the contract names them).
    #[error("{}", .error.message())]
    Text { field: &'static str, error: TextError },
    #[error("unknown room")]
    UnknownRoom,
    #[error("unknown user")]
    UnknownUser,
    /// Something the request referred to is not there (a paging anchor in another room).
    #[error("{0}")]
    NotFound(String),
    /// Not this user's to do (edit someone else's message, rename a room one did not create).
    #[error("{0}")]
    Forbidden(&'static str),
    /// The request conflicts with the state of what it names (editing a deleted message).
    #[error("{0}")]
    Conflict(&'static str),
    /// A unique value (username, email, room name) is in use.
    #[error("already taken")]
    Taken(Taken),
    /// No valid token, or its session was revoked. The text is safe to show.
    #[error("{0}")]
    Unauthorized(&'static str),
    #[error("too many messages; wait {retry_after_secs} s")]
    RateLimited { retry_after_secs: u64 },
    /// The database cannot be reached: nothing was stored, and trying again later may work.
    #[error("database unavailable")]
    Unavailable,
    /// Too many password checks (`auth::password::MAX_WAITING`) or searches are waiting; try
    /// again in a second. Nothing was done. The text says which, and is safe to show.
    #[error("{0}")]
    Busy(&'static str),
    /// A fault of ours; the cause is logged where this is turned into a reply, never shown.
    #[error("internal error: {0}")]
    Internal(String),
}

impl ChatError {
    /// One invalid field.
    pub fn invalid(field: &'static str, why: &str) -> ChatError {
        let mut errors = FieldErrors::new();
        errors.insert(field, why.to_string());
        ChatError::Invalid(errors)
    }

    /// The message text of `field` was refused.
    pub fn text(field: &'static str) -> impl FnOnce(TextError) -> ChatError {
        move |error| ChatError::Text { field, error }
    }
}

impl From<StoreError> for ChatError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::Unavailable(_) => ChatError::Unavailable,
            StoreError::Taken(t) => ChatError::Taken(t),
            StoreError::NotFound(what) => ChatError::NotFound(what),
            StoreError::Other(e) => ChatError::Internal(e.to_string()),
        }
    }
}

impl From<PasswordError> for ChatError {
    fn from(err: PasswordError) -> Self {
        match err {
            PasswordError::Busy => ChatError::Busy("server busy checking passwords; try again shortly"),
            PasswordError::Failed(_) => ChatError::Internal(err.to_string()),
        }
    }
}
