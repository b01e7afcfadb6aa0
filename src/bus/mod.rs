//! The bus: this instance's one supervised RabbitMQ connection, and the handle the rest of the
//! server publishes through. It is a few files, one job each:
//!
//! - `connection`: connect, declare the topology (`docs/rabbitmq.md`), consume, reconnect with
//!   capped exponential backoff;
//! - `publisher`: send queued events in order with confirms, and make up for failed ones;
//! - `consumer`: what each delivery means (events to the `EventSink`, stock answers to the
//!   `AnswerStore`);
//! - `codec` and `unsent`: encoding and decoding, and the publisher's bookkeeping, without I/O.
//!
//! Publishing never waits for the broker: a post must not stall because RabbitMQ is slow or
//! down. `publish` hands the event to this instance at once (its own sockets, the author's
//! acknowledgement among them, never wait on RabbitMQ), then queues it for the publisher task,
//! which sends events in order, marked with this instance's id so that the copy coming back
//! from the broker is skipped. A broker that is down, slow or frozen costs other instances a
//! publish (they read the message from PostgreSQL when they notice the gap, or when the room's
//! tip is announced), never a waiting post. Every broker call has a time limit.
//!
//! Layer 2 (docs/architecture.md): it may use the wire crate, `shutdown` and `domain`. It must
//! not know who consumes events: the real-time hub plugs in as the `EventSink` given to `new`,
//! and the chat use cases as the `AnswerStore` given to `supervise`, which is what keeps the
//! bus below the chat use cases and the hub above both.

mod codec;
mod connection;
mod consumer;
mod interest;
mod publisher;
mod unsent;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use futures_util::future::BoxFuture;
use lapin::options::QueueDeclareOptions;
use lapin::types::FieldTable;
use lapin::{Channel, Connection};
use tickertalk_wire::topology::{STOCK_KEY, name};
use tickertalk_wire::{
    Event, Nodes, PriceRefresh, PriceReport, REFRESH_TYPE, StockAnswer, StockCommand, Topology,
};
use tokio::sync::{Notify, RwLock, mpsc, oneshot, watch};
use uuid::Uuid;

use crate::shutdown::ShutdownSignal;
use codec::Outgoing;
pub use consumer::unanswered;
pub use interest::{Interest, LINGER};
use unsent::{Confirms, UNSENT_KEPT, Unsent};

/// How long a logout waits for every instance to acknowledge it.
const ACK_WAIT: Duration = Duration::from_secs(2);

/// The limit on any other single broker call (handing a publish over, a queue check, the
/// readiness probe): a frozen broker must not hold a caller longer than this.
const CALL_TIMEOUT: Duration = Duration::from_secs(1);

/// Publishes waiting for the publisher task. Bounded: when a stalled broker fills it, further
/// publishes are dropped (with a warning) rather than held in memory; other instances read
/// the stored messages from PostgreSQL when they notice the gap.
const PUBLISH_QUEUE: usize = 1024;

/// Where the events this instance receives go: the real-time hub, in the server. A trait, not
/// the hub itself, so the bus does not depend on the layer above it.
pub trait EventSink: Send + Sync {
    /// One event from the broker (or published here while the broker was down). Must not block:
    /// it runs on the consumer task, which every event of this instance goes through.
    fn deliver(&self, event: Event);

    /// The broker connection is back: events published meanwhile never reached this instance's
    /// queue (it died with the old connection), so whatever was stored must be re-read.
    fn reconnected(&self);
}

/// Where answers to stock commands are stored (the chat use cases, in the server): a trait for
/// the same reason as `EventSink`. The bus acknowledges an answer to the broker only after
/// `store` succeeded, so an answer is never lost between the queue and the database.
pub trait AnswerStore: Send + Sync {
    /// Stores the answer in its room (once per request id) and publishes it; `Err` when it
    /// could not be stored now (the answer then goes back to its queue).
    fn store(&self, answer: StockAnswer) -> BoxFuture<'_, Result<(), String>>;
    /// Stores a bot's prices for a refresh this side asked for (and fires the alerts they
    /// cross); `Err` when it could not be done now (the report then goes back to its queue).
    fn store_prices(&self, report: PriceReport) -> BoxFuture<'_, Result<(), String>>;
}

