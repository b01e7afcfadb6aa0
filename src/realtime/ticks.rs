//! What is gathered and sent on a tick rather than at once: presence notices (who entered or
//! left a room) and room activity (which rooms have new messages, for unread counts). Each has
//! a task of its own that sleeps until something is gathered, waits out its tick, and hands
//! the lot to the hub to broadcast.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Notify;
use tokio_tungstenite::tungstenite::Utf8Bytes;

use super::hub::{ConnId, Hub};
use crate::shutdown::Shutdown;

/// Presence notices of a room are gathered for this long and then delivered together, so a
/// socket in a room many people join at once (a reconnect storm, a benchmark's 10,000 joins)
/// gets them in one write instead of one write each.
pub const PRESENCE_TICK: Duration = Duration::from_millis(100);

/// Room activity (for unread counts in every room list) is gathered for this long and then
/// sent as one frame to every socket: at most one extra frame per socket per tick, however
/// busy the rooms.
pub const ACTIVITY_TICK: Duration = Duration::from_secs(1);

/// One presence notice frame, and the socket that must not get it (it caused the change and
/// got the full list instead).
#[derive(Debug)]
pub struct Notice {
    pub except: ConnId,
    pub frame: Utf8Bytes,
}

/// What waits for the next ticks.
#[derive(Default)]
pub struct Ticks {
    /// Presence notices, by room.
    notices: Mutex<HashMap<i64, Vec<Notice>>>,
    /// Rooms with new messages since the last activity frame, with their latest `seq`.
    activity: Mutex<HashMap<i64, i64>>,
    notices_due: Notify,
    activity_due: Notify,
}

impl Ticks {
    pub fn notice(&self, room_id: i64, notice: Notice) {
        let mut notices = lock(&self.notices);
        if notices.is_empty() {
            self.notices_due.notify_one();
        }
        notices.entry(room_id).or_default().push(notice);
    }

    /// Room messages up to `seq` were stored in `room_id`.
    pub fn activity(&self, rooms: impl IntoIterator<Item = (i64, i64)>) {
        let mut activity = lock(&self.activity);
        let was_empty = activity.is_empty();
        for (room_id, seq) in rooms {
            let latest = activity.entry(room_id).or_insert(seq);
            *latest = (*latest).max(seq);
        }
        if was_empty && !activity.is_empty() {
            self.activity_due.notify_one();
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Delivers each room's gathered presence notices once per `PRESENCE_TICK`.
pub async fn presence(ticks: Arc<Ticks>, hub: Arc<Hub>, stop: Shutdown) {
    every_tick(&ticks.notices_due, PRESENCE_TICK, stop, || {
        let due = std::mem::take(&mut *lock(&ticks.notices));
        for (room_id, notices) in due {
            hub.notices(room_id, Arc::new(notices));
        }
    })
    .await
}

/// Sends the rooms' gathered activity once per `ACTIVITY_TICK`, as one frame to every `/v1`
/// socket (room lists show unread counts for rooms the socket has not joined).
pub async fn activity(ticks: Arc<Ticks>, hub: Arc<Hub>, stop: Shutdown) {
    every_tick(&ticks.activity_due, ACTIVITY_TICK, stop, || {
        let mut rooms: Vec<(i64, i64)> = lock(&ticks.activity).drain().collect();
        if !rooms.is_empty() {
            rooms.sort_unstable();
            hub.activity(&rooms);
        }
    })
    .await
}

/// Sleeps until `due` is notified (something was gathered), waits out `tick`, then `flush`es;
/// until the stop.
async fn every_tick(due: &Notify, tick: Duration, mut stop: Shutdown, mut flush: impl FnMut()) {
    loop {
        tokio::select! {
            _ = due.notified() => {}
            _ = stop.recv() => return,
        }
        tokio::select! {
            _ = tokio::time::sleep(tick) => {}
            _ = stop.recv() => return,
        }
        flush();
    }
}
