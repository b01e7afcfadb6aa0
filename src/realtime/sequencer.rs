//! One room's delivery order, without I/O or a clock (the sans-IO shape of quinn-proto's
//! state machines): feed it the room's floor, messages, tips and the end of gap fills; it
//! answers with the messages to deliver now, in `seq` order, and whether a gap must be filled.
//! The hub keeps one per room with local sockets and does what it says; `gaps` does the reads.
//!
//! Why a gap appears at all: instances publish after their own commit, so two instances can
//! publish a room's messages out of order, and a message stored while the broker was down
//! never reaches the broker. Either way the gap is noticed here and filled from PostgreSQL.

use std::collections::BTreeMap;

/// When a requested fill should read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fill {
    /// After the gap wait: the missing messages are probably just late (another instance's
    /// publish), and most gaps close by themselves within it.
    AfterWait,
    /// Now, and up to the newest stored message: the broker connection came back, or another
    /// instance announced messages this one never heard of.
    Now,
}

/// What the sequencer asks of its owner after one input.
#[derive(Debug, PartialEq)]
pub struct Step<M> {
    /// Messages to deliver now, in order.
    pub deliver: Vec<M>,
    /// A fill to start (never while one is running: at most one per room).
    pub fill: Option<Fill>,
}

impl<M> Step<M> {
    fn none() -> Step<M> {
        Step {
            deliver: Vec::new(),
            fill: None,
        }
    }
}

/// One room's sequencer.
#[derive(Debug)]
pub struct RoomSequencer<M> {
    /// The next seq to deliver; `None` until the room's floor is known.
    next: Option<i64>,
    /// Messages that arrived ahead of a gap (or before the floor), by seq.
    pending: BTreeMap<i64, M>,
    /// A fill was requested and has not reported `fill_done`.
    filling: bool,
    /// The running fill reads up to the newest message (`Fill::Now`), not only the gap.
    to_end: bool,
    /// The highest seq another instance said is stored (`tip`): messages up to it exist even
    /// if no event of theirs arrives, so a fill reads up to it.
    known_last: i64,
}

impl<M> Default for RoomSequencer<M> {
    fn default() -> Self {
        RoomSequencer {
            next: None,
            pending: BTreeMap::new(),
            filling: false,
            to_end: false,
            known_last: 0,
        }
    }
}

impl<M> RoomSequencer<M> {
    /// Whether the room's floor is known (a joiner need not read it again).
    pub fn has_floor(&self) -> bool {
        self.next.is_some()
    }

    /// The room's latest stored seq as read after a join. Only the first floor counts; what
    /// arrived before it and is newer is delivered, the rest dropped (the joiner's replay has
    /// it).
    pub fn floor(&mut self, last_seq: i64) -> Step<M> {
        if self.next.is_some() {
            return Step::none();
        }
        self.next = Some(last_seq + 1);
        self.pending = self.pending.split_off(&(last_seq + 1));
        let deliver = self.drain();
        // Held-back messages behind a gap must not wait for the room's next event.
        let fill = if self.pending.is_empty() {
            None
        } else {
            self.request(Fill::AfterWait)
        };
        Step { deliver, fill }
    }

    /// A stored message: delivered if it is next (with any held back behind it), held back
    /// if a gap is before it (asking for a fill), dropped if already delivered.
    pub fn offer(&mut self, seq: i64, msg: M) -> Step<M> {
        match self.next {
            None => {
                self.pending.insert(seq, msg);
                Step::none()
            }
            Some(next) if seq < next => Step::none(),
            Some(next) if seq == next => {
                let mut deliver = vec![msg];
                self.next = Some(next + 1);
                deliver.extend(self.drain());
                Step { deliver, fill: None }
            }
            Some(_) => {
                self.pending.insert(seq, msg);
                Step {
                    deliver: Vec::new(),
                    fill: self.request(Fill::AfterWait),
                }
            }
        }
    }

    /// Another instance says messages up to `seq` are stored: read them now if they are ahead.
    pub fn tip(&mut self, seq: i64) -> Option<Fill> {
        let next = self.next?;
        if seq < next {
            return None;
        }
        self.known_last = self.known_last.max(seq);
        self.request(Fill::Now)
    }

    /// The broker connection is back: whatever was stored meanwhile must be read.
    pub fn resync(&mut self) -> Option<Fill> {
        self.next?;
        self.request(Fill::Now)
    }

