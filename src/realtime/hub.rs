//! The per-instance registry of sockets and rooms, and the delivery of broker events to them.
//!
//! Each event is serialised once here; every socket that gets it receives the same `Utf8Bytes`
//! through its bounded channel (a `try_send`: never a wait, never a per-socket JSON encode).
//! A socket whose channel is full is told to close (1013) instead of being buffered.
//!
//! Room messages go through a per-room sequencer: they carry the room's `seq`, and a room
//! delivers seq n+1 only after n. Instances publish after their own commit, so two instances can
//! publish out of order, and a message stored while the broker was down never reaches the broker
//! at all; either way the gap is noticed and filled from PostgreSQL after a short wait.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use sqlx::PgPool;
use tokio::sync::{Notify, mpsc};
use tokio_tungstenite::tungstenite::Utf8Bytes;
use uuid::Uuid;

use tickertalk_wire::{Event, PresenceChange, RoomMessage};

use super::protocol::{self, Dialect, DirectFrame, RoomMessageFrame};
use crate::auth::SessionCache;
use crate::bus::EventSink;
use crate::store::messages;

/// One socket's id: random, so it can also key its presence rows across instances.
pub type ConnId = Uuid;

/// What a socket task receives from the hub.
#[derive(Debug, Clone)]
pub enum Outbound {
    /// A frame to send as is.
    Frame(Utf8Bytes),
    /// A stored room message; the socket skips it when a `since` replay already sent that id.
    /// `stored_at`: its `created_at` in microseconds since the epoch (the delivery latency).
    Room {
        room_id: i64,
        id: i64,
        stored_at: i64,
        frame: Utf8Bytes,
    },
    /// A stored direct message; skipped when the connect-time `dm_since` replay sent that id.
    Direct { id: i64, frame: Utf8Bytes },
    /// A room's presence notices of one tick, shared by every member: each is written, in
    /// order, to every socket but the one that caused it (which got the full list instead).
    Notices(Arc<Vec<Notice>>),
}

/// One presence notice frame, and the socket that must not get it.
#[derive(Debug)]
pub struct Notice {
    pub except: ConnId,
    pub frame: Utf8Bytes,
}

/// Presence notices of a room are gathered for this long and then delivered together, so a
/// socket in a room many people join at once (a reconnect storm, a benchmark's 10,000 joins)
/// gets them in one write instead of one write each.
const PRESENCE_TICK: Duration = Duration::from_millis(100);

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
}

/// A room message ready to send: the frame for everyone and, if the author sent a
/// `client_id`, the variant carrying it for the author's own sockets.
struct Ready {
    id: i64,
    author_id: i64,
    stored_at: i64,
    plain: Utf8Bytes,
    authored: Option<Utf8Bytes>,
}

/// One room with local sockets: its members and its delivery sequencer.
#[derive(Default)]
struct Room {
    members: HashSet<ConnId>,
    /// The next seq to deliver; `None` until the first joiner has read the room's floor.
    next_seq: Option<i64>,
    /// Messages that arrived ahead of a gap, by seq.
    pending: BTreeMap<i64, Ready>,
    /// A gap-fill task is scheduled or running.
    filling: bool,
    /// The highest seq another instance said is stored (`Event::RoomTips`): messages up to it
    /// exist even if no event of theirs arrives, so a fill reads up to it.
    known_last: i64,
    /// Presence notices waiting for the room's next tick (a flush is scheduled while any are).
    notices: Vec<Notice>,
}

/// Everything behind the hub's one lock.
#[derive(Default)]
struct Inner {
    conns: HashMap<ConnId, Conn>,
    rooms: HashMap<i64, Room>,
    /// A user's sockets, for direct messages (which go to users, not rooms).
    users: HashMap<i64, HashSet<ConnId>>,
    /// Stock requests already answered here, the latest `ANSWERED_KEPT`.
    answered: Recent,
    /// Rooms with new messages since the last activity frame, with their latest `seq` (a flush
    /// is scheduled while any are).
    activity: HashMap<i64, i64>,
}

