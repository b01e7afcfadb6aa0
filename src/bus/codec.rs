//! Events to and from the bytes on the broker: what a publish carries (`Outgoing`: routing
//! key, JSON payload, and how to make up for it if it never arrives), and the decoding of what
//! the consumer receives. No I/O: the publisher and the consumer call these.

use std::collections::HashMap;

use lapin::BasicProperties;
use tickertalk_wire::{Event, RoomTip};
use uuid::Uuid;

/// One event ready to publish.
#[derive(Debug)]
pub(super) struct Outgoing {
    pub key: String,
    pub payload: Vec<u8>,
    /// What to do if it never reaches the broker.
    pub redo: Redo,
}

impl Outgoing {
    /// The publishes of one event: one, or one per room shard of a batch that spans several
    /// (routing by interest: `tickertalk_wire::routing`).
    pub fn all(event: &Event) -> Vec<Outgoing> {
        match event.split_by_shard() {
            None => vec![Outgoing::of(event)],
            Some(parts) => parts.iter().map(Outgoing::of).collect(),
        }
    }

    fn of(event: &Event) -> Outgoing {
        Outgoing {
            key: event.routing_key(),
            payload: encode(event),
            redo: Redo::of(event),
        }
    }
}

/// How a failed publish is made up for (every failure is a lost connection, a lost or
/// negative confirm, or a full publish queue: the event did not, or may not, reach the others).
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Redo {
    /// Nothing: ephemeral (typing, presence) or a reply that is only useful now.
    Nothing,
    /// Stored room messages: announce each room's highest seq, and every instance behind it
    /// reads the rest from PostgreSQL. Without this, an instance whose sockets are in a room
    /// would not notice the missing messages until the room's next message showed the gap:
    /// stored, acknowledged messages could stay invisible to them indefinitely.
    Tips(Vec<RoomTip>),
    /// Publish the same event again.
    Again,
}

impl Redo {
    pub fn of(event: &Event) -> Redo {
        match event {
            Event::RoomMessages { messages } => {
                Redo::Tips(tips(messages.iter().map(|p| (p.message.room_id, p.message.rev))))
            }
            Event::RoomChanges { changes } => Redo::Tips(tips(
                changes
                    .iter()
                    .filter_map(|c| Some((c.message.room_id, c.message.changed_rev?))),
            )),
            Event::RoomTips { tips } => Redo::Tips(tips.clone()),
            Event::DirectMessage { .. }
            | Event::DirectChanged { .. }
            | Event::RoomCreated(_)
            | Event::RoomUpdated(_)
            | Event::Ticker(_)
            | Event::ReadMarker(_) => Redo::Again,
            Event::BotReply(_)
            | Event::RoomActivity { .. }
            | Event::Typing { .. }
            | Event::DirectTyping { .. }
            | Event::UsageReply { .. }
            | Event::Presences { .. }
            | Event::SessionRevoked { .. }
            | Event::RevocationHeard { .. } => Redo::Nothing,
        }
    }
}

/// Each room's highest stream position among `(room_id, position)`, by room id.
fn tips(positions: impl Iterator<Item = (i64, i64)>) -> Vec<RoomTip> {
    let mut top: HashMap<i64, i64> = HashMap::new();
    for (room_id, rev) in positions {
        let seq = top.entry(room_id).or_insert(rev);
        *seq = (*seq).max(rev);
    }
    let mut tips: Vec<RoomTip> = top
        .into_iter()
        .map(|(room_id, seq)| RoomTip { room_id, seq })
        .collect();
    tips.sort_unstable_by_key(|t| t.room_id);
    tips
}

pub(super) fn encode(event: &Event) -> Vec<u8> {
    serde_json::to_vec(event).expect("events always serialise")
}

/// What a delivery on this instance's queue means.
#[derive(Debug, PartialEq)]
pub(super) enum Received {
    /// Published by this instance, which delivered it here when it published it.
    Own,
    Event(Event),
    /// Not an event this version knows (dropped, with a warning).
    Undecodable(String),
}

/// Decodes one delivery; `me` is this instance's id, which marks its own publishes.
pub(super) fn decode(me: Uuid, props: &BasicProperties, data: &[u8]) -> Received {
    if props
        .app_id()
        .as_ref()
        .is_some_and(|id| id.as_str().parse::<Uuid>().is_ok_and(|id| id == me))
    {
        return Received::Own;
    }
    match serde_json::from_slice::<Event>(data) {
        Ok(event) => Received::Event(event),
        Err(e) => Received::Undecodable(e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;
    use tickertalk_wire::PostedMessage;

    pub(crate) fn posted(room_id: i64, seq: i64) -> PostedMessage {
        PostedMessage {
            message: tickertalk_wire::RoomMessage::plain(
                seq,
                room_id,
                seq,
                1,
                "alice".into(),
                "hi".into(),
                Utc::now(),
            ),
            client_id: None,
        }
    }

    fn tip(room_id: i64, seq: i64) -> RoomTip {
        RoomTip { room_id, seq }
    }

    #[test]
    fn a_failed_batch_is_made_up_for_by_each_rooms_highest_seq() {
        let batch = Event::RoomMessages {
            messages: vec![posted(2, 7), posted(1, 3), posted(2, 8), posted(1, 4)],
        };
        assert_eq!(Redo::of(&batch), Redo::Tips(vec![tip(1, 4), tip(2, 8)]));
        let typing = Event::Typing {
            room_id: 1,
            username: "a".into(),
            conn_id: Uuid::nil(),
        };
        assert_eq!(Redo::of(&typing), Redo::Nothing, "ephemeral");
        let created = Event::RoomCreated(tickertalk_wire::RoomCreated {
            id: 1,
            name: "General".into(),
            created_at: Utc::now(),
            topic: String::new(),
        });
        assert_eq!(Redo::of(&created), Redo::Again);
    }

    #[test]
    fn an_event_encodes_under_its_routing_key_and_decodes_to_itself() {
        let event = Event::RoomMessages {
            messages: vec![posted(3, 1)],
        };
        let out = Outgoing::of(&event);
        assert_eq!(out.key, "shard.3.messages");
        let props = BasicProperties::default();
        assert_eq!(
            decode(Uuid::new_v4(), &props, &out.payload),
            Received::Event(event)
        );
    }

    #[test]
    fn own_publishes_are_recognised_and_garbage_is_named() {
        let me = Uuid::new_v4();
        let mine = BasicProperties::default().with_app_id(me.to_string().into());
        let payload = encode(&Event::SessionRevoked {
            session_id: Uuid::nil(),
        });
        assert_eq!(decode(me, &mine, &payload), Received::Own);
        let theirs = BasicProperties::default().with_app_id(Uuid::new_v4().to_string().into());
        assert!(matches!(decode(me, &theirs, &payload), Received::Event(_)));
        assert!(matches!(
            decode(me, &theirs, br#"{"kind":"room_message","x":1}"#),
            Received::Undecodable(_)
        ));
    }
}
