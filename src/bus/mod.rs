//! The bus: this instance's one supervised RabbitMQ connection. It connects, declares the
//! topology (`docs/rabbitmq.md`), consumes this instance's queue and hands every event to an
//! `EventSink`, and on any failure reconnects with capped exponential backoff.
//!
//! Publishing never waits for the broker (issue #12). `publish` hands the event to this
//! instance at once (its own sockets, the author's acknowledgement among them, never wait on
//! RabbitMQ), then queues it for the publisher task, which sends events in order, marked with
//! this instance's id so that the copy coming back from the broker is skipped. A broker that is
//! down, slow or frozen costs other instances a publish (they read the message from PostgreSQL
//! when they notice the gap), never a waiting post. Every broker call has a time limit.
//!
//! Layer 2 (docs/architecture.md): it may use the wire crate, `shutdown` and `domain`. It must
//! not know who consumes events: the real-time hub plugs in as an `EventSink` at start-up, which
//! is what keeps the bus below the chat use cases and the hub above both.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use futures_util::future::BoxFuture;
use lapin::message::Delivery;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicPublishOptions, BasicQosOptions, ConfirmSelectOptions,
    QueueDeclareOptions,
};
use lapin::options::{BasicNackOptions, BasicRejectOptions};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{BasicProperties, Channel, Confirmation, Connection, ConnectionProperties, PublisherConfirm};
use tickertalk_wire::topology::{STOCK_KEY, name};
use tickertalk_wire::{Backoff, BotMeta, BotReply, Event, RoomTip, StockAnswer, StockCommand, Topology};
use tokio::sync::{Notify, RwLock, mpsc, oneshot, watch};
use tracing::Instrument;
use uuid::Uuid;

use crate::shutdown::Shutdown;

/// How long a logout waits for every instance to acknowledge it.
const ACK_WAIT: Duration = Duration::from_secs(2);

/// How long a publish may wait for the broker's confirm before it counts as failed.
const CONFIRM_TIMEOUT: Duration = Duration::from_secs(5);

/// The limit on any other single broker call (handing a publish over, a queue check, the
/// readiness probe): a frozen broker must not hold a caller longer than this.
const CALL_TIMEOUT: Duration = Duration::from_secs(1);

/// Publishes waiting for the publisher task. Bounded: when a stalled broker fills it, further
/// publishes are dropped (with a warning) rather than held in memory; other instances read
/// the stored messages from PostgreSQL when they notice the gap.
const PUBLISH_QUEUE: usize = 1024;

/// Events that must reach other instances (direct messages, new rooms, read markers) whose
/// publish failed are kept, at most this many, and published again once the broker is back.
/// Room messages need no copy: the room's tip (its highest seq) is enough for other instances
/// to read them from PostgreSQL, and there is one tip per room.
const UNSENT_KEPT: usize = 1024;

/// After re-publishing what failed, the resender waits this long before it tries again (a
/// broker that takes publishes and then fails them must not make it loop).
const RESEND_PAUSE: Duration = Duration::from_secs(1);

/// Confirms outstanding with no progress for this long make the instance not ready.
const STALL_AFTER: Duration = Duration::from_secs(3);

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
}

/// Answers one instance takes at a time (each waits for its commit; the batch writer stores
/// them together).
const ANSWER_PREFETCH: u16 = 64;

/// An answer that could not be stored goes back to the queue after this pause (not at once:
/// a database that is down would otherwise make it loop as fast as the broker can deliver).
const ANSWER_RETRY: Duration = Duration::from_secs(1);

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

/// A queued command nobody picked up within this time is dead-lettered rather than answered
/// minutes later with a stale quote.
const COMMAND_TTL_MS: &str = "60000";

/// The live connection, present only while connected.
struct Live {
    conn: Connection,
    /// Confirm-mode channel shared by every publisher of this instance (lapin channels are
    /// safe to use concurrently; confirms are matched per publish).
    publish: Channel,
}

