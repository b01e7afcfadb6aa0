//! The connection and its reconnects: connect to a node of `AMQP_URL` and declare the topology
//! (`docs/rabbitmq.md`), bind this instance's queue to its room shards, consume it and the two
//! shared queues, and on any failure move on to the next node and reconnect with capped,
//! jittered exponential backoff.

use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use lapin::options::{BasicConsumeOptions, BasicQosOptions, ConfirmSelectOptions};
use lapin::types::FieldTable;
use lapin::{Connection, ConnectionProperties};
use tickertalk_wire::Backoff;
use tickertalk_wire::topology::name;
use tokio::task::JoinSet;

use super::consumer::{answer_dead_letter, take_answer};
use super::interest::SWEEP_EVERY;
use super::{AnswerStore, Bus, BusError, Live};
use crate::shutdown::Shutdown;

/// Answers one instance takes at a time (each waits for its commit; the batch writer stores
/// them together).
const ANSWER_PREFETCH: u16 = 64;

/// The three consumers of one connection.
struct Consumers {
    /// This instance's events.
    events: lapin::Consumer,
    /// Stock commands no bot answered (shared by every instance).
    dead: lapin::Consumer,
    /// The bot's answers (shared by every instance: each goes to one, which stores it).
    answers: lapin::Consumer,
}

impl Bus {
    /// Runs until the stop: connect, consume, and reconnect with backoff on failure.
    ///
    /// Stopping takes two signals, because the rest of the server still publishes after it
    /// stops consuming. At `intake` it stops consuming and settles the stock answers it is
    /// storing (each acknowledged or returned to its queue), then lets `intake` go. At `close`
    /// (after the writer flushed and the publisher drained) it closes the connection.
    pub async fn supervise(
        self: Arc<Self>,
        answers: Arc<dyn AnswerStore>,
        mut intake: Shutdown,
        mut close: Shutdown,
    ) {
        let mut backoff = Backoff::default();
        let mut connected_before = false;
        let mut held = self.held.subscribe();
        let mut storing = JoinSet::new();
        loop {
            if intake.is_shutdown() {
                break;
            }
            if *held.borrow_and_update() {
                tokio::select! {
                    _ = intake.recv() => break,
                    _ = held.wait_for(|h| !*h) => {}
                }
            }
            match self.connect_once().await {
                Ok(mut consumers) => {
                    backoff.reset();
                    if std::mem::replace(&mut connected_before, true) {
                        metrics::counter!("tickertalk_broker_reconnects_total").increment(1);
                    }
                    tracing::info!(broker = %self.nodes.current().1, "broker connected");
                    self.up_tx.send_replace(true);
                    // Messages stored while we were away never reached this instance's queue:
                    // read them from the database for every room with local sockets.
                    self.sink.reconnected();
                    let stopping = self
                        .consume(&mut consumers, &answers, &mut storing, &mut intake)
                        .await;
                    if stopping {
                        break;
                    }
                    self.disconnected("bye").await;
                    // The node may be gone: the next attempt goes to the next one.
                    self.nodes.advance();
                }
                Err(e) => {
                    // Named by its setting, so a wrong AMQP_URL is recognisable at a glance;
                    // /readyz stays 503 meanwhile.
                    tracing::warn!(
                        error = %e,
                        variable = "AMQP_URL",
                        broker = %self.nodes.current().1,
                        nodes = self.nodes.len(),
                        retry_in_ms = backoff.delay().as_millis() as u64,
                        "cannot reach the broker; retrying"
                    );
                    self.nodes.advance();
                }
            }
            if !backoff.wait(intake.recv()).await {
                break;
            }
        }
        while storing.join_next().await.is_some() {}
        drop(intake);
        if self.is_up() {
            let mut up = self.watch();
            tokio::select! {
                _ = close.recv() => {}
                _ = up.wait_for(|up| !*up) => {}
            }
        }
        self.disconnected("shutdown").await;
    }

