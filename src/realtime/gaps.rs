//! Gap filling: reads from PostgreSQL (through `store`) the room messages a room's sequencer is
//! missing, and hands them back to the hub like any event. One task owns every fill; the hub
//! asks for a fill through `GapRequests` when a sequencer says so (`sequencer::Fill`), at most
//! one per room at a time, so the request queue is bounded by the rooms with local sockets.

use std::sync::Arc;
use std::time::Duration;

use sqlx::PgPool;
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use super::hub::Hub;
use super::protocol::RoomFrames;
use super::sequencer::Fill;
use crate::shutdown::Shutdown;
use crate::store::messages::{self, StreamItem};

/// How the hub asks for fills.
#[derive(Clone)]
pub struct GapRequests(mpsc::UnboundedSender<(i64, Fill)>);

/// The gap task's end of the requests.
pub struct GapQueue(mpsc::UnboundedReceiver<(i64, Fill)>);

pub fn channel() -> (GapRequests, GapQueue) {
    let (tx, rx) = mpsc::unbounded_channel();
    (GapRequests(tx), GapQueue(rx))
}

impl GapRequests {
    pub fn request(&self, room_id: i64, fill: Fill) {
        metrics::counter!("tickertalk_gap_fills_total").increment(1);
        // Closed only after the stop: the sockets are gone by then, and with them the rooms.
        let _ = self.0.send((room_id, fill));
    }
}

/// The gap task: runs each requested fill (concurrently across rooms) until the stop. A fill
/// only reads, so one cut short by the stop loses nothing: the messages stay stored.
pub async fn run(hub: Arc<Hub>, db: PgPool, gap_wait: Duration, mut queue: GapQueue, mut stop: Shutdown) {
    let mut fills = JoinSet::new();
    loop {
        tokio::select! {
            request = queue.0.recv() => match request {
                Some((room_id, fill)) => {
                    let wait = match fill {
                        Fill::AfterWait => gap_wait,
                        Fill::Now => Duration::ZERO,
                    };
                    fills.spawn(fill_room(hub.clone(), db.clone(), room_id, wait));
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
    /// Tests: the next request, if one is waiting.
    pub fn try_next(&mut self) -> Option<(i64, Fill)> {
        self.0.try_recv().ok()
    }
}
