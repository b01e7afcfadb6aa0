//! Rooms and what posting in one means: validate, rate-limit, store, then publish (the last
//! two through the batch writer, `writer.rs`). A message starting with `/` is a command
//! instead: never stored, queued for the bot or answered at once.

use chrono::Utc;
use tickertalk_wire::{BotReply, Event, PriceReport, RoomCreated, RoomMessage, StockAnswer, StockCommand};
use uuid::Uuid;

use super::{Chat, ChatError};
use crate::auth::AuthUser;
use crate::bus::{AnswerStore, BusError, unanswered};
use crate::domain::{BOT_NAME, Command, MessageText, RoomName, StockCode};
use crate::store::messages::{NewMessage, Outcome};
use crate::store::{self, Taken, rooms::Room};

/// The outcome of a post.
#[derive(Debug)]
pub enum Posted {
    /// Stored (committed); published right after, and the author's sockets get it back through
    /// the hub as the acknowledgement.
    Stored(RoomMessage),
    /// A retry of a post already stored (same author, `client_id`, room and text): nothing new
    /// was stored or published; this is the stored message, for the author alone.
    Repeat(RoomMessage),
    /// A command; nothing stored. `command` is `stock` or `help`; the answer arrives in the
    /// room as a `stockbot` message carrying nothing the client can match but the room.
    Command { command: &'static str, request_id: Uuid },
}

impl Chat {
    /// Creates a room (within the user's hourly budget, `ROOMS_PER_USER`).
    pub async fn create_room(&self, me: &AuthUser, name: &RoomName) -> Result<Room, ChatError> {
        self.room_creation_attempt(me.user_id).await?;
        let room = store::rooms::create(&self.db, name, Some(me.user_id)).await?;
        tracing::info!(room_id = room.id, user_id = me.user_id, "room created");
        // Every connected client's room list (on every instance) gets it at once.
        self.bus.publish(Event::RoomCreated(RoomCreated {
            id: room.id,
            name: room.name.clone(),
            created_at: room.created_at,
            topic: room.topic.clone(),
        }));
        store::rooms::join_batch(&self.db, &[(room.id, me.user_id)]).await?;
        Ok(room)
    }

    /// Renames a room and/or sets its topic: its creator only. Every socket hears of it.
    pub async fn update_room(
        &self,
        me: &AuthUser,
        room_id: i64,
        name: Option<&RoomName>,
        topic: Option<&str>,
    ) -> Result<Room, ChatError> {
        let creator = store::rooms::creator(&self.db, room_id)
            .await
            .map_err(|e| match e {
                store::StoreError::NotFound(_) => ChatError::UnknownRoom,
                other => other.into(),
            })?;
        if creator != Some(me.user_id) {
            return Err(ChatError::Forbidden("only the room's creator may change it"));
        }
        // A new name is spent like a new room (it is one, to everyone's room list); a topic
        // is not.
        if name.is_some() {
            self.room_creation_attempt(me.user_id).await?;
        }
        let room = store::rooms::update(&self.db, room_id, name, topic)
            .await?
            .ok_or(ChatError::UnknownRoom)?;
        tracing::info!(room_id, user_id = me.user_id, "room changed");
        self.bus.publish(Event::RoomUpdated(RoomCreated {
            id: room.id,
            name: room.name.clone(),
            created_at: room.created_at,
            topic: room.topic.clone(),
        }));
        Ok(room)
    }

    /// Everyone who joined the room and has not left, by name, with who is in it now.
    pub async fn members(
        &self,
        room_id: i64,
        after: Option<&str>,
        limit: i64,
    ) -> Result<Vec<store::rooms::Member>, ChatError> {
        let members = store::rooms::members(&self.db, room_id, after, limit).await?;
        if members.is_empty() {
            self.room(room_id).await?;
        }
        Ok(members)
    }

    /// Posting over HTTP makes one a member, as opening the room on a socket does.
    pub async fn remember_member(&self, me: &AuthUser, room_id: i64) -> Result<(), ChatError> {
        Ok(store::rooms::join_batch(&self.db, &[(room_id, me.user_id)]).await?)
    }

    /// `me` leaves the room: it leaves their room list (and unread counts) until they open it
    /// again. Leaving a room one is not in is not an error.
    pub async fn leave_room(&self, me: &AuthUser, room_id: i64) -> Result<(), ChatError> {
        self.room(room_id).await?;
        store::rooms::leave(&self.db, room_id, me.user_id).await?;
        Ok(())
    }

    pub async fn room(&self, id: i64) -> Result<Room, ChatError> {
        store::rooms::get(&self.db, id)
            .await?
            .ok_or(ChatError::UnknownRoom)
    }

