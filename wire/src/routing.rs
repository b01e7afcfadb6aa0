//! How events are routed on the topic exchange: room events by interest, the rest to everyone.
//!
//! A room event's routing key names the room's shard (`shard.<n>.<what>`, `n` = room id modulo
//! `ROOM_SHARDS`); an instance binds `shard.<n>.#` while any of its sockets is in a room of
//! shard `n`, so it receives the events of its own rooms (and of the few other rooms that share
//! their shards) instead of every room's. Shards, not rooms: an instance has at most
//! `ROOM_SHARDS` bindings however many rooms its users join, which bounds what a join flood can
//! cost the broker and what an instance's crash removes at once (`docs/scaling.md`).
//!
//! Everything else (direct messages, read markers, logouts, new and renamed rooms, and each
//! instance's once-a-second summary of the rooms it stored messages in) is keyed
//! `user.…`, `session.…` or `room.…` and reaches every instance through `BROADCAST_BINDINGS`.

use std::collections::BTreeMap;

use crate::Event;

/// Shards of the room id space. Every process of a deployment must agree on it (it is part of
/// the routing key), so it is a constant, not a setting. 4,096: room ids are consecutive, so
/// 5,000 rooms put one or two rooms in each shard, and an instance with sockets in a fifth of
/// them receives about 1.3 times the events it needs (docs/scaling.md works it out).
pub const ROOM_SHARDS: i64 = 4096;

/// The bindings every instance queue has whatever its sockets do.
pub const BROADCAST_BINDINGS: [&str; 3] = ["user.#", "session.#", "room.#"];

/// The shard a room's events are routed by.
pub fn shard_of(room_id: i64) -> i64 {
    room_id.rem_euclid(ROOM_SHARDS)
}

/// The binding that brings a shard's room events.
pub fn shard_binding(shard: i64) -> String {
    format!("shard.{shard}.#")
}

impl Event {
    /// Topic routing key: `shard.<n>.<what>` for a room event (a batch must be of one shard:
    /// see `split_by_shard`), `user.<id>.<what>`, `room.<id>.<what>` or `session.<what>`.
    pub fn routing_key(&self) -> String {
        let shard =
            |what: &str, room_id: Option<i64>| format!("shard.{}.{what}", shard_of(room_id.unwrap_or(0)));
        match self {
            Event::RoomMessages { messages } => {
                shard("messages", messages.first().map(|p| p.message.room_id))
            }
            Event::RoomTips { tips } => shard("tips", tips.first().map(|t| t.room_id)),
            Event::RoomChanges { changes } => shard("changes", changes.first().map(|c| c.message.room_id)),
            Event::Presences { changes } => shard("presence", changes.first().map(|c| c.room_id)),
            Event::BotReply(r) => shard("bot", Some(r.room_id)),
            Event::Typing { room_id, .. } => shard("typing", Some(*room_id)),
            Event::Ticker(t) => shard("ticker", Some(t.room_id)),
            Event::DirectChanged { message, .. } => format!("user.{}.dm_changed", message.recipient_id),
            Event::DirectTyping { recipient_id, .. } => format!("user.{recipient_id}.typing"),
            Event::UsageReply { user_id, .. } => format!("user.{user_id}.usage"),
            Event::DirectMessage { message, .. } => format!("user.{}.dm", message.recipient_id),
            Event::ReadMarker(m) => format!("user.{}.read", m.user_id),
            Event::RoomUpdated(r) => format!("room.{}.updated", r.id),
            Event::RoomCreated(r) => format!("room.{}.created", r.id),
            Event::RoomActivity { .. } => "room.activity".into(),
            Event::SessionRevoked { .. } => "session.revoked".into(),
            Event::RevocationHeard { .. } => "session.revocation_heard".into(),
        }
    }

    /// A batch of several rooms' items whose rooms fall in more than one shard, as one batch
    /// per shard (each room's items in their order); `None` when the event goes as it is (the
    /// common case, and no copy is made).
    pub fn split_by_shard(&self) -> Option<Vec<Event>> {
        match self {
            Event::RoomMessages { messages } => Some(
                by_shard(messages, |p| p.message.room_id)?
                    .into_iter()
                    .map(|messages| Event::RoomMessages { messages })
                    .collect(),
            ),
            Event::RoomChanges { changes } => Some(
                by_shard(changes, |c| c.message.room_id)?
                    .into_iter()
                    .map(|changes| Event::RoomChanges { changes })
                    .collect(),
            ),
            Event::RoomTips { tips } => Some(
                by_shard(tips, |t| t.room_id)?
                    .into_iter()
                    .map(|tips| Event::RoomTips { tips })
                    .collect(),
            ),
            Event::Presences { changes } => Some(
                by_shard(changes, |c| c.room_id)?
                    .into_iter()
                    .map(|changes| Event::Presences { changes })
                    .collect(),
            ),
            _ => None,
        }
    }

    /// The rooms whose items this event carries, one entry per item (what an instance counts
    /// as received, and as needed when the room has local sockets).
    pub fn room_items(&self) -> Vec<i64> {
        match self {
            Event::RoomMessages { messages } => messages.iter().map(|p| p.message.room_id).collect(),
            Event::RoomChanges { changes } => changes.iter().map(|c| c.message.room_id).collect(),
            _ => Vec::new(),
        }
    }
}

/// `items` grouped by their room's shard, in order within each group; `None` when they are all
/// in one shard.
fn by_shard<T: Clone>(items: &[T], room: impl Fn(&T) -> i64) -> Option<Vec<Vec<T>>> {
    let first = shard_of(room(items.first()?));
    if items.iter().all(|i| shard_of(room(i)) == first) {
        return None;
    }
    let mut groups: BTreeMap<i64, Vec<T>> = BTreeMap::new();
    for item in items {
        groups.entry(shard_of(room(item))).or_default().push(item.clone());
    }
    Some(groups.into_values().collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::RoomTip;

    fn tips(rooms: &[i64]) -> Event {
        Event::RoomTips {
            tips: rooms
                .iter()
                .enumerate()
                .map(|(i, &room_id)| RoomTip {
                    room_id,
                    seq: i as i64,
                })
                .collect(),
        }
    }

    #[test]
    fn a_batch_of_one_shard_goes_as_it_is() {
        let ev = tips(&[5, 5 + ROOM_SHARDS, 5]);
        assert!(ev.split_by_shard().is_none());
        assert_eq!(ev.routing_key(), "shard.5.tips");
    }

    #[test]
    fn a_batch_of_several_shards_splits_keeping_each_rooms_order() {
        let parts = tips(&[1, 2, 1, 2 + ROOM_SHARDS, 1]).split_by_shard().unwrap();
        let keys: Vec<String> = parts.iter().map(Event::routing_key).collect();
        assert_eq!(keys, ["shard.1.tips", "shard.2.tips"]);
        let Event::RoomTips { tips } = &parts[0] else {
            panic!()
        };
        assert_eq!(tips.iter().map(|t| t.seq).collect::<Vec<_>>(), [0, 2, 4]);
        let Event::RoomTips { tips } = &parts[1] else {
            panic!()
        };
        assert_eq!(tips.iter().map(|t| t.seq).collect::<Vec<_>>(), [1, 3]);
    }

    #[test]
    fn shards_are_never_negative_and_bindings_match_keys() {
        assert_eq!(shard_of(-1), ROOM_SHARDS - 1);
        assert_eq!(shard_binding(7), "shard.7.#");
        // No broadcast binding catches a room event.
        assert!(BROADCAST_BINDINGS.iter().all(|b| !b.starts_with("shard")));
    }
}
