//! Changing what was said: edit, delete, react, in rooms and direct conversations.
//!
//! Who may do what:
//! - edit: the author only, and never a bot answer (its text is the bot's, with a quote);
//! - delete: the author, or the room's creator (who moderates the room they made); in a direct
//!   conversation, the author only;
//! - react: anyone who can read the message, with one emoji per reaction (`domain::Emoji`).
//!
//! Each room change is stored with its room's next stream position, then published like a new
//! message: every socket of the room gets it in order with the messages (see `store::changes`).
//! Changes take from the same per-user rate budget as posting.

use tickertalk_wire::{Change, DirectMessage, Event, RoomChange, RoomMessage};

use super::{Chat, ChatError};
use crate::auth::AuthUser;
use crate::domain::{BOT_NAME, Emoji, MessageText};
pub use crate::store::changes::Kind;
use crate::store::{self, changes::Applied, changes::Op};

const TOO_MANY_EMOJI: &str = "this message has as many different reactions as it can";

/// What a reaction request asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Toggle {
    Add,
    Remove,
}

impl Chat {
    /// Replaces the text of `user`'s message `id` in a room; the message as it is now.
    pub async fn edit_room_message(
        &self,
        user: &AuthUser,
        room_id: i64,
        id: i64,
        text: &str,
    ) -> Result<RoomMessage, ChatError> {
        let text = MessageText::parse(text).map_err(ChatError::text("chatmessage"))?;
        let target = self.room_target(room_id, id).await?;
        if target.bot {
            return Err(ChatError::Forbidden("the bot's answers cannot be edited"));
        }
        if target.user_id != user.user_id {
            return Err(ChatError::Forbidden("only the author may edit a message"));
        }
        if target.deleted {
            return Err(ChatError::Conflict("the message is deleted"));
        }
        self.rate_check(user)?;
        match store::changes::apply(&self.db, room_id, id, Op::Edit(text.as_str())).await? {
            Applied::Changed(m) => {
                self.announce(&m, Change::Edited);
                Ok(m)
            }
            _ => Err(ChatError::Conflict("the message is deleted")),
        }
    }

    /// Deletes message `id` of a room (its author, or the room's creator). Deleting a deleted
    /// message does nothing and is not an error.
    pub async fn delete_room_message(&self, user: &AuthUser, room_id: i64, id: i64) -> Result<(), ChatError> {
        let target = self.room_target(room_id, id).await?;
        let creator = target.room_creator == Some(user.user_id);
        if target.user_id != user.user_id && !creator {
            return Err(ChatError::Forbidden(
                "only the author or the room's creator may delete a message",
            ));
        }
        if target.deleted {
            return Ok(());
        }
        self.rate_check(user)?;
        if let Applied::Changed(m) = store::changes::apply(&self.db, room_id, id, Op::Delete).await? {
            tracing::info!(room_id, message_id = id, by = %user.username, "message deleted");
            self.announce(&m, Change::Deleted);
        }
        Ok(())
    }

    /// Adds or takes back `user`'s reaction `emoji` on message `id` of a room. Doing what is
    /// already so changes nothing and is not an error.
    pub async fn react_in_room(
        &self,
        user: &AuthUser,
        room_id: i64,
        id: i64,
        emoji: &str,
        toggle: Toggle,
    ) -> Result<(), ChatError> {
        let emoji = Emoji::parse(emoji).map_err(|why| ChatError::invalid("emoji", why))?;
        let target = self.room_target(room_id, id).await?;
        if target.deleted {
            // A deleted message has no reactions: taking one back is already done.
            return match toggle {
                Toggle::Remove => Ok(()),
                Toggle::Add => Err(ChatError::Conflict("the message is deleted")),
            };
        }
        self.rate_check(user)?;
        let on = toggle == Toggle::Add;
        let op = Op::React {
            user_id: user.user_id,
            emoji: emoji.as_str(),
            on,
        };
        match store::changes::apply(&self.db, room_id, id, op).await? {
            Applied::Changed(m) => {
                self.announce(
                    &m,
                    Change::Reaction {
                        emoji: emoji.as_str().to_string(),
                        username: user.username.clone(),
                        on,
                    },
                );
                Ok(())
            }
            Applied::Unchanged => Ok(()),
            Applied::Gone => Err(ChatError::Conflict("the message is deleted")),
            Applied::TooManyEmoji => Err(ChatError::Conflict(
                "this message has as many different reactions as it can",
            )),
        }
    }

    /// Message `id` of room `room_id`, or why not.
    async fn room_target(&self, room_id: i64, id: i64) -> Result<store::changes::Target, ChatError> {
        match store::changes::target(&self.db, room_id, id).await? {
            Some(t) => Ok(t),
            None => {
                self.room(room_id).await?;
                Err(ChatError::NotFound(format!("message {id} is not in this room")))
            }
        }
    }

    /// Publishes a stored change to every instance's sockets in the room.
    fn announce(&self, message: &RoomMessage, change: Change) {
        self.bus.publish(Event::RoomChanges {
            changes: vec![RoomChange {
                message: message.clone(),
                change,
            }],
        });
    }

    /// Which of messages `ids`' reactions (room or direct messages) are `user_id`'s.
    pub async fn my_reactions(
        &self,
        kind: Kind,
        user_id: i64,
        ids: &[i64],
    ) -> Result<std::collections::HashSet<(i64, String)>, ChatError> {
        if ids.is_empty() {
            return Ok(Default::default());
        }
        Ok(store::changes::mine(&self.db, kind, user_id, ids)
            .await?
            .into_iter()
            .collect())
    }

    /// Changes direct message `id` of `user`'s conversation with `peer`: `Op::Edit` and
    /// `Op::Delete` by its author only, reactions by either. The message as it is now, or
    /// `None` when nothing changed.
    pub async fn change_direct(
        &self,
        user: &AuthUser,
        peer: &str,
        id: i64,
        op: Op<'_>,
    ) -> Result<Option<DirectMessage>, ChatError> {
        if peer.eq_ignore_ascii_case(BOT_NAME) {
            return Err(ChatError::UnknownUser);
        }
        let peer = self.user_named(peer).await?;
        let Some((author, deleted)) =
            store::changes::direct_author(&self.db, user.user_id, peer.id, id).await?
        else {
            return Err(ChatError::NotFound(format!(
                "message {id} is not in this conversation"
            )));
        };
        let change = match op {
            Op::Edit(_) | Op::Delete if author != user.user_id => {
                return Err(ChatError::Forbidden("only the author may change a message"));
            }
            Op::Delete | Op::React { on: false, .. } if deleted => return Ok(None),
            _ if deleted => return Err(ChatError::Conflict("the message is deleted")),
            Op::Edit(_) => Change::Edited,
            Op::Delete => Change::Deleted,
            Op::React { emoji, on, .. } => Change::Reaction {
                emoji: emoji.to_string(),
                username: user.username.clone(),
                on,
            },
        };
        self.rate_check(user)?;
        match store::changes::apply_direct(&self.db, id, op).await? {
            Applied::Changed(m) => {
                self.bus.publish(Event::DirectChanged {
                    message: m.clone(),
                    change,
                });
                Ok(Some(m))
            }
            Applied::Unchanged => Ok(None),
            Applied::Gone => Err(ChatError::Conflict("the message is deleted")),
            Applied::TooManyEmoji => Err(ChatError::Conflict(TOO_MANY_EMOJI)),
        }
    }
}