/// Why a publish failed. Every variant means "not delivered through the broker"; callers fall
/// back (local delivery, an "unavailable" reply) rather than retry in line.
#[derive(Debug, thiserror::Error)]
pub enum BusError {
    #[error("broker unavailable")]
    Down,
    #[error("broker refused the message")]
    Nacked,
    #[error("broker error: {0}")]
    Amqp(#[from] lapin::Error),
    #[error("broker confirm timed out")]
    Timeout,
    #[error("no bot is consuming commands")]
    NoBot,
}

/// The live connection, present only while connected.
struct Live {
    conn: Connection,
    /// Confirm-mode channel shared by every publisher of this instance (lapin channels are
    /// safe to use concurrently; confirms are matched per publish).
    publish: Channel,
    /// The channel that declared `queue`, where its room-shard bindings change (`interest`).
    control: Channel,
    /// This instance's event queue on this connection (server-named).
    queue: String,
    /// `host:port` of the node this connection is to.
    endpoint: String,
}

/// A server instance's handle on RabbitMQ: publish from anywhere, consume in `supervise`.
pub struct Bus {
    /// The nodes of `AMQP_URL` (secret-bearing URLs; only their `host:port` is ever logged),
    /// and which one to connect to next.
    nodes: Nodes,
    pub topology: Topology,
    /// The room shards this instance's queue is bound to (routing by interest).
    pub interest: Arc<Interest>,
    /// `None` while disconnected: publishers fail fast instead of queueing behind a reconnect.
    live: RwLock<Option<Live>>,
    /// Flips to true while connected; `/readyz` and tests read it.
    up_tx: watch::Sender<bool>,
    /// Receives every event: consumed ones, and published ones the broker could not take.
    sink: Arc<dyn EventSink>,
    /// This instance, as it acknowledges revocations (the same id as its presence rows).
    pub instance_id: Uuid,
    /// Logouts waiting for every instance to acknowledge them (`announce_revocation`).
    revocations: std::sync::Mutex<HashMap<Uuid, Awaiting>>,
    /// Events for the publisher task, in `publish` order.
    outbox: mpsc::Sender<Outgoing>,
    /// What failed to reach the broker and must be made up for once it is back.
    unsent: std::sync::Mutex<Unsent>,
    /// Wakes the resender task when something was added to `unsent`.
    resend: Arc<Notify>,
    /// Tests: while true, the bus stays disconnected (`hold_down`, `release`).
    held: watch::Sender<bool>,
    /// Outstanding confirms of the publisher task (for readiness).
    confirms: std::sync::Mutex<Confirms>,
    /// Rooms this instance stored messages in since the last `RoomActivity` it published, with
    /// their latest `seq`.
    activity: std::sync::Mutex<HashMap<i64, i64>>,
}

/// How often an instance tells every other which rooms it stored messages in (for room lists'
/// unread counts, which every socket shows, joined or not).
const ACTIVITY_EVERY: Duration = Duration::from_secs(1);

/// A logout waiting for instances to acknowledge its revocation.
struct Awaiting {
    pending: HashSet<Uuid>,
    done: oneshot::Sender<()>,
}

impl Bus {
    /// A bus handing every event to `sink`, with its publisher and resender tasks started
    /// under `outbox` (the stop drains the publish queue and waits for its confirms), and the
    /// sweeper of `interest`'s idle bindings; nothing connects before `supervise`.
    pub fn new(
        nodes: Nodes,
        prefix: &str,
        sink: Arc<dyn EventSink>,
        interest: Arc<Interest>,
        outbox_stop: &ShutdownSignal,
    ) -> Arc<Self> {
        let (outbox, queued) = mpsc::channel(PUBLISH_QUEUE);
        let up_tx = watch::channel(false).0;
        let resend = Arc::new(Notify::new());
        Arc::new_cyclic(|bus: &Weak<Bus>| {
            let weak = bus.clone();
            outbox_stop.spawn("publisher", |stop| publisher::publisher(weak, queued, stop));
            let (weak, wake, up) = (bus.clone(), resend.clone(), up_tx.subscribe());
            outbox_stop.spawn("resender", |stop| publisher::resender(weak, wake, up, stop));
            let weak = bus.clone();
            outbox_stop.spawn("binding sweeper", |stop| connection::sweeper(weak, stop));
            let weak = bus.clone();
            outbox_stop.spawn("activity announcer", |stop| announce_activity(weak, stop));
            interest.attach(bus.clone());
            Bus {
                instance_id: Uuid::new_v4(),
                nodes,
                topology: Topology::new(prefix),
                interest,
                live: RwLock::new(None),
                up_tx,
                sink,
                revocations: Default::default(),
                outbox,
                unsent: Default::default(),
                resend,
                held: watch::channel(false).0,
                confirms: std::sync::Mutex::new(Confirms::new(Instant::now())),
                activity: Default::default(),
            }
        })
    }

    pub fn is_up(&self) -> bool {
        *self.up_tx.borrow()
    }

