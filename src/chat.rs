//! What posting means, shared by the WebSocket and the HTTP API: validate, rate-limit, store,
//! then publish (or, while the broker is down, deliver locally: the message is stored either
//! way, and other instances catch up from the database).

use chrono::Utc;
use uuid::Uuid;

use crate::app::App;
use crate::auth::AuthUser;
use crate::broker::supervisor::BrokerError;
use crate::broker::{BotReply, Event, StockCommand};
use crate::domain::{Command, MessageText, TextError};
use crate::error::ApiError;
use crate::store::{self, dms::StoredDm, messages::StoredMessage};

/// Why a post was refused; `code` is the WebSocket error code.
#[derive(Debug, thiserror::Error)]
pub enum ChatError {
    #[error("unknown room")]
    UnknownRoom,
    #[error("unknown user")]
    UnknownUser,
    #[error("{}", .0.message())]
    Text(TextError),
    #[error("too many messages; wait {retry_after_secs} s")]
    RateLimited { retry_after_secs: u64 },
    #[error("{0}")]
    Api(#[from] ApiError),
}

impl ChatError {
    pub fn code(&self) -> &'static str {
        match self {
            ChatError::UnknownRoom => "unknown_room",
            ChatError::UnknownUser => "unknown_user",
            ChatError::Text(t) => t.code(),
            ChatError::RateLimited { .. } => "rate_limited",
            ChatError::Api(ApiError::Unavailable(_)) => "unavailable",
            ChatError::Api(_) => "internal",
        }
    }

    /// A message safe to show the client (internal causes are logged, not returned).
    pub fn public_message(&self) -> String {
        match self {
            ChatError::Api(ApiError::Internal(cause)) => {
                tracing::error!(error = %cause, "chat operation failed");
                "internal error; nothing was stored".into()
            }
            ChatError::Api(ApiError::Unavailable(_)) => {
                "the database is unavailable; nothing was stored".into()
            }
            other => other.to_string(),
        }
    }
}

impl ChatError {
    /// The HTTP error; `text_field` names the request field that held the text (room posts say
    /// `chatmessage`, direct messages `message`).
    pub fn into_api(self, text_field: &'static str) -> ApiError {
        match self {
            ChatError::UnknownRoom => ApiError::NotFound("unknown room".into()),
            ChatError::UnknownUser => ApiError::NotFound("unknown user".into()),
            ChatError::Text(t) => ApiError::invalid(text_field, t.message()),
            ChatError::RateLimited { retry_after_secs } => ApiError::RateLimited { retry_after_secs },
            ChatError::Api(api) => api,
        }
    }
}

/// The outcome of a post.
#[derive(Debug)]
pub enum Posted {
    Stored(StoredMessage),
    /// A command; nothing stored. `command` is `stock` or `help`.
    Command {
        command: &'static str,
        request_id: Uuid,
    },
}

impl App {
    fn rate_check(&self, user: &AuthUser) -> Result<(), ChatError> {
        self.limiter
            .check(user.user_id)
            .map_err(|wait| ChatError::RateLimited {
                retry_after_secs: wait.as_secs_f64().ceil() as u64,
            })
    }

    /// Posts `text` to a room as `user`.
    pub async fn post_room_message(
        &self,
        user: &AuthUser,
        room_id: i64,
        text: &str,
        client_id: Option<String>,
    ) -> Result<Posted, ChatError> {
        let text = MessageText::parse(text).map_err(ChatError::Text)?;
        if let Some(cmd) = Command::parse(text.as_str()) {
            if store::rooms::get(&self.db, room_id).await?.is_none() {
                return Err(ChatError::UnknownRoom);
            }
            self.rate_check(user)?;
            return Ok(self.run_command(user, room_id, cmd).await);
        }
        self.rate_check(user)?;
        let stored = store::messages::insert(&self.db, room_id, user.user_id, text.as_str())
            .await?
            .ok_or(ChatError::UnknownRoom)?;
        tracing::debug!(room_id, message_id = stored.id, user = %user.username, "message stored");
        self.publish_or_local(Event::RoomMessage {
            message: stored.clone(),
            client_id,
        })
        .await;
        Ok(Posted::Stored(stored))
    }

    async fn run_command(&self, user: &AuthUser, room_id: i64, cmd: Command) -> Posted {
        match cmd {
            Command::Stock(symbol) => {
                let request_id = Uuid::new_v4();
                let command = StockCommand {
                    request_id,
                    room_id,
                    user_id: user.user_id,
                    username: user.username.clone(),
                    symbol: symbol.clone(),
                    requested_at: Utc::now(),
                };
                if let Err(e) = self.broker.publish_command(&command).await {
                    tracing::warn!(error = %e, %request_id, "stock command not queued");
                    // Never silence: say so in the room (delivered locally if need be).
                    let why = match e {
                        BrokerError::NoBot => "the quote bot is offline",
                        _ => "the bot cannot be reached",
                    };
                    let text = format!(
                        "{} quote is unavailable right now ({why}); please try again shortly.",
                        symbol.as_str().to_ascii_uppercase()
                    );
                    self.bot_reply(room_id, Some(request_id), text).await;
                } else {
                    tracing::info!(%request_id, room_id, symbol = symbol.as_str(), "stock command queued");
                }
                Posted::Command {
                    command: "stock",
                    request_id,
                }
            }
            Command::Help { reason } => {
                let request_id = Uuid::new_v4();
                self.bot_reply(room_id, Some(request_id), Command::help_text(&reason))
                    .await;
                Posted::Command {
                    command: "help",
                    request_id,
                }
            }
        }
    }

    async fn bot_reply(&self, room_id: i64, request_id: Option<Uuid>, text: String) {
        self.publish_or_local(Event::BotReply(BotReply {
            room_id,
            text,
            request_id,
            created_at: Utc::now(),
        }))
        .await;
    }

    /// Sends a direct message from `user` to the user named `recipient`.
    pub async fn send_dm(
        &self,
        user: &AuthUser,
        recipient: &str,
        text: &str,
        client_id: Option<String>,
    ) -> Result<StoredDm, ChatError> {
        let text = MessageText::parse(text).map_err(ChatError::Text)?;
        let peer = store::users::by_username(&self.db, recipient)
            .await?
            .ok_or(ChatError::UnknownUser)?;
        self.rate_check(user)?;
        let dm = store::dms::insert(&self.db, user.user_id, peer.id, text.as_str()).await?;
        self.publish_or_local(Event::DirectMessage {
            message: dm.clone(),
            client_id,
        })
        .await;
        Ok(dm)
    }

    /// Publishes to every instance; if the broker cannot take it, delivers to this instance's
    /// sockets directly so the author still gets the acknowledgement.
    pub async fn publish_or_local(&self, event: Event) {
        if let Err(e) = self.broker.publish_event(&event).await {
            tracing::warn!(error = %e, key = %event.routing_key(), "publish failed; delivering locally");
            self.hub.dispatch(event);
        }
    }
}