    /// The latest `limit` messages of a room, or those before message `before`; oldest first.
    ///
    /// The common request (no `before`) reads the page first and asks whether the room exists
    /// only when the page is empty: a room with messages exists. One query fewer per history
    /// read. With `before`, the room is checked first, so an unknown room is still
    /// "unknown room" and not "message not in this room".
    pub async fn history(
        &self,
        room_id: i64,
        before: Option<i64>,
        limit: i64,
    ) -> Result<Vec<RoomMessage>, ChatError> {
        if before.is_some() {
            self.room(room_id).await?;
        }
        let rows = store::messages::latest(&self.db, room_id, before, limit).await?;
        if rows.is_empty() && before.is_none() {
            self.room(room_id).await?;
        }
        Ok(rows)
    }

    /// Posts `text` to a room as `user`. `client_id` (already validated) is echoed to the
    /// author's own sockets with the stored message.
    pub async fn post_room_message(
        &self,
        user: &AuthUser,
        room_id: i64,
        text: &str,
        client_id: Option<String>,
        reply_to: Option<i64>,
    ) -> Result<Posted, ChatError> {
        let text = MessageText::parse(text).map_err(ChatError::text("chatmessage"))?;
        if let Some(cmd) = Command::parse(text.as_str()) {
            self.room(room_id).await?;
            self.rate_check(user)?;
            return self.run_command(user, room_id, cmd, text.as_str()).await;
        }
        self.rate_check(user)?;
        if let Some(id) = reply_to
            && !store::messages::is_in_room(&self.db, room_id, id).await?
        {
            self.room(room_id).await?;
            return Err(ChatError::NotFound(format!(
                "reply_to: message {id} is not in this room (or is deleted)"
            )));
        }
        let row = NewMessage {
            room_id,
            user_id: user.user_id,
            body: text.as_str().to_string(),
            client_id,
            bot: None,
            reply_to,
        };
        // Stored in the writer's next batch; it publishes after the commit, without making
        // this post wait for the broker.
        match self.writer.store(row).await? {
            Outcome::New(stored) => {
                tracing::debug!(room_id, message_id = stored.id, user = %user.username, "message stored");
                // Asked after the store: the answers follow the message in the room.
                if text.as_str().contains('$') {
                    self.cashtag_quotes(user, room_id, text.as_str()).await;
                }
                Ok(Posted::Stored(stored))
            }
            Outcome::Repeat(stored) => {
                tracing::debug!(room_id, message_id = stored.id, user = %user.username, "retry of a stored message");
                Ok(Posted::Repeat(stored))
            }
            Outcome::NoRoom => Err(ChatError::UnknownRoom),
            Outcome::Reused => Err(ChatError::Taken(Taken::ClientId)),
        }
    }

    async fn run_command(
        &self,
        user: &AuthUser,
        room_id: i64,
        cmd: Command,
        typed: &str,
    ) -> Result<Posted, ChatError> {
        let request_id = Uuid::new_v4();
        let command = match &cmd {
            Command::Stock(_) => "stock",
            Command::Help | Command::Usage { .. } => "help",
            Command::Watch(_) => "watch",
            Command::Unwatch(_) => "unwatch",
            Command::Alert(_) => "alert",
            Command::Alerts => "alerts",
            Command::Unalert(_) => "unalert",
        };
        let reply = match cmd {
            Command::Stock(symbols) => {
                self.quote_check(user, symbols.len() as u32)?;
                // One request (and one stored answer) per symbol; the first one's id is the
                // command's.
                let mut id = request_id;
                for symbol in symbols {
                    self.queue_quote(user, room_id, symbol, typed, id).await;
                    id = Uuid::new_v4();
                }
                return Ok(Posted::Command { command, request_id });
            }
            // A typo is the typist's business: only their sockets in this room hear why.
            Command::Usage { reason } => Command::help_text(&reason),
            other => self.ticker_command(user, room_id, other).await?,
        };
        self.bus.publish(Event::UsageReply {
            user_id: user.user_id,
            room_id,
            text: reply,
            created_at: Utc::now(),
        });
        Ok(Posted::Command { command, request_id })
    }

