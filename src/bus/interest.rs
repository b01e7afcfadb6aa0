//! Routing by interest: this instance's queue is bound to the room shards it has sockets in
//! (`tickertalk_wire::routing`), so it receives those rooms' events and not every room's.
//!
//! The hub says when a room gains its first local socket (`enter`) and loses its last (`exit`);
//! a join waits in `follow` until the room's shard is bound before it reads the room's
//! sequence floor, so a message stored after that read is published after the binding exists
//! and reaches this instance. (Anything the sequencer still misses, it notices as a gap and
//! reads from PostgreSQL, as after a reconnect.)
//!
//! Unbinding lingers (`LINGER`): a shard whose rooms all emptied stays bound for a while, so
//! a user hopping between rooms, or a room that empties and refills, costs the broker nothing;
//! binding churn is what hurts a RabbitMQ cluster (each change is a cluster-wide metadata
//! transaction). The sweeper unbinds at most `UNBINDS_PER_SWEEP` shards per pass.
//!
//! Bindings die with the connection (the queue is exclusive): a (re)connect binds every shard
//! with rooms here again, under the same lock that `follow` takes, before the bus is marked up.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock, Weak};
use std::time::{Duration, Instant};

use lapin::Channel;
use lapin::options::QueueBindOptions;
use lapin::types::FieldTable;
use tickertalk_wire::Event;
use tickertalk_wire::routing::{shard_binding, shard_of};
use tickertalk_wire::topology::name;

use super::{Bus, BusError};

/// How long a shard stays bound after its last room here emptied.
pub const LINGER: Duration = Duration::from_secs(60);

/// How often the sweeper looks for shards to unbind.
pub const SWEEP_EVERY: Duration = Duration::from_secs(5);

/// Unbinds per sweep at most: an instance whose sockets all left (a deploy draining it) sheds
/// its bindings over a minute or so instead of in one burst.
const UNBINDS_PER_SWEEP: usize = 200;

/// The limit on one bind or unbind; past it the connection is dropped and re-made (which
/// binds everything again and re-reads every room).
const BIND_TIMEOUT: Duration = Duration::from_secs(5);

/// Which rooms and shards this instance follows, and which shards are bound now.
#[derive(Default)]
pub struct Interest {
    state: Mutex<State>,
    /// Serialises binding changes with each other and with a connect's re-binding.
    binder: tokio::sync::Mutex<()>,
    bus: OnceLock<Weak<Bus>>,
    /// Room items received from the broker, and those of rooms with local sockets (also in
    /// `/metrics`, which in-process test instances share).
    received: AtomicU64,
    needed: AtomicU64,
}

#[derive(Default)]
struct State {
    /// Rooms with local sockets.
    rooms: HashSet<i64>,
    /// Rooms with local sockets, per shard.
    shards: HashMap<i64, usize>,
    /// Bound shards with no room here any more, and since when.
    idle: HashMap<i64, Instant>,
    /// Shards bound on the current connection.
    bound: HashSet<i64>,
}

impl Interest {
    pub(super) fn attach(&self, bus: Weak<Bus>) {
        let _ = self.bus.set(bus);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A room gained its first local socket.
    pub fn enter(&self, room_id: i64) {
        let mut s = self.lock();
        if s.rooms.insert(room_id) {
            let shard = shard_of(room_id);
            *s.shards.entry(shard).or_default() += 1;
            s.idle.remove(&shard);
        }
    }

    /// A room lost its last local socket.
    pub fn exit(&self, room_id: i64) {
        let mut s = self.lock();
        if !s.rooms.remove(&room_id) {
            return;
        }
        let shard = shard_of(room_id);
        let left = s.shards.get_mut(&shard).map(|n| {
            *n -= 1;
            *n
        });
        if left == Some(0) {
            s.shards.remove(&shard);
            if s.bound.contains(&shard) {
                s.idle.insert(shard, Instant::now());
            }
        }
    }

    /// Returns once the room's shard is bound, or at once when the broker is not connected
    /// (the connect binds it). A bind that fails drops the connection, whose re-making binds
    /// it and re-reads every room: the join is never left without its events.
    pub async fn follow(&self, room_id: i64) {
        let shard = shard_of(room_id);
        if self.lock().bound.contains(&shard) {
            return;
        }
        let Some(bus) = self.bus.get().and_then(Weak::upgrade) else {
            return;
        };
        let _turn = self.binder.lock().await;
        if self.lock().bound.contains(&shard) {
            return;
        }
        let result = {
            let live = bus.live.read().await;
            let Some(live) = live.as_ref() else { return };
            bind(&live.control, &live.queue, &bus.topology.events, shard).await
        };
        match result {
            Ok(()) => {
                let mut s = self.lock();
                s.bound.insert(shard);
                // The room may have emptied while the bind was under way.
                if !s.shards.contains_key(&shard) {
                    s.idle.insert(shard, Instant::now());
                }
                metrics::gauge!("tickertalk_broker_shard_bindings").set(s.bound.len() as f64);
            }
            Err(e) => {
                tracing::warn!(error = %e, shard, "binding a room shard failed; reconnecting");
                bus.drop_connection().await;
            }
        }
    }

    /// On a new connection, with `binder` held by the caller: binds every shard with rooms here.
    pub(super) async fn rebind(&self, ch: &Channel, queue: &str, exchange: &str) -> Result<usize, BusError> {
        let shards: Vec<i64> = {
            let mut s = self.lock();
            s.bound.clear();
            s.idle.clear();
            s.shards.keys().copied().collect()
        };
        for &shard in &shards {
            bind(ch, queue, exchange, shard).await?;
        }
        let mut s = self.lock();
        s.bound.extend(shards.iter().copied());
        metrics::gauge!("tickertalk_broker_shard_bindings").set(s.bound.len() as f64);
        Ok(shards.len())
    }

    /// The lock a connect holds from declaring its queue until the bus is marked connected.
    pub(super) async fn turn(&self) -> tokio::sync::MutexGuard<'_, ()> {
        self.binder.lock().await
    }