/// Room activity (for unread counts in every room list) is gathered for this long and then
/// sent as one frame to every socket: at most one extra frame per socket per tick, however
/// busy the rooms.
const ACTIVITY_TICK: Duration = Duration::from_secs(1);

/// How many answered request ids a hub remembers: a duplicate comes within seconds (a bot's
/// retried publish after a broker fault), and the ids of a busy minute fit many times over.
const ANSWERED_KEPT: usize = 4096;

/// The latest `ANSWERED_KEPT` ids, oldest dropped first.
#[derive(Default)]
struct Recent {
    order: std::collections::VecDeque<Uuid>,
    set: HashSet<Uuid>,
}

impl Recent {
    /// False if `id` is already there.
    fn insert(&mut self, id: Uuid) -> bool {
        if !self.set.insert(id) {
            return false;
        }
        self.order.push_back(id);
        if self.order.len() > ANSWERED_KEPT
            && let Some(old) = self.order.pop_front()
        {
            self.set.remove(&old);
        }
        true
    }
}

/// This instance's registry of sockets and rooms, and the delivery of events to them.
///
/// One `std::sync::Mutex` guards it all: every operation is a few map lookups and `try_send`s,
/// never an await, so a lock held across sockets is cheaper than a lock per room would be.
pub struct Hub {
    inner: Mutex<Inner>,
    /// For gap fills: messages a room missed are read back from PostgreSQL.
    db: PgPool,
    /// How long a gap may stay open before it is filled from the database.
    gap_wait: Duration,
    /// Gap fills run as tasks that need the hub; a weak self-reference avoids a cycle.
    this: Weak<Hub>,
    /// Revocations heard here drop the session from the authentication cache at once.
    sessions: Arc<SessionCache>,
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
    }
}

