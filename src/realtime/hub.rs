//! The per-instance registry of sockets and rooms, and the broadcast of frames to them.
//!
//! Each event is serialised once (`protocol`); every socket that gets it receives the same
//! `Utf8Bytes` through its bounded channel (a `try_send`: never a wait, never a per-socket JSON
//! encode). A socket whose channel is full is told to close (1013) instead of being buffered.
//!
//! What is not registry or broadcast lives beside it: the order of a room's messages in a
//! `RoomSequencer` per room (which this hub obeys), the reads that fill its gaps in `gaps`,
//! and what goes out on a tick (presence notices, room activity) in `ticks`.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use tokio::sync::{Notify, mpsc};
use tokio_tungstenite::tungstenite::Utf8Bytes;
use uuid::Uuid;

use tickertalk_wire::{Event, PresenceChange, RoomTip};

use super::gaps::GapRequests;
use super::protocol::{self, Dialect, DirectFrames, RoomFrames};
use super::sequencer::{RoomSequencer, Step};
use super::ticks::{Notice, Ticks};
use crate::auth::SessionCache;
use crate::bus::{EventSink, Interest};

/// One socket's id: random, so it can also key its presence rows across instances.
pub type ConnId = Uuid;

/// What a socket task receives from the hub.
#[derive(Debug, Clone)]
pub enum Outbound {
    /// A frame to send as is.
    Frame(Utf8Bytes),
    /// An item of a room's stream (a stored message, or a change to one); the socket skips it
    /// when a `since` replay already sent that position. `stored_at`: the message's
    /// `created_at` in microseconds since the epoch (the delivery latency).
    Room {
        room_id: i64,
        position: i64,
        stored_at: i64,
        frame: Utf8Bytes,
    },
    /// A stored direct message; skipped when the connect-time `dm_since` replay sent that id.
    Direct { id: i64, frame: Utf8Bytes },
    /// A room's presence notices of one tick, shared by every member: each is written, in
    /// order, to every socket but the one that caused it (which got the full list instead).
    Notices(Arc<Vec<Notice>>),
}

/// Lets the hub (or a logout on any instance) ask a socket task to close with a code. The hub
/// cannot close a socket itself (the socket task owns it and may be mid-write); it leaves the
/// reason here and wakes the task.
#[derive(Default)]
pub struct Closer {
    notify: Notify,
    reason: Mutex<Option<(u16, &'static str)>>,
}

impl Closer {
    pub fn close(&self, code: u16, reason: &'static str) {
        let mut slot = self.reason.lock().expect("closer lock");
        if slot.is_none() {
            *slot = Some((code, reason));
            self.notify.notify_one();
        }
    }