    /// Consumes until the connection fails (false) or the stop (true).
    async fn consume(
        self: &Arc<Self>,
        c: &mut Consumers,
        answers: &Arc<dyn AnswerStore>,
        storing: &mut JoinSet<()>,
        intake: &mut Shutdown,
    ) -> bool {
        loop {
            tokio::select! {
                _ = intake.recv() => return true,
                next = c.events.next() => match next {
                    Some(Ok(delivery)) => self.received(&delivery),
                    Some(Err(e)) => {
                        tracing::warn!(error = %e, "broker consumer failed");
                        return false;
                    }
                    None => {
                        tracing::warn!("broker consumer ended");
                        return false;
                    }
                },
                // Answered on tasks of their own: storing waits on PostgreSQL.
                next = c.dead.next() => match next {
                    Some(Ok(delivery)) => {
                        storing.spawn(answer_dead_letter(answers.clone(), delivery));
                    }
                    Some(Err(e)) => {
                        tracing::warn!(error = %e, "dead-letter consumer failed");
                        return false;
                    }
                    None => return false,
                },
                next = c.answers.next() => match next {
                    Some(Ok(delivery)) => {
                        storing.spawn(take_answer(answers.clone(), delivery));
                    }
                    Some(Err(e)) => {
                        tracing::warn!(error = %e, "answer consumer failed");
                        return false;
                    }
                    None => return false,
                },
                Some(_) = storing.join_next(), if !storing.is_empty() => {}
            }
        }
    }

    /// Marks the bus down and closes the connection, if there is one.
    async fn disconnected(&self, why: &str) {
        self.up_tx.send_replace(false);
        if let Some(live) = self.live.write().await.take() {
            let _ = live.conn.close(200, name(why)).await;
        }
    }

    /// Closes the current connection as if the broker had dropped it (tests use this to exercise
    /// the reconnect path without restarting a shared broker).
    pub async fn drop_connection(&self) {
        if let Some(live) = self.live.read().await.as_ref() {
            let _ = live.conn.close(320, name("forced by test")).await;
        }
    }

    /// Connects and sets up, all within 10 s plus 2 ms per room shard to bind (a frozen broker
    /// may accept the TCP connection).
    async fn connect_once(&self) -> Result<Consumers, BusError> {
        let limit = Duration::from_secs(10) + Duration::from_millis(2 * self.interest.shards() as u64);
        tokio::time::timeout(limit, self.connect_and_declare())
            .await
            .map_err(|_| BusError::Timeout)?
    }

    async fn connect_and_declare(&self) -> Result<Consumers, BusError> {
        let props = ConnectionProperties::default().with_connection_name("tickertalk-server".into());
        let (url, endpoint) = self.nodes.current();
        let conn = tokio::time::timeout(Duration::from_secs(5), Connection::connect(url, props))
            .await
            .map_err(|_| BusError::Timeout)??;
        let setup = conn.create_channel().await?;
        self.topology.declare(&setup).await?;
        self.topology.retire_legacy(&conn).await;
        // Held until the bus is live: a join meanwhile waits, then finds its shard bound.
        let turn = self.interest.turn().await;
        let queue = self.topology.declare_instance_queue(&setup).await?;
        let shards = self
            .interest
            .rebind(&setup, &queue, &self.topology.events)
            .await?;
        tracing::debug!(shards, "room shards bound");
        let events = setup
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
        *self.live.write().await = Some(Live {
            conn,
            publish,
            control: setup,
            queue,
            endpoint,
        });
        drop(turn);
        Ok(Consumers {
            events,
            dead,
            answers,
        })
    }
}

/// Every `SWEEP_EVERY`, unbinds the room shards that have been idle long enough.
pub(super) async fn sweeper(bus: Weak<Bus>, mut stop: Shutdown) {
    let mut tick = tokio::time::interval(SWEEP_EVERY);
    loop {
        tokio::select! {
            _ = stop.recv() => break,
            _ = tick.tick() => {}
        }
        let Some(bus) = bus.upgrade() else { break };
        bus.interest.sweep(&bus, Instant::now()).await;
    }
}
