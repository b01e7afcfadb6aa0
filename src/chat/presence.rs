//! Being in a room: the room's sequence floor and replay a joining socket needs, presence (who
//! is here, across every instance) and typing notices. The real-time layer calls these; the
//! sockets themselves live there.

use tickertalk_wire::{Event, RoomMessage};
use uuid::Uuid;

use super::{Chat, ChatError};
use crate::auth::AuthUser;
use crate::store;

impl Chat {
    /// The room's latest message sequence number (`UnknownRoom` if it does not exist). Read
    /// after a socket registered in the room, so no live message can fall between the two.
    pub async fn room_floor(&self, room_id: i64) -> Result<i64, ChatError> {
        store::rooms::last_seq(&self.db, room_id)
            .await?
            .ok_or(ChatError::UnknownRoom)
    }

    /// Stored messages of a room after message id `since`, oldest first, at most `limit`.
    pub async fn replay(&self, room_id: i64, since: i64, limit: i64) -> Result<Vec<RoomMessage>, ChatError> {
        Ok(store::messages::after(&self.db, room_id, since, limit).await?)
    }

    /// Records socket `conn_id` of `user` in a room, announcing `joined` to the room when it is
    /// the user's first socket there, and returns who is in the room now (one round trip).
    /// Presence is advisory: a failure is logged, not raised, and the list is then read alone.
    pub async fn enter_presence(&self, user: &AuthUser, conn_id: Uuid, room_id: i64) -> Vec<String> {
        match store::presence::enter_and_list(&self.db, self.instance_id, conn_id, room_id, user.user_id)
            .await
        {
            Ok((first, users)) => {
                if first {
                    // Ephemeral: handed to the broker in order, its confirm not awaited.
                    self.bus
                        .publish_in_order(Event::Presence {
                            room_id,
                            conn_id,
                            joined: Some(user.username.clone()),
                            left: None,
                        })
                        .await;
                }
                users
            }
            Err(e) => {
                tracing::warn!(room_id, error = %e, "presence not recorded");
                self.present_users(room_id).await
            }
        }
    }

    /// Forgets socket `conn_id` in a room, announcing `left` when the user has no socket there
    /// any more (on any instance).
    pub async fn leave_presence(&self, user: &AuthUser, conn_id: Uuid, room_id: i64) {
        match store::presence::leave(&self.db, conn_id, room_id, user.user_id).await {
            Ok(true) => {
                self.bus
                    .publish_in_order(Event::Presence {
                        room_id,
                        conn_id,
                        joined: None,
                        left: Some(user.username.clone()),
                    })
                    .await
            }
            Ok(false) => {}
            Err(e) => tracing::warn!(room_id, error = %e, "presence not cleared"),
        }
    }

    /// Usernames with a live socket in the room, sorted (empty if the database is unreachable:
    /// a join must not fail over an advisory list).
    pub async fn present_users(&self, room_id: i64) -> Vec<String> {
        store::presence::users_in(&self.db, room_id)
            .await
            .unwrap_or_default()
    }

    /// Tells the room that `user` is typing; `conn_id`, the typing socket, does not get it back.
    pub async fn typing(&self, user: &AuthUser, conn_id: Uuid, room_id: i64) {
        self.bus
            .publish(Event::Typing {
                room_id,
                username: user.username.clone(),
                conn_id,
            })
            .await;
    }

    /// Keeps this instance's presence rows alive, and sweeps instances that died without
    /// cleaning up.
    pub async fn heartbeat(&self) -> Result<(), ChatError> {
        Ok(store::presence::heartbeat(&self.db, self.instance_id).await?)
    }

    /// Forgets this instance and its sockets' presence (graceful shutdown).
    pub async fn retire(&self) -> Result<(), ChatError> {
        Ok(store::presence::retire(&self.db, self.instance_id).await?)
    }
}
