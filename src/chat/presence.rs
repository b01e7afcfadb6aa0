//! Being in a room: the room's sequence floor and replay a joining socket needs, presence (who
//! is here, across every instance) and typing notices. The real-time layer calls these; the
//! sockets themselves live there.

use std::collections::HashSet;
use std::sync::Arc;

use sqlx::PgPool;
use tickertalk_wire::{Event, PresenceChange};
use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;

use super::{Chat, ChatError};
use crate::auth::AuthUser;
use crate::bus::Bus;
use crate::shutdown::ShutdownSignal;
use crate::store::messages::StreamItem;
use crate::store::{self, StoreError};

/// A joining socket's replay (`Chat::replay`).
pub struct Replay {
    pub items: Vec<StreamItem>,
    /// `(message id, emoji)` pairs the reader reacted with, among `items`.
    pub mine: HashSet<(i64, String)>,
}

/// A socket entering or leaving a room, waiting on `done` for its presence row to be recorded
/// (an entry is answered with the room's list).
pub(super) struct Move<T> {
    user_id: i64,
    username: String,
    conn_id: Uuid,
    room_id: i64,
    done: oneshot::Sender<T>,
}

pub(super) type Entry = Move<Vec<String>>;
pub(super) type Exit = Move<()>;

impl<T> Move<T> {
    fn new(user: &AuthUser, conn_id: Uuid, room_id: i64) -> (Move<T>, oneshot::Receiver<T>) {
        let (done, answer) = oneshot::channel();
        let job = Move {
            user_id: user.user_id,
            username: user.username.clone(),
            conn_id,
            room_id,
            done,
        };
        (job, answer)
    }
}

/// Answers each job of a batch, then publishes one event announcing `joined` (`entering`) or
/// `left` for the jobs whose flag is set, each (room, user) once: two sockets of one user
/// entering or leaving one room in one batch make one notice. Ephemeral: handed to the broker
/// in order, its confirm not awaited.
fn answer_and_announce<T>(
    bus: &Arc<Bus>,
    entering: bool,
    batch: impl IntoIterator<Item = (Move<T>, bool, T)>,
) {
    let mut announced = HashSet::new();
    let mut changes = Vec::new();
    for (job, announce, answer) in batch {
        if announce && announced.insert((job.room_id, job.user_id)) {
            let name = Some(job.username);
            let (joined, left) = if entering { (name, None) } else { (None, name) };
            changes.push(PresenceChange {
                room_id: job.room_id,
                conn_id: job.conn_id,
                joined,
                left,
            });
        }
        let _ = job.done.send(answer);
    }
    if !changes.is_empty() {
        bus.publish(Event::Presences { changes });
    }
}

/// At most this many entries per statement.
const MAX_ENTRIES: usize = 256;

/// Starts the task that records presence entries in batches (a join storm is one statement per
/// batch, not one per join: the 10,000-socket benchmark's PostgreSQL profile).
pub(super) fn spawn_entries(
    db: PgPool,
    bus: Arc<Bus>,
    instance: Uuid,
    stop: &ShutdownSignal,
) -> mpsc::Sender<Entry> {
    super::batch::spawn("presence entries", 4096, MAX_ENTRIES, stop, move |jobs| {
        enter_all(db.clone(), bus.clone(), instance, jobs)
    })
}

async fn enter_all(db: PgPool, bus: Arc<Bus>, instance: Uuid, jobs: Vec<Entry>) {
    let joins: Vec<(Uuid, i64, i64)> = jobs.iter().map(|j| (j.conn_id, j.room_id, j.user_id)).collect();
    let rows = match store::presence::enter_batch(&db, instance, &joins).await {
        Ok(rows) => rows,
        // The database cannot be reached: asking again per entry would make every join of the
        // batch wait out the pool's timeout in turn. Presence is advisory: the joins go on with
        // an empty list.
        Err(StoreError::Unavailable(e)) => {
            tracing::warn!(error = %e, batch = jobs.len(), "presence not recorded: database unavailable");
            vec![(false, Vec::new()); jobs.len()]
        }
        Err(e) => {
            tracing::warn!(error = %e, batch = jobs.len(), "presence batch failed; entering one by one");
            let mut rows = Vec::with_capacity(jobs.len());
            for j in &jobs {
                match store::presence::enter_batch(&db, instance, &[(j.conn_id, j.room_id, j.user_id)]).await
                {
                    Ok(mut one) => rows.push(one.pop().unwrap_or_default()),
                    Err(e) => {
                        tracing::warn!(room_id = j.room_id, error = %e, "presence not recorded");
                        rows.push((false, Vec::new()));
                    }
                }
            }
            rows
        }
    };
    // Opening a room makes (or keeps) one a member: the members list is everyone who joined.
    let members: Vec<(i64, i64)> = jobs.iter().map(|j| (j.room_id, j.user_id)).collect();
    if let Err(e) = store::rooms::join_batch(&db, &members).await {
        tracing::warn!(error = %e, batch = jobs.len(), "room members not recorded");
    }
    let batch = jobs
        .into_iter()
        .zip(rows)
        .map(|(job, (first, users))| (job, first, users));
    answer_and_announce(&bus, true, batch);
}

