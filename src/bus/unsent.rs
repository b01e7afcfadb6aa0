//! The publisher's bookkeeping, without I/O: what failed to reach the broker and must be made
//! up for (`Unsent`), and the publishes awaiting the broker's confirm (`Confirms`, which
//! readiness reads).

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use tickertalk_wire::{Event, RoomTip};

use super::codec::{Outgoing, Redo};

/// Events that must reach other instances (direct messages, new rooms, read markers) whose
/// publish failed are kept, at most this many, and published again once the broker is back.
/// Room messages need no copy: the room's tip (its highest seq) is enough for other instances
/// to read them from PostgreSQL, and there is one tip per room.
pub(super) const UNSENT_KEPT: usize = 1024;

/// Confirms outstanding with no progress for this long make the instance not ready.
pub(super) const STALL_AFTER: Duration = Duration::from_secs(3);

/// What failed to reach the broker, waiting for it to come back.
#[derive(Debug, Default)]
pub(super) struct Unsent {
    /// Per room, the highest seq whose publish failed.
    tips: HashMap<i64, i64>,
    /// Events to publish again (the oldest dropped beyond `UNSENT_KEPT`).
    again: VecDeque<(String, Vec<u8>)>,
}

impl Unsent {
    /// Remembers a failed publish; false when an older event had to be forgotten for it.
    pub fn add(&mut self, out: Outgoing) -> bool {
        match out.redo {
            Redo::Nothing => true,
            Redo::Tips(tips) => {
                for t in tips {
                    let seq = self.tips.entry(t.room_id).or_insert(t.seq);
                    *seq = (*seq).max(t.seq);
                }
                true
            }
            Redo::Again => {
                self.again.push_back((out.key, out.payload));
                if self.again.len() > UNSENT_KEPT {
                    self.again.pop_front();
                    return false;
                }
                true
            }
        }
    }

    /// How many events `take` would return.
    pub fn len(&self) -> usize {
        usize::from(!self.tips.is_empty()) + self.again.len()
    }

    /// Everything, as the events to publish now: the tips first (one event per room shard),
    /// then the rest in the order they failed.
    pub fn take(&mut self) -> Vec<Outgoing> {
        let mut out = Vec::new();
        if !self.tips.is_empty() {
            let mut tips: Vec<RoomTip> = self
                .tips
                .drain()
                .map(|(room_id, seq)| RoomTip { room_id, seq })
                .collect();
            tips.sort_unstable_by_key(|t| t.room_id);
            out.extend(Outgoing::all(&Event::RoomTips { tips }));
        }
        out.extend(self.again.drain(..).map(|(key, payload)| Outgoing {
            key,
            payload,
            redo: Redo::Again,
        }));
        out
    }
}

/// Publishes sent and not yet confirmed, and when they last made progress.
#[derive(Debug)]
pub(super) struct Confirms {
    in_flight: usize,
    progress: Instant,
}

impl Confirms {
    pub fn new(now: Instant) -> Confirms {
        Confirms {
            in_flight: 0,
            progress: now,
        }
    }

    pub fn started(&mut self, now: Instant) {
        if self.in_flight == 0 {
            self.progress = now;
        }
        self.in_flight += 1;
    }

    /// A confirm arrived (`ok`) or the publish failed; only a confirm is progress.
    pub fn finished(&mut self, ok: bool, now: Instant) {
        self.in_flight = self.in_flight.saturating_sub(1);
        if ok {
            self.progress = now;
        }
    }

    pub fn in_flight(&self) -> usize {
        self.in_flight
    }

    /// Publishes are waiting and none was confirmed for `STALL_AFTER`: the broker takes
    /// publishes but does not confirm them (frozen, or out of memory or disk).
    pub fn stalled(&self, now: Instant) -> bool {
        self.in_flight > 0 && now.duration_since(self.progress) > STALL_AFTER
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bus::codec::encode;

    fn tip(room_id: i64, seq: i64) -> RoomTip {
        RoomTip { room_id, seq }
    }

    fn failed(redo: Redo, payload: &[u8]) -> Outgoing {
        Outgoing {
            key: "k".into(),
            payload: payload.to_vec(),
            redo,
        }
    }

    #[test]
    fn unsent_tips_keep_the_highest_seq_per_room_and_come_out_first() {
        let mut unsent = Unsent::default();
        assert!(unsent.add(failed(Redo::Again, b"created")));
        assert!(unsent.add(failed(Redo::Tips(vec![tip(2, 9), tip(1, 3)]), b"")));
        assert!(
            unsent.add(failed(Redo::Tips(vec![tip(2, 5)]), b"")),
            "older: kept at 9"
        );
        assert!(unsent.add(failed(Redo::Nothing, b"typing")));
        assert_eq!(unsent.len(), 2);
        let out = unsent.take();
        // Rooms 1 and 2 are in different shards: one tips event each, then the rest.
        assert_eq!(out.len(), 3);
        for (i, room) in [1, 2].into_iter().enumerate() {
            let seq = if room == 1 { 3 } else { 9 };
            let tips = Event::RoomTips {
                tips: vec![tip(room, seq)],
            };
            assert_eq!(out[i].payload, encode(&tips));
            assert_eq!(out[i].key, format!("shard.{room}.tips"));
            assert_eq!(
                out[i].redo,
                Redo::Tips(vec![tip(room, seq)]),
                "fails again the same way"
            );
        }
        assert_eq!(out[2].payload, b"created");
        assert!(unsent.take().is_empty(), "taken once");
    }

    #[test]
    fn unsent_events_beyond_the_limit_drop_the_oldest() {
        let mut unsent = Unsent::default();
        for i in 0..UNSENT_KEPT {
            let mut out = failed(Redo::Again, b"");
            out.key = i.to_string();
            assert!(unsent.add(out));
        }
        let mut last = failed(Redo::Again, b"");
        last.key = "last".into();
        assert!(!unsent.add(last), "one had to go");
        let keys: Vec<String> = unsent.take().into_iter().map(|o| o.key).collect();
        assert_eq!(keys.len(), UNSENT_KEPT);
        assert_eq!(keys[0], "1", "the oldest went");
        assert_eq!(keys.last().unwrap(), "last");
    }

    #[test]
    fn confirms_stall_only_while_waiting_without_progress() {
        let t0 = Instant::now();
        let later = |secs| t0 + Duration::from_secs(secs);
        let mut c = Confirms::new(t0);
        assert!(!c.stalled(later(60)), "nothing waits: idle, not stalled");
        c.started(later(60));
        c.started(later(61));
        assert!(!c.stalled(later(62)));
        assert!(c.stalled(later(64)), "nothing confirmed for over 3 s");
        c.finished(true, later(64));
        assert!(!c.stalled(later(65)), "a confirm is progress");
        c.finished(false, later(66));
        assert_eq!(c.in_flight(), 0);
        assert!(!c.stalled(later(100)), "a failure ends the wait too");
        c.started(later(100));
        c.finished(false, later(101));
        c.started(later(110));
        assert!(!c.stalled(later(111)), "a new wait starts its clock afresh");
    }
}