/// A server instance's handle on RabbitMQ: publish from anywhere, consume in `supervise`.
pub struct Bus {
    /// Secret-bearing; never logged as is.
    url: String,
    /// Where the broker is (host and port, no credentials), for the log.
    endpoint: String,
    pub topology: Topology,
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
    /// Where stock answers are stored, once start-up plugged it in (`set_answer_store`).
    answers: std::sync::OnceLock<Weak<dyn AnswerStore>>,
}

/// One event queued for the publisher task.
struct Outgoing {
    key: String,
    payload: Vec<u8>,
    /// What to do if it never reaches the broker.
    redo: Redo,
}

/// How a failed publish is made up for (every failure is a lost connection, a lost or
/// negative confirm, or a full publish queue: the event did not, or may not, reach the others).
#[derive(Debug, Clone, PartialEq)]
enum Redo {
    /// Nothing: ephemeral (typing, presence) or a reply that is only useful now.
    Nothing,
    /// Stored room messages: announce each room's highest seq, and every instance behind it
    /// reads the rest from PostgreSQL. Without this, an instance whose sockets are in a room
    /// would not notice the missing messages until the room's next message showed the gap:
    /// stored, acknowledged messages could stay invisible to them indefinitely.
    Tips(Vec<RoomTip>),
    /// Publish the same event again.
    Again,
}

impl Redo {
    fn of(event: &Event) -> Redo {
        let tips = |messages: &mut dyn Iterator<Item = &tickertalk_wire::RoomMessage>| {
            let mut top: HashMap<i64, i64> = HashMap::new();
            for m in messages {
                let seq = top.entry(m.room_id).or_insert(m.seq);
                *seq = (*seq).max(m.seq);
            }
            let mut tips: Vec<RoomTip> = top
                .into_iter()
                .map(|(room_id, seq)| RoomTip { room_id, seq })
                .collect();
            tips.sort_unstable_by_key(|t| t.room_id);
            Redo::Tips(tips)
        };
        match event {
            Event::RoomMessage(p) => tips(&mut std::iter::once(&p.message)),
            Event::RoomMessages { messages } => tips(&mut messages.iter().map(|p| &p.message)),
            Event::RoomTips { tips } => Redo::Tips(tips.clone()),
            Event::DirectMessage { .. } | Event::RoomCreated(_) | Event::ReadMarker(_) => Redo::Again,
            Event::BotReply(_)
            | Event::Typing { .. }
            | Event::Presence(_)
            | Event::Presences { .. }
            | Event::SessionRevoked { .. }
            | Event::RevocationHeard { .. } => Redo::Nothing,
        }
    }
}

/// What failed to reach the broker, waiting for it to come back.
#[derive(Debug, Default)]
struct Unsent {
    /// Per room, the highest seq whose publish failed.
    tips: HashMap<i64, i64>,
    /// Events to publish again (the oldest dropped beyond `UNSENT_KEPT`).
    again: VecDeque<(String, Vec<u8>)>,
}

impl Unsent {
    /// Remembers a failed publish; false when an older event had to be forgotten for it.
    fn add(&mut self, key: String, payload: Vec<u8>, redo: Redo) -> bool {
        match redo {
            Redo::Nothing => true,
            Redo::Tips(tips) => {
                for t in tips {
                    let seq = self.tips.entry(t.room_id).or_insert(t.seq);
                    *seq = (*seq).max(t.seq);
                }
                true
            }
            Redo::Again => {
                self.again.push_back((key, payload));
                if self.again.len() > UNSENT_KEPT {
                    self.again.pop_front();
                    return false;
                }
                true
            }
        }
    }

