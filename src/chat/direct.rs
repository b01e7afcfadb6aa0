//! Direct messages between two users: send, the inbox (one entry per conversation) and a
//! conversation's history.

use tickertalk_wire::{DirectMessage, Event};

use super::{Chat, ChatError};
use crate::auth::AuthUser;
use crate::domain::{BOT_NAME, MessageText};
use crate::store::dms::{InboxEntry, Sent};
use crate::store::{self, Taken};

/// The outcome of sending a direct message.
#[derive(Debug)]
pub enum SentDm {
    /// Stored; published to every socket of both users (the author's carry `client_id`).
    Stored(DirectMessage),
    /// A retry of a message already stored (same author, `client_id`, recipient and text):
    /// nothing new was stored or published; this is the stored message, for the author alone.
    Repeat(DirectMessage),
}

impl SentDm {
    pub fn message(&self) -> &DirectMessage {
        match self {
            SentDm::Stored(m) | SentDm::Repeat(m) => m,
        }
    }
}

impl Chat {
    /// Sends a direct message from `user` to the user named `recipient` (any case). Every socket
    /// of both users receives it, the author's carrying `client_id`. Idempotent per author and
    /// `client_id` (`SentDm::Repeat`).
    pub async fn send_dm(
        &self,
        user: &AuthUser,
        recipient: &str,
        text: &str,
        client_id: Option<String>,
    ) -> Result<SentDm, ChatError> {
        let text = MessageText::parse(text).map_err(ChatError::text("message"))?;
        // The bot has an account (its answers are stored messages) but no inbox.
        if recipient.eq_ignore_ascii_case(BOT_NAME) {
            return Err(ChatError::UnknownUser);
        }
        let peer = self.user_named(recipient).await?;
        self.rate_check(user)?;
        let sent = store::dms::insert(
            &self.db,
            user.user_id,
            peer.id,
            text.as_str(),
            client_id.as_deref(),
        )
        .await?;
        let dm = match sent {
            Sent::New(dm) => dm,
            Sent::Repeat(dm) => return Ok(SentDm::Repeat(dm)),
            Sent::Reused => return Err(ChatError::Taken(Taken::ClientId)),
        };
        metrics::counter!("tickertalk_messages_stored_total", "kind" => "direct").increment(1);
        self.bus.publish(Event::DirectMessage {
            message: dm.clone(),
            client_id,
        });
        Ok(SentDm::Stored(dm))
    }

    /// The user named `name` (any case), or `UnknownUser`.
    pub(super) async fn user_named(&self, name: &str) -> Result<store::users::User, ChatError> {
        store::users::by_username(&self.db, name)
            .await?
            .ok_or(ChatError::UnknownUser)
    }

    /// People whose username starts with `prefix` (the bot excluded), by name, after `after`.
    pub async fn find_users(
        &self,
        prefix: &str,
        after: Option<&str>,
        limit: i64,
    ) -> Result<Vec<String>, ChatError> {
        Ok(store::users::search(&self.db, prefix, after, limit).await?)
    }

    pub async fn inbox(&self, me: &AuthUser) -> Result<Vec<InboxEntry>, ChatError> {
        Ok(store::dms::inbox(&self.db, me.user_id).await?)
    }

    /// Inbox entries `offset ..`, at most `limit`, newest conversation first (`/api/inbox`).
    pub async fn inbox_page(
        &self,
        me: &AuthUser,
        offset: i64,
        limit: i64,
    ) -> Result<Vec<InboxEntry>, ChatError> {
        Ok(store::dms::inbox_page(&self.db, me.user_id, offset, limit).await?)
    }

    /// Messages `offset ..` of the conversation with `peer`, at most `limit`, newest first
    /// (`/api/thread`).
    pub async fn thread_newest_first(
        &self,
        me: &AuthUser,
        peer: &str,
        offset: i64,
        limit: i64,
    ) -> Result<Vec<DirectMessage>, ChatError> {
        let peer = self.user_named(peer).await?;
        Ok(store::dms::thread_newest_first(&self.db, me.user_id, peer.id, offset, limit).await?)
    }

    /// Direct messages to or from `user_id` after id `since`, oldest first, at most `limit`.
    pub async fn direct_since(
        &self,
        user_id: i64,
        since: i64,
        limit: i64,
    ) -> Result<Vec<DirectMessage>, ChatError> {
        Ok(store::dms::since(&self.db, user_id, since, limit).await?)
    }

    /// The latest `limit` messages with the user named `peer` (before message `before`),
    /// oldest first.
    pub async fn thread(
        &self,
        me: &AuthUser,
        peer: &str,
        before: Option<i64>,
        limit: i64,
    ) -> Result<Vec<DirectMessage>, ChatError> {
        let peer = self.user_named(peer).await?;
        Ok(store::dms::thread(&self.db, me.user_id, peer.id, before, limit).await?)
    }
}