    /// Unbinds the room shards that would be idle for `LINGER` at `at` (the sweeper does this
    /// every few seconds; tests call it with a later `at` to unbind at a moment they choose).
    pub async fn sweep_bindings(&self, at: Instant) {
        self.interest.sweep(self, at).await;
    }

    /// `host:port` of the node connected to now, if any (tests kill that node).
    pub async fn node(&self) -> Option<String> {
        Some(self.live.read().await.as_ref()?.endpoint.clone())
    }

    /// Watches the connected/disconnected state.
    pub fn watch(&self) -> watch::Receiver<bool> {
        self.up_tx.subscribe()
    }

    /// Delivers an event to this instance at once, then queues it for every other instance
    /// (in call order, without waiting: see the module comment). Never fails: the event
    /// describes something already stored (or ephemeral, like typing).
    pub fn publish(self: &Arc<Self>, event: Event) {
        if let Event::RoomMessages { messages } = &event {
            let mut activity = self.activity.lock().unwrap_or_else(|p| p.into_inner());
            for p in messages {
                let seq = activity.entry(p.message.room_id).or_insert(p.message.seq);
                *seq = (*seq).max(p.message.seq);
            }
        }
        let outs = Outgoing::all(&event);
        self.consumed(event);
        for out in outs {
            self.enqueue(out);
        }
    }

    /// Queues an event for the publisher task, or remembers it as unsent when the queue is full.
    fn enqueue(&self, out: Outgoing) {
        if let Err(e) = self.outbox.try_send(out) {
            let (mpsc::error::TrySendError::Full(out) | mpsc::error::TrySendError::Closed(out)) = e;
            tracing::warn!(key = %out.key, "publish queue full or closed: made up for once it drains");
            self.missed(out);
        }
    }

    /// A publish that did not (or may not have) reached the broker: remembered, and made up
    /// for by the resender once the broker takes publishes again.
    fn missed(&self, out: Outgoing) {
        let kept = self.lock_unsent().add(out);
        if !kept {
            metrics::counter!("tickertalk_broker_unsent_dropped_total").increment(1);
            tracing::warn!(
                kept = UNSENT_KEPT,
                "too many unsent events: the oldest is dropped"
            );
        }
        self.resend.notify_one();
    }

    /// Tests: drops the broker connection and keeps it down until `release`, so that a test
    /// publishes while the broker is unreachable at a point of its own choosing.
    pub async fn hold_down(&self) {
        self.held.send_replace(true);
        self.drop_connection().await;
        let _ = self.watch().wait_for(|up| !*up).await;
    }

    /// Tests: lets a bus held down by `hold_down` connect again.
    pub fn release(&self) {
        self.held.send_replace(false);
    }

    /// Ready as far as the broker goes: connected, its confirms not stalled, and answering a
    /// queue check within `CALL_TIMEOUT` (a frozen broker keeps the connection open).
    pub async fn ready(&self) -> bool {
        if !self.is_up() {
            return false;
        }
        if self.lock_confirms().stalled(Instant::now()) {
            return false;
        }
        let guard = self.live.read().await;
        let Some(live) = guard.as_ref() else { return false };
        let check = live.publish.queue_declare(
            name(&self.topology.stock_queue),
            QueueDeclareOptions {
                passive: true,
                ..Default::default()
            },
            FieldTable::default(),
        );
        matches!(tokio::time::timeout(CALL_TIMEOUT, check).await, Ok(Ok(_)))
    }

    fn lock_confirms(&self) -> std::sync::MutexGuard<'_, Confirms> {
        self.confirms.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn lock_unsent(&self) -> std::sync::MutexGuard<'_, Unsent> {
        self.unsent.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Publishes not yet confirmed, and events waiting to be made up for: both zero once the
    /// publisher has drained at a clean stop with the broker up.
    pub fn outstanding(&self) -> (usize, usize) {
        (self.lock_confirms().in_flight(), self.lock_unsent().len())
    }

    /// Publishes an event (not a multi-shard batch) to the instances it concerns and waits for
    /// the broker's confirm.
    pub async fn publish_event(&self, event: &Event) -> Result<(), BusError> {
        let payload = codec::encode(event);
        // Events are a fan-out of data already stored in PostgreSQL: transient delivery mode is
        // enough (a lost event is re-read from the database by the gap filler).
        self.send(&self.topology.events, &event.routing_key(), &payload, 1, None)
            .await
    }