    /// Everything, as the events to publish now: the tips first (one event), then the rest in
    /// the order they failed.
    fn take(&mut self) -> Vec<Outgoing> {
        let mut out = Vec::new();
        if !self.tips.is_empty() {
            let mut tips: Vec<RoomTip> = self
                .tips
                .drain()
                .map(|(room_id, seq)| RoomTip { room_id, seq })
                .collect();
            tips.sort_unstable_by_key(|t| t.room_id);
            let event = Event::RoomTips { tips };
            out.push(Outgoing {
                key: event.routing_key(),
                payload: serde_json::to_vec(&event).expect("events always serialise"),
                redo: Redo::of(&event),
            });
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
struct Confirms {
    in_flight: usize,
    progress: Instant,
}

/// A logout waiting for instances to acknowledge its revocation.
struct Awaiting {
    pending: HashSet<Uuid>,
    done: oneshot::Sender<()>,
}

impl Bus {
    /// A bus and its publisher task (on the current runtime); nothing connects before
    /// `supervise`.
    pub fn new(url: &str, prefix: &str, sink: Arc<dyn EventSink>) -> Arc<Self> {
        let (outbox, queued) = mpsc::channel(PUBLISH_QUEUE);
        let up_tx = watch::channel(false).0;
        let resend = Arc::new(Notify::new());
        Arc::new_cyclic(|bus: &Weak<Bus>| {
            tokio::spawn(publisher(bus.clone(), queued));
            tokio::spawn(resender(bus.clone(), resend.clone(), up_tx.subscribe()));
            Bus {
                instance_id: Uuid::new_v4(),
                url: url.to_string(),
                endpoint: endpoint(url),
                topology: Topology::new(prefix),
                live: RwLock::new(None),
                up_tx,
                sink,
                revocations: Default::default(),
                outbox,
                unsent: Default::default(),
                resend,
                held: watch::channel(false).0,
                confirms: std::sync::Mutex::new(Confirms {
                    in_flight: 0,
                    progress: Instant::now(),
                }),
                answers: std::sync::OnceLock::new(),
            }
        })
    }

    /// Plugs in where stock answers are stored (weakly: the store holds the bus).
    pub fn set_answer_store(&self, store: Weak<dyn AnswerStore>) {
        let _ = self.answers.set(store);
    }

    fn answer_store(&self) -> Option<Arc<dyn AnswerStore>> {
        self.answers.get().and_then(Weak::upgrade)
    }

    pub fn is_up(&self) -> bool {
        *self.up_tx.borrow()
    }

    /// Watches the connected/disconnected state.
    pub fn watch(&self) -> watch::Receiver<bool> {
        self.up_tx.subscribe()
    }

    /// Delivers an event to this instance at once, then queues it for every other instance
    /// (in call order, without waiting: see the module comment). Never fails: the event
    /// describes something already stored (or ephemeral, like typing).
    pub fn publish(self: &Arc<Self>, event: Event) {
        let out = Outgoing {
            key: event.routing_key(),
            payload: serde_json::to_vec(&event).expect("events always serialise"),
            redo: Redo::of(&event),
        };
        self.consumed(event);
        self.enqueue(out);
    }

    /// Queues an event for the publisher task, or remembers it as unsent when the queue is full.
    fn enqueue(&self, out: Outgoing) {
        if let Err(e) = self.outbox.try_send(out) {
            let (mpsc::error::TrySendError::Full(out) | mpsc::error::TrySendError::Closed(out)) = e;
            tracing::warn!(key = %out.key, "publish queue full: sent again once the queue drains");
            self.missed(out);
        }
    }

    /// A publish that did not (or may not have) reached the broker: remembered, and made up
    /// for by the resender once the broker takes publishes again.
    fn missed(&self, out: Outgoing) {
        let kept = self
            .unsent
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .add(out.key, out.payload, out.redo);
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
        {
            let c = self.lock_confirms();
            if c.in_flight > 0 && c.progress.elapsed() > STALL_AFTER {
                return false;
            }
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

    fn confirm_started(&self) {
        let mut c = self.lock_confirms();
        if c.in_flight == 0 {
            c.progress = Instant::now();
        }
        c.in_flight += 1;
    }

    fn confirm_finished(&self, ok: bool) {
        let mut c = self.lock_confirms();
        c.in_flight = c.in_flight.saturating_sub(1);
        if ok {
            c.progress = Instant::now();
        }
    }

    /// Publishes an event to every instance and waits for the broker's confirm.
    pub async fn publish_event(&self, event: &Event) -> Result<(), BusError> {
        let payload = serde_json::to_vec(event).expect("events always serialise");
        // Events are a fan-out of data already stored in PostgreSQL: transient delivery mode is
        // enough (a lost event is re-read from the database by the gap filler).
        self.send(&self.topology.events, &event.routing_key(), &payload, 1)
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

    /// An event came in from the broker. A revocation is acted on (by the sink), then
    /// acknowledged; an acknowledgement may complete a logout waiting here.
    fn consumed(self: &Arc<Self>, event: Event) {
        match event {
            Event::SessionRevoked { session_id } => {
                self.sink.deliver(event);
                let ack = Event::RevocationHeard {
                    session_id,
                    instance_id: self.instance_id,
                };
                self.publish(ack);
            }
            Event::RevocationHeard {
                session_id,
                instance_id,
            } => {
                let mut waiting = self.lock_revocations();
                if let Some(w) = waiting.get_mut(&session_id) {
                    w.pending.remove(&instance_id);
                    if w.pending.is_empty() {
                        let w = waiting.remove(&session_id).expect("present");
                        let _ = w.done.send(());
                    }
                }
            }
            other => self.sink.deliver(other),
        }
    }

    /// Queues a bot command durably (persistent message, confirmed by the broker).
    /// Refuses when no bot consumes the queue, so the caller can say so instead of leaving
    /// the room in silence.
    pub async fn publish_command(&self, cmd: &StockCommand) -> Result<(), BusError> {
        if self.bot_consumers().await? == 0 {
            return Err(BusError::NoBot);
        }
        let payload = serde_json::to_vec(cmd).expect("commands always serialise");
        self.send(&self.topology.commands, STOCK_KEY, &payload, 2).await?;
        metrics::counter!("tickertalk_stock_commands_total").increment(1);
        Ok(())
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

    /// One confirmed publish on the shared channel.
    async fn send(
        &self,
        exchange: &str,
        key: &str,
        payload: &[u8],
        delivery_mode: u8,
    ) -> Result<(), BusError> {
        let confirm = self
            .start_send(exchange, key, payload, delivery_mode, false)
            .await?;
        Self::confirmed(confirm).await
    }

    /// Hands one publish to the channel (in call order) and returns its pending confirm.
    /// `from_here`: marked with this instance's id, because `publish` already delivered it here
    /// (the consumer skips such copies).
    async fn start_send(
        &self,
        exchange: &str,
        key: &str,
        payload: &[u8],
        delivery_mode: u8,
        from_here: bool,
    ) -> Result<PublisherConfirm, BusError> {
        let guard = self.live.read().await;
        let live = guard.as_ref().ok_or(BusError::Down)?;
        let mut props = BasicProperties::default()
            .with_content_type("application/json".into())
            .with_delivery_mode(delivery_mode);
        if exchange == self.topology.commands {
            props = props.with_expiration(COMMAND_TTL_MS.into());
        }
        if from_here {
            props = props.with_app_id(self.instance_id.to_string().into());
        }
        let handed = live.publish.basic_publish(
            name(exchange),
            name(key),
            BasicPublishOptions {
                mandatory: false,
                ..Default::default()
            },
            payload,
            props,
        );
        let started = Instant::now();
        let handed = tokio::time::timeout(CALL_TIMEOUT, handed)
            .await
            .map_err(|_| BusError::Timeout)??;
        metrics::histogram!("tickertalk_broker_publish_seconds").record(started.elapsed().as_secs_f64());
        Ok(handed)
    }

    /// Waits (at most `CONFIRM_TIMEOUT`) for the broker's answer to one publish.
    async fn confirmed(confirm: PublisherConfirm) -> Result<(), BusError> {
        let started = Instant::now();
        let result = match tokio::time::timeout(CONFIRM_TIMEOUT, confirm).await {
            Err(_) => Err(BusError::Timeout),
            Ok(Err(e)) => Err(e.into()),
            Ok(Ok(Confirmation::Nack(_))) => Err(BusError::Nacked),
            Ok(Ok(_)) => Ok(()),
        };
        match result {
            Ok(()) => metrics::histogram!("tickertalk_broker_confirm_seconds")
                .record(started.elapsed().as_secs_f64()),
            Err(_) => metrics::counter!("tickertalk_broker_confirm_failures_total").increment(1),
        }
        result
    }

    /// Closes the current connection as if the broker had dropped it (tests use this to exercise
    /// the reconnect path without restarting a shared broker).
    pub async fn drop_connection(&self) {
        if let Some(live) = self.live.read().await.as_ref() {
            let _ = live.conn.close(320, name("forced by test")).await;
        }
    }

    /// Runs until `shutdown`: connect, consume into the sink, and reconnect with backoff on
    /// failure. Holds `shutdown` to the end, so the server's drain waits for the close.
    pub async fn supervise(self: Arc<Self>, mut shutdown: Shutdown) {
        let mut backoff = Backoff::default();
        let mut connected_before = false;
        let mut held = self.held.subscribe();
        loop {
            if shutdown.is_shutdown() {
                break;
            }
            if *held.borrow_and_update() {
                tokio::select! {
                    _ = shutdown.recv() => break,
                    _ = held.wait_for(|h| !*h) => {}
                }
            }
            match self.connect_once().await {
                Ok((mut consumer, mut dead, mut answers)) => {
                    backoff.reset();
                    if std::mem::replace(&mut connected_before, true) {
                        metrics::counter!("tickertalk_broker_reconnects_total").increment(1);
                    }
                    tracing::info!("broker connected");
                    self.up_tx.send_replace(true);
                    // Messages stored while we were away never reached this instance's queue:
                    // read them from the database for every room with local sockets.
                    self.sink.reconnected();
                    loop {
                        tokio::select! {
                            _ = shutdown.recv() => break,
                            next = consumer.next() => match next {
                                // Published here: `publish` delivered it here already.
                                Some(Ok(delivery)) if self.published_here(&delivery.properties) => {}
                                Some(Ok(delivery)) => match serde_json::from_slice::<Event>(&delivery.data) {
                                    Ok(event) => self.consumed(event),
                                    Err(e) => tracing::warn!(error = %e, "undecodable event dropped"),
                                },
                                Some(Err(e)) => {
                                    tracing::warn!(error = %e, "broker consumer failed");
                                    break;
                                }
                                None => {
                                    tracing::warn!("broker consumer ended");
                                    break;
                                }
                            },
                            next = dead.next() => match next {
                                // Answered on a task of its own: storing waits on PostgreSQL.
                                Some(Ok(delivery)) => {
                                    tokio::spawn(self.clone().answer_dead_letter(delivery));
                                }
                                Some(Err(e)) => {
                                    tracing::warn!(error = %e, "dead-letter consumer failed");
                                    break;
                                }
                                None => break,
                            },
                            next = answers.next() => match next {
                                Some(Ok(delivery)) => {
                                    tokio::spawn(self.clone().take_answer(delivery));
                                }
                                Some(Err(e)) => {
                                    tracing::warn!(error = %e, "answer consumer failed");
                                    break;
                                }
                                None => break,
                            },
                        }
                    }
                    self.up_tx.send_replace(false);
                    if let Some(live) = self.live.write().await.take() {
                        let _ = live.conn.close(200, name("bye")).await;
                    }
                }
                Err(e) => {
                    // Named by its setting, so a wrong AMQP_URL is recognisable at a glance;
                    // /readyz stays 503 meanwhile.
                    tracing::warn!(
                        error = %e,
                        variable = "AMQP_URL",
                        broker = %self.endpoint,
                        retry_in_ms = backoff.delay().as_millis() as u64,
                        "cannot reach the broker; retrying"
                    );
                }
            }
            if !backoff.wait(shutdown.recv()).await {
                break;
            }
        }
        self.up_tx.send_replace(false);
        if let Some(live) = self.live.write().await.take() {
            let _ = live.conn.close(200, name("shutdown")).await;
        }
    }

    /// A stock command RabbitMQ dead-lettered (no bot took it within its 60 s, or a bot kept
    /// failing on it): the asker hears so in the room instead of nothing. The answer is stored
    /// like the bot's would be, under the command's request id, so it is shown once even if
    /// the bot answers after all; the dead letter is acknowledged only after that.
    async fn answer_dead_letter(self: Arc<Self>, delivery: Delivery) {
        let reason = delivery
            .properties
            .headers()
            .as_ref()
            .and_then(|h| h.inner().get("x-first-death-reason").cloned())
            .and_then(|v| match v {
                AMQPValue::LongString(s) => Some(s.to_string()),
                AMQPValue::ShortString(s) => Some(s.to_string()),
                _ => None,
            })
            .unwrap_or_default();
        let Ok(cmd) = serde_json::from_slice::<StockCommand>(&delivery.data) else {
            tracing::warn!(%reason, "undecodable dead-lettered command dropped");
            let _ = tokio::time::timeout(CALL_TIMEOUT, delivery.ack(BasicAckOptions::default())).await;
            return;
        };
        tracing::warn!(request_id = %cmd.request_id, room_id = cmd.room_id, %reason, "stock command dead-lettered; answering the room");
        let why = if reason == "expired" {
            "the quote bot did not answer in time"
        } else {
            "the quote bot could not handle this request"
        };
        let answer = unanswered(&cmd, why);
        metrics::counter!("tickertalk_stock_unanswered_total", "why" => "dead_letter").increment(1);
        match self.answer_store() {
            Some(store) => self.settle(delivery, store.store(answer).await).await,
            // No chat layer (a bus on its own): say it in the room, unstored.
            None => {
                self.publish(Event::BotReply(BotReply {
                    room_id: answer.room_id,
                    text: answer.text,
                    request_id: Some(answer.request_id),
                    created_at: answer.answered_at,
                }));
                self.settle(delivery, Ok(())).await;
            }
        }
    }

    /// An answer from the answer queue: stored (and published by the store), then acknowledged.
    async fn take_answer(self: Arc<Self>, delivery: Delivery) {
        let answer = match serde_json::from_slice::<StockAnswer>(&delivery.data) {
            Ok(a) => a,
            Err(e) => {
                // Never storable: dropped (the queue has no dead-letter exchange), and said.
                tracing::error!(error = %e, "undecodable stock answer dropped");
                let reject = delivery.reject(BasicRejectOptions { requeue: false });
                let _ = tokio::time::timeout(CALL_TIMEOUT, reject).await;
                return;
            }
        };
        // Logged under the asking request's id (`trace_id`), which the bot handed back.
        let span = tracing::info_span!(
            "stock_answer",
            request_id = %answer.trace_id.as_deref().unwrap_or("-"),
            command_id = %answer.request_id,
            room_id = answer.room_id,
        );
        async {
            tracing::debug!(outcome = %answer.meta.outcome, "stock answer received");
            let stored = match self.answer_store() {
                Some(store) => store.store(answer).await,
                None => Err("no answer store".into()),
            };
            self.settle(delivery, stored).await;
        }
        .instrument(span)
        .await;
    }

    /// Acknowledges a delivery whose work is done, or returns it to its queue after a pause.
    async fn settle(&self, delivery: Delivery, done: Result<(), String>) {
        match done {
            Ok(()) => {
                let _ = tokio::time::timeout(CALL_TIMEOUT, delivery.ack(BasicAckOptions::default())).await;
            }
            Err(why) => {
                tracing::warn!(%why, "stock answer not stored; returning it to its queue");
                tokio::time::sleep(ANSWER_RETRY).await;
                let nack = delivery.nack(BasicNackOptions {
                    requeue: true,
                    ..Default::default()
                });
                let _ = tokio::time::timeout(CALL_TIMEOUT, nack).await;
            }
        }
    }

    fn published_here(&self, props: &BasicProperties) -> bool {
        props
            .app_id()
            .as_ref()
            .is_some_and(|id| id.as_str() == self.instance_id.to_string())
    }

    /// Connects and sets up, all within 10 s (a frozen broker may accept the TCP connection).
    async fn connect_once(&self) -> Result<(lapin::Consumer, lapin::Consumer, lapin::Consumer), BusError> {
        tokio::time::timeout(Duration::from_secs(10), self.connect_and_declare())
            .await
            .map_err(|_| BusError::Timeout)?
    }

    /// The instance's event consumer, and consumers of dead-lettered stock commands and of
    /// stock answers (both shared by every instance: each goes to one of them, which stores it).
    async fn connect_and_declare(
        &self,
    ) -> Result<(lapin::Consumer, lapin::Consumer, lapin::Consumer), BusError> {
        let props = ConnectionProperties::default().with_connection_name("tickertalk-server".into());
        let conn = tokio::time::timeout(Duration::from_secs(5), Connection::connect(&self.url, props))
            .await
            .map_err(|_| BusError::Timeout)??;
        let setup = conn.create_channel().await?;
        self.topology.declare(&setup).await?;
        let queue = self.topology.declare_instance_queue(&setup).await?;
        let consumer = setup
            .basic_consume(
                name(&queue),
                name("tickertalk-server"),
                BasicConsumeOptions {
                    no_ack: true,
                    exclusive: true,
                    ..Default::default()
                },
                FieldTable::default(),
            )
            .await?;
        let dead_channel = conn.create_channel().await?;
        dead_channel.basic_qos(16, BasicQosOptions::default()).await?;
        let dead = dead_channel
            .basic_consume(
                name(&self.topology.dead_queue),
                name("tickertalk-server-dead-letters"),
                BasicConsumeOptions::default(),
                FieldTable::default(),
            )
            .await?;
        let answer_channel = conn.create_channel().await?;
        answer_channel
            .basic_qos(ANSWER_PREFETCH, BasicQosOptions::default())
            .await?;
        let answers = answer_channel
            .basic_consume(
                name(&self.topology.answer_queue),
                name("tickertalk-server-answers"),
                BasicConsumeOptions::default(),
                FieldTable::default(),
            )
            .await?;
        let publish = conn.create_channel().await?;
        publish.confirm_select(ConfirmSelectOptions::default()).await?;
        *self.live.write().await = Some(Live { conn, publish });
        Ok((consumer, dead, answers))
    }
}

/// `host:port` of an AMQP URL (no user, no password), or a placeholder.
fn endpoint(url: &str) -> String {
    url::Url::parse(url)
        .ok()
        .and_then(|u| Some(format!("{}:{}", u.host_str()?, u.port().unwrap_or(5672))))
        .unwrap_or_else(|| "(unparsable URL)".into())
}

/// The answer for a command no bot answered (`why` says so), in the bot's name.
pub fn unanswered(cmd: &StockCommand, why: &str) -> StockAnswer {
    StockAnswer {
        request_id: cmd.request_id,
        room_id: cmd.room_id,
        text: format!(
            "{} quote is unavailable right now ({why}); please try again shortly.",
            cmd.symbol.as_str().to_ascii_uppercase()
        ),
        meta: BotMeta {
            asked_by: cmd.username.clone(),
            command: cmd.command_text(),
            outcome: "unanswered".into(),
            quote: None,
        },
        answered_at: chrono::Utc::now(),
        trace_id: cmd.trace_id.clone(),
    }
}

/// The publisher task: sends what `publish` queued, in order, each handed over within
/// `CALL_TIMEOUT`; confirms are awaited on tasks of their own so the next event goes out
/// meanwhile. Ends when the bus is dropped.
async fn publisher(bus: Weak<Bus>, mut queued: mpsc::Receiver<Outgoing>) {
    while let Some(out) = queued.recv().await {
        let Some(bus) = bus.upgrade() else { break };
        let events = bus.topology.events.clone();
        match bus.start_send(&events, &out.key, &out.payload, 1, true).await {
            Ok(confirm) => {
                bus.confirm_started();
                tokio::spawn(async move {
                    let result = Bus::confirmed(confirm).await;
                    bus.confirm_finished(result.is_ok());
                    if let Err(e) = result {
                        tracing::warn!(error = %e, key = %out.key, "publish not confirmed: made up for once the broker is back");
                        bus.missed(out);
                    }
                });
            }
            Err(e) => {
                tracing::warn!(error = %e, key = %out.key, "publish failed: made up for once the broker is back");
                bus.missed(out);
            }
        }
    }
}

/// The resender task: whenever publishes failed, waits for the broker connection and queues
/// what makes up for them (the rooms' tips, the events to send again). Ends when the bus is
/// dropped.
async fn resender(bus: Weak<Bus>, wake: Arc<Notify>, mut up: watch::Receiver<bool>) {
    loop {
        wake.notified().await;
        if up.wait_for(|up| *up).await.is_err() {
            return;
        }
        let Some(bus) = bus.upgrade() else { return };
        let redo = bus.unsent.lock().unwrap_or_else(|p| p.into_inner()).take();
        if !redo.is_empty() {
            tracing::info!(
                events = redo.len(),
                "publishing what failed while the broker was away"
            );
        }
        for out in redo {
            bus.enqueue(out);
        }
        drop(bus);
        tokio::time::sleep(RESEND_PAUSE).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;
    use tickertalk_wire::{PostedMessage, RoomMessage};

    fn posted(room_id: i64, seq: i64) -> PostedMessage {
        PostedMessage {
            message: RoomMessage {
                id: seq,
                room_id,
                seq,
                user_id: 1,
                username: "alice".into(),
                body: "hi".into(),
                created_at: Utc::now(),
                bot: None,
            },
            client_id: None,
        }
    }

    fn tip(room_id: i64, seq: i64) -> RoomTip {
        RoomTip { room_id, seq }
    }

    #[test]
    fn a_failed_batch_is_made_up_for_by_each_rooms_highest_seq() {
        let batch = Event::of_messages(vec![posted(2, 7), posted(1, 3), posted(2, 8), posted(1, 4)]);
        assert_eq!(Redo::of(&batch), Redo::Tips(vec![tip(1, 4), tip(2, 8)]));
        assert_eq!(
            Redo::of(&Event::of_messages(vec![posted(5, 1)])),
            Redo::Tips(vec![tip(5, 1)])
        );
        let typing = Event::Typing {
            room_id: 1,
            username: "a".into(),
            conn_id: Uuid::nil(),
        };
        assert_eq!(Redo::of(&typing), Redo::Nothing, "ephemeral");
        let created = Event::RoomCreated(tickertalk_wire::RoomCreated {
            id: 1,
            name: "General".into(),
            created_at: Utc::now(),
        });
        assert_eq!(Redo::of(&created), Redo::Again);
    }

    #[test]
    fn unsent_tips_keep_the_highest_seq_per_room_and_come_out_first() {
        let mut unsent = Unsent::default();
        assert!(unsent.add("k".into(), b"created".to_vec(), Redo::Again));
        assert!(unsent.add("k".into(), vec![], Redo::Tips(vec![tip(2, 9), tip(1, 3)])));
        assert!(
            unsent.add("k".into(), vec![], Redo::Tips(vec![tip(2, 5)])),
            "older: kept at 9"
        );
        assert!(unsent.add("k".into(), vec![], Redo::Nothing));
        let out = unsent.take();
        assert_eq!(out.len(), 2);
        let first: Event = serde_json::from_slice(&out[0].payload).unwrap();
        assert_eq!(
            first,
            Event::RoomTips {
                tips: vec![tip(1, 3), tip(2, 9)]
            }
        );
        assert_eq!(out[0].key, "rooms.tips");
        assert_eq!(
            out[0].redo,
            Redo::Tips(vec![tip(1, 3), tip(2, 9)]),
            "fails again the same way"
        );
        assert_eq!(out[1].payload, b"created");
        assert!(unsent.take().is_empty(), "taken once");
    }

    #[test]
    fn unsent_events_beyond_the_limit_drop_the_oldest() {
        let mut unsent = Unsent::default();
        for i in 0..UNSENT_KEPT {
            assert!(unsent.add(i.to_string(), vec![], Redo::Again));
        }
        assert!(!unsent.add("last".into(), vec![], Redo::Again), "one had to go");
        let keys: Vec<String> = unsent.take().into_iter().map(|o| o.key).collect();
        assert_eq!(keys.len(), UNSENT_KEPT);
        assert_eq!(keys[0], "1", "the oldest went");
        assert_eq!(keys.last().unwrap(), "last");
    }
}