    /// Resolves once `close` was called, with its code and reason.
    pub async fn closed(&self) -> (u16, &'static str) {
        loop {
            if let Some(r) = *self.reason.lock().expect("closer lock") {
                return r;
            }
            self.notify.notified().await;
        }
    }
}

/// What `Hub::join` found.
#[derive(Debug, Default, Clone, Copy)]
pub struct Joined {
    pub newly: bool,
    pub has_floor: bool,
}

/// What the hub knows of one socket.
struct Conn {
    user_id: i64,
    /// Which API's frames it speaks: direct messages are rendered per dialect.
    dialect: Dialect,
    /// To close it when its session is revoked.
    session_id: Uuid,
    /// Bounded: a full channel means the client stopped reading, and closes it.
    tx: mpsc::Sender<Outbound>,
    closer: Arc<Closer>,
    rooms: HashSet<i64>,
    /// The latest direct-message ids sent to it (at most `RECENT_DIRECT`): a reconnect's
    /// catch-up reads back some it has, and ids do not arrive in order, so a cursor cannot tell.
    direct_sent: std::collections::BTreeSet<i64>,
    /// The highest direct-message id delivered here when it registered: a catch-up does not
    /// push it older ones (its client read those with the thread).
    direct_floor: i64,
}

/// Direct-message ids a socket's entry remembers having sent.
const RECENT_DIRECT: usize = 512;

/// One room with local sockets: its members and its delivery order.
#[derive(Default)]
struct Room {
    members: HashSet<ConnId>,
    order: RoomSequencer<RoomFrames>,
}

/// Everything behind the hub's one lock.
#[derive(Default)]
struct Inner {
    conns: HashMap<ConnId, Conn>,
    rooms: HashMap<i64, Room>,
    /// A user's sockets, for direct messages (which go to users, not rooms).
    users: HashMap<i64, HashSet<ConnId>>,
    /// The highest direct-message id delivered here: where a reconnect's catch-up starts from
    /// (less `DIRECT_SLACK`).
    direct_high: i64,
}

/// Direct-message ids are not delivered in id order across instances (two commits race), so a
/// catch-up re-reads this many ids below the highest seen; sockets skip what they already have.
const DIRECT_SLACK: i64 = 200;

/// This instance's registry of sockets and rooms, and the broadcast of events to them.
///
/// One `std::sync::Mutex` guards it all: every operation is a few map lookups and `try_send`s,
/// never an await, so a lock held across sockets is cheaper than a lock per room would be.
pub struct Hub {
    inner: Mutex<Inner>,
    /// Where a room's sequencer asks for its gaps to be filled.
    gaps: GapRequests,
    /// Presence notices and room activity wait here for their tick.
    ticks: Arc<Ticks>,
    /// Revocations heard here drop the session from the authentication cache at once.
    sessions: Arc<SessionCache>,
    /// Told when a room gains its first local socket or loses its last, so this instance
    /// receives the events of its rooms (and not every room's).
    interest: Arc<Interest>,
}

/// The bus hands this instance's events to the hub.
impl EventSink for Hub {
    fn deliver(&self, event: Event) {
        self.dispatch(event);
    }