/// Starts the task that removes presence rows in batches: an instance's clients all dropping
/// at once (or a graceful stop closing every socket) was two statements and one event per
/// socket.
pub(super) fn spawn_exits(db: PgPool, bus: Arc<Bus>, stop: &ShutdownSignal) -> mpsc::Sender<Exit> {
    super::batch::spawn("presence exits", 4096, MAX_ENTRIES, stop, move |jobs| {
        leave_all(db.clone(), bus.clone(), jobs)
    })
}

async fn leave_all(db: PgPool, bus: Arc<Bus>, jobs: Vec<Exit>) {
    let leaves: Vec<(Uuid, i64)> = jobs.iter().map(|j| (j.conn_id, j.room_id)).collect();
    let gone = match store::presence::leave_batch(&db, &leaves).await {
        Ok(gone) => gone.into_iter().collect::<HashSet<_>>(),
        // The rows stay until this instance's heartbeat lapses or it restores its presence;
        // nothing else can be done about an advisory list here.
        Err(e) => {
            tracing::warn!(error = %e, batch = jobs.len(), "presence not cleared");
            HashSet::new()
        }
    };
    let batch = jobs.into_iter().map(|job| {
        let last = gone.contains(&(job.room_id, job.user_id));
        (job, last, ())
    });
    answer_and_announce(&bus, false, batch);
}

impl Chat {
    /// The room's latest stream position (`UnknownRoom` if it does not exist). A socket reads
    /// it after registering in the room, so no live item can fall between the two; history
    /// reads it to know whether its cached latest page is still the latest (an edit or a
    /// reaction moves it too).
    pub async fn last_rev(&self, room_id: i64) -> Result<i64, ChatError> {
        store::rooms::last_rev(&self.db, room_id)
            .await?
            .ok_or(ChatError::UnknownRoom)
    }

    /// What `user_id` missed in a room after message id `since`: new messages and changes, in
    /// stream order, at most `limit`; and which of their reactions are the user's.
    pub async fn replay(
        &self,
        user_id: i64,
        room_id: i64,
        since: i64,
        limit: i64,
    ) -> Result<Replay, ChatError> {
        let items = store::messages::after(&self.db, room_id, since, limit).await?;
        let ids: Vec<i64> = items
            .iter()
            .map(|i| match i {
                StreamItem::New(p) => &p.message,
                StreamItem::Changed(m) => m,
            })
            .filter(|m| !m.reactions.is_empty())
            .map(|m| m.id)
            .collect();
        let mine = self.my_reactions(super::Kind::Room, user_id, &ids).await?;
        Ok(Replay { items, mine })
    }

    /// Records socket `conn_id` of `user` in a room, announcing `joined` to the room when it is
    /// the user's first socket there, and returns who is in the room now. Entries are batched
    /// (`spawn_entries`): one statement for every join queued meanwhile. Presence is advisory: a
    /// failure is logged, not raised, and the list is then read alone.
    pub async fn enter_presence(&self, user: &AuthUser, conn_id: Uuid, room_id: i64) -> Vec<String> {
        let (job, users) = Entry::new(user, conn_id, room_id);
        if self.entries.send(job).await.is_ok()
            && let Ok(users) = users.await
        {
            return users;
        }
        self.present_users(room_id).await
    }

    /// Forgets socket `conn_id` in a room, announcing `left` when the user has no socket there
    /// any more (on any instance). Exits are batched like entries (`spawn_exits`): a
    /// disconnect storm is two statements and one event per batch. Returns once recorded (or
    /// given up on: presence is advisory, a failure is logged).
    pub async fn leave_presence(&self, user: &AuthUser, conn_id: Uuid, room_id: i64) {
        let (job, recorded) = Exit::new(user, conn_id, room_id);
        if self.exits.send(job).await.is_ok() {
            let _ = recorded.await;
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
        self.bus.publish(Event::Typing {
            room_id,
            username: user.username.clone(),
            conn_id,
        });
    }

    /// `user` is typing a direct message to `recipient`: that user's sockets hear of it.
    pub async fn typing_to(&self, user: &AuthUser, recipient: &str) -> Result<(), ChatError> {
        let peer = self.user_named(recipient).await?;
        self.bus.publish(Event::DirectTyping {
            recipient_id: peer.id,
            username: user.username.clone(),
        });
        Ok(())
    }

    /// Keeps this instance's presence rows alive, and sweeps instances that died without
    /// cleaning up.
    /// True when PostgreSQL had lost this instance (see `store::presence::heartbeat`): its
    /// sockets' presence must be recorded again (`restore_presence`).
    pub async fn heartbeat(&self) -> Result<bool, ChatError> {
        Ok(store::presence::heartbeat(&self.db, self.instance_id()).await?)
    }

    /// Records the presence of this instance's live sockets again, `(conn_id, room_id,
    /// user_id)`, so that joiners' lists are right after the database lost the rows.
    pub async fn restore_presence(&self, entries: &[(Uuid, i64, i64)]) -> Result<u64, ChatError> {
        Ok(store::presence::restore(&self.db, self.instance_id(), entries).await?)
    }

    /// Forgets this instance and its sockets' presence (graceful shutdown).
    pub async fn retire(&self) -> Result<(), ChatError> {
        Ok(store::presence::retire(&self.db, self.instance_id()).await?)
    }
}