    /// Records one quote request and queues it for the bot; when it cannot be queued, the room
    /// hears why (stored like the bot's answer would be).
    pub(super) async fn queue_quote(
        &self,
        user: &AuthUser,
        room_id: i64,
        symbol: StockCode,
        typed: &str,
        request_id: Uuid,
    ) {
        let command = StockCommand {
            request_id,
            room_id,
            user_id: user.user_id,
            username: user.username.clone(),
            symbol: symbol.clone(),
            requested_at: Utc::now(),
            command: typed.to_string(),
            trace_id: Some(crate::trace::current_or_new()),
        };
        let waiting = store::stock::Request {
            request_id,
            room_id,
            user_id: user.user_id,
            username: user.username.clone(),
            command: typed.to_string(),
        };
        // Recorded first: an answer is stored only for a request that waits.
        if let Err(e) = store::stock::remember(&self.db, &waiting).await {
            tracing::warn!(error = %e, %request_id, "stock command not recorded; not queued");
            let answer = unanswered(&command, "the server cannot record requests right now");
            self.bot_reply(room_id, request_id, answer.text).await;
            return;
        }
        if let Err(e) = self.bus.publish_command(&command).await {
            tracing::warn!(error = %e, %request_id, "stock command not queued");
            // Never silence: say so in the room, stored like the bot's answer would be.
            let (why, label) = match e {
                BusError::NoBot => ("the quote bot is offline", "no_bot"),
                _ => ("the bot cannot be reached", "broker_unreachable"),
            };
            let answer = unanswered(&command, why);
            metrics::counter!("tickertalk_stock_unanswered_total", "why" => label).increment(1);
            if let Err(e) = self.store_answer(answer.clone()).await {
                tracing::warn!(error = %e, %request_id, "could not store the answer; saying it unstored");
                self.bot_reply(room_id, request_id, answer.text).await;
            }
        } else {
            tracing::info!(%request_id, trace_id = command.trace_id.as_deref(), room_id, symbol = symbol.as_str(), "stock command queued");
        }
    }

    /// Stores an answer to a stock command as a room message by `stockbot` (once per request
    /// id: an answer delivered twice is stored once) and publishes it like any message.
    ///
    /// Checked first, because anything that can publish on the answer queue could otherwise
    /// post into any room in the bot's name: the answer must name a request that still waits
    /// (`stock_requests`), in that request's room, and its text must be a valid message
    /// (length, no NUL). Who asked and what they typed are taken from the request, not from
    /// the answer. An answer that fails a check is dropped (`Ok`: never storable, so it must
    /// not go back to its queue).
    pub async fn store_answer(&self, mut answer: StockAnswer) -> Result<(), ChatError> {
        let request_id = answer.request_id;
        let refuse = |why: &'static str| {
            tracing::warn!(%request_id, room_id = answer.room_id, why, "stock answer refused");
            metrics::counter!("tickertalk_stock_answers_refused_total", "why" => why).increment(1);
            Ok(())
        };
        let Some(waiting) = store::stock::waiting(&self.db, request_id).await? else {
            return refuse("no_request");
        };
        if waiting.room_id != answer.room_id {
            return refuse("other_room");
        }
        let Ok(text) = MessageText::parse(&answer.text) else {
            return refuse("invalid_text");
        };
        answer.meta.asked_by = waiting.username;
        answer.meta.command = waiting.command;
        let row = NewMessage {
            room_id: answer.room_id,
            user_id: self.bot_user_id().await?,
            body: text.as_str().to_string(),
            client_id: Some(request_id.to_string()),
            bot: Some(answer.meta),
            reply_to: None,
        };
        match self.writer.store(row).await? {
            Outcome::New(m) => {
                tracing::info!(%request_id, room_id = m.room_id, message_id = m.id, "stock answer stored");
            }
            Outcome::Repeat(_) | Outcome::Reused => {
                tracing::info!(%request_id, "stock answer already stored; dropped");
            }
            Outcome::NoRoom => {
                tracing::warn!(%request_id, room_id = answer.room_id, "stock answer for a room that is gone; dropped");
            }
        }
        store::stock::answered(&self.db, request_id).await?;
        Ok(())
    }

    /// The `stockbot` account's id (made by a migration), looked up once.
    pub(super) async fn bot_user_id(&self) -> Result<i64, ChatError> {
        if let Some(id) = self.bot_id.get() {
            return Ok(*id);
        }
        let bot = store::users::by_username(&self.db, BOT_NAME)
            .await?
            .ok_or_else(|| ChatError::Internal("the stockbot account is missing".into()))?;
        Ok(*self.bot_id.get_or_init(|| bot.id))
    }

    /// The server answering in the bot's name (help, or "the bot is offline").
    async fn bot_reply(&self, room_id: i64, request_id: Uuid, text: String) {
        self.bus.publish(Event::BotReply(BotReply {
            room_id,
            text,
            request_id: Some(request_id),
            created_at: Utc::now(),
        }));
    }
}

impl AnswerStore for Chat {
    fn store(&self, answer: StockAnswer) -> futures_util::future::BoxFuture<'_, Result<(), String>> {
        Box::pin(async move { self.store_answer(answer).await.map_err(|e| e.to_string()) })
    }

    fn store_prices(&self, report: PriceReport) -> futures_util::future::BoxFuture<'_, Result<(), String>> {
        Box::pin(async move { self.store_prices(report).await.map_err(|e| e.to_string()) })
    }
}