    /// The seqs the running fill should read next, inclusive: the gap before the first
    /// message held back, or (for `Fill::Now`, or up to a tip) everything newer. `None`: done.
    pub fn fill_range(&self) -> Option<(i64, i64)> {
        let next = self.next?;
        match self.pending.keys().next() {
            Some(&first) if first > next => Some((next, first - 1)),
            Some(_) => None,
            None if self.to_end || self.known_last >= next => Some((next, i64::MAX)),
            None => None,
        }
    }

    /// The running fill read every position up to `to`, and a later position is held back:
    /// positions up to `to` are committed (they are taken in commit order, under the room's
    /// lock), so one still missing was superseded (a later change of the same message) or
    /// deleted with its author's account. Skips them and delivers what they held back.
    pub fn read_up_to(&mut self, to: i64) -> Step<M> {
        match self.next {
            Some(next) if to >= next && self.pending.keys().next().is_some_and(|&first| first > to) => {
                self.next = Some(to + 1);
                Step {
                    deliver: self.drain(),
                    fill: None,
                }
            }
            _ => Step::none(),
        }
    }

    /// The running fill finished; `read_any`: some read of it found messages. Asks for another
    /// fill while a gap remains: after the gap wait for messages still held back, at once for a
    /// tip that arrived while it was reading (it may have read too early to see them), unless
    /// this fill found nothing at all (the messages are gone: deleted with their author's
    /// account), in which case the tip is forgotten.
    pub fn fill_done(&mut self, read_any: bool) -> Step<M> {
        self.filling = false;
        self.to_end = false;
        let deliver = self.drain();
        let mut fill = None;
        if !self.pending.is_empty() {
            fill = self.request(Fill::AfterWait);
        } else if self.next.is_some_and(|next| self.known_last >= next) {
            if read_any {
                fill = self.request(Fill::Now);
            } else {
                self.known_last = 0;
            }
        }
        Step { deliver, fill }
    }

    fn request(&mut self, fill: Fill) -> Option<Fill> {
        if self.filling {
            return None;
        }
        self.filling = true;
        self.to_end = fill == Fill::Now;
        Some(fill)
    }

