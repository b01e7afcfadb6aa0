//! Gap filling: reads from PostgreSQL (through `store`) the room messages a room's sequencer is
//! missing, and hands them back to the hub like any event. One task owns every fill; the hub
//! asks for a fill through `GapRequests` when a sequencer says so (`sequencer::Fill`), at most
//! one per room at a time, so the request queue is bounded by the rooms with local sockets.
//!
//! Direct messages have no sequence to notice a gap by: after a broker reconnect the hub asks
//! for the direct messages of its users stored since shortly before the connection was lost
//! (`request_direct`), and sockets skip the ones they already have.

use std::sync::Arc;
use std::time::Duration;

use sqlx::PgPool;
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use super::hub::Hub;
use super::protocol::RoomFrames;
use super::sequencer::Fill;
use crate::shutdown::Shutdown;
use crate::store::dms;
use crate::store::messages::{self, StreamItem};

/// What the gap task is asked to read.
#[derive(Debug, PartialEq)]
pub enum Request {
    /// A room's missing messages.
    Room(i64, Fill),
    /// The direct messages of `users` after id `since` (one per reconnect).
    Direct { users: Vec<i64>, since: i64 },
}

/// How the hub asks for fills.
#[derive(Clone)]
pub struct GapRequests(mpsc::UnboundedSender<Request>);

/// The gap task's end of the requests.
pub struct GapQueue(mpsc::UnboundedReceiver<Request>);

pub fn channel() -> (GapRequests, GapQueue) {
    let (tx, rx) = mpsc::unbounded_channel();
    (GapRequests(tx), GapQueue(rx))
}

impl GapRequests {
    pub fn request(&self, room_id: i64, fill: Fill) {
        metrics::counter!("tickertalk_gap_fills_total").increment(1);
        // Closed only after the stop: the sockets are gone by then, and with them the rooms.
        let _ = self.0.send(Request::Room(room_id, fill));
    }

    /// After a reconnect: the direct messages of `users` stored after id `since`.
    pub fn request_direct(&self, users: Vec<i64>, since: i64) {
        if !users.is_empty() {
            let _ = self.0.send(Request::Direct { users, since });
        }
    }
}

/// The gap task: runs each requested fill (concurrently across rooms) until the stop. A fill
/// only reads, so one cut short by the stop loses nothing: the messages stay stored.
pub async fn run(hub: Arc<Hub>, db: PgPool, gap_wait: Duration, mut queue: GapQueue, mut stop: Shutdown) {
    let mut fills = JoinSet::new();
    loop {
        tokio::select! {
            request = queue.0.recv() => match request {
                Some(Request::Room(room_id, fill)) => {
                    let wait = match fill {
                        Fill::AfterWait => gap_wait,
                        Fill::Now => Duration::ZERO,
                    };
                    fills.spawn(fill_room(hub.clone(), db.clone(), room_id, wait));
                }
                Some(Request::Direct { users, since }) => {
                    fills.spawn(fill_direct(hub.clone(), db.clone(), users, since));
                }
                None => break,
            },
            Some(_) = fills.join_next(), if !fills.is_empty() => {}
            _ = stop.recv() => break,
        }
    }
    fills.shutdown().await;
}

/// One fill: after `wait`, reads what the room's sequencer asks for until it asks for nothing,
/// then reports to it.
async fn fill_room(hub: Arc<Hub>, db: PgPool, room_id: i64, wait: Duration) {
    tokio::time::sleep(wait).await;
    // Whether any read found messages (a tip may name messages deleted since).
    let mut read_any = false;
    while let Some((from, to)) = hub.fill_range(room_id) {
        match messages::stream(&db, room_id, from, to, FILL_LIMIT).await {
            Ok(items) => {
                let full = items.len() as i64 == FILL_LIMIT;
                read_any |= !items.is_empty();
                hub.sequence(items.iter().map(frames).collect());
                if to == i64::MAX {
                    break;
                }
                if !full {
                    // Everything up to `to` that exists was read: what is still missing there
                    // is gone, and must not hold back what comes after it.
                    hub.read_up_to(room_id, to);
                }
            }
            Err(e) => {
                tracing::warn!(room_id, error = %e, "gap fill failed; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
    hub.fill_done(room_id, read_any);
}

/// The direct messages of `users` after `since`, delivered like live ones (each socket gets
/// only those it does not have). Bounded: a connection lost for long leaves the rest to the clients'
/// `dm_since` on their next connect.
async fn fill_direct(hub: Arc<Hub>, db: PgPool, users: Vec<i64>, since: i64) {
    for attempt in 0..3 {
        match dms::since_for_users(&db, &users, since, DIRECT_FILL_LIMIT).await {
            Ok(messages) => {
                metrics::counter!("tickertalk_direct_fills_total").increment(1);
                for message in &messages {
                    hub.caught_up_direct(message);
                }
                return;
            }
            Err(e) => {
                tracing::warn!(error = %e, attempt, "direct-message catch-up failed; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}

/// At most this many direct messages per catch-up.
const DIRECT_FILL_LIMIT: i64 = 2000;

/// At most this many stream items per read.
const FILL_LIMIT: i64 = 1000;

/// An item read back as the hub sequences it.
fn frames(item: &StreamItem) -> RoomFrames {
    match item {
        StreamItem::New(p) => RoomFrames::of(&p.message, p.client_id.as_deref()),
        StreamItem::Changed(m) => RoomFrames::changed(m, None),
    }
}

#[cfg(test)]
impl GapQueue {
    /// Tests: the next room request, if one is waiting.
    pub fn try_next(&mut self) -> Option<(i64, Fill)> {
        match self.0.try_recv().ok()? {
            Request::Room(room_id, fill) => Some((room_id, fill)),
            Request::Direct { .. } => self.try_next(),
        }
    }
}