    /// Announces a logout to every instance and returns once each of `instances` (the live
    /// ones, this one included) has acknowledged it, or after `ACK_WAIT`. An instance
    /// acknowledges after it has closed the session's sockets and dropped the session from its
    /// authentication cache, so a client told "logged out" cannot then get in through another
    /// instance's cache. Past `ACK_WAIT` (an instance frozen or cut off from the broker while
    /// still marked live) the logout answers anyway: such an instance trusts the session for at
    /// most its cache lifetime (`auth::session_cache`).
    pub async fn announce_revocation(self: &Arc<Self>, session_id: Uuid, instances: HashSet<Uuid>) {
        let (done, acked) = oneshot::channel();
        if !instances.is_empty() {
            self.lock_revocations().insert(
                session_id,
                Awaiting {
                    pending: instances,
                    done,
                },
            );
        }
        let event = Event::SessionRevoked { session_id };
        if let Err(e) = self.publish_event(&event).await {
            tracing::warn!(error = %e, key = %event.routing_key(), "publish failed; delivering locally");
            self.lock_revocations().remove(&session_id);
            self.sink.deliver(event);
            return;
        }
        let heard = tokio::time::timeout(ACK_WAIT, acked).await;
        if let Some(left) = self.lock_revocations().remove(&session_id) {
            tracing::warn!(%session_id, silent = left.pending.len(), "revocation not acknowledged by every instance in time");
        } else if heard.is_err() {
            tracing::warn!(%session_id, "revocation not acknowledged in time");
        }
    }

    fn lock_revocations(&self) -> std::sync::MutexGuard<'_, HashMap<Uuid, Awaiting>> {
        self.revocations.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Queues a bot command durably (persistent message, confirmed by the broker).
    /// Refuses when no bot consumes the queue, so the caller can say so instead of leaving
    /// the room in silence.
    pub async fn publish_command(&self, cmd: &StockCommand) -> Result<(), BusError> {
        if self.bot_consumers().await? == 0 {
            return Err(BusError::NoBot);
        }
        let payload = serde_json::to_vec(cmd).expect("commands always serialise");
        self.send(&self.topology.commands, STOCK_KEY, &payload, 2, None)
            .await?;
        metrics::counter!("tickertalk_stock_commands_total").increment(1);
        Ok(())
    }

    /// Queues a price refresh for the bots (persistent, confirmed; it expires like a command
    /// when no bot takes it, and the next period's refresh asks again).
    pub async fn publish_refresh(&self, refresh: &PriceRefresh) -> Result<(), BusError> {
        let payload = serde_json::to_vec(refresh).expect("refreshes always serialise");
        self.send(
            &self.topology.commands,
            STOCK_KEY,
            &payload,
            2,
            Some(REFRESH_TYPE),
        )
        .await
    }

    /// How many bots consume the command queue now (a passive declare); also kept in the
    /// `tickertalk_stock_bot_consumers` gauge, which the heartbeat refreshes.
    pub async fn bot_consumers(&self) -> Result<u32, BusError> {
        let guard = self.live.read().await;
        let live = guard.as_ref().ok_or(BusError::Down)?;
        let passive = QueueDeclareOptions {
            passive: true,
            ..Default::default()
        };
        let check =
            live.publish
                .queue_declare(name(&self.topology.stock_queue), passive, FieldTable::default());
        let queue = tokio::time::timeout(CALL_TIMEOUT, check)
            .await
            .map_err(|_| BusError::Timeout)??;
        metrics::gauge!("tickertalk_stock_bot_consumers").set(f64::from(queue.consumer_count()));
        Ok(queue.consumer_count())
    }
}

/// Every `ACTIVITY_EVERY`, publishes the rooms this instance stored messages in meanwhile to
/// every instance: room events reach only the instances with sockets in the room's shard, but
/// every socket's room list shows unread counts.
async fn announce_activity(bus: Weak<Bus>, mut stop: crate::shutdown::Shutdown) {
    let mut tick = tokio::time::interval(ACTIVITY_EVERY);
    loop {
        tokio::select! {
            _ = stop.recv() => break,
            _ = tick.tick() => {}
        }
        let Some(bus) = bus.upgrade() else { break };
        let mut rooms: Vec<tickertalk_wire::RoomTip> =
            std::mem::take(&mut *bus.activity.lock().unwrap_or_else(|p| p.into_inner()))
                .into_iter()
                .map(|(room_id, seq)| tickertalk_wire::RoomTip { room_id, seq })
                .collect();
        if !rooms.is_empty() {
            rooms.sort_unstable_by_key(|t| t.room_id);
            // Not through `publish`: this instance recorded its own activity already.
            bus.enqueue(Outgoing::all(&Event::RoomActivity { rooms }).remove(0));
        }
    }
}