    fn reconnected(&self) {
        // Logouts announced while the connection was down were never heard here.
        self.sessions.clear();
        self.resync();
        // Direct messages published meanwhile never reached this instance either.
        let (users, high) = {
            let inner = self.lock();
            (inner.users.keys().copied().collect::<Vec<_>>(), inner.direct_high)
        };
        if high > 0 {
            self.gaps.request_direct(users, (high - DIRECT_SLACK).max(0));
        }
    }
}

impl Hub {
    pub fn new(
        sessions: Arc<SessionCache>,
        gaps: GapRequests,
        ticks: Arc<Ticks>,
        interest: Arc<Interest>,
    ) -> Arc<Hub> {
        Arc::new(Hub {
            inner: Mutex::default(),
            gaps,
            ticks,
            sessions,
            interest,
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // No code panics while holding this lock; a poisoned lock would still hold valid maps.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn register(
        &self,
        conn: ConnId,
        user_id: i64,
        session_id: Uuid,
        dialect: Dialect,
        tx: mpsc::Sender<Outbound>,
        closer: Arc<Closer>,
    ) {
        let mut inner = self.lock();
        let direct_floor = inner.direct_high;
        inner.conns.insert(
            conn,
            Conn {
                user_id,
                dialect,
                session_id,
                tx,
                closer,
                rooms: HashSet::new(),
                direct_sent: Default::default(),
                direct_floor,
            },
        );
        inner.users.entry(user_id).or_default().insert(conn);
    }

    /// Forgets a socket; returns the rooms it was in.
    pub fn unregister(&self, conn: ConnId) -> Vec<i64> {
        let mut inner = self.lock();
        let Some(c) = inner.conns.remove(&conn) else {
            return Vec::new();
        };
        if let Some(set) = inner.users.get_mut(&c.user_id) {
            set.remove(&conn);
            if set.is_empty() {
                inner.users.remove(&c.user_id);
            }
        }
        for room in &c.rooms {
            self.drop_member(&mut inner, *room, conn);
        }
        c.rooms.into_iter().collect()
    }

    /// Every local socket's room memberships, `(conn_id, room_id, user_id)`: what this
    /// instance's presence rows should be.
    pub fn memberships(&self) -> Vec<(ConnId, i64, i64)> {
        let inner = self.lock();
        inner
            .rooms
            .iter()
            .flat_map(|(room_id, room)| {
                room.members
                    .iter()
                    .filter_map(|conn| Some((*conn, *room_id, inner.conns.get(conn)?.user_id)))
            })
            .collect()
    }

    pub fn connection_count(&self) -> usize {
        self.lock().conns.len()
    }

    /// Sockets registered here, and their room memberships (gauges of `/metrics`).
    pub fn counts(&self) -> (usize, usize) {
        let inner = self.lock();
        let memberships = inner.rooms.values().map(|r| r.members.len()).sum();
        (inner.conns.len(), memberships)
    }

    /// Adds the socket to the room. `newly`: it was not a member yet; `has_floor`: the room's
    /// sequence is already known here (other local members), so the room exists and
    /// `set_floor` would change nothing: the joiner need not read it.
    pub fn join(&self, conn: ConnId, room_id: i64) -> Joined {
        let mut inner = self.lock();
        let Some(c) = inner.conns.get_mut(&conn) else {
            return Joined::default();
        };
        let newly = c.rooms.insert(room_id);
        if !inner.rooms.contains_key(&room_id) {
            self.interest.enter(room_id);
        }
        let room = inner.rooms.entry(room_id).or_default();
        if newly {
            room.members.insert(conn);
        }
        Joined {
            newly,
            has_floor: room.order.has_floor(),
        }
    }

    /// Returns once this instance receives the room's events (its shard is bound), or at once
    /// while the broker is down (the reconnect binds it and re-reads every room). A join calls
    /// it before it reads the room's floor: what is stored after that read reaches it.
    pub async fn follow(&self, room_id: i64) {
        self.interest.follow(room_id).await;
    }

    /// Tells a room where its sequence stands (`rooms.last_seq` read after the join). Only the
    /// first call for a room matters; events that arrived meanwhile were held back.
    pub fn set_floor(&self, room_id: i64, last_seq: i64) {
        self.with_room(room_id, |room| room.order.floor(last_seq));
    }

    pub fn leave(&self, conn: ConnId, room_id: i64) -> bool {
        let mut inner = self.lock();
        let was = inner
            .conns
            .get_mut(&conn)
            .is_some_and(|c| c.rooms.remove(&room_id));
        if was {
            self.drop_member(&mut inner, room_id, conn);
        }
        was
    }

    pub fn is_member(&self, conn: ConnId, room_id: i64) -> bool {
        self.lock()
            .conns
            .get(&conn)
            .is_some_and(|c| c.rooms.contains(&room_id))
    }

    fn drop_member(&self, inner: &mut Inner, room_id: i64, conn: ConnId) {
        if let Some(room) = inner.rooms.get_mut(&room_id) {
            room.members.remove(&conn);
            if room.members.is_empty() {
                // Nobody here listens to this room any more: forget its sequence too; the next
                // joiner reads a fresh floor.
                inner.rooms.remove(&room_id);
                self.interest.exit(room_id);
            }
        }
    }

    /// Delivers one event to the local sockets it concerns.
    pub fn dispatch(&self, event: Event) {
        match event {
            Event::RoomMessages { messages } => self.sequence(
                messages
                    .iter()
                    .map(|p| RoomFrames::of(&p.message, p.client_id.as_deref()))
                    .collect(),
            ),
            Event::RoomChanges { changes } => self.sequence(
                changes
                    .iter()
                    .map(|c| RoomFrames::changed(&c.message, Some(&c.change)))
                    .collect(),
            ),
            Event::DirectChanged { message, change } => {
                let frame: Utf8Bytes = protocol::direct_changed(&message, &change).into();
                let inner = self.lock();
                for (conn, _) in both_users(&inner, message.author_id, message.recipient_id) {
                    if let Some(c) = inner.conns.get(&conn).filter(|c| c.dialect == Dialect::V1) {
                        send(c, Outbound::Frame(frame.clone()));
                    }
                }
            }
            Event::DirectTyping {
                recipient_id,
                username,
            } => {
                let frame: Utf8Bytes = protocol::direct_typing(&username).into();
                let inner = self.lock();
                for conn in inner.users.get(&recipient_id).into_iter().flatten() {
                    if let Some(c) = inner.conns.get(conn).filter(|c| c.dialect == Dialect::V1) {
                        send(c, Outbound::Frame(frame.clone()));
                    }
                }
            }
            Event::Ticker(t) => {
                let frame: Utf8Bytes = protocol::ticker(&t).into();
                let inner = self.lock();
                let Some(room) = inner.rooms.get(&t.room_id) else {
                    return;
                };
                for conn in &room.members {
                    if let Some(c) = inner.conns.get(conn).filter(|c| c.dialect == Dialect::V1) {
                        send(c, Outbound::Frame(frame.clone()));
                    }
                }
            }
            Event::RoomUpdated(room) => {
                to_every_v1_socket(&self.lock(), protocol::room_updated(&room).into());
            }
            Event::BotReply(r) => {
                let frame: Utf8Bytes = protocol::bot_message(r.room_id, &r.text, &r.created_at).into();
                self.to_room(r.room_id, None, &frame);
            }
            Event::UsageReply {
                user_id,
                room_id,
                text,
                created_at,
            } => {
                let frame: Utf8Bytes = protocol::bot_message(room_id, &text, &created_at).into();
                let inner = self.lock();
                for conn in inner.users.get(&user_id).into_iter().flatten() {
                    if let Some(c) = inner.conns.get(conn).filter(|c| c.rooms.contains(&room_id)) {
                        send(c, Outbound::Frame(frame.clone()));
                    }
                }
            }
            Event::Typing {
                room_id,
                username,
                conn_id,
            } => {
                let frame: Utf8Bytes = protocol::typing(room_id, &username).into();
                self.to_room(room_id, Some(conn_id), &frame);
            }
            Event::RoomTips { tips } => self.tips(&tips),
            // Another instance's stored rooms, for room lists here (`Bus::announce_activity`).
            Event::RoomActivity { rooms } => self.ticks.activity(rooms.iter().map(|t| (t.room_id, t.seq))),
            Event::Presences { changes } => {
                for change in &changes {
                    self.notice(change);
                }
            }
            Event::DirectMessage { message, client_id } => self.direct(&message, client_id.as_deref(), false),
            Event::ReadMarker(marker) => {
                let frame: Utf8Bytes = protocol::read_marker(&marker).into();
                let inner = self.lock();
                for conn in inner.users.get(&marker.user_id).into_iter().flatten() {
                    if let Some(c) = inner.conns.get(conn).filter(|c| c.dialect == Dialect::V1) {
                        send(c, Outbound::Frame(frame.clone()));
                    }
                }
            }
            Event::RoomCreated(room) => {
                to_every_v1_socket(&self.lock(), protocol::room_created(&room).into());
            }
            // The bus's own business (a logout waiting for every instance).
            Event::RevocationHeard { .. } => {}
            Event::SessionRevoked { session_id } => {
                self.sessions.forget(session_id);
                let inner = self.lock();
                for c in inner.conns.values().filter(|c| c.session_id == session_id) {
                    c.closer.close(4001, "session revoked");
                }
            }
        }
    }

    /// A direct message for the sockets of its two users, each socket at most once; `caught_up`
    /// (read back after a reconnect) also skips sockets that registered after it was sent.
    fn direct(&self, message: &tickertalk_wire::DirectMessage, client_id: Option<&str>, caught_up: bool) {
        let mut frames = DirectFrames::of(message, client_id);
        let mut inner = self.lock();
        inner.direct_high = inner.direct_high.max(message.id);
        for (conn, is_author) in both_users(&inner, message.author_id, message.recipient_id) {
            let Some(c) = inner.conns.get_mut(&conn) else {
                continue;
            };
            if (caught_up && message.id <= c.direct_floor) || !c.direct_sent.insert(message.id) {
                continue;
            }
            if c.direct_sent.len() > RECENT_DIRECT {
                c.direct_sent.pop_first();
            }
            let frame = frames.for_socket(c.dialect, is_author);
            send(
                c,
                Outbound::Direct {
                    id: message.id,
                    frame,
                },
            );
        }
    }

    /// A direct message read back after a broker reconnect (`gaps`).
    pub fn caught_up_direct(&self, message: &tickertalk_wire::DirectMessage) {
        self.direct(message, None, true);
    }

    /// After a broker reconnect: fetch what was stored meanwhile for every room with sockets.
    pub fn resync(&self) {
        let mut inner = self.lock();
        for (room_id, room) in inner.rooms.iter_mut() {
            if let Some(fill) = room.order.resync() {
                self.gaps.request(*room_id, fill);
            }
        }
    }

    /// Another instance stored messages whose events never got here: rooms followed here and
    /// behind the tip read them from the database now.
    fn tips(&self, tips: &[RoomTip]) {
        let mut inner = self.lock();
        for tip in tips {
            if let Some(room) = inner.rooms.get_mut(&tip.room_id)
                && let Some(fill) = room.order.tip(tip.seq)
            {
                self.gaps.request(tip.room_id, fill);
            }
        }
    }

    fn to_room(&self, room_id: i64, except: Option<ConnId>, frame: &Utf8Bytes) {
        let inner = self.lock();
        let Some(room) = inner.rooms.get(&room_id) else {
            return;
        };
        for conn in &room.members {
            if Some(*conn) == except {
                continue;
            }
            if let Some(c) = inner.conns.get(conn) {
                send(c, Outbound::Frame(frame.clone()));
            }
        }
    }

    /// Hands stream items (of any rooms, each room's in order: new messages with the author's
    /// `client_id` when known, changes) to their rooms' sequencers, and delivers what they
    /// release. The frames are built before the lock is taken, once for all of them. Live
    /// events and gap fills both come through here.
    pub fn sequence(&self, items: Vec<RoomFrames>) {
        self.ticks
            .activity(items.iter().filter_map(|f| Some((f.room_id, f.seq?))));
        let mut inner = self.lock();
        let Inner { conns, rooms, .. } = &mut *inner;
        for item in items {
            let room_id = item.room_id;
            if let Some(room) = rooms.get_mut(&room_id) {
                let step = room.order.offer(item.position, item);
                self.obey(room_id, room, conns, step);
            }
        }
    }

    /// What the running fill of a room should read next (`RoomSequencer::fill_range`).
    pub fn fill_range(&self, room_id: i64) -> Option<(i64, i64)> {
        self.lock().rooms.get(&room_id)?.order.fill_range()
    }

    /// A fill read every position up to `to` (`RoomSequencer::read_up_to`).
    pub fn read_up_to(&self, room_id: i64, to: i64) {
        self.with_room(room_id, |room| room.order.read_up_to(to));
    }

    /// A room's fill finished (`RoomSequencer::fill_done`).
    pub fn fill_done(&self, room_id: i64, read_any: bool) {
        self.with_room(room_id, |room| room.order.fill_done(read_any));
    }

    /// Runs one sequencer input of a room and does what it says.
    fn with_room(&self, room_id: i64, input: impl FnOnce(&mut Room) -> Step<RoomFrames>) {
        let mut inner = self.lock();
        let Inner { conns, rooms, .. } = &mut *inner;
        if let Some(room) = rooms.get_mut(&room_id) {
            let step = input(room);
            self.obey(room_id, room, conns, step);
        }
    }

    /// Delivers what a sequencer released, and asks for the fill it wants.
    fn obey(&self, room_id: i64, room: &Room, conns: &HashMap<ConnId, Conn>, step: Step<RoomFrames>) {
        for msg in &step.deliver {
            for conn in &room.members {
                let Some(c) = conns.get(conn) else { continue };
                send(
                    c,
                    Outbound::Room {
                        room_id,
                        position: msg.position,
                        stored_at: msg.stored_at,
                        frame: msg.for_user(c.user_id).clone(),
                    },
                );
            }
        }
        if let Some(fill) = step.fill {
            self.gaps.request(room_id, fill);
        }
    }

    /// Adds a presence change to its room's next tick of notices (rooms with no local socket
    /// have nobody to tell).
    fn notice(&self, change: &PresenceChange) {
        if !self.lock().rooms.contains_key(&change.room_id) {
            return;
        }
        let frame: Utf8Bytes =
            protocol::presence_change(change.room_id, change.joined.as_deref(), change.left.as_deref())
                .into();
        self.ticks.notice(
            change.room_id,
            Notice {
                except: change.conn_id,
                frame,
            },
        );
    }

    /// One tick's presence notices of a room, as one `Notices` to each member that has any to
    /// read.
    pub fn notices(&self, room_id: i64, notices: Arc<Vec<Notice>>) {
        let inner = self.lock();
        let Some(room) = inner.rooms.get(&room_id) else {
            return;
        };
        for conn in &room.members {
            if let Some(c) = inner.conns.get(conn)
                && notices.iter().any(|n| n.except != *conn)
            {
                send(c, Outbound::Notices(notices.clone()));
            }
        }
    }

    /// One tick's room activity (`(room_id, latest seq)`, sorted), to every `/v1` socket.
    pub fn activity(&self, rooms: &[(i64, i64)]) {
        to_every_v1_socket(&self.lock(), protocol::room_activity(rooms).into());
    }
}

/// One frame to every `/v1` socket of this instance (the original `/api` dialect knows no rooms).
/// Every socket of both users of a conversation, once each (a user writing to themself has
/// one set), each with whether it is the author's (`author` first).
fn both_users(inner: &Inner, author: i64, recipient: i64) -> Vec<(ConnId, bool)> {
    let mut targets: Vec<(ConnId, bool)> = Vec::new();
    for (user, is_author) in [(author, true), (recipient, false)] {
        for conn in inner.users.get(&user).into_iter().flatten() {
            if !targets.iter().any(|(c, _)| c == conn) {
                targets.push((*conn, is_author));
            }
        }
    }
    targets
}

fn to_every_v1_socket(inner: &Inner, frame: Utf8Bytes) {
    for c in inner.conns.values().filter(|c| c.dialect == Dialect::V1) {
        send(c, Outbound::Frame(frame.clone()));
    }
}

/// Hands a frame to a socket without waiting; a full buffer means the client stopped reading.
fn send(c: &Conn, out: Outbound) {
    if let Err(mpsc::error::TrySendError::Full(_)) = c.tx.try_send(out) {
        metrics::counter!("tickertalk_frames_dropped_total").increment(1);
        c.closer.close(1013, "too slow: send buffer full");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::realtime::gaps::GapQueue;
    use crate::realtime::sequencer::Fill;
    use crate::realtime::ticks::{self, PRESENCE_TICK};
    use crate::shutdown::ShutdownSignal;
    use chrono::Utc;
    use std::time::Duration;

    fn msg(room_id: i64, seq: i64) -> Event {
        Event::RoomMessages {
            messages: vec![tickertalk_wire::PostedMessage {
                message: tickertalk_wire::RoomMessage::plain(
                    100 + seq,
                    room_id,
                    seq,
                    1,
                    "alice".into(),
                    format!("m{seq}"),
                    Utc::now(),
                ),
                client_id: None,
            }],
        }
    }

    /// The stream positions delivered.
    fn positions(rx: &mut mpsc::Receiver<Outbound>) -> Vec<i64> {
        let mut out = Vec::new();
        while let Ok(o) = rx.try_recv() {
            if let Outbound::Room { position, .. } = o {
                out.push(position);
            }
        }
        out
    }

    /// Registers a `/v1` socket of user 1.
    fn connect(hub: &Hub, tx: mpsc::Sender<Outbound>, closer: Arc<Closer>) -> ConnId {
        let conn = Uuid::new_v4();
        hub.register(conn, 1, Uuid::new_v4(), Dialect::V1, tx, closer);
        conn
    }

    /// A hub with no gap task: the requests it makes stay in the returned queue.
    fn hub() -> Arc<Hub> {
        hub_and_gaps().0
    }

    fn hub_and_gaps() -> (Arc<Hub>, GapQueue) {
        let (gaps, queue) = crate::realtime::gaps::channel();
        let sessions = Arc::new(SessionCache::new(Duration::ZERO));
        (Hub::new(sessions, gaps, Arc::default(), Arc::default()), queue)
    }

    #[tokio::test]
    async fn out_of_order_messages_are_delivered_in_sequence_and_the_gap_filled() {
        let (hub, mut gaps) = hub_and_gaps();
        let (tx, mut rx) = mpsc::channel(16);
        let conn = connect(&hub, tx, Arc::new(Closer::default()));
        hub.join(conn, 7);
        hub.set_floor(7, 10);
        hub.dispatch(msg(7, 12));
        hub.dispatch(msg(7, 13));
        assert_eq!(
            positions(&mut rx),
            Vec::<i64>::new(),
            "held back behind the gap at 11"
        );
        assert_eq!(gaps.try_next(), Some((7, Fill::AfterWait)));
        assert_eq!(gaps.try_next(), None, "one fill per room");
        assert_eq!(hub.fill_range(7), Some((11, 11)));
        hub.dispatch(msg(7, 11));
        assert_eq!(positions(&mut rx), vec![11, 12, 13]);
        hub.dispatch(msg(7, 12));
        assert_eq!(positions(&mut rx), Vec::<i64>::new(), "duplicates are dropped");
        hub.fill_done(7, true);
        assert_eq!(gaps.try_next(), None);
    }

    #[tokio::test]
    async fn a_reconnect_asks_every_followed_room_for_a_fill() {
        let (hub, mut gaps) = hub_and_gaps();
        let (tx, _rx) = mpsc::channel(16);
        let conn = connect(&hub, tx, Arc::new(Closer::default()));
        hub.join(conn, 7);
        hub.join(conn, 8);
        hub.set_floor(7, 3);
        hub.reconnected();
        assert_eq!(gaps.try_next(), Some((7, Fill::Now)));
        assert_eq!(
            gaps.try_next(),
            None,
            "room 8 has no floor yet: its join reads it"
        );
        hub.dispatch(Event::RoomTips {
            tips: vec![RoomTip { room_id: 7, seq: 9 }],
        });
        assert_eq!(gaps.try_next(), None, "the running fill reads up to it");
    }

    #[tokio::test]
    async fn events_arriving_before_the_floor_is_known_are_kept() {
        let hub = hub();
        let (tx, mut rx) = mpsc::channel(16);
        let conn = connect(&hub, tx, Arc::new(Closer::default()));
        hub.join(conn, 7);
        hub.dispatch(msg(7, 5)); // stored before the floor read: the joiner's replay covers it
        hub.dispatch(msg(7, 6));
        hub.set_floor(7, 5);
        assert_eq!(positions(&mut rx), vec![6]);
    }

    #[tokio::test]
    async fn a_full_buffer_closes_the_socket_instead_of_growing() {
        let hub = hub();
        let (tx, _rx) = mpsc::channel(2);
        let closer = Arc::new(Closer::default());
        let conn = connect(&hub, tx, closer.clone());
        hub.join(conn, 7);
        hub.set_floor(7, 0);
        for seq in 1..=3 {
            hub.dispatch(msg(7, seq));
        }
        let closed = tokio::time::timeout(Duration::from_millis(100), closer.closed()).await;
        assert_eq!(closed.unwrap(), (1013, "too slow: send buffer full"));
    }

    #[tokio::test(start_paused = true)]
    async fn presence_notices_of_a_tick_arrive_together_and_not_to_their_own_socket() {
        let ticks = Arc::new(Ticks::default());
        let (gaps, _queue) = crate::realtime::gaps::channel();
        let hub = Hub::new(
            Arc::new(SessionCache::new(Duration::ZERO)),
            gaps,
            ticks.clone(),
            Arc::default(),
        );
        let signal = ShutdownSignal::new();
        let h = hub.clone();
        signal.spawn("presence tick", |stop| ticks::presence(ticks, h, stop));
        let (tx_a, mut rx_a) = mpsc::channel(16);
        let (tx_b, mut rx_b) = mpsc::channel(16);
        let a = connect(&hub, tx_a, Arc::new(Closer::default()));
        let b = connect(&hub, tx_b, Arc::new(Closer::default()));
        hub.join(a, 7);
        hub.join(b, 7);
        let change = |conn: ConnId, who: &str| PresenceChange {
            room_id: 7,
            conn_id: conn,
            joined: Some(who.into()),
            left: None,
        };
        hub.dispatch(Event::Presences {
            changes: vec![change(a, "ann")],
        });
        // A batch of changes (one instance's batch of joins) joins the same tick.
        hub.dispatch(Event::Presences {
            changes: vec![change(Uuid::new_v4(), "cid"), change(b, "bob")],
        });
        assert!(
            rx_a.try_recv().is_err() && rx_b.try_recv().is_err(),
            "held for the tick"
        );
        tokio::time::sleep(PRESENCE_TICK + Duration::from_millis(1)).await;
        let seen_by = |rx: &mut mpsc::Receiver<Outbound>, me: ConnId| match rx.try_recv() {
            Ok(Outbound::Notices(n)) => n
                .iter()
                .filter(|n| n.except != me)
                .map(|n| serde_json::from_str::<serde_json::Value>(&n.frame).unwrap()["joined"].clone())
                .collect::<Vec<_>>(),
            other => panic!("expected one Notices, got {other:?}"),
        };
        assert_eq!(seen_by(&mut rx_a, a), ["cid", "bob"]);
        assert_eq!(seen_by(&mut rx_b, b), ["ann", "cid"]);
        assert!(
            rx_a.try_recv().is_err() && rx_b.try_recv().is_err(),
            "one item each"
        );
        assert!(signal.shutdown(Duration::from_secs(1)).await.is_clean());
    }

    #[tokio::test]
    async fn a_direct_message_reaches_every_socket_of_both_users_in_its_dialect() {
        let hub = hub();
        let socket = |user: i64, dialect: Dialect| {
            let (tx, rx) = mpsc::channel(4);
            hub.register(
                Uuid::new_v4(),
                user,
                Uuid::new_v4(),
                dialect,
                tx,
                Arc::new(Closer::default()),
            );
            rx
        };
        let (mut author_v1, mut author_classic) = (socket(1, Dialect::V1), socket(1, Dialect::Classic));
        let (mut reader_classic, mut stranger) = (socket(2, Dialect::Classic), socket(3, Dialect::V1));
        hub.dispatch(Event::DirectMessage {
            message: tickertalk_wire::DirectMessage {
                id: 9,
                author_id: 1,
                author: "ada".into(),
                recipient_id: 2,
                recipient: "bob".into(),
                body: "hi".into(),
                message_type: 0,
                created_at: Utc::now(),
                edited_at: None,
                deleted: false,
                reactions: Vec::new(),
            },
            client_id: Some("c-1".into()),
        });
        let frame = |rx: &mut mpsc::Receiver<Outbound>| match rx.try_recv() {
            Ok(Outbound::Direct { id: 9, frame }) => {
                serde_json::from_str::<serde_json::Value>(&frame).unwrap()
            }
            other => panic!("expected the direct message, got {other:?}"),
        };
        let v1 = frame(&mut author_v1);
        assert_eq!(
            (v1["type"].as_i64(), v1["client_id"].as_str()),
            (Some(4), Some("c-1"))
        );
        for rx in [&mut author_classic, &mut reader_classic] {
            let classic = frame(rx);
            assert_eq!(classic["author"], "ada");
            assert!(
                classic.get("type").is_none() && classic.get("client_id").is_none(),
                "{classic}"
            );
        }
        assert!(stranger.try_recv().is_err(), "nobody else gets it");
    }
}
