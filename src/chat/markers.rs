//! Read markers and unread counts: the room list with each room's unread count for
//! this user, and moving a marker, which every socket of the user (on every instance) hears of,
//! so another tab or device clears its count too.

use tickertalk_wire::{Event, ReadMarker};

use super::{Chat, ChatError};
use crate::auth::AuthUser;
use crate::store::{self, markers::RoomEntry, markers::RoomMarker, markers::ThreadMarker};

impl Chat {
    /// Every room, by name, with how much of it `me` has not read.
    pub async fn room_list(
        &self,
        me: &AuthUser,
        after: Option<i64>,
        limit: i64,
    ) -> Result<Vec<RoomEntry>, ChatError> {
        store::markers::rooms_for(&self.db, me.user_id, after, limit)
            .await?
            .ok_or_else(|| ChatError::NotFound(format!("room {} (after) does not exist", after.unwrap_or(0))))
    }

    /// `me` has read room `room_id` up to message `message_id` (never moves back).
    pub async fn mark_room_read(
        &self,
        me: &AuthUser,
        room_id: i64,
        message_id: i64,
    ) -> Result<RoomMarker, ChatError> {
        self.room(room_id).await?;
        let marker = store::markers::mark_room(&self.db, me.user_id, room_id, message_id)
            .await?
            .ok_or_else(|| ChatError::NotFound(format!("message {message_id} is not in this room")))?;
        self.bus.publish(Event::ReadMarker(ReadMarker {
            user_id: me.user_id,
            room_id: Some(marker.room_id),
            peer: None,
            last_read_id: marker.last_read_id,
            read_seq: Some(marker.read_seq),
            unread: marker.unread,
        }));
        Ok(marker)
    }

    /// `me` has read the conversation with `peer` up to message `message_id`.
    pub async fn mark_thread_read(
        &self,
        me: &AuthUser,
        peer: &str,
        message_id: i64,
    ) -> Result<ThreadMarker, ChatError> {
        let peer = self.user_named(peer).await?;
        let marker = store::markers::mark_thread(&self.db, me.user_id, peer.id, message_id)
            .await?
            .ok_or_else(|| {
                ChatError::NotFound(format!("message {message_id} is not in this conversation"))
            })?;
        self.bus.publish(Event::ReadMarker(ReadMarker {
            user_id: me.user_id,
            room_id: None,
            peer: Some(marker.username.clone()),
            last_read_id: marker.last_read_id,
            read_seq: None,
            unread: marker.unread,
        }));
        Ok(marker)
    }
}