impl Hub {
    pub fn new(db: PgPool, gap_wait: Duration, sessions: Arc<SessionCache>) -> Arc<Hub> {
        Arc::new_cyclic(|this| Hub {
            inner: Mutex::default(),
            db,
            gap_wait,
            this: this.clone(),
            sessions,
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
        inner.conns.insert(
            conn,
            Conn {
                user_id,
                dialect,
                session_id,
                tx,
                closer,
                rooms: HashSet::new(),
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
            Self::drop_member(&mut inner, *room, conn);
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

    /// Adds the socket to the room. `newly`: it was not a member yet; `has_floor`: the room's
    /// sequence is already known here (other local members), so the room exists and
    /// `set_floor` would change nothing: the joiner need not read it.
    /// Sockets registered here, and their room memberships (gauges of `/metrics`).
    pub fn counts(&self) -> (usize, usize) {
        let inner = self.lock();
        let memberships = inner.rooms.values().map(|r| r.members.len()).sum();
        (inner.conns.len(), memberships)
    }

    pub fn join(&self, conn: ConnId, room_id: i64) -> Joined {
        let mut inner = self.lock();
        let Some(c) = inner.conns.get_mut(&conn) else {
            return Joined::default();
        };
        let newly = c.rooms.insert(room_id);
        let room = inner.rooms.entry(room_id).or_default();
        if newly {
            room.members.insert(conn);
        }
        Joined {
            newly,
            has_floor: room.next_seq.is_some(),
        }
    }

    /// Tells a room where its sequence stands (`rooms.last_seq` read after the join). Only the
    /// first call for a room matters; events that arrived meanwhile were kept in `pending`.
    pub fn set_floor(&self, room_id: i64, last_seq: i64) {
        let mut inner = self.lock();
        let Inner { conns, rooms, .. } = &mut *inner;
        let Some(room) = rooms.get_mut(&room_id) else {
            return;
        };
        if room.next_seq.is_none() {
            room.next_seq = Some(last_seq + 1);
            room.pending = room.pending.split_off(&(last_seq + 1));
            self.drain(room_id, room, conns);
            // Held-back messages behind a gap must not wait for the room's next event.
            if !room.pending.is_empty() && !room.filling {
                room.filling = true;
                self.spawn_fill(room_id, self.gap_wait);
            }
        }
    }

    pub fn leave(&self, conn: ConnId, room_id: i64) -> bool {
        let mut inner = self.lock();
        let was = inner
            .conns
            .get_mut(&conn)
            .is_some_and(|c| c.rooms.remove(&room_id));
        if was {
            Self::drop_member(&mut inner, room_id, conn);
        }
        was
    }

    pub fn is_member(&self, conn: ConnId, room_id: i64) -> bool {
        self.lock()
            .conns
            .get(&conn)
            .is_some_and(|c| c.rooms.contains(&room_id))
    }

    fn drop_member(inner: &mut Inner, room_id: i64, conn: ConnId) {
        if let Some(room) = inner.rooms.get_mut(&room_id) {
            room.members.remove(&conn);
            if room.members.is_empty() {
                // Nobody here listens to this room any more: forget its sequence too; the next
                // joiner reads a fresh floor.
                inner.rooms.remove(&room_id);
            }
        }
    }

    /// Delivers one event to the local sockets it concerns.
    pub fn dispatch(&self, event: Event) {
        match event {
            Event::RoomMessage(p) => self.sequence([(&p.message, p.client_id.as_deref())]),
            Event::RoomMessages { messages } => {
                self.sequence(messages.iter().map(|p| (&p.message, p.client_id.as_deref())))
            }
            Event::BotReply(r) => {
                // A request is answered once: a bot's retried publish, or its late answer
                // after the server already said it did not come, is dropped here.
                if let Some(id) = r.request_id
                    && !self.lock().answered.insert(id)
                {
                    tracing::debug!(request_id = %id, "duplicate bot reply dropped");
                    return;
                }
                let frame: Utf8Bytes = protocol::bot_message(r.room_id, &r.text, &r.created_at).into();
                self.to_room(r.room_id, None, &frame);
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
            Event::Presence(change) => self.notice(&change),
            Event::Presences { changes } => {
                for change in &changes {
                    self.notice(change);
                }
            }
            Event::DirectMessage {
                message: dm,
                client_id,
            } => {
                let mut f = DirectFrame::of(&dm);
                let plain: Utf8Bytes = serde_json::to_string(&f).expect("frame").into();
                f.client_id = client_id.as_deref();
                let authored: Utf8Bytes = if client_id.is_some() {
                    serde_json::to_string(&f).expect("frame").into()
                } else {
                    plain.clone()
                };
                let mut classic: Option<Utf8Bytes> = None;
                let inner = self.lock();
                // Every socket of both users, once each (a user writing to themself has one set).
                let mut targets: Vec<(ConnId, bool)> = Vec::new();
                for (user, is_author) in [(dm.author_id, true), (dm.recipient_id, false)] {
                    for conn in inner.users.get(&user).into_iter().flatten() {
                        if !targets.iter().any(|(c, _)| c == conn) {
                            targets.push((*conn, is_author));
                        }
                    }
                }
                for (conn, is_author) in targets {
                    let Some(c) = inner.conns.get(&conn) else { continue };
                    let frame = match c.dialect {
                        Dialect::Classic => classic
                            .get_or_insert_with(|| protocol::classic_direct(&dm).into())
                            .clone(),
                        Dialect::V1 if is_author => authored.clone(),
                        Dialect::V1 => plain.clone(),
                    };
                    send(c, Outbound::Direct { id: dm.id, frame });
                }
            }
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

    /// After a broker reconnect: fetch what was stored meanwhile for every room with sockets.
    pub fn resync(&self) {
        let rooms: Vec<i64> = {
            let mut inner = self.lock();
            inner
                .rooms
                .iter_mut()
                .filter(|(_, r)| r.next_seq.is_some() && !r.filling)
                .map(|(id, r)| {
                    r.filling = true;
                    *id
                })
                .collect()
        };
        for room in rooms {
            self.spawn_fill(room, Duration::ZERO);
        }
    }

    /// Another instance stored messages whose events never got here: rooms followed here and
    /// behind the tip read them from the database now.
    fn tips(&self, tips: &[tickertalk_wire::RoomTip]) {
        let mut inner = self.lock();
        for tip in tips {
            let Some(room) = inner.rooms.get_mut(&tip.room_id) else {
                continue;
            };
            let Some(next) = room.next_seq else { continue };
            if tip.seq < next {
                continue;
            }
            room.known_last = room.known_last.max(tip.seq);
            if !room.filling {
                room.filling = true;
                self.spawn_fill(tip.room_id, Duration::ZERO);
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

    /// Hands stored messages (any rooms, each room's in `seq` order; the author's `client_id`
    /// when known) to their rooms' sequencers: the frames are built first, then the lock is
    /// taken once for all of them. Live events and gap fills both come through here.
    fn sequence<'a>(&self, messages: impl IntoIterator<Item = (&'a RoomMessage, Option<&'a str>)>) {
        let mut answers = Vec::new();
        let ready: Vec<(i64, i64, Ready)> = messages
            .into_iter()
            .map(|(m, client_id)| {
                // A stored stock answer carries its request id as client_id: remember it, so a
                // late unstored reply to the same request (an old bot's) is not shown as well.
                if m.bot.is_some()
                    && let Some(id) = client_id.and_then(|c| c.parse::<Uuid>().ok())
                {
                    answers.push(id);
                }
                (m.room_id, m.seq, ready(m, client_id))
            })
            .collect();
        let mut inner = self.lock();
        for id in answers {
            inner.answered.insert(id);
        }
        if inner.activity.is_empty() && !ready.is_empty() {
            self.spawn_activity();
        }
        for (room_id, seq, _) in &ready {
            let latest = inner.activity.entry(*room_id).or_insert(*seq);
            *latest = (*latest).max(*seq);
        }
        for (room_id, seq, msg) in ready {
            self.sequence_one(&mut inner, room_id, seq, msg);
        }
    }

    /// Delivers one message in sequence, holds it behind a gap, or drops it as a duplicate.
    fn sequence_one(&self, inner: &mut Inner, room_id: i64, seq: i64, msg: Ready) {
        let Inner { conns, rooms, .. } = inner;
        let Some(room) = rooms.get_mut(&room_id) else {
            return;
        };
        match room.next_seq {
            None => {
                room.pending.insert(seq, msg);
            }
            Some(next) if seq < next => {} // already delivered (a gap fill got there first)
            Some(next) if seq == next => {
                self.deliver(room_id, room, conns, &msg);
                room.next_seq = Some(next + 1);
                self.drain(room_id, room, conns);
            }
            Some(_) => {
                room.pending.insert(seq, msg);
                if !room.filling {
                    room.filling = true;
                    self.spawn_fill(room_id, self.gap_wait);
                }
            }
        }
    }

    /// Delivers pending messages that are now in sequence.
    fn drain(&self, room_id: i64, room: &mut Room, conns: &HashMap<ConnId, Conn>) {
        while let Some(next) = room.next_seq {
            let Some(msg) = room.pending.remove(&next) else {
                break;
            };
            self.deliver(room_id, room, conns, &msg);
            room.next_seq = Some(next + 1);
        }
    }

    fn deliver(&self, room_id: i64, room: &Room, conns: &HashMap<ConnId, Conn>, msg: &Ready) {
        for conn in &room.members {
            let Some(c) = conns.get(conn) else { continue };
            let frame = match &msg.authored {
                Some(a) if c.user_id == msg.author_id => a.clone(),
                _ => msg.plain.clone(),
            };
            send(
                c,
                Outbound::Room {
                    room_id,
                    id: msg.id,
                    stored_at: msg.stored_at,
                    frame,
                },
            );
        }
    }

    /// Adds a presence change to its room's next tick of notices.
    fn notice(&self, change: &PresenceChange) {
        let frame: Utf8Bytes =
            protocol::presence_change(change.room_id, change.joined.as_deref(), change.left.as_deref())
                .into();
        let mut inner = self.lock();
        let Some(room) = inner.rooms.get_mut(&change.room_id) else {
            return;
        };
        if room.notices.is_empty() {
            self.spawn_notices(change.room_id);
        }
        room.notices.push(Notice {
            except: change.conn_id,
            frame,
        });
    }

    /// Delivers a room's gathered presence notices after `PRESENCE_TICK`, as one `Notices` to
    /// each member.
    fn spawn_notices(&self, room_id: i64) {
        let Some(hub) = self.this.upgrade() else { return };
        tokio::spawn(async move {
            tokio::time::sleep(PRESENCE_TICK).await;
            let mut inner = hub.lock();
            let Inner { conns, rooms, .. } = &mut *inner;
            let Some(room) = rooms.get_mut(&room_id) else {
                return;
            };
            let notices = Arc::new(std::mem::take(&mut room.notices));
            for conn in &room.members {
                if let Some(c) = conns.get(conn)
                    && notices.iter().any(|n| n.except != *conn)
                {
                    send(c, Outbound::Notices(notices.clone()));
                }
            }
        });
    }

    /// Sends the rooms' gathered activity after `ACTIVITY_TICK`, as one frame to every `/v1`
    /// socket (room lists show unread counts for rooms the socket has not joined).
    fn spawn_activity(&self) {
        let Some(hub) = self.this.upgrade() else { return };
        tokio::spawn(async move {
            tokio::time::sleep(ACTIVITY_TICK).await;
            let mut inner = hub.lock();
            let mut rooms: Vec<(i64, i64)> = inner.activity.drain().collect();
            if rooms.is_empty() {
                return;
            }
            rooms.sort_unstable();
            to_every_v1_socket(&inner, protocol::room_activity(&rooms).into());
        });
    }

    /// Fills a room's gap from the database after `wait`, repeating while a gap remains.
    fn spawn_fill(&self, room_id: i64, wait: Duration) {
        let Some(hub) = self.this.upgrade() else { return };
        metrics::counter!("tickertalk_gap_fills_total").increment(1);
        tokio::spawn(async move {
            tokio::time::sleep(wait).await;
            // Whether any read found messages (a tip may name messages deleted since).
            let mut read_any = false;
            loop {
                // The range to read: from the next expected seq up to just before the first
                // message held back (or everything newer, after a reconnect).
                let range = {
                    let mut inner = hub.lock();
                    let Some(room) = inner.rooms.get_mut(&room_id) else {
                        return;
                    };
                    match (room.next_seq, room.pending.keys().next()) {
                        (Some(next), Some(&first)) if first > next => Some((next, first - 1)),
                        (Some(next), None) if wait.is_zero() || room.known_last >= next => {
                            Some((next, i64::MAX))
                        }
                        _ => None,
                    }
                };
                let Some((from, to)) = range else { break };
                match messages::seq_range(&hub.db, room_id, from, to).await {
                    Ok(rows) => {
                        read_any |= !rows.is_empty();
                        hub.sequence(rows.iter().map(|p| (&p.message, p.client_id.as_deref())));
                        if to == i64::MAX || rows.is_empty() {
                            break;
                        }
                    }
                    Err(e) => {
                        tracing::warn!(room_id, error = %e, "gap fill failed; retrying");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                }
            }
            let mut inner = hub.lock();
            let Inner { conns, rooms, .. } = &mut *inner;
            if let Some(room) = rooms.get_mut(&room_id) {
                room.filling = false;
                // Anything still held back waits for its gap to close: schedule another fill.
                if !room.pending.is_empty() {
                    hub.drain(room_id, room, conns);
                    if !room.pending.is_empty() {
                        room.filling = true;
                        hub.spawn_fill(room_id, hub.gap_wait);
                    }
                }
                // A tip that arrived while this fill was reading names messages it may have
                // read too early to see: read again, unless this fill found nothing at all (the
                // messages are gone: deleted with their author's account), then forget the tip.
                if !room.filling && room.next_seq.is_some_and(|next| room.known_last >= next) {
                    if read_any {
                        room.filling = true;
                        hub.spawn_fill(room_id, Duration::ZERO);
                    } else {
                        room.known_last = 0;
                    }
                }
            }
        });
    }
}

fn ready(m: &RoomMessage, client_id: Option<&str>) -> Ready {
    let mut frame = RoomMessageFrame::of(m);
    let plain: Utf8Bytes = serde_json::to_string(&frame).expect("frame").into();
    let authored = client_id.map(|c| {
        frame.client_id = Some(c);
        Utf8Bytes::from(serde_json::to_string(&frame).expect("frame"))
    });
    Ready {
        id: m.id,
        author_id: m.user_id,
        stored_at: m.created_at.timestamp_micros(),
        plain,
        authored,
    }
}

/// Hands a frame to a socket without waiting; a full buffer means the client stopped reading.
/// One frame to every `/v1` socket of this instance (the original `/api` dialect knows no rooms).
fn to_every_v1_socket(inner: &Inner, frame: Utf8Bytes) {
    for c in inner.conns.values().filter(|c| c.dialect == Dialect::V1) {
        send(c, Outbound::Frame(frame.clone()));
    }
}

fn send(c: &Conn, out: Outbound) {
    if let Err(mpsc::error::TrySendError::Full(_)) = c.tx.try_send(out) {
        metrics::counter!("tickertalk_frames_dropped_total").increment(1);
        c.closer.close(1013, "too slow: send buffer full");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;

    fn msg(room_id: i64, seq: i64) -> Event {
        Event::RoomMessage(tickertalk_wire::PostedMessage {
            message: RoomMessage {
                id: 100 + seq,
                room_id,
                seq,
                user_id: 1,
                username: "alice".into(),
                body: format!("m{seq}"),
                created_at: Utc::now(),
                bot: None,
            },
            client_id: None,
        })
    }

    fn ids(rx: &mut mpsc::Receiver<Outbound>) -> Vec<i64> {
        let mut out = Vec::new();
        while let Ok(o) = rx.try_recv() {
            if let Outbound::Room { id, .. } = o {
                out.push(id);
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

    /// A pool that never connects: these tests must not reach the database.
    fn hub() -> Arc<Hub> {
        let pool = sqlx::postgres::PgPoolOptions::new()
            .connect_lazy("postgres://nobody@127.0.0.1:1/none")
            .unwrap();
        Hub::new(
            pool,
            Duration::from_secs(3600),
            Arc::new(SessionCache::new(Duration::ZERO)),
        )
    }

    #[tokio::test]
    async fn out_of_order_messages_are_delivered_in_sequence() {
        let hub = hub();
        let (tx, mut rx) = mpsc::channel(16);
        let conn = connect(&hub, tx, Arc::new(Closer::default()));
        hub.join(conn, 7);
        hub.set_floor(7, 10);
        hub.dispatch(msg(7, 12));
        hub.dispatch(msg(7, 13));
        assert_eq!(ids(&mut rx), Vec::<i64>::new(), "held back behind the gap at 11");
        hub.dispatch(msg(7, 11));
        assert_eq!(ids(&mut rx), vec![111, 112, 113]);
        hub.dispatch(msg(7, 12));
        assert_eq!(ids(&mut rx), Vec::<i64>::new(), "duplicates are dropped");
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
        assert_eq!(ids(&mut rx), vec![106]);
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
        let hub = hub();
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
        hub.dispatch(Event::Presence(change(a, "ann")));
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