    /// Unbinds shards idle for longer than `LINGER` (at most `UNBINDS_PER_SWEEP`).
    pub(super) async fn sweep(&self, bus: &Bus, now: Instant) {
        let due = |s: &State| -> Vec<i64> {
            s.idle
                .iter()
                .filter(|(_, since)| now.duration_since(**since) >= LINGER)
                .map(|(shard, _)| *shard)
                .take(UNBINDS_PER_SWEEP)
                .collect()
        };
        if due(&self.lock()).is_empty() {
            return;
        }
        let _turn = self.binder.lock().await;
        let live = bus.live.read().await;
        let Some(live) = live.as_ref() else { return };
        let shards = due(&self.lock());
        for shard in shards {
            {
                let mut s = self.lock();
                s.idle.remove(&shard);
                // A room of it filled again meanwhile: it stays bound.
                if s.shards.contains_key(&shard) || !s.bound.remove(&shard) {
                    continue;
                }
                metrics::gauge!("tickertalk_broker_shard_bindings").set(s.bound.len() as f64);
            }
            if let Err(e) = unbind(&live.control, &live.queue, &bus.topology.events, shard).await {
                tracing::warn!(error = %e, shard, "unbinding a room shard failed; reconnecting");
                let _ = live.conn.close(320, name("unbind failed")).await;
                return;
            }
        }
    }

    /// Counts an event's room items as received, and as needed when their room has local
    /// sockets (the `tickertalk_room_items_*_total` pair that shows what routing saves).
    pub(super) fn count(&self, event: &Event) {
        let items = event.room_items();
        if items.is_empty() {
            return;
        }
        let needed = {
            let s = self.lock();
            items.iter().filter(|room| s.rooms.contains(room)).count()
        };
        self.received.fetch_add(items.len() as u64, Ordering::Relaxed);
        self.needed.fetch_add(needed as u64, Ordering::Relaxed);
        metrics::counter!("tickertalk_room_items_received_total").increment(items.len() as u64);
        metrics::counter!("tickertalk_room_items_needed_total").increment(needed as u64);
    }

    /// Room items received from the broker so far, and how many of them were needed here.
    pub fn items(&self) -> (u64, u64) {
        (
            self.received.load(Ordering::Relaxed),
            self.needed.load(Ordering::Relaxed),
        )
    }

    /// Shards with rooms here (what a connect binds).
    pub(super) fn shards(&self) -> usize {
        self.lock().shards.len()
    }

    /// Shards bound now (tests, and the gauge).
    pub fn bound(&self) -> usize {
        self.lock().bound.len()
    }
}

async fn bind(ch: &Channel, queue: &str, exchange: &str, shard: i64) -> Result<(), BusError> {
    let call = ch.queue_bind(
        name(queue),
        name(exchange),
        name(&shard_binding(shard)),
        QueueBindOptions::default(),
        FieldTable::default(),
    );
    tokio::time::timeout(BIND_TIMEOUT, call)
        .await
        .map_err(|_| BusError::Timeout)??;
    metrics::counter!("tickertalk_broker_binding_changes_total", "change" => "bind").increment(1);
    Ok(())
}

async fn unbind(ch: &Channel, queue: &str, exchange: &str, shard: i64) -> Result<(), BusError> {
    let call = ch.queue_unbind(
        name(queue),
        name(exchange),
        name(&shard_binding(shard)),
        FieldTable::default(),
    );
    tokio::time::timeout(BIND_TIMEOUT, call)
        .await
        .map_err(|_| BusError::Timeout)??;
    metrics::counter!("tickertalk_broker_binding_changes_total", "change" => "unbind").increment(1);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use tickertalk_wire::routing::ROOM_SHARDS;

    #[test]
    fn a_shard_idles_only_when_its_last_room_empties_and_only_if_bound() {
        let i = Interest::default();
        i.enter(1);
        i.enter(1 + ROOM_SHARDS);
        i.lock().bound.insert(1);
        i.exit(1);
        assert!(
            i.lock().idle.is_empty(),
            "another room of shard 1 is still followed"
        );
        i.exit(1 + ROOM_SHARDS);
        assert!(i.lock().idle.contains_key(&1));
        i.enter(1);
        assert!(
            i.lock().idle.is_empty(),
            "a room back in the shard keeps it bound"
        );
        i.enter(2);
        i.exit(2);
        assert!(
            !i.lock().idle.contains_key(&2),
            "never bound, so nothing to unbind"
        );
    }

    #[tokio::test]
    async fn follow_without_a_bus_returns_at_once() {
        let i = Interest::default();
        i.enter(5);
        i.follow(5).await;
        assert_eq!(i.bound(), 0);
    }
}