    /// Pending messages that are now in sequence.
    fn drain(&mut self) -> Vec<M> {
        let mut out = Vec::new();
        while let Some(next) = self.next {
            let Some(msg) = self.pending.remove(&next) else {
                break;
            };
            out.push(msg);
            self.next = Some(next + 1);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A room whose floor is `last`: messages are their own seqs.
    fn room(last: i64) -> RoomSequencer<i64> {
        let mut r = RoomSequencer::default();
        assert_eq!(r.floor(last), Step::none());
        r
    }

    fn offer(r: &mut RoomSequencer<i64>, seq: i64) -> Step<i64> {
        r.offer(seq, seq)
    }

    fn step(deliver: &[i64], fill: Option<Fill>) -> Step<i64> {
        Step {
            deliver: deliver.to_vec(),
            fill,
        }
    }

    #[test]
    fn in_order_messages_are_delivered_at_once() {
        let mut r = room(10);
        assert_eq!(offer(&mut r, 11), step(&[11], None));
        assert_eq!(offer(&mut r, 12), step(&[12], None));
    }

    #[test]
    fn out_of_order_messages_wait_for_the_gap_and_ask_for_one_fill() {
        let mut r = room(10);
        assert_eq!(offer(&mut r, 12), step(&[], Some(Fill::AfterWait)));
        assert_eq!(offer(&mut r, 13), step(&[], None), "one fill at a time");
        assert_eq!(r.fill_range(), Some((11, 11)), "only the gap");
        assert_eq!(offer(&mut r, 11), step(&[11, 12, 13], None));
        assert_eq!(r.fill_range(), None, "nothing left to read");
        assert_eq!(r.fill_done(false), step(&[], None));
    }

    #[test]
    fn duplicates_and_old_messages_are_dropped() {
        let mut r = room(10);
        offer(&mut r, 11);
        assert_eq!(offer(&mut r, 11), step(&[], None));
        assert_eq!(offer(&mut r, 3), step(&[], None));
        offer(&mut r, 13);
        assert_eq!(offer(&mut r, 13), step(&[], None), "a held-back duplicate");
        assert_eq!(offer(&mut r, 12), step(&[12, 13], None));
    }

    #[test]
    fn messages_before_the_floor_is_known_are_kept_and_sorted_by_it() {
        let mut r = RoomSequencer::default();
        assert!(!r.has_floor());
        assert_eq!(r.resync(), None, "no floor: nothing to read yet");
        assert_eq!(r.tip(9), None);
        assert_eq!(offer(&mut r, 5), step(&[], None));
        assert_eq!(offer(&mut r, 6), step(&[], None));
        assert_eq!(r.floor(5), step(&[6], None), "5 is in the joiner's replay");
        assert!(r.has_floor());
        assert_eq!(r.floor(0), step(&[], None), "only the first floor counts");
        assert_eq!(offer(&mut r, 7), step(&[7], None));
    }

    #[test]
    fn a_gap_behind_the_floor_asks_for_a_fill_at_once() {
        let mut r = RoomSequencer::default();
        offer(&mut r, 8);
        assert_eq!(r.floor(5), step(&[], Some(Fill::AfterWait)));
        assert_eq!(r.fill_range(), Some((6, 7)));
    }

    #[test]
    fn a_filled_gap_delivers_everything_held_back() {
        let mut r = room(0);
        offer(&mut r, 3);
        offer(&mut r, 4);
        assert_eq!(r.fill_range(), Some((1, 2)));
        // What the fill read comes in like any message.
        assert_eq!(offer(&mut r, 1), step(&[1], None));
        assert_eq!(offer(&mut r, 2), step(&[2, 3, 4], None));
        assert_eq!(r.fill_done(true), step(&[], None));
        assert_eq!(offer(&mut r, 5), step(&[5], None));
    }

    #[test]
    fn positions_a_fill_found_empty_are_skipped() {
        let mut r = room(0);
        offer(&mut r, 3);
        offer(&mut r, 5);
        assert_eq!(r.fill_range(), Some((1, 2)));
        // The read found 1; 2 was superseded by a later change.
        assert_eq!(offer(&mut r, 1), step(&[1], None));
        assert_eq!(r.read_up_to(2), step(&[3], None));
        assert_eq!(r.fill_range(), Some((4, 4)), "the next gap");
        assert_eq!(r.read_up_to(4), step(&[5], None));
        assert_eq!(r.fill_range(), None);
        assert_eq!(r.fill_done(false), step(&[], None));
        assert_eq!(
            r.read_up_to(9),
            step(&[], None),
            "nothing held back: nothing to skip to"
        );
        assert_eq!(offer(&mut r, 6), step(&[6], None));
    }

    #[test]
    fn a_gap_that_stays_open_asks_again_after_the_wait() {
        let mut r = room(0);
        offer(&mut r, 3);
        // The fill read 1 only (2 not committed yet, or gone).
        offer(&mut r, 1);
        assert_eq!(r.fill_range(), Some((2, 2)));
        assert_eq!(r.fill_done(true), step(&[], Some(Fill::AfterWait)));
        assert_eq!(offer(&mut r, 2), step(&[2, 3], None));
    }

    #[test]
    fn a_reconnect_reads_everything_newer() {
        let mut r = room(4);
        assert_eq!(r.resync(), Some(Fill::Now));
        assert_eq!(r.fill_range(), Some((5, i64::MAX)));
        assert_eq!(offer(&mut r, 5), step(&[5], None));
        assert_eq!(r.fill_done(true), step(&[], None));
        assert_eq!(r.fill_range(), None, "back to gap-only reads");
    }

    #[test]
    fn a_tip_ahead_reads_up_to_it_and_a_tip_behind_is_ignored() {
        let mut r = room(4);
        assert_eq!(r.tip(4), None, "already delivered");
        assert_eq!(r.tip(7), Some(Fill::Now));
        assert_eq!(r.tip(8), None, "the running fill will see it");
        assert_eq!(r.fill_range(), Some((5, i64::MAX)));
        for seq in 5..=7 {
            offer(&mut r, seq);
        }
        // 8 was stored after the read: the tip is still ahead, so read again.
        assert_eq!(r.fill_done(true), step(&[], Some(Fill::Now)));
        assert_eq!(offer(&mut r, 8), step(&[8], None));
        assert_eq!(r.fill_done(true), step(&[], None));
    }

    #[test]
    fn a_tip_naming_messages_that_are_gone_is_given_up() {
        let mut r = room(4);
        assert_eq!(r.tip(9), Some(Fill::Now));
        // The read found nothing: the messages were deleted since.
        assert_eq!(r.fill_done(false), step(&[], None));
        assert_eq!(r.fill_range(), None);
        assert_eq!(offer(&mut r, 5), step(&[5], None), "the room goes on");
    }
}
